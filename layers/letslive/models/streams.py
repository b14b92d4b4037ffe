"""Channels, stream keys and broadcasts: the streams service's bodies and domain records.

`ChannelPatch` carries every channel-settings rule (lengths, characters, tag alphabet), so a bad
patch is refused while the request is parsed, before anything reaches DynamoDB. The frozen
dataclasses are what the data layer hands the service (and what the ingest worker gets back).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from letslive.models.restream import DESTINATIONS_MAX, DestinationStatus
from letslive.models.schema import line_schema, omit_defaults
from letslive.models.text import clean_line

TITLE_MAX: Final = 140
CATEGORY_MAX: Final = 50
TAGS_MAX: Final = 10
TAG_PATTERN: Final = r"[A-Za-z0-9-]{1,25}"
TAG_RE: Final = re.compile(TAG_PATTERN)

# Media paths are relative to the media prefix (`letslive.constants.MEDIA_PREFIX`): the object
# is `<prefix>/<path>` in the bucket, and `<media_base_url>/<path>` for players.
BROADCASTS_MEDIA_DIR: Final = "broadcasts"
LIVE_PLAYLIST: Final = "master.m3u8"


def default_title(username: str) -> str:
    return f"{username}'s stream"


def live_playlist_path(broadcast_id: str) -> str:
    """The master playlist of a live broadcast, under the media prefix."""
    return f"{BROADCASTS_MEDIA_DIR}/{broadcast_id}/{LIVE_PLAYLIST}"


def clean_title(value: str) -> str:
    return clean_line(value, "title", 1, TITLE_MAX)


def clean_category(value: str) -> str | None:
    """The category, or None for "" (no category)."""
    return clean_line(value, "category", 0, CATEGORY_MAX) or None


def clean_tags(values: list[str]) -> list[str]:
    """At most `TAGS_MAX` tags of `[A-Za-z0-9-]{1,25}`; repeats (ignoring case) are dropped."""
    if len(values) > TAGS_MAX:
        raise ValueError(f"at most {TAGS_MAX} tags")
    tags: list[str] = []
    seen: set[str] = set()
    for tag in values:
        # ASCII only, matched as sent: no trimming or case folding that could change a tag.
        if not TAG_RE.fullmatch(tag):
            raise ValueError("each tag must be 1 to 25 letters, digits or hyphens")
        if tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    return tags


class ChannelPatch(BaseModel):
    """`PATCH /streams/me`: only the fields present change; `category: null` (or "") clears it."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=omit_defaults)

    # The schemas say what the validators below accept (absent is fine, null only for the category).
    title: Annotated[
        str | None,
        WithJsonSchema(line_schema(TITLE_MAX, blank=False, description=f"trimmed; 1-{TITLE_MAX} characters")),
    ] = None
    category: Annotated[
        str | None,
        WithJsonSchema(
            line_schema(CATEGORY_MAX, blank=True, nullable=True, description='trimmed; null or "" clears it')
        ),
    ] = None
    tags: Annotated[
        list[str] | None,
        WithJsonSchema(
            {
                "type": "array",
                "maxItems": TAGS_MAX,
                "items": {"type": "string", "pattern": f"^{TAG_PATTERN}$"},
                "description": "replaces the current tags; repeats (ignoring case) are dropped",
            }
        ),
    ] = None

    # Validators run only on fields the client sent, so an absent field is never "null".
    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("the title cannot be removed")
        return clean_title(value)

    @field_validator("category")
    @classmethod
    def _category(cls, value: str | None) -> str | None:
        return None if value is None else clean_category(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str]:
        if value is None:
            raise ValueError("the tags cannot be null; send [] to clear them")
        return clean_tags(value)


TopRung = Literal["copied", "re-encoded"]


class IngestWarning(BaseModel):
    """Something the ladder had to do because of the streamer's settings, said plainly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Literal["keyframe-interval", "frame-rate-capped", "resolution-capped", "bitrate-capped", "codec-converted"]
    message: str = Field(max_length=500, description="what happened and what it costs the viewers")
    setting: str | None = Field(default=None, max_length=200, description="the exact encoder setting to change")


class RungReport(BaseModel):
    """One rendition the viewers get."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(max_length=32)
    width: int = Field(ge=0, le=16384)
    height: int = Field(ge=0, le=16384)
    fps: float = Field(ge=0, le=1000)
    copied: bool = Field(description="the source itself, passed through without re-encoding")


