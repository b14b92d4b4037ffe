"""Mirrors one broadcast's HLS output into the media store, in an order players can rely on.

Per sync pass and rung: every complete segment FFmpeg has listed is uploaded (immutable for a
year), and only then the live playlist that names it (`max-age=1`), so a player never fetches a
playlist naming a segment the origin lacks. The master playlist follows once every rung has a
segment. Segments are deleted locally only once stored: when S3 is unreachable they wait on
disk and go up on a later pass (FFmpeg's own playlist is re-read every pass, so every segment
is seen even if uploads lag far behind its window).

Segments of every part of the broadcast (OBS reconnects start a new FFmpeg part) are kept in
order with a discontinuity at each part boundary; `finalize()` writes the VOD from them.

Metrics, once per pass that stored segments: SegmentsUploaded (how many) and SegmentUploadLatency
(one value per segment, from FFmpeg closing the file to the object being written); UploadFailures
for every object whose retries ran out.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from letslive.constants import MEDIA_PREFIX, IngestMetric
from letslive.errors import DependencyUnavailable, InvalidInput
from letslive.media.ladder import PlannedRung
from letslive.media.playlists import Segment, live_playlist, master_playlist, parse_media_playlist, vod_playlist
from letslive.models.streams import BROADCASTS_MEDIA_DIR
from letslive.storage import MediaStorage
from workers.ingest.metrics import MetricsEmitter, NoMetrics

logger = logging.getLogger(__name__)

SEGMENT_CACHE = "public, max-age=31536000, immutable"
# CloudFront keeps a live playlist 1 s (`s-maxage`); browsers revalidate every time (a cheap
# 304 while it is unchanged), or a player polling for the next segment reads its own stale copy.
LIVE_PLAYLIST_CACHE = "public, max-age=0, s-maxage=1"
MASTER_CACHE = "public, max-age=60"
VOD_PLAYLIST_CACHE = "public, max-age=300"
THUMBNAIL_CACHE = "public, max-age=15"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"
LIVE_MASTER = "master.m3u8"
VOD_MASTER = "vod.m3u8"
THUMBNAIL = "thumbnail.jpg"

Thumbnailer = Callable[[bytes], Awaitable[bytes | None]]  # a segment's bytes -> a JPEG


def broadcast_prefix(broadcast_id: str) -> str:
    """Bucket key prefix of a broadcast; CloudFront serves it as `/hls/broadcasts/<id>/`."""
    return f"{MEDIA_PREFIX}/{BROADCASTS_MEDIA_DIR}/{broadcast_id}"


@dataclass
class Rendition:
    rung: PlannedRung
    stored: list[Segment] = field(default_factory=list)  # every uploaded segment, all parts
    seen: dict[int, Segment] = field(default_factory=dict)  # this part, listed by FFmpeg
    part_start: int = 0  # index into `stored` where the current part begins
    # This part's correction of FFmpeg's program date-times (`HlsUploader._restamp`).
    clock_offset: timedelta | None = None

    @property
    def name(self) -> str:
        return self.rung.name


@dataclass(frozen=True)
class VodOutput:
    playback_key: str
    duration_seconds: float
    thumbnail_key: str | None
    rungs: list[PlannedRung]


@dataclass
class RetryPolicy:
    attempts: int = 4
    base_seconds: float = 0.25
    max_seconds: float = 4.0


class HlsUploader:
    def __init__(
        self,
        storage: MediaStorage,
        broadcast_id: str,
        plan: Sequence[PlannedRung],
        *,
        window_segments: int = 6,
        thumbnailer: Thumbnailer | None = None,
        thumbnail_seconds: float = 15.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        metrics: MetricsEmitter | None = None,
    ) -> None:
        self.storage = storage
        self.prefix = broadcast_prefix(broadcast_id)
        self.renditions = [Rendition(rung) for rung in plan]
        self.window = window_segments
        self.retry = retry or RetryPolicy()
        self._thumbnailer = thumbnailer
        self._thumbnail_seconds = thumbnail_seconds
        self._last_thumbnail: float | None = None
        self._clock = clock
        self._metrics: MetricsEmitter = metrics or NoMetrics()
        self._broadcast_id = broadcast_id
        self._latencies_ms: list[float] = []  # this pass's stored segments
        self._output_dir: Path | None = None
        self._part_first_sequence = 0
        self._part_first_frame_at: float | None = None
        self._master_stored = False
        self.thumbnail_key: str | None = None
        self.last_segment_at: float | None = None
        self.failures = 0
        # One pass at a time: the periodic pass and a publisher's end both sync, and two passes
        # over the same listing would store a segment twice or read one the other just deleted.
        self._sync_lock = asyncio.Lock()
        self._dropped: set[str] = set()  # segments a later part re-made (`drop_final_segments`)

    # --- parts ---------------------------------------------------------------------------------
    def start_part(self, output_dir: Path, first_frame_at: float | None = None) -> int:
        """A new FFmpeg run writes into `output_dir`; returns the sequence number it must start at
        so segment names never repeat within the broadcast. `first_frame_at` (epoch seconds) is
        when the part's first media reached the server: its media time 0 in wall-clock time."""
        self._output_dir = output_dir
        self._dropped.clear()  # names of the previous part's directory; this part may reuse them
        for rendition in self.renditions:
            rendition.seen.clear()
            rendition.part_start = len(rendition.stored)
            rendition.clock_offset = None
        self._part_first_sequence = self.next_sequence
        self._part_first_frame_at = first_frame_at
        return self._part_first_sequence

    @property
    def plan(self) -> list[PlannedRung]:
        return [rendition.rung for rendition in self.renditions]

    def replan(self, plan: Sequence[PlannedRung]) -> None:
        """The same rungs made differently from the next part on (the top rung copied, then
        re-encoded): the master playlist is written again with their CODECS."""
        if [rung.name for rung in plan] != [r.name for r in self.renditions]:
            raise InvalidInput("a broadcast's rungs cannot change names")
        for rendition, rung in zip(self.renditions, plan, strict=True):
            rendition.rung = rung
        self._master_stored = False

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No sync pass runs inside: a part can be ended and cut without a pass storing its end."""
        async with self._sync_lock:
            yield

    def drop_final_segments(self) -> float | None:
        """Forget the current part's last segment in every rung (its FFmpeg has exited; the next
        part re-makes that media) and delete the files: returns where it started, in seconds from
        the part's first segment, or None when the rungs do not end on a common unstored segment.
        Call it inside `paused()`."""
        assert self._output_dir is not None
        for rendition in self.renditions:
            self._read_playlist(rendition, self._output_dir)
        finals = [max(r.seen) if r.seen else None for r in self.renditions]
        if None in finals or len(set(finals)) != 1:
            return None
        final = finals[0]
        assert final is not None
        stored = {s.uri for r in self.renditions for s in r.stored[r.part_start :]}
        if any(r.seen[final].uri in stored for r in self.renditions):
            return None
        starts = set()
        for rendition in self.renditions:
            starts.add(round(sum(s.duration for q, s in rendition.seen.items() if q < final), 3))
            dropped = rendition.seen.pop(final).uri
            self._dropped.add(dropped)
            (self._output_dir / dropped).unlink(missing_ok=True)
        return min(starts)

    @property
    def next_sequence(self) -> int:
        used = [int(segment.uri.rsplit("_", 1)[1].split(".")[0]) for r in self.renditions for segment in r.stored]
        return max(used, default=-1) + 1

    # --- syncing -------------------------------------------------------------------------------
    async def sync(self) -> int:
        """One pass; returns how many segments were stored. Storage errors are logged and left
        for the next pass (nothing local is deleted until it is stored)."""
        async with self._sync_lock:
            return await self._sync_pass()

    async def _sync_pass(self) -> int:
        if self._output_dir is None:
            return 0
        # Every rung's playlist is read before anything is uploaded: a pass cut short by a storage
        # error must still have seen what FFmpeg lists, or segments leaving its window are lost.
        for rendition in self.renditions:
            self._read_playlist(rendition, self._output_dir)
        stored = 0
        try:
            for rendition in self.renditions:
                stored += await self._sync_rendition(rendition, self._output_dir)
            if not self._master_stored and all(r.stored for r in self.renditions):
                text = master_playlist(self.plan, uri=lambda rung: f"{rung.name}.m3u8")
                await self._put(LIVE_MASTER, text.encode(), PLAYLIST_TYPE, MASTER_CACHE)
                self._master_stored = True
        except DependencyUnavailable as exc:
            self.failures += 1
            logger.warning("upload pass failed, will retry: %s", exc)
        finally:
            # What was stored before a failure counts too.
            latencies, self._latencies_ms = self._latencies_ms, []
            if latencies:
                self._metrics.emit(
                    {IngestMetric.SEGMENTS_UPLOADED: len(latencies), IngestMetric.SEGMENT_UPLOAD_LATENCY: latencies},
                    {"broadcast_id": self._broadcast_id},
                )
        return stored

    def _read_playlist(self, rendition: Rendition, directory: Path) -> None:
        playlist_file = directory / f"{rendition.name}.m3u8"
        try:
            playlist = parse_media_playlist(playlist_file.read_text())
        except (FileNotFoundError, InvalidInput):
            return  # not written yet, or caught mid-rename: the next pass reads it
        for segment in playlist.segments:
            if segment.sequence not in rendition.seen and segment.uri not in self._dropped:
                rendition.seen[segment.sequence] = self._restamp(rendition, segment)

    def _restamp(self, rendition: Rendition, segment: Segment) -> Segment:
        """The segment with the program date-time players measure latency against: when its first
        frame reached the server. FFmpeg stamps a part's first segment with its own start-up
        time, 0.3-0.6 s after that (process start, probing), and each later one by adding the
        durations, so one offset per part corrects them all. Left as FFmpeg's if the part's
        first segment went unseen (the uploader fell a whole window behind)."""
        stamp = segment.program_date_time
        if stamp is None or self._part_first_frame_at is None:
            return segment
        if rendition.clock_offset is None:
            if segment.sequence != self._part_first_sequence:
                return segment
            rendition.clock_offset = datetime.fromtimestamp(self._part_first_frame_at, UTC) - stamp
        return replace(segment, program_date_time=stamp + rendition.clock_offset)

    async def _sync_rendition(self, rendition: Rendition, directory: Path) -> int:
        uploaded = {segment.uri for segment in rendition.stored[rendition.part_start :]}
        new = [s for seq, s in sorted(rendition.seen.items()) if s.uri not in uploaded]
        count = 0
        for segment in new:
            local = directory / segment.uri
            data, closed_at = await asyncio.to_thread(_read_closed_file, local)
            await self._put(segment.uri, data, SEGMENT_TYPE, SEGMENT_CACHE)
            self._latencies_ms.append(max(0.0, (time.time() - closed_at) * 1000))
            first_of_part = len(rendition.stored) == rendition.part_start and rendition.part_start > 0
            rendition.stored.append(replace(segment, discontinuity=first_of_part))
            count += 1
            self.last_segment_at = time.time()
            local.unlink(missing_ok=True)
        if count:
            text = live_playlist(rendition.stored, self.window)
            await self._put(f"{rendition.name}.m3u8", text.encode(), PLAYLIST_TYPE, LIVE_PLAYLIST_CACHE)
            # After the playlist: a thumbnail is an FFmpeg run, which must not hold back the live edge.
            if rendition is self.renditions[0] and rendition.rung.has_video:
                await self._maybe_thumbnail(data)
        return count

    async def _maybe_thumbnail(self, segment: bytes) -> None:
        now = self._clock()
        if self._thumbnailer is None:
            return
        if self._last_thumbnail is not None and now - self._last_thumbnail < self._thumbnail_seconds:
            return
        self._last_thumbnail = now
        image = await self._thumbnailer(segment)
        if image:
            await self._put(THUMBNAIL, image, "image/jpeg", THUMBNAIL_CACHE)
            self.thumbnail_key = f"{self.prefix}/{THUMBNAIL}"

    async def _put(self, name: str, body: bytes, content_type: str, cache_control: str) -> None:
        key = f"{self.prefix}/{name}"
        for attempt in range(1, self.retry.attempts + 1):
            try:
                await asyncio.to_thread(self.storage.put, key, body, content_type, cache_control)
                return
            except DependencyUnavailable:
                if attempt == self.retry.attempts:
                    self._metrics.emit({IngestMetric.UPLOAD_FAILURES: 1}, {"broadcast_id": self._broadcast_id})
                    raise
                delay = min(self.retry.max_seconds, self.retry.base_seconds * 2 ** (attempt - 1))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not crypto

    # --- the end --------------------------------------------------------------------------------
    @property
    def duration_seconds(self) -> float:
        return sum(segment.duration for segment in self.renditions[0].stored)

    async def finalize(self) -> VodOutput | None:
        """The VOD: every stored segment per rung with ENDLIST, and a VOD master. None when the
        broadcast never produced a segment. Raises `DependencyUnavailable` if storage stays down."""
        await self.sync()
        # A last pass may have failed: the segments are still on disk, so keep trying a while.
        for _ in range(self.retry.attempts):
            if self.failures == 0 or await self._pending() == 0:
                break
            self.failures = 0
            await self.sync()
        if not all(r.stored for r in self.renditions):
            return None
        for rendition in self.renditions:
            text = vod_playlist(rendition.stored)
            await self._put(f"vod_{rendition.name}.m3u8", text.encode(), PLAYLIST_TYPE, VOD_PLAYLIST_CACHE)
        master = master_playlist(self.plan, uri=lambda rung: f"vod_{rung.name}.m3u8")
        await self._put(VOD_MASTER, master.encode(), PLAYLIST_TYPE, VOD_PLAYLIST_CACHE)
        return VodOutput(f"{self.prefix}/{VOD_MASTER}", self.duration_seconds, self.thumbnail_key, self.plan)

    async def _pending(self) -> int:
        if self._output_dir is None:
            return 0
        return len(list(self._output_dir.glob("*.ts")))


def _read_closed_file(path: Path) -> tuple[bytes, float]:
    """The file's bytes and when it was last written: FFmpeg lists a segment once it closed it."""
    return path.read_bytes(), path.stat().st_mtime


async def jpeg_thumbnail(segment: bytes, height: int = 360, ffmpeg: str = "ffmpeg") -> bytes | None:
    """The segment's first frame as a JPEG (it starts on a keyframe, so it decodes alone)."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "mpegts", "-i", "pipe:0", "-frames:v", "1",
        "-vf", f"scale=-2:{height}", "-q:v", "5", "-f", "mjpeg", "pipe:1",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(segment), 20)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    if process.returncode != 0 or not stdout:
        logger.warning("thumbnail failed: %s", stderr.decode(errors="replace")[-300:])
        return None
    return stdout
