"""Recorded broadcasts: recording them (the ingest worker), listing, playing and deleting them.

A VOD has the id of the broadcast it records and lives for `retention_days` after it is
recorded (the `expires_at` TTL); an expired VOD is gone even before DynamoDB removes it.
Storage is behind `VodStore` (DynamoDB in `letslive.data.vods`), events behind `EventPublisher`.
"""

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from letslive.errors import Forbidden, InvalidInput, VodNotFound
from letslive.models.clips import CLIP_ID_PATTERN, clip_media_prefix
from letslive.models.events import ClipDeleted, VodDeleted, VodReady
from letslive.models.handles import normalize_channel
from letslive.models.streams import Broadcast, ListPosition
from letslive.models.vods import VOD_ID_PATTERN, Vod, VodPage, VodRecord, VodRung, VodSlice
from letslive.services.events import EventPublisher, publish_after_commit
from letslive.services.media_urls import media_path, media_url
from letslive.services.pagination import check_limit, decode_cursor, encode_cursor
from letslive.services.recordings import broadcast_prefix

logger = logging.getLogger(__name__)

VOD_LIMIT_DEFAULT: Final = 20
VOD_LIMIT_MAX: Final = 100
_VOD_ID_RE: Final = re.compile(VOD_ID_PATTERN)
_CLIP_ID_RE: Final = re.compile(CLIP_ID_PATTERN)


def vod_listing(username: str) -> str:
    return f"vods:{username}"


class VodStore(Protocol):
    def create(self, record: VodRecord) -> bool: ...

    def get(self, vod_id: str) -> VodRecord | None: ...

    def page(self, username: str, limit: int, after: ListPosition | None, now: datetime) -> VodSlice: ...

    def delete(self, vod_id: str, username: str) -> bool: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def live_vod_record(vods: VodStore, vod_id: str, now: datetime) -> VodRecord:
    """The VOD's record unless it was never recorded, was deleted or has expired (`VodNotFound`)."""
    if not _VOD_ID_RE.fullmatch(vod_id):
        raise VodNotFound("there is no such VOD")
    record = vods.get(vod_id)
    if record is None or record.expires_at <= now:
        raise VodNotFound(f"there is no VOD {vod_id}")
    return record


