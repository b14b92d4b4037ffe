"""Restream (simulcast): the destinations a streamer forwards a broadcast to, and their status.

A destination is an RTMP or RTMPS server URL (`rtmp://live.twitch.tv/app`) and a stream key.
The key is a secret: accepted in a `PUT`, stored sealed (KMS), never returned (only its last
characters, `key_hint`). The ingest worker alone opens it, to forward the source unchanged.
"""

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, field_validator

from letslive.models.schema import line_schema, omit_defaults
from letslive.models.text import clean_line

DESTINATIONS_MAX: Final = 5
DESTINATION_NAME_MAX: Final = 40
DESTINATION_URL_MAX: Final = 300
DESTINATION_KEY_MAX: Final = 256
DESTINATION_ID_PATTERN: Final = r"[0-9a-f]{12}"
# Printable ASCII without spaces, slashes or URL syntax: a key becomes the URL's last path
# segment, and real services issue keys of letters, digits, dashes and underscores.
KEY_PATTERN: Final = r"[A-Za-z0-9_\-.=~!$&*+,;:@%]{1,256}"
_KEY_RE: Final = re.compile(KEY_PATTERN)
KEY_HINT_CHARS: Final = 4

DestinationState = Literal["connecting", "live", "retrying", "failed"]


# The URL as the request schema states it, read alike by Python, pydantic and ECMA-262: rtmp or
# rtmps, a host name or an IPv4 address (no IPv6 literal: which bracketed strings are addresses is
# more than a pattern can say), an optional port from 1 to 65535, and an application path of URL
# characters; no user info, query or fragment (the key is given apart).
_PORT: Final = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_PATH_CHAR: Final = r"[A-Za-z0-9._~!$&'()*+,;=:@%-]"
DESTINATION_URL_PATTERN: Final = (
    r"^[rR][tT][mM][pP][sS]?://"
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
    rf"(?::{_PORT})?/(?:{_PATH_CHAR}|/)*{_PATH_CHAR}(?:{_PATH_CHAR}|/)*$"
)
_URL_RE: Final = re.compile(DESTINATION_URL_PATTERN)


def check_destination_url(value: str) -> str:
    """The URL without a trailing slash; `ValueError` unless it matches `DESTINATION_URL_PATTERN`."""
    if len(value) > DESTINATION_URL_MAX or not _URL_RE.fullmatch(value):
        raise ValueError(
            "the URL must be rtmp:// or rtmps://, a server (host[:port]) and its application, as in "
            "rtmp://host/app, without user, query or spaces"
        )
    return value.rstrip("/")


def private_address(host: str) -> bool:
    """Whether `host` is an address a streamer must not make the worker connect to (loopback,
    private, link-local: the cloud's metadata service, the VPC's internal services)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


class DestinationInput(BaseModel):
    """One destination in `PUT /streams/me/destinations`: a new one (no `id`, `key` required) or
    a saved one (its `id`; without `key` the saved key is kept)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=omit_defaults)

    id: Annotated[str | None, StringConstraints(pattern=f"^{DESTINATION_ID_PATTERN}$")] = Field(
        default=None, description="a saved destination's id; absent for a new one"
    )
    name: Annotated[
        str, WithJsonSchema(line_schema(DESTINATION_NAME_MAX, blank=False, description='e.g. "Twitch"; trimmed'))
    ]
    url: str = Field(
        max_length=DESTINATION_URL_MAX,
        pattern=DESTINATION_URL_PATTERN,
        description="the service's server, e.g. rtmp://live.twitch.tv/app or rtmps://a.rtmps.youtube.com/live2",
    )
    key: Annotated[str | None, StringConstraints(pattern=f"^{KEY_PATTERN}$")] = Field(
        default=None,
        description="the stream key the service gave; required for a new destination, omitted to keep the saved one",
    )
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return clean_line(value, "name", 1, DESTINATION_NAME_MAX)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_destination_url(value)


class DestinationsUpdate(BaseModel):
    """The whole list: destinations left out are removed."""

    model_config = ConfigDict(extra="forbid", strict=True)
    destinations: list[DestinationInput] = Field(max_length=DESTINATIONS_MAX)


class Destination(BaseModel):
    """A saved destination as the API shows it: never its key."""

    id: str
    name: str
    url: str
    key_hint: str = Field(description="the key's last characters, masked: •••• + 4")
    enabled: bool
    updated_at: datetime


class DestinationList(BaseModel):
    destinations: list[Destination]
    max: int = Field(description="how many destinations a channel may have")


class DestinationStatus(BaseModel):
    """One destination's forwarding, as the worker last reported it."""

    id: str = Field(max_length=12)
    name: str = Field(max_length=DESTINATION_NAME_MAX)
    state: DestinationState = Field(
        description="connecting; live (the service takes the stream); retrying (after a failure, "
        "with backoff); failed (given up: `reason` says why)"
    )
    reason: str | None = Field(default=None, max_length=300, description="why it is retrying or failed")
    attempts: int = Field(default=0, ge=0, description="connections tried in this broadcast")
    retry_in_seconds: float | None = Field(default=None, ge=0, description="while retrying")
    bitrate_kbps: float | None = Field(default=None, ge=0, description="what is being sent, while live")
    dropped_seconds: float = Field(
        default=0, ge=0, description="media this destination missed (too slow, reconnecting)"
    )


def key_hint(key: str) -> str:
    return "••••" + key[-KEY_HINT_CHARS:]


@dataclass(frozen=True, slots=True)
class StoredDestination:
    """A destination as stored: its key sealed."""

    id: str
    name: str
    url: str
    sealed_key: str
    key_hint: str
    enabled: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ForwardTarget:
    """What the ingest worker forwards to: the key opened. `repr` leaves the key out (logs)."""

    id: str
    name: str
    url: str
    key: str = field(repr=False)

    @property
    def publish_url(self) -> str:
        return f"{self.url}/{self.key}"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


def valid_key(key: str) -> bool:
    return _KEY_RE.fullmatch(key) is not None