class StreamHealth(BaseModel):
    """What the ingest worker measures about a live session (`StreamService.heartbeat`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    input_bitrate_kbps: float | None = Field(default=None, ge=0)
    fps: float | None = Field(default=None, ge=0, le=1000)
    width: int | None = Field(default=None, ge=0, le=16384)
    height: int | None = Field(default=None, ge=0, le=16384)
    transcode_speed: float | None = Field(
        default=None, ge=0, description="media seconds encoded per second: below 1.0 the ladder falls behind"
    )
    last_segment_at: datetime | None = None
    # What the source is, learned from its bitstream ("h264", "aac", ...; None: the stream has none).
    video_codec: str | None = Field(default=None, max_length=32)
    audio_codec: str | None = Field(default=None, max_length=32)
    keyframe_interval_seconds: float | None = Field(
        default=None, ge=0, description="the longest gap between the source's keyframes lately measured"
    )
    top_rung: TopRung | None = Field(default=None, description="whether the best rendition is the source itself")
    top_rung_reason: str | None = Field(default=None, max_length=300, description="why it is copied or re-encoded")
    rungs: list[RungReport] = Field(default_factory=list, max_length=8, description="best first")
    warnings: list[IngestWarning] = Field(default_factory=list, max_length=8)
    destinations: list[DestinationStatus] = Field(
        default_factory=list, max_length=DESTINATIONS_MAX, description="restream: each enabled destination's forwarding"
    )


# --- response bodies -------------------------------------------------------------------------


class StreamKeyCreated(BaseModel):
    stream_key: str = Field(description="shown this once: only its hash is stored")
    ingest_url_hint: str = Field(description="the server to put into the broadcasting software")


class MyChannel(BaseModel):
    """`GET /streams/me`: the caller's channel settings (never the key itself)."""

    username: str
    title: str
    category: str | None
    tags: list[str]
    has_key: bool
    key_created_at: datetime | None = Field(
        description="when the current key was made; null without a key (or for a key older than this field)"
    )
    live: bool
    started_at: datetime | None


class StreamHealthReport(StreamHealth):
    """`GET /streams/me/health`: the live session as the ingest worker last reported it (all
    measurements null, lists empty, until it has), with what the dashboard needs to show it, so
    that one answer says whether the streamer is live (404 `not-live` when not)."""

    # Every field is always sent: required in the schema, so clients need no "absent" case.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    broadcast_id: str
    started_at: datetime
    playback_url: str = Field(description="the live master playlist (HLS); playable once a segment is made")
    viewer_count: int
    resolution: str | None = Field(description='"<width>x<height>", null until reported')
    updated_at: datetime | None = Field(description="when the worker last reported; null until it has")


class ChannelState(BaseModel):
    """`GET /streams/{username}`: an offline channel has `live: false` and nulls."""

    username: str
    live: bool
    title: str
    category: str | None
    tags: list[str]
    started_at: datetime | None
    viewer_count: int
    thumbnail_url: str | None
    playback_url: str | None = Field(description="the live master playlist (HLS)")
    broadcast_id: str | None = Field(default=None, description="the live broadcast's (what `POST /clips` takes)")


class LiveChannel(BaseModel):
    username: str
    title: str
    category: str | None
    tags: list[str]
    viewer_count: int
    thumbnail_url: str | None
    started_at: datetime
    playback_url: str


class LivePage(BaseModel):
    items: list[LiveChannel]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


# --- domain records --------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    """A channel as stored. `key_hash` is the SHA-256 of the current stream key, `key_created_at`
    when it was made (None for keys stored before that was recorded)."""

    username: str
    title: str
    category: str | None
    tags: tuple[str, ...]
    key_hash: str | None
    key_created_at: datetime | None = None
    live: bool = False
    broadcast_id: str | None = None
    started_at: datetime | None = None
    thumbnail_key: str | None = None
    viewer_count: int = 0
    health: StreamHealth | None = None
    health_updated_at: datetime | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class PublishGrant:
    """A publish the stream key allows: whose channel, and which key (by hash) was used."""

    username: str
    key_hash: str


@dataclass(frozen=True)
class Broadcast:
    """One broadcast: from the publish that started it to its end, across resumed parts.

    `parts` counts the publisher sessions (1, plus one per resume after a drop); `resumed` is
    true on the result of a `start_broadcast` that resumed this broadcast instead of starting one.
    `title` and `category` are the channel's at the start, refreshed when it ends.
    """

    broadcast_id: str
    username: str
    key_hash: str
    started_at: datetime
    title: str
    category: str | None = None
    ended_at: datetime | None = None
    disconnected_at: datetime | None = None
    parts: int = 1
    thumbnail_key: str | None = None
    resumed: bool = False


@dataclass(frozen=True)
class ListPosition:
    """A place in a newest-first listing (its index sort key): after it come older entries."""

    at: datetime
    key: str


@dataclass(frozen=True)
class LiveSlice:
    """One page of the live directory as the data layer returns it; `last` only when more follow."""

    channels: list[Channel]
    last: ListPosition | None