class VodService:
    def __init__(
        self,
        vods: VodStore,
        events: EventPublisher,
        *,
        media_base_url: str | None = None,
        retention_days: int = 30,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.vods = vods
        self.events = events
        self.media_base_url = media_base_url
        self.retention = timedelta(days=retention_days)
        self._clock = clock

    # --- the ingest worker --------------------------------------------------------------------

    def record_vod(
        self,
        broadcast: Broadcast,
        duration_seconds: float,
        rungs: Sequence[VodRung],
        playback_path: str,
        thumbnail_key: str | None,
    ) -> Vod:
        """Store the VOD of `broadcast` and emit `VodReady`. Recording it again returns the
        stored one and emits nothing. Paths are under the media prefix (bucket keys accepted)."""
        if not _VOD_ID_RE.fullmatch(broadcast.broadcast_id):
            raise InvalidInput("not a broadcast id")
        if not math.isfinite(duration_seconds) or duration_seconds < 0:
            raise InvalidInput("the duration must be a finite, non-negative number of seconds")
        if not rungs:
            raise InvalidInput("a VOD needs at least one rung")
        now = self._clock()
        record = VodRecord(
            vod_id=broadcast.broadcast_id,
            username=broadcast.username,
            title=broadcast.title,
            category=broadcast.category,
            started_at=broadcast.started_at,
            duration_seconds=float(duration_seconds),
            rungs=tuple(VodRung.model_validate(rung) for rung in rungs),
            playback_path=media_path(playback_path),
            thumbnail_key=None if thumbnail_key is None else media_path(thumbnail_key),
            recorded_at=now,
            # Whole seconds: the TTL attribute is epoch seconds.
            expires_at=(now + self.retention).replace(microsecond=0),
        )
        if not self.vods.create(record):
            existing = self.vods.get(record.vod_id)
            if existing is None:  # pragma: no cover - deleted between two calls
                raise VodNotFound("the VOD was deleted while it was recorded")
            return self._view(existing)
        publish_after_commit(
            self.events,
            VodReady(
                username=record.username,
                broadcast_id=broadcast.broadcast_id,
                vod_id=record.vod_id,
                started_at=record.started_at,
                recorded_at=record.recorded_at,
                duration_seconds=record.duration_seconds,
                playback_path=record.playback_path,
                expires_at=record.expires_at,
            ),
        )
        return self._view(record)

    # --- HTTP ---------------------------------------------------------------------------------

    def list_vods(self, channel: str, limit: int = VOD_LIMIT_DEFAULT, cursor: str | None = None) -> VodPage:
        """A channel's VODs, newest first (an unknown channel simply has none)."""
        name = normalize_channel(channel)
        check_limit(limit, VOD_LIMIT_MAX)
        after = None if cursor is None else decode_cursor(cursor, vod_listing(name), _VOD_ID_RE)
        page = self.vods.page(name, limit, after, self._clock())
        next_cursor = None if page.last is None else encode_cursor(vod_listing(name), page.last)
        return VodPage(items=[self._view(record) for record in page.records], next_cursor=next_cursor)

    def get(self, vod_id: str) -> Vod:
        return self._view(self._live_record(vod_id))

    def delete(self, vod_id: str, caller: str) -> None:
        """Delete the caller's VOD: `Forbidden` for someone else's, `VodNotFound` once gone.

        `VodDeleted` (its media's removal) is published before the record goes: a publish that
        fails is then a 503 with nothing changed, for the caller to retry; published after, it
        would leave the media public behind a 204 with no record left to retry on. The media
        going while the record is still being deleted (or a retry publishing twice) is harmless."""
        record = self._live_record(vod_id)
        if record.username != caller.lower():
            raise Forbidden("only the channel owner may delete this VOD")
        self.events.publish(
            VodDeleted(
                username=record.username,
                vod_id=record.vod_id,
                media_prefix=broadcast_prefix(record.vod_id),
                deleted_at=self._clock(),
            )
        )
        if not self.vods.delete(vod_id, record.username):
            raise VodNotFound(f"there is no VOD {vod_id}")

    # --- internals ----------------------------------------------------------------------------

    def _live_record(self, vod_id: str) -> VodRecord:
        return live_vod_record(self.vods, vod_id, self._clock())

    def _url(self, path: str | None) -> str | None:
        return None if path is None else media_url(self.media_base_url, path)

    def _view(self, record: VodRecord) -> Vod:
        return Vod(
            vod_id=record.vod_id,
            username=record.username,
            title=record.title,
            category=record.category,
            started_at=record.started_at,
            duration_seconds=record.duration_seconds,
            rungs=list(record.rungs),
            playback_url=media_url(self.media_base_url, record.playback_path),
            thumbnail_url=self._url(record.thumbnail_key),
            expires_at=record.expires_at,
        )


class MediaRemover(Protocol):
    """The media bucket as a VOD's removal uses it (`letslive.data.storage.S3MediaStorage`)."""

    def delete_prefix(self, prefix: str) -> int: ...


class CdnInvalidator(Protocol):
    """The CDN in front of the media (`letslive.data.cdn.CloudFrontInvalidator`)."""

    def invalidate(self, paths: list[str], reference: str) -> str: ...


@dataclass(frozen=True)
class RemovedMedia:
    objects: int
    invalidation: str | None  # None: no CDN configured (locally)


class VodMediaCleaner:
    """Removes a deleted VOD's media: every object under its broadcast's prefix (every rung,
    every part, live/event/VOD playlists, thumbnails), then the CDN's cached copies of them.

    Idempotent, so at-least-once delivery and retries are safe: objects already gone are not
    listed again, and the invalidation's caller reference is the VOD's id (a retry is the same
    invalidation). The invalidation comes after the deletion, so the CDN cannot refetch them."""

    def __init__(self, media: MediaRemover, cdn: CdnInvalidator | None) -> None:
        self.media = media
        self.cdn = cdn

    def remove(self, deleted: VodDeleted | ClipDeleted) -> RemovedMedia:
        """`InvalidInput` for an event that names anything but the VOD's own broadcast prefix
        (or the clip's own directory)."""
        if isinstance(deleted, ClipDeleted):
            reference, prefix = f"clip-deleted-{deleted.clip_id}", clip_media_prefix(deleted.clip_id)
            if not _CLIP_ID_RE.fullmatch(deleted.clip_id) or deleted.media_prefix != prefix:
                raise InvalidInput("a ClipDeleted event must name a clip and its own prefix")
        else:
            reference, prefix = f"vod-deleted-{deleted.vod_id}", broadcast_prefix(deleted.vod_id)
            if not _VOD_ID_RE.fullmatch(deleted.vod_id) or deleted.media_prefix != prefix:
                raise InvalidInput("a VodDeleted event must name a VOD and its broadcast's prefix")
        objects = self.media.delete_prefix(f"{prefix}/")
        invalidation = None
        if self.cdn is not None:
            # One wildcard path (billed as one): segments are cached for a year, not only playlists.
            invalidation = self.cdn.invalidate([f"/{prefix}/*"], reference)
        return RemovedMedia(objects=objects, invalidation=invalidation)


def vod_media_cleaner() -> VodMediaCleaner:
    """The cleaner on the media bucket and, when one is configured, the CloudFront distribution."""
    from letslive.data.cdn import CloudFrontInvalidator
    from letslive.data.storage import s3_media_storage
    from letslive.settings import get_settings

    parameter = get_settings().cdn_distribution_parameter
    return VodMediaCleaner(s3_media_storage(), CloudFrontInvalidator(parameter) if parameter else None)


def vod_service() -> VodService:
    """The service on its configured backends (DynamoDB, EventBridge)."""
    from letslive.data.vods import VodRepository
    from letslive.services.events import event_publisher
    from letslive.settings import get_settings

    settings = get_settings()
    return VodService(
        VodRepository(),
        event_publisher(),
        media_base_url=settings.media_base_url,
        retention_days=settings.vod_retention_days,
    )
