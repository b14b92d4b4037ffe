"""Recorded broadcasts (VODs): the vods service's bodies and domain records."""

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from letslive.models.streams import ListPosition

VOD_PLAYLIST: Final = "vod.m3u8"
# A VOD's id is the id of the broadcast it records (uuid4 hex).
VOD_ID_PATTERN: Final = r"[0-9a-f]{32}"


class VodRung(BaseModel):
    """One rendition of a VOD. `bandwidth` is in bits per second, as in the master playlist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    height: int = Field(ge=0, le=4320, description="0 for the one rendition of an audio-only broadcast")
    bandwidth: int = Field(ge=1)


class Vod(BaseModel):
    """`GET /vods/{id}`. URLs are under the media base URL (just the path when none is set)."""

    vod_id: str
    username: str
    title: str
    category: str | None
    started_at: datetime
    duration_seconds: float
    rungs: list[VodRung]
    playback_url: str
    thumbnail_url: str | None
    expires_at: datetime = Field(description="after this the VOD is gone")


class VodPage(BaseModel):
    items: list[Vod]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


@dataclass(frozen=True)
class VodRecord:
    """A VOD as stored; paths are relative to the media prefix."""

    vod_id: str
    username: str
    title: str
    category: str | None
    started_at: datetime
    duration_seconds: float
    rungs: tuple[VodRung, ...]
    playback_path: str
    thumbnail_key: str | None
    recorded_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class VodSlice:
    """One page of a channel's VODs as the data layer returns it; `last` only when more follow."""

    records: list[VodRecord]
    last: ListPosition | None
