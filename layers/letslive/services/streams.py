"""Channels, stream keys and the life of a broadcast.

Two audiences: the HTTP service (a streamer's key and settings, the live directory, public
channel state) and the ingest worker (`authorize_publish` → `start_broadcast` → `heartbeat` /
`set_thumbnail` → `mark_disconnected` → `start_broadcast` again within the grace period, or
`end_broadcast`). The rules live here; storage is behind `StreamStore` (DynamoDB in
`letslive.data.streams`), events behind `EventPublisher`.

Stream keys are random (`live_` + 32 url-safe characters, 192 bits), shown once, and stored
only as their SHA-256: with that much entropy a plain hash is as good as a slow one, and it
lets a publish find its channel with one lookup.

A live broadcast ends by `end_broadcast`, or by `end_abandoned` (the sweeper) once its worker
has sent no heartbeat for `live_stale_seconds`; such a channel is hidden from the directory at
once. A publisher that drops is `mark_disconnected`; a publish with the same key within
`reconnect_grace_seconds` of the drop resumes the same broadcast (`parts` + 1, no new
`StreamStarted`), on any worker. So does one whose worker has been silent for `lease_seconds`
(it died: OBS reconnects through the load balancer to another worker). A broadcast
disconnected for longer while its worker lives (or whose key was rotated meanwhile) is ended
by the next publish, which starts a new one. Workers heartbeat well within the lease, with
their part: an answer of False means cut the publisher off (the key was rotated, or a later
part resumed the broadcast elsewhere).
"""

import hashlib
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from letslive.errors import (
    BroadcastNotFound,
    ChannelBusy,
    InvalidInput,
    InvalidStreamKey,
    NotLive,
)
from letslive.models.events import DomainEvent, StreamEnded, StreamStarted, ViewerCountChanged
from letslive.models.handles import USERNAME_RE, normalize_channel
from letslive.models.streams import (
    Broadcast,
    Channel,
    ChannelPatch,
    ChannelState,
    ListPosition,
    LiveChannel,
    LivePage,
    LiveSlice,
    MyChannel,
    PublishGrant,
    StreamHealth,
    StreamHealthReport,
    StreamKeyCreated,
    default_title,
    live_playlist_path,
)
from letslive.services.events import EventPublisher, publish_after_commit
from letslive.services.media_urls import media_path, media_url
from letslive.services.pagination import check_limit, decode_cursor, encode_cursor

logger = logging.getLogger(__name__)

LIVE_LIMIT_DEFAULT: Final = 24
LIVE_LIMIT_MAX: Final = 100

STREAM_KEY_PREFIX: Final = "live_"
STREAM_KEY_BYTES: Final = 24  # 192 bits → 32 url-safe characters
# Anything longer, or outside this alphabet, cannot be a key we issued: refused without a lookup.
_STREAM_KEY_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
_BROADCAST_ID_RE: Final = re.compile(r"[0-9a-f]{32}")

# --- stream keys -----------------------------------------------------------------------------


def generate_stream_key() -> str:
    return STREAM_KEY_PREFIX + secrets.token_urlsafe(STREAM_KEY_BYTES)


def hash_stream_key(stream_key: str) -> str:
    """The SHA-256 hex digest under which a key is stored and looked up."""
    return hashlib.sha256(stream_key.encode()).hexdigest()


def plausible_stream_key(stream_key: str) -> bool:
    return bool(_STREAM_KEY_RE.fullmatch(stream_key))


LIVE_LISTING: Final = "live"


# --- the service -----------------------------------------------------------------------------


