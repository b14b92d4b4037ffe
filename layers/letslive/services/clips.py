"""Clips: a signed-in viewer keeps a few seconds of a broadcast, live or recorded.

A clip is made at once and owns its media: the whole segments it covers (every rung) are copied
server-side under `clips/<clip_id>/` with VOD playlists and a master of its own, so it plays as
soon as it is made and outlives the broadcast's VOD (its retention and its deletion). Its
record is in the vods table; deleting it publishes `ClipDeleted`, whose consumer removes the
media and invalidates the CDN (as for a VOD).

Who may delete a clip: its creator, the channel's owner and its chat moderators. Clips are rate-limited per user
(`clip_rate_limit` per `clip_rate_window_seconds`).
"""

import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from letslive.errors import (
    BroadcastNotFound,
    ClipNotFound,
    DependencyUnavailable,
    DownloadNotFailed,
    Forbidden,
    MediaNotFound,
    RateLimited,
)
from letslive.media.clips import ClipSpan, clip_playlist, clip_span, rung_segments
from letslive.media.playlists import Segment, parse_master_playlist, parse_media_playlist
from letslive.models.chat import ChatterState
from letslive.models.clips import (
    CLIP_ID_PATTERN,
    CLIP_PLAYLIST,
    Clip,
    ClipDownload,
    ClipDownloadUpdate,
    ClipList,
    ClipPage,
    ClipRecord,
    ClipRequest,
    ClipSlice,
    clip_download_path,
    clip_media_prefix,
    clip_prefix_path,
)
from letslive.models.events import ClipCreated, ClipDeleted
from letslive.models.handles import normalize_channel
from letslive.models.streams import LIVE_PLAYLIST, Broadcast, ListPosition
from letslive.services.events import EventPublisher, publish_after_commit
from letslive.services.media_urls import media_url
from letslive.services.pagination import check_limit, decode_cursor, encode_cursor
from letslive.services.recordings import (
    PLAYLIST_TYPE,
    VOD_PREFIX,
    broadcast_prefix,
    recorded_segments,
)
from letslive.services.vods import VodStore, live_vod_record

CLIP_LIMIT_DEFAULT: Final = 20
CLIP_LIMIT_MAX: Final = 100
SEGMENT_CACHE: Final = "public, max-age=31536000, immutable"
# A clip never changes; deleting it invalidates the CDN's copies.
CLIP_PLAYLIST_CACHE: Final = "public, max-age=86400"
SEGMENT_TYPE: Final = "video/mp2t"
COPY_THREADS: Final = 16
# A download not ready and not moved for this long was lost (its event, or every attempt of its
# consumer, which runs for at most a few minutes): shown as failed.
DOWNLOAD_STALE: Final = timedelta(minutes=15)
DOWNLOAD_LOST: Final = "the download could not be made; the clip plays as HLS"
_CLIP_ID_RE: Final = re.compile(CLIP_ID_PATTERN)


class ClipStore(Protocol):
    def create(self, record: ClipRecord) -> None: ...

    def get(self, clip_id: str) -> ClipRecord | None: ...

    def page(self, channel: str, limit: int, after: ListPosition | None) -> ClipSlice: ...

    def most_viewed(self, channel: str, limit: int) -> list[ClipRecord]: ...

    def delete(self, clip_id: str) -> bool: ...

    def set_download(self, clip_id: str, download: ClipDownloadUpdate) -> bool: ...

    def count_view(self, clip_id: str) -> ClipRecord | None: ...

    def take_slot(self, user: str, window_start: int, limit: int, expires_at: datetime) -> bool: ...


class BroadcastDirectory(Protocol):
    """The streams table's broadcasts, read only: whose a broadcast is and whether it ended."""

    def broadcast(self, broadcast_id: str) -> Broadcast | None: ...


class ChannelModerators(Protocol):
    """The chat's rooms, read only: whether a user moderates a channel (and is not banned)."""

    def chatter_state(self, channel: str, user: str, now: datetime) -> ChatterState: ...


