"""A clip's MP4 download, made after the clip (`ClipCreated`) by remuxing its best rung.

The consumer reads the clip's own segment copies (never the broadcast's, which may be gone),
joins them in order, copies their packets into an MP4 (`letslive.media.remux`: no re-encoding)
and stores it in the clip's directory, so it goes with the clip. Its progress is on the clip's
record, which the clip page polls: `remuxing` with a fraction (the segments read, then the
packets copied), then `ready` or `failed` with the reason.

Redelivery is safe: a clip whose MP4 is ready is left alone, and a run cut short (a timeout, a
crash) starts again from the segments and overwrites the same object. A clip deleted before or
while its MP4 is made gets no MP4: the deletion's own consumer may have emptied the clip's
directory already, so the MP4 is deleted here once the record is found gone (the record's
conditional write says so), and on every delivery for a clip with no record.
"""

import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

from letslive.constants import MEDIA_PREFIX
from letslive.errors import MediaNotFound
from letslive.media.playlists import PlaylistError, parse_master_playlist, parse_media_playlist
from letslive.media.remux import RemuxError, remux_to_mp4
from letslive.models.clips import (
    CLIP_PLAYLIST,
    ClipDownloadState,
    ClipDownloadUpdate,
    ClipRecord,
    clip_download_path,
    clip_media_prefix,
)
from letslive.models.events import ClipCreated

MP4_TYPE: Final = "video/mp4"
MP4_CACHE: Final = "public, max-age=31536000, immutable"
FETCH_THREADS: Final = 8
# Reading the segments is this much of the progress bar, copying the packets the rest.
READ_SHARE: Final = 0.7
# The record is written when the progress has moved by this much (a 60 s clip: about 10 writes).
PROGRESS_STEP: Final = 0.1
_UNSAFE_NAME: Final = re.compile(r"[^A-Za-z0-9 ._()-]+")


class ClipDownloadStore(Protocol):
    """The clips' records as the download uses them (`letslive.data.clips.ClipRepository`)."""

    def get(self, clip_id: str) -> ClipRecord | None: ...

    def set_download(self, clip_id: str, download: ClipDownloadUpdate) -> bool: ...


class ClipDownloadMedia(Protocol):
    """The media bucket (`letslive.data.storage.S3MediaStorage`)."""

    def get(self, key: str) -> bytes: ...

    def put(
        self, key: str, body: bytes, content_type: str, cache_control: str, content_disposition: str | None = None
    ) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class DownloadOutcome:
    state: ClipDownloadState
    size_bytes: int | None = None
    reason: str | None = None


def attachment_name(title: str, clip_id: str) -> str:
    """`Content-Disposition` for the MP4: saved under the clip's title (ASCII, no quotes)."""
    name = _UNSAFE_NAME.sub("", title).strip(" .")[:80] or "clip"
    return f'attachment; filename="{name} - {clip_id}.mp4"'


class ClipDownloads:
    def __init__(
        self,
        clips: ClipDownloadStore,
        media: ClipDownloadMedia,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        workdir: Path | None = None,
    ) -> None:
        self.clips = clips
        self.media = media
        self._clock = clock
        self.workdir = workdir

    def build(self, created: ClipCreated) -> DownloadOutcome | None:
        """Make the clip's MP4; None when there is nothing to do (the clip is gone, or its MP4
        is made already). `DependencyUnavailable` propagates (the invocation is retried)."""
        record = self.clips.get(created.clip_id)
        if record is None:
            # Deleted: a run cut short after storing the MP4 may have left it.
            self.media.delete(_mp4_key(created.clip_id))
            return None
        if record.download_state == "ready":
            return None
        progress = _Progress(lambda fraction: self._record(record.clip_id, "remuxing", fraction))
        progress(0.0, force=True)
        prefix = clip_media_prefix(record.clip_id)
        try:
            keys = self._segment_keys(prefix)
            with tempfile.TemporaryDirectory(prefix="clip-", dir=self.workdir) as tmp:
                source, output = Path(tmp) / "source.ts", Path(tmp) / "clip.mp4"
                self._join(keys, source, lambda done: progress(READ_SHARE * done / len(keys)))
                remux_to_mp4(
                    source,
                    output,
                    record.duration_seconds,
                    lambda fraction: progress(READ_SHARE + (1 - READ_SHARE) * fraction),
                )
                body = output.read_bytes()
        except (RemuxError, PlaylistError, MediaNotFound) as exc:
            # Media that can never be remuxed: a retry would fail the same way.
            self._record(record.clip_id, "failed", progress.fraction, reason=str(exc))
            return DownloadOutcome("failed", reason=str(exc))
        key = _mp4_key(record.clip_id)
        self.media.put(
            key, body, MP4_TYPE, MP4_CACHE, content_disposition=attachment_name(record.title, record.clip_id)
        )
        if not self._record(record.clip_id, "ready", 1.0, size_bytes=len(body)):
            # Deleted while remuxing: its deletion's consumer may have run before the put.
            self.media.delete(key)
            return None
        return DownloadOutcome("ready", size_bytes=len(body))

    def _segment_keys(self, prefix: str) -> list[str]:
        """The best rung's segments (the master lists it first), lost ones left out."""
        variants = parse_master_playlist(self.media.get(f"{prefix}/{CLIP_PLAYLIST}").decode())
        if not variants:
            raise PlaylistError("the clip's master playlist lists no rung")
        rung = parse_media_playlist(self.media.get(f"{prefix}/{variants[0].uri}").decode())
        keys = [f"{prefix}/{segment.uri}" for segment in rung.segments if not segment.gap]
        if not keys:
            raise PlaylistError("the clip has no segment to remux")
        return keys

    def _join(self, keys: list[str], target: Path, on_read: Callable[[int], None]) -> None:
        """The segments, read concurrently and written in order (MPEG-TS concatenates)."""
        with ThreadPoolExecutor(FETCH_THREADS) as pool, target.open("wb") as out:
            for done, body in enumerate(pool.map(self.media.get, keys), start=1):
                out.write(body)
                on_read(done)

    def _record(
        self,
        clip_id: str,
        state: ClipDownloadState,
        progress: float,
        *,
        size_bytes: int | None = None,
        reason: str | None = None,
    ) -> bool:
        """False when the clip's record is gone."""
        update = ClipDownloadUpdate(state, round(progress, 3), self._clock(), size_bytes=size_bytes, reason=reason)
        return self.clips.set_download(clip_id, update)


def _mp4_key(clip_id: str) -> str:
    return f"{MEDIA_PREFIX}/{clip_download_path(clip_id)}"


class _Progress:
    """Reports a growing fraction, at most once per `PROGRESS_STEP`."""

    def __init__(self, report: Callable[[float], object]) -> None:
        self._report = report
        self.fraction = 0.0
        self._reported = -1.0

    def __call__(self, fraction: float, *, force: bool = False) -> None:
        self.fraction = max(self.fraction, fraction)
        if force or self.fraction - self._reported >= PROGRESS_STEP:
            self._reported = self.fraction
            self._report(self.fraction)


def clip_downloads() -> ClipDownloads:
    """The consumer on its configured backends (DynamoDB, S3)."""
    from letslive.data.clips import ClipRepository
    from letslive.data.storage import s3_media_storage

    return ClipDownloads(ClipRepository(), s3_media_storage())