class StreamStore(Protocol):
    def channel(self, username: str, consistent_read: bool = False) -> Channel | None: ...

    def username_for_key(self, key_hash: str) -> str | None: ...

    def replace_key(self, username: str, key_hash: str, now: datetime) -> None: ...

    def update_settings(self, username: str, patch: ChannelPatch) -> Channel: ...

    def live_page(self, limit: int, after: ListPosition | None) -> LiveSlice: ...

    def broadcast(self, broadcast_id: str) -> Broadcast | None: ...

    def start(self, broadcast: Broadcast) -> bool: ...

    def resume(self, broadcast: Broadcast, grant: PublishGrant, now: datetime) -> Broadcast | None: ...

    def heartbeat(
        self, broadcast_id: str, key_hash: str, health: StreamHealth, now: datetime, part: int | None = None
    ) -> bool: ...

    def set_thumbnail(self, broadcast_id: str, key: str) -> bool: ...

    def set_viewer_count(self, username: str, viewers: int, counted_at: datetime) -> bool: ...

    def disconnect(self, broadcast_id: str, now: datetime, part: int | None = None) -> Broadcast | None: ...

    def end(
        self, broadcast_id: str, now: datetime, only_if_disconnected: bool, stale_before: datetime | None = None
    ) -> tuple[Broadcast, bool] | None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(now: datetime) -> datetime:
    if now.utcoffset() is None:
        raise InvalidInput("times must be timezone-aware")
    return now.astimezone(UTC)


