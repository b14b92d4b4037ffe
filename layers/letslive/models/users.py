"""Profiles and the follow graph: request and response bodies of the users service.

`ProfilePatch` carries every profile rule (lengths, characters, URL scheme), so a bad patch is
refused while the request is parsed, before anything reaches DynamoDB.
"""

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from letslive.models.schema import https_url_schema, line_schema, omit_defaults, text_schema
from letslive.models.text import clean_line, has_forbidden

DISPLAY_NAME_MAX: Final = 40
BIO_MAX: Final = 300
AVATAR_URL_MAX: Final = 500

_HTTPS_URL: Final = TypeAdapter(HttpUrl)


def clean_display_name(value: str) -> str:
    return clean_line(value, "display name", 1, DISPLAY_NAME_MAX)


def clean_bio(value: str) -> str:
    if len(value) > BIO_MAX:  # as sent: the request schema's `maxLength`
        raise ValueError(f"the bio must be at most {BIO_MAX} characters")
    # Pasted text often carries CRLF; keep the line breaks, in one form.
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if has_forbidden(value, line=False, allowed="\n"):
        raise ValueError("the bio must not contain control characters other than newlines")
    value = unicodedata.normalize("NFC", value.strip())
    if len(value) > BIO_MAX:
        raise ValueError(f"the bio must be at most {BIO_MAX} characters")
    return value


def clean_avatar_url(value: str) -> str:
    if len(value) > AVATAR_URL_MAX:
        raise ValueError(f"the avatar URL must be at most {AVATAR_URL_MAX} characters")
    # The URL parser silently drops or escapes these; refuse them instead of storing a guess.
    if any(ch.isspace() for ch in value) or has_forbidden(value, line=False):
        raise ValueError("the avatar URL must not contain whitespace or control characters")
    try:
        url = _HTTPS_URL.validate_python(value)
    except ValidationError:
        raise ValueError("the avatar URL is not a valid URL") from None
    if url.scheme != "https" or not url.host:
        raise ValueError("the avatar URL must be an https URL")
    if url.username or url.password:
        raise ValueError("the avatar URL must not contain credentials")
    normalized = str(url)
    # Normalizing (punycode, percent-escapes) can lengthen it.
    if len(normalized) > AVATAR_URL_MAX:
        raise ValueError(f"the avatar URL must be at most {AVATAR_URL_MAX} characters")
    return normalized


class ProfilePatch(BaseModel):
    """`PATCH /users/me`: only the fields present change; `avatar_url: null` clears the avatar."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=omit_defaults)

    # The schemas say what the validators below accept (absent is fine, null is not, except
    # for the avatar), so the document promises no value that the API then refuses.
    display_name: Annotated[
        str | None,
        WithJsonSchema(line_schema(DISPLAY_NAME_MAX, blank=False, description="trimmed; 1-40 characters")),
    ] = None
    bio: Annotated[
        str | None, WithJsonSchema(text_schema(BIO_MAX, description='trimmed; newlines allowed; "" clears it'))
    ] = None
    avatar_url: Annotated[
        str | None,
        WithJsonSchema(
            https_url_schema(AVATAR_URL_MAX, nullable=True, description="an https URL; null removes the avatar")
        ),
    ] = None

    # Validators run only on fields the client sent, so an absent field is never "null".
    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("the display name cannot be removed")
        return clean_display_name(value)

    @field_validator("bio")
    @classmethod
    def _bio(cls, value: str | None) -> str:
        if value is None:
            raise ValueError('the bio cannot be null; send "" to clear it')
        return clean_bio(value)

    @field_validator("avatar_url")
    @classmethod
    def _avatar_url(cls, value: str | None) -> str | None:
        return None if value is None else clean_avatar_url(value)


class Profile(BaseModel):
    username: str
    display_name: str
    bio: str
    avatar_url: str | None
    followers_count: int
    following_count: int
    live: bool
    created_at: datetime


class PublicProfile(Profile):
    """`GET /users/{username}`: `followed_by_me` is present only when the caller is signed in."""

    followed_by_me: bool | None = Field(default=None, exclude_if=lambda value: value is None)


class FollowState(BaseModel):
    following: bool
    followers_count: int = Field(description="the target's follower count after the change")


class FollowEntry(BaseModel):
    username: str
    display_name: str | None = Field(description="null when the account no longer exists")
    followed_at: datetime


class FollowPage(BaseModel):
    items: list[FollowEntry]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


FollowList = Literal["followers", "following"]


@dataclass(frozen=True)
class FollowPosition:
    """A place in a follow list (the list's sort key): after this entry come older ones."""

    followed_at: datetime
    username: str


@dataclass(frozen=True)
class FollowSlice:
    """One page of a follow list as the data layer returns it.

    `last` is the position of the last entry when more entries follow it, else None.
    """

    entries: list[FollowEntry]
    last: FollowPosition | None