class ClipMedia(Protocol):
    """The media bucket as clips use it (`letslive.data.storage.S3MediaStorage`)."""

    def get(self, key: str) -> bytes: ...

    def put(self, key: str, body: bytes, content_type: str, cache_control: str) -> None: ...

    def copy(self, source_key: str, key: str, content_type: str, cache_control: str) -> None: ...


def clip_listing(channel: str) -> str:
    return f"clips:{channel}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return secrets.token_hex(8)


class ClipService:
    def __init__(
        self,
        clips: ClipStore,
        broadcasts: BroadcastDirectory,
        vods: VodStore,
        media: ClipMedia,
        events: EventPublisher,
        moderators: ChannelModerators,
        *,
        media_base_url: str | None = None,
        rate_limit: int = 10,
        rate_window_seconds: int = 600,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self.clips = clips
        self.broadcasts = broadcasts
        self.vods = vods
        self.media = media
        self.events = events
        self.moderators = moderators
        self.media_base_url = media_base_url
        self.rate_limit = rate_limit
        self.rate_window = rate_window_seconds
        self._clock = clock
        self._new_id = new_id

    def create(self, caller: str, request: ClipRequest) -> Clip:
        """Make the clip (its media copied, its playlists written), then record it. When that
        fails midway, `ClipDeleted` goes out for what was copied (no record names it)."""
        now = self._clock()
        broadcast = self.broadcasts.broadcast(request.broadcast_id)
        if broadcast is None:
            raise BroadcastNotFound(f"there is no broadcast {request.broadcast_id}")
        if broadcast.ended_at is not None:
            live_vod_record(self.vods, broadcast.broadcast_id, now)  # its media is gone with its VOD
        self._take_slot(caller.lower(), now)
        prefix = broadcast_prefix(broadcast.broadcast_id)
        master, rungs = self._source(prefix, ended=broadcast.ended_at is not None)
        top = next(iter(rungs.values()))
        span = clip_span(top, request.seconds, request.start_seconds)
        clip_id = self._new_id()
        target = clip_media_prefix(clip_id)
        record = ClipRecord(
            clip_id=clip_id,
            title=request.title or broadcast.title,
            channel=broadcast.username,
            creator=caller.lower(),
            broadcast_id=broadcast.broadcast_id,
            start_seconds=round(span.start_seconds, 3),
            duration_seconds=round(span.duration_seconds, 3),
            created_at=now,
            playback_path=f"{clip_prefix_path(clip_id)}/{CLIP_PLAYLIST}",
            starts_at=broadcast.started_at + timedelta(seconds=span.start_seconds),
        )
        try:
            self._copy_media(prefix, target, master, rungs, top, span)
            self.clips.create(record)
        except Exception:
            # What was copied has no record: the media consumer removes it, as a deleted clip's.
            orphan = ClipDeleted(channel=record.channel, clip_id=clip_id, media_prefix=target, deleted_at=self._clock())
            publish_after_commit(self.events, orphan)
            raise
        # Its MP4 is remuxed and its chat kept by the event's consumers. Unpublished, the clip page
        # says the download failed once `DOWNLOAD_STALE` has passed (its managers may then make
        # it again), and its chat stays only as long as the broadcast's VOD; the clip itself
        # plays either way.
        publish_after_commit(self.events, _created(record))
        return self._view(record)

    def get(self, clip_id: str) -> Clip:
        return self._view(self._record(clip_id))

    def count_view(self, clip_id: str) -> Clip:
        """One more view (the clip page counts itself once per load): one write, no read."""
        record = self.clips.count_view(clip_id) if _CLIP_ID_RE.fullmatch(clip_id) else None
        if record is None:
            raise ClipNotFound(f"there is no clip {clip_id}")
        return self._view(record)

    def list_clips(self, channel: str, limit: int = CLIP_LIMIT_DEFAULT, cursor: str | None = None) -> ClipPage:
        """A channel's clips, newest first."""
        name = normalize_channel(channel)
        check_limit(limit, CLIP_LIMIT_MAX)
        after = None if cursor is None else decode_cursor(cursor, clip_listing(name), _CLIP_ID_RE)
        page = self.clips.page(name, limit, after)
        next_cursor = None if page.last is None else encode_cursor(clip_listing(name), page.last)
        return ClipPage(items=[self._view(record) for record in page.records], next_cursor=next_cursor)

    def most_viewed(self, channel: str, limit: int = CLIP_LIMIT_DEFAULT) -> ClipList:
        """A channel's most viewed clips (its top `limit`; no further pages)."""
        name = normalize_channel(channel)
        check_limit(limit, CLIP_LIMIT_MAX)
        return ClipList(items=[self._view(record) for record in self.clips.most_viewed(name, limit)])

    def retry_download(self, clip_id: str, caller: str) -> Clip:
        """Make a failed MP4 again (its event lost, every attempt failed, or media that could not
        be remuxed): its creator, the channel's owner or one of its moderators. `ClipCreated`
        goes out again; the chat's hold on it is idempotent. The record says `pending` first, so
        the consumer's progress is never overwritten; a failed publish puts the failure back."""
        record = self._record(clip_id)
        self._check_manager(record, caller, "make its MP4 again")
        download = self._download(record)
        if download.state != "failed":
            raise DownloadNotFailed(f"the clip's MP4 is {download.state}")
        now = self._clock()
        if not self.clips.set_download(clip_id, ClipDownloadUpdate("pending", 0.0, now)):
            raise ClipNotFound(f"there is no clip {clip_id}")
        try:
            self.events.publish(_created(record))
        except DependencyUnavailable:
            failed = ClipDownloadUpdate("failed", download.progress, now, reason=download.reason)
            self.clips.set_download(clip_id, failed)
            raise
        return self._view(replace(record, download_state="pending", download_progress=0.0, download_updated_at=now))

    def delete(self, clip_id: str, caller: str) -> None:
        """Its creator, the channel's owner or one of its chat moderators (not banned) deletes
        it; its media goes through `ClipDeleted` (published first: a failed publish is a 503
        with nothing changed)."""
        record = self._record(clip_id)
        self._check_manager(record, caller, "delete it")
        now = self._clock()
        vod = self.vods.get(record.broadcast_id)
        self.events.publish(
            ClipDeleted(
                channel=record.channel,
                clip_id=record.clip_id,
                media_prefix=clip_media_prefix(record.clip_id),
                deleted_at=now,
                starts_at=record.starts_at,
                ends_at=record.ends_at,
                vod_expires_at=vod.expires_at if vod is not None and vod.expires_at > now else None,
            )
        )
        if not self.clips.delete(clip_id):
            raise ClipNotFound(f"there is no clip {clip_id}")

    # --- internals ----------------------------------------------------------------------------

    def _record(self, clip_id: str) -> ClipRecord:
        record = self.clips.get(clip_id) if _CLIP_ID_RE.fullmatch(clip_id) else None
        if record is None:
            raise ClipNotFound(f"there is no clip {clip_id}")
        return record

    def _check_manager(self, record: ClipRecord, caller: str, action: str) -> None:
        """Only the clip's creator, the channel's owner or its moderators (not banned) manage it."""
        who = caller.lower()
        if who not in (record.creator, record.channel):
            state = self.moderators.chatter_state(record.channel, who, self._clock())
            if not state.moderator or state.ban is not None:
                raise Forbidden(f"only the clip's creator, the channel's owner or its moderators may {action}")

    def _take_slot(self, user: str, now: datetime) -> None:
        epoch = int(now.timestamp())
        window_start = epoch - epoch % self.rate_window
        expires = datetime.fromtimestamp(window_start + self.rate_window, UTC) + timedelta(seconds=60)
        if not self.clips.take_slot(user, window_start, self.rate_limit, expires):
            retry = max(1, window_start + self.rate_window - epoch)
            raise RateLimited(f"at most {self.rate_limit} clips per {self.rate_window // 60} minutes", retry)

    def _copy_media(
        self,
        prefix: str,
        target: str,
        master: str,
        rungs: dict[str, list[Segment]],
        top: list[Segment],
        span: ClipSpan,
    ) -> None:
        """Each rung's segments in the span (of the `top` rung) copied under `target`, its
        playlists, then the master (written last: a clip whose master is there has all its media)."""
        copies: list[tuple[str, str]] = []
        for name, segments in rungs.items():
            playlist, pairs = clip_playlist(name, rung_segments(top, span, segments))
            self.media.put(f"{target}/{name}.m3u8", playlist.encode(), PLAYLIST_TYPE, CLIP_PLAYLIST_CACHE)
            copies += [(f"{prefix}/{source}", f"{target}/{copy}") for source, copy in pairs]
        with ThreadPoolExecutor(COPY_THREADS) as pool:
            list(pool.map(lambda pair: self.media.copy(pair[0], pair[1], SEGMENT_TYPE, SEGMENT_CACHE), copies))
        self.media.put(f"{target}/{CLIP_PLAYLIST}", master.encode(), PLAYLIST_TYPE, CLIP_PLAYLIST_CACHE)

    def _source(self, prefix: str, *, ended: bool) -> tuple[str, dict[str, list[Segment]]]:
        """The broadcast's master playlist and each rung's segments, best rung first: the VOD's
        playlists once it ended (one read each), else the recording and the live window."""
        try:
            master = self.media.get(f"{prefix}/{LIVE_PLAYLIST}").decode()
        except MediaNotFound as exc:
            raise BroadcastNotFound("the broadcast has no media yet") from exc
        rungs: dict[str, list[Segment]] = {}
        for variant in parse_master_playlist(master):
            name = variant.uri.removesuffix(".m3u8")
            if ended:
                text = self.media.get(f"{prefix}/{VOD_PREFIX}{variant.uri}").decode()
                rungs[name] = list(parse_media_playlist(text).segments)
            else:
                rungs[name] = recorded_segments(self.media, prefix, name)
        if not rungs:
            raise BroadcastNotFound("the broadcast has no media yet")
        return master, rungs

    def _view(self, record: ClipRecord) -> Clip:
        return Clip(
            clip_id=record.clip_id,
            title=record.title,
            channel=record.channel,
            creator=record.creator,
            broadcast_id=record.broadcast_id,
            start_seconds=record.start_seconds,
            duration_seconds=record.duration_seconds,
            created_at=record.created_at,
            views=record.views,
            playback_url=media_url(self.media_base_url, record.playback_path),
            download=self._download(record),
        )

    def _download(self, record: ClipRecord) -> ClipDownload:
        state, reason = record.download_state, record.download_reason
        moved = record.download_updated_at or record.created_at
        if state in ("pending", "remuxing") and self._clock() - moved > DOWNLOAD_STALE:
            state, reason = "failed", DOWNLOAD_LOST
        ready = state == "ready"
        return ClipDownload(
            state=state,
            progress=record.download_progress,
            url=media_url(self.media_base_url, clip_download_path(record.clip_id)) if ready else None,
            size_bytes=record.download_bytes if ready else None,
            reason=reason if state == "failed" else None,
        )


def _created(record: ClipRecord) -> ClipCreated:
    return ClipCreated(
        channel=record.channel,
        clip_id=record.clip_id,
        created_at=record.created_at,
        starts_at=record.starts_at,
        ends_at=record.ends_at,
    )


def clip_service() -> ClipService:
    """The service on its configured backends (DynamoDB, S3, EventBridge)."""
    from letslive.data.chat import ChatRepository
    from letslive.data.clips import ClipRepository
    from letslive.data.storage import s3_media_storage
    from letslive.data.streams import StreamRepository
    from letslive.data.vods import VodRepository
    from letslive.services.events import event_publisher
    from letslive.settings import get_settings

    settings = get_settings()
    return ClipService(
        ClipRepository(),
        StreamRepository(),
        VodRepository(),
        s3_media_storage(),
        event_publisher(),
        ChatRepository(),
        media_base_url=settings.media_base_url,
        rate_limit=settings.clip_rate_limit,
        rate_window_seconds=settings.clip_rate_window_seconds,
    )