class StreamService:
    def __init__(
        self,
        streams: StreamStore,
        events: EventPublisher,
        *,
        media_base_url: str | None = None,
        ingest_url: str = "rtmp://127.0.0.1:1935/live",
        reconnect_grace_seconds: float = 10,
        lease_seconds: float = 12,
        live_stale_seconds: float = 30,
        clock: Callable[[], datetime] = _utcnow,
        new_key: Callable[[], str] = generate_stream_key,
        new_broadcast_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.streams = streams
        self.events = events
        self.media_base_url = media_base_url
        self.ingest_url = ingest_url
        self.reconnect_grace = timedelta(seconds=reconnect_grace_seconds)
        self.lease = timedelta(seconds=lease_seconds)
        self.live_stale = timedelta(seconds=live_stale_seconds)
        self._clock = clock
        self._new_key = new_key
        self._new_broadcast_id = new_broadcast_id

    # --- the streamer (HTTP) ------------------------------------------------------------------

    def create_key(self, username: str) -> StreamKeyCreated:
        """A fresh key for the caller's channel, replacing any previous one. Returned only here."""
        key = self._new_key()
        self.streams.replace_key(username.lower(), hash_stream_key(key), self._clock())
        return StreamKeyCreated(stream_key=key, ingest_url_hint=self.ingest_url)

    def my_channel(self, username: str) -> MyChannel:
        name = username.lower()
        channel = self.streams.channel(name, consistent_read=True) or self._offline(name)
        return self._mine(channel)

    def update_channel(self, username: str, patch: ChannelPatch) -> MyChannel:
        return self._mine(self.streams.update_settings(username.lower(), patch))

    def health(self, username: str) -> StreamHealthReport:
        """The caller's live session as the worker last reported it, with its playback URL and
        viewer count, so one answer tells a dashboard all it shows; `NotLive` when offline."""
        channel = self.streams.channel(username.lower(), consistent_read=True)
        if channel is None or not channel.live or channel.broadcast_id is None or channel.started_at is None:
            raise NotLive("you are not live")
        health = channel.health or StreamHealth()
        resolution = None
        if health.width is not None and health.height is not None:
            resolution = f"{health.width}x{health.height}"
        return StreamHealthReport.model_validate(
            dict(health)  # the fields as they are (nested reports stay validated instances)
            | {
                "broadcast_id": channel.broadcast_id,
                "started_at": channel.started_at,
                "playback_url": media_url(self.media_base_url, live_playlist_path(channel.broadcast_id)),
                "viewer_count": channel.viewer_count,
                "resolution": resolution,
                "updated_at": channel.health_updated_at,
            }
        )

    # --- viewers (HTTP) -----------------------------------------------------------------------

    def live(self, limit: int = LIVE_LIMIT_DEFAULT, cursor: str | None = None) -> LivePage:
        """The live directory, most recently started first."""
        check_limit(limit, LIVE_LIMIT_MAX)
        after = None if cursor is None else decode_cursor(cursor, LIVE_LISTING, USERNAME_RE)
        page = self.streams.live_page(limit, after)
        now = self._clock()
        items = [self._listed(channel) for channel in page.channels if channel.live and not self._silent(channel, now)]
        next_cursor = None if page.last is None else encode_cursor(LIVE_LISTING, page.last)
        return LivePage(items=[item for item in items if item is not None], next_cursor=next_cursor)

    def channel(self, username: str) -> ChannelState:
        """A channel's public state; a channel never set up is an offline one with defaults."""
        name = normalize_channel(username)
        channel = self.streams.channel(name) or self._offline(name)
        live = channel.live and channel.broadcast_id is not None and not self._silent(channel, self._clock())
        return ChannelState(
            username=channel.username,
            live=live,
            title=channel.title,
            category=channel.category,
            tags=list(channel.tags),
            started_at=channel.started_at if live else None,
            viewer_count=channel.viewer_count if live else 0,
            thumbnail_url=self._url(channel.thumbnail_key) if live else None,
            playback_url=self._url(live_playlist_path(channel.broadcast_id)) if channel.broadcast_id and live else None,
            broadcast_id=channel.broadcast_id if live else None,
        )

    # --- the ingest worker --------------------------------------------------------------------

    def authorize_publish(self, stream_key: str) -> PublishGrant | None:
        """Who may publish with `stream_key`: None for an unknown (or rotated) key, and while the
        channel has a live publisher (one that has not dropped and is not stale)."""
        if not plausible_stream_key(stream_key):
            return None
        key_hash = hash_stream_key(stream_key)
        username = self.streams.username_for_key(key_hash)
        if username is None:
            return None
        channel = self.streams.channel(username, consistent_read=True)
        if channel is None or channel.key_hash != key_hash:
            return None
        if channel.live and channel.broadcast_id is not None:
            current = self.streams.broadcast(channel.broadcast_id)
            if current is not None and self._held(channel, current, self._clock()):
                return None
        return PublishGrant(username=username, key_hash=key_hash)

    def start_broadcast(self, grant: PublishGrant, now: datetime) -> Broadcast:
        """Go live: resume the channel's broadcast if its publisher dropped less than the grace
        period ago, else start a new one (and emit `StreamStarted`).

        `InvalidStreamKey` when the key was rotated since the grant; `ChannelBusy` when another
        publisher holds the channel or won the race to start it.
        """
        now = _aware(now)
        channel = self.streams.channel(grant.username, consistent_read=True)
        if channel is None or channel.key_hash != grant.key_hash:
            raise InvalidStreamKey("the stream key is no longer valid")
        if channel.live and channel.broadcast_id is not None:
            current = self.streams.broadcast(channel.broadcast_id)
            if current is not None and current.ended_at is None:
                # A rotated key starts afresh: rotation is what ends the old key's sessions.
                if current.key_hash == grant.key_hash and self._resumable(channel, current, now):
                    resumed = self.streams.resume(current, grant, now)
                    if resumed is None:
                        raise ChannelBusy("another publisher took the channel")
                    logger.info("broadcast %s resumed (part %d)", resumed.broadcast_id, resumed.parts)
                    return resumed
                if self._held(channel, current, now):
                    raise ChannelBusy("the channel is live from another publisher")
            # Abandoned (dropped past the grace period, or its worker went silent): end it first.
            self._end(channel.broadcast_id, now, only_if_disconnected=False)
        broadcast = Broadcast(
            broadcast_id=self._new_broadcast_id(),
            username=grant.username,
            key_hash=grant.key_hash,
            started_at=now,
            title=channel.title,
            category=channel.category,
        )
        if not self.streams.start(broadcast):
            latest = self.streams.channel(grant.username, consistent_read=True)
            if latest is None or latest.key_hash != grant.key_hash:
                raise InvalidStreamKey("the stream key is no longer valid")
            raise ChannelBusy("another publisher started the channel first")
        self._publish(
            StreamStarted(username=grant.username, broadcast_id=broadcast.broadcast_id, started_at=broadcast.started_at)
        )
        return broadcast

    def heartbeat(self, broadcast_id: str, key_hash: str, health: StreamHealth, part: int | None = None) -> bool:
        """Store the session's health. False means cut the publisher off: the key was rotated,
        the broadcast is no longer the channel's live one, or (given the session's `part`) a
        later part resumed it, on another worker."""
        if not _BROADCAST_ID_RE.fullmatch(broadcast_id):
            return False
        return self.streams.heartbeat(broadcast_id, key_hash, health, self._clock(), part)

    def broadcast(self, broadcast_id: str) -> Broadcast:
        """The broadcast as stored now (a worker asks whether it still carries it)."""
        self._known_id(broadcast_id)
        broadcast = self.streams.broadcast(broadcast_id)
        if broadcast is None:
            raise BroadcastNotFound(f"there is no broadcast {broadcast_id}")
        return broadcast

    def record_viewers(self, event: ViewerCountChanged) -> bool:
        """The chat's count of a channel's viewers (`ViewerCountChanged`), kept while it is live;
        False when the channel is offline or a later count is already stored."""
        name = normalize_channel(event.username)
        return self.streams.set_viewer_count(name, max(0, event.viewers), _aware(event.counted_at))

    def set_thumbnail(self, broadcast_id: str, key: str) -> bool:
        """The latest thumbnail of a broadcast (path under the media prefix, or its bucket key);
        False when the broadcast is not live any more (it is still kept for the VOD)."""
        self._known_id(broadcast_id)
        return self.streams.set_thumbnail(broadcast_id, media_path(key))

    def mark_disconnected(self, broadcast_id: str, now: datetime, part: int | None = None) -> Broadcast:
        """The publisher dropped: the channel stays live for the grace period (a reconnect within
        it resumes the broadcast). Marking again keeps the first drop time; given the session's
        `part`, nothing is marked once a later part has resumed the broadcast."""
        self._known_id(broadcast_id)
        broadcast = self.streams.disconnect(broadcast_id, _aware(now), part)
        if broadcast is None:
            raise BroadcastNotFound(f"there is no broadcast {broadcast_id}")
        return broadcast

    def end_broadcast(self, broadcast_id: str, now: datetime, *, only_if_disconnected: bool = False) -> Broadcast:
        """End the broadcast: the channel goes offline, `ended_at` is set, `StreamEnded` is emitted
        (once: ending an ended broadcast returns it unchanged).

        `only_if_disconnected` is for the grace timer after a drop: if the publisher came back
        meanwhile (possibly through another worker) the broadcast is left running and returned
        with `ended_at` None.
        """
        self._known_id(broadcast_id)
        return self._end(broadcast_id, _aware(now), only_if_disconnected)[0]

    def end_abandoned(self, now: datetime) -> list[Broadcast]:
        """End every live broadcast whose worker has not heartbeated for `live_stale` (it died:
        OOM, host failure, SIGKILL): the channel goes offline and `StreamEnded` is emitted, so the
        streamer can go live again at once. Each end is conditional on the heartbeat still being
        stale, so a worker that was only slow keeps its broadcast. Returns those ended here."""
        now = _aware(now)
        cutoff = now - self.live_stale
        ended: list[Broadcast] = []
        after: ListPosition | None = None
        while True:
            page = self.streams.live_page(LIVE_LIMIT_MAX, after)
            for channel in page.channels:
                if channel.broadcast_id is None or not self._silent(channel, now):
                    continue
                broadcast, ended_here = self._end(channel.broadcast_id, now, False, stale_before=cutoff)
                if ended_here:
                    logger.warning(
                        "ended broadcast %s: its worker stopped heartbeating at %s",
                        broadcast.broadcast_id,
                        channel.heartbeat_at,
                    )
                    ended.append(broadcast)
            if page.last is None:
                return ended
            after = page.last

    # --- internals ----------------------------------------------------------------------------

    def _silent(self, channel: Channel, now: datetime) -> bool:
        """Whether the channel's worker has said nothing for longer than `live_stale`: it died."""
        last_seen = channel.heartbeat_at or channel.started_at
        return last_seen is not None and now - last_seen > self.live_stale

    def _end(
        self, broadcast_id: str, now: datetime, only_if_disconnected: bool, stale_before: datetime | None = None
    ) -> tuple[Broadcast, bool]:
        """The broadcast, and whether this call ended it (then `StreamEnded` is emitted)."""
        result = self.streams.end(broadcast_id, now, only_if_disconnected, stale_before)
        if result is None:
            raise BroadcastNotFound(f"there is no broadcast {broadcast_id}")
        broadcast, ended = result
        if ended and broadcast.ended_at is not None:
            self._publish(
                StreamEnded(
                    username=broadcast.username,
                    broadcast_id=broadcast.broadcast_id,
                    started_at=broadcast.started_at,
                    ended_at=broadcast.ended_at,
                )
            )
        return broadcast, ended

    def _held(self, channel: Channel, broadcast: Broadcast, now: datetime) -> bool:
        """Whether a publisher holds the channel: connected (not dropped), and its worker heard
        from within the lease. A dropped one does not (its reconnect resumes the broadcast, a
        later publish replaces it), nor one whose worker went silent (it died)."""
        if broadcast.ended_at is not None or broadcast.disconnected_at is not None:
            return False
        last_seen = channel.heartbeat_at or broadcast.started_at
        return now - last_seen < self.lease

    def _resumable(self, channel: Channel, broadcast: Broadcast, now: datetime) -> bool:
        """Whether a publish with the broadcast's key continues it as a new part: its publisher
        dropped less than the grace period ago, or its worker has been silent for the lease (it
        died: the publisher reconnects through the load balancer to another worker, which
        resumes from what reached storage, so nothing stored is left without a VOD). A worker
        waiting out the grace period heartbeats too."""
        dropped = broadcast.disconnected_at
        if dropped is not None and now - dropped < self.reconnect_grace:
            return True
        last_seen = channel.heartbeat_at or broadcast.started_at
        return now - last_seen >= self.lease

    @staticmethod
    def _known_id(broadcast_id: str) -> None:
        if not _BROADCAST_ID_RE.fullmatch(broadcast_id):
            raise BroadcastNotFound(f"there is no broadcast {broadcast_id!r}")

    def _url(self, path: str | None) -> str | None:
        return None if path is None else media_url(self.media_base_url, path)

    def _listed(self, channel: Channel) -> LiveChannel | None:
        if channel.broadcast_id is None or channel.started_at is None:
            return None
        return LiveChannel(
            username=channel.username,
            title=channel.title,
            category=channel.category,
            tags=list(channel.tags),
            viewer_count=channel.viewer_count,
            thumbnail_url=self._url(channel.thumbnail_key),
            started_at=channel.started_at,
            playback_url=media_url(self.media_base_url, live_playlist_path(channel.broadcast_id)),
        )

    @staticmethod
    def _offline(username: str) -> Channel:
        return Channel(username=username, title=default_title(username), category=None, tags=(), key_hash=None)

    @staticmethod
    def _mine(channel: Channel) -> MyChannel:
        return MyChannel(
            username=channel.username,
            title=channel.title,
            category=channel.category,
            tags=list(channel.tags),
            has_key=channel.key_hash is not None,
            key_created_at=channel.key_created_at,
            live=channel.live,
            started_at=channel.started_at if channel.live else None,
        )

    def _publish(self, event: DomainEvent) -> None:
        publish_after_commit(self.events, event)


def stream_service() -> StreamService:
    """The service on its configured backends (DynamoDB, EventBridge)."""
    from letslive.data.streams import StreamRepository
    from letslive.services.events import event_publisher
    from letslive.settings import get_settings

    settings = get_settings()
    return StreamService(
        StreamRepository(),
        event_publisher(),
        media_base_url=settings.media_base_url,
        ingest_url=settings.ingest_url,
        reconnect_grace_seconds=settings.reconnect_grace_seconds,
        lease_seconds=settings.lease_seconds,
        live_stale_seconds=settings.live_stale_seconds,
    )
