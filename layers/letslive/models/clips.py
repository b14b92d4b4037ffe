"""Clips: a short part of a broadcast, live or recorded, that outlives it.

A clip owns its media: the broadcast's segments it covers are copied under `clips/<clip_id>/`
with playlists of its own, so neither the VOD's retention nor its deletion touches it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from letslive.constants import MEDIA_PREFIX
from letslive.models.schema import line_schema, omit_defaults
from letslive.models.streams import ListPosition
from letslive.models.text import clean_line
from letslive.models.vods import VOD_ID_PATTERN

CLIPS_MEDIA_DIR: Final = "clips"
CLIP_PLAYLIST: Final = "master.m3u8"
CLIP_ID_PATTERN: Final = r"[0-9a-f]{16}"
CLIP_SECONDS_MIN: Final = 5
CLIP_SECONDS_MAX: Final = 60
CLIP_SECONDS_DEFAULT: Final = 30
CLIP_TITLE_MAX: Final = 100
# A VOD clip's start, in seconds from the broadcast's start: 48 h of broadcast at most.
CLIP_START_MAX: Final = 48 * 3600


# The MP4 download: remuxed (never re-encoded) from the clip's best rung by the clip downloads
# consumer, which reports its progress on the clip's record.
ClipDownloadState = Literal["pending", "remuxing", "ready", "failed"]
CLIP_DOWNLOAD_FILE: Final = "clip.mp4"


def clip_prefix_path(clip_id: str) -> str:
    """A clip's media directory, under the media prefix."""
    return f"{CLIPS_MEDIA_DIR}/{clip_id}"


def clip_media_prefix(clip_id: str) -> str:
    """A clip's media directory as a bucket key prefix."""
    return f"{MEDIA_PREFIX}/{clip_prefix_path(clip_id)}"


class ClipRequest(BaseModel):
    """`POST /clips`: `seconds` of broadcast `broadcast_id` (a VOD's id is its broadcast's id).
    Without `start_seconds`, the last `seconds` of a live broadcast (one click in the player);
    with it, from that many seconds after the broadcast's start (a range of the VOD, or of the
    live broadcast's past)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=omit_defaults)

    broadcast_id: str = Field(pattern=f"^{VOD_ID_PATTERN}$")
    seconds: float = Field(
        default=CLIP_SECONDS_DEFAULT,
        ge=CLIP_SECONDS_MIN,
        le=CLIP_SECONDS_MAX,
        description="the clip's length: it covers whole 1 s segments, so it may be up to a second longer",
    )
    start_seconds: float | None = Field(
        default=None, ge=0, le=CLIP_START_MAX, description="from the broadcast's start; absent: the live edge"
    )
    title: Annotated[
        str | None,
        WithJsonSchema(line_schema(CLIP_TITLE_MAX, blank=False, nullable=True, description="trimmed")),
    ] = None

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        return None if value is None else clean_line(value, "title", 1, CLIP_TITLE_MAX)


class ClipDownload(BaseModel):
    """The clip's MP4: `pending` until the remux starts, then `remuxing` with its progress,
    then `ready` with its URL or `failed` with the reason."""

    state: ClipDownloadState
    progress: float = Field(ge=0, le=1, description="0 to 1")
    url: str | None = Field(description="the MP4 (served as an attachment), once ready")
    size_bytes: int | None = Field(description="the MP4's size, once ready")
    reason: str | None = Field(description="why it failed")


class Clip(BaseModel):
    """A clip as the API shows it. URLs are under the media base URL."""

    clip_id: str
    title: str
    channel: str = Field(description="whose broadcast it is from")
    creator: str = Field(description="who made it")
    broadcast_id: str
    start_seconds: float = Field(description="where it starts, from the broadcast's start")
    duration_seconds: float
    created_at: datetime
    views: int
    playback_url: str = Field(description="the clip's own HLS master playlist")
    download: ClipDownload


class ClipList(BaseModel):
    items: list[Clip]


class ClipPage(BaseModel):
    items: list[Clip]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


@dataclass(frozen=True)
class ClipRecord:
    """A clip as stored; `playback_path` is relative to the media prefix."""

    clip_id: str
    title: str
    channel: str
    creator: str
    broadcast_id: str
    start_seconds: float
    duration_seconds: float
    created_at: datetime
    playback_path: str
    # The instant of the broadcast where the clip starts, on the chat's clock (the broadcast's
    # start plus `start_seconds`): its chat replay is the messages sent from it for its length.
    starts_at: datetime
    views: int = 0
    download_state: ClipDownloadState = "pending"
    download_progress: float = 0.0
    download_bytes: int | None = None
    download_reason: str | None = None
    # When the download's state or progress last changed (the record's creation until then).
    download_updated_at: datetime | None = None

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(seconds=self.duration_seconds)


@dataclass(frozen=True)
class ClipDownloadUpdate:
    """A change of the MP4 download's state, as the consumer records it."""

    state: ClipDownloadState
    progress: float
    at: datetime
    size_bytes: int | None = None
    reason: str | None = None


def clip_download_path(clip_id: str) -> str:
    """The clip's MP4, relative to the media prefix (inside the clip's directory, so it goes
    with the clip)."""
    return f"{clip_prefix_path(clip_id)}/{CLIP_DOWNLOAD_FILE}"


@dataclass(frozen=True)
class ClipSlice:
    records: list[ClipRecord]
    last: ListPosition | None
