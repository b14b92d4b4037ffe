"""Domain events published on the EventBridge bus (`detail-type` = the class's `detail_type`)."""

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel


class DomainEvent(BaseModel):
    detail_type: ClassVar[str]


class UserFollowed(DomainEvent):
    detail_type: ClassVar[str] = "UserFollowed"
    follower: str
    followee: str
    followed_at: datetime


class StreamStarted(DomainEvent):
    """A channel went live with a new broadcast (not emitted when a dropped publisher resumes)."""

    detail_type: ClassVar[str] = "StreamStarted"
    username: str
    broadcast_id: str
    started_at: datetime


class StreamEnded(DomainEvent):
    detail_type: ClassVar[str] = "StreamEnded"
    username: str
    broadcast_id: str
    started_at: datetime
    ended_at: datetime


class VodReady(DomainEvent):
    """A broadcast's recording can be played; `playback_path` is under the media prefix."""

    detail_type: ClassVar[str] = "VodReady"
    username: str
    broadcast_id: str
    vod_id: str
    started_at: datetime
    recorded_at: datetime
    duration_seconds: float
    playback_path: str
    # When the VOD (and the chat it replays) expires; absent from events published before.
    expires_at: datetime | None = None


class VodDeleted(DomainEvent):
    """A VOD's record is gone; its media (every object under `media_prefix/`, a bucket key
    prefix: every rung and part, playlists, thumbnails) is to be removed and its CDN copies
    invalidated. The id is the broadcast's, so the prefix is the broadcast's."""

    detail_type: ClassVar[str] = "VodDeleted"
    username: str
    vod_id: str
    media_prefix: str
    deleted_at: datetime


class ClipCreated(DomainEvent):
    """A clip was made (its media copied, its record stored): its MP4 is to be remuxed and its
    chat kept as long as the clip."""

    detail_type: ClassVar[str] = "ClipCreated"
    channel: str
    clip_id: str
    created_at: datetime
    # The chat it replays: the messages sent from `starts_at` to before `ends_at` are kept with it.
    starts_at: datetime
    ends_at: datetime


class ClipDeleted(DomainEvent):
    """A clip's record is gone; its media (every object under `media_prefix/`, the clip's own
    directory) is to be removed and its CDN copies invalidated, as for a VOD."""

    detail_type: ClassVar[str] = "ClipDeleted"
    channel: str
    clip_id: str
    media_prefix: str
    deleted_at: datetime
    # The chat it kept (None: a clip made before clips kept their chat), and the expiry of its
    # broadcast's VOD when one is still kept (its messages then stay as long as that VOD).
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    vod_expires_at: datetime | None = None


class ViewerCountChanged(DomainEvent):
    """The number of open chat connections (viewers) of a channel, counted at `counted_at`."""

    detail_type: ClassVar[str] = "ViewerCountChanged"
    username: str
    viewers: int
    counted_at: datetime
