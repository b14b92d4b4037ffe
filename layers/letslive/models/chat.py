"""Chat: what clients send (actions), what they receive (events) and the domain records.

Every client frame is parsed into one of the `*Action` models before any rule runs: unknown
fields, wrong types and out-of-range numbers are refused there. The chat text itself is cleaned
by `clean_text` (controls stripped, trimmed, 1-500 characters), never trusted as sent.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from letslive.constants import ChatAction
from letslive.models.handles import HANDLE_PATTERN
from letslive.models.text import DIRECTION_MARKS, SPOOFING

TEXT_MAX: Final = 500
NONCE_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
# A timeout lasts at most two weeks (Twitch's bound); a longer one is a ban.
TIMEOUT_MAX_SECONDS: Final = 14 * 24 * 60 * 60
SLOW_MAX_SECONDS: Final = 120
HISTORY_SIZE: Final = 50
# A frame bigger than this is refused unparsed: 500 characters of 4-byte UTF-8 as JSON escapes
# plus the envelope fit well within it.
FRAME_MAX_BYTES: Final = 8 * 1024

# Bidi overrides/isolates and line/paragraph separators would let one message reflow or spoof
# the others around it; ZWJ/ZWNJ and variation selectors stay (emoji sequences need them).
_STRIPPED: Final = SPOOFING | DIRECTION_MARKS
_SPACES: Final = re.compile(r"\s+")


def clean_text(raw: str) -> str:
    """The text as others will see it: NFC, controls and direction overrides removed, runs of
    whitespace (newlines included) collapsed to one space, trimmed. May be empty."""
    kept = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch
        for ch in raw
        if ch not in _STRIPPED and unicodedata.category(ch) != "Cs"
    )
    return _SPACES.sub(" ", unicodedata.normalize("NFC", kept)).strip()


def shows_anything(text: str) -> bool:
    """False for text of only invisible characters: zero-width and other format characters,
    combining marks with nothing to combine with, whitespace."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Mn", "Me") for ch in text)


# --- client → server -------------------------------------------------------------------------

# Anchored: pydantic matches a `pattern` anywhere in the string, not the whole of it.
_USER_PATTERN: Final = f"^{HANDLE_PATTERN}$"


class _Action(BaseModel):
    # Strict: `"seconds": true` or `"30"` is a wrong type, not 1 or 30.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, str_strip_whitespace=True)


class _TargetsUser(_Action):
    user: str = Field(pattern=_USER_PATTERN)

    @field_validator("user")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class SendAction(_Action):
    action: Literal[ChatAction.SEND]
    # Length is checked after cleaning (`clean_text`); this only bounds the work.
    text: str = Field(max_length=4 * TEXT_MAX)
    nonce: str | None = Field(default=None, pattern=NONCE_PATTERN)


class DeleteAction(_Action):
    action: Literal[ChatAction.DELETE]
    message_id: str = Field(pattern=r"^[0-9a-z]{20,40}$")


class TimeoutAction(_TargetsUser):
    action: Literal[ChatAction.TIMEOUT]
    seconds: int = Field(ge=1, le=TIMEOUT_MAX_SECONDS)


class BanAction(_TargetsUser):
    action: Literal[ChatAction.BAN]


class UnbanAction(_TargetsUser):
    action: Literal[ChatAction.UNBAN]


class SlowAction(_Action):
    action: Literal[ChatAction.SLOW]
    seconds: int = Field(ge=0, le=SLOW_MAX_SECONDS)


class ModAction(_TargetsUser):
    action: Literal[ChatAction.MOD]


class UnmodAction(_TargetsUser):
    action: Literal[ChatAction.UNMOD]


class PingAction(_Action):
    action: Literal[ChatAction.PING]


class HistoryAction(_Action):
    action: Literal[ChatAction.HISTORY]


ClientAction = Annotated[
    SendAction
    | DeleteAction
    | TimeoutAction
    | BanAction
    | UnbanAction
    | SlowAction
    | ModAction
    | UnmodAction
    | PingAction
    | HistoryAction,
    Field(discriminator="action"),
]
CLIENT_ACTION: Final[TypeAdapter[ClientAction]] = TypeAdapter(ClientAction)


# --- domain records --------------------------------------------------------------------------

Badge = Literal["broadcaster", "moderator"]


@dataclass(frozen=True, slots=True)
class Connection:
    """One open WebSocket in a channel's room; `user` is None for an anonymous viewer.

    `address` is the client's address key (`letslive.models.addresses.client_key`) whose slot the
    connection holds; None for connections recorded before slots existed.
    """

    channel: str
    connection_id: str
    connected_at: datetime
    user: str | None = None
    display_name: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class Room:
    channel: str
    slow_seconds: int = 0
    moderators: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Ban:
    """A ban (`until` None) or a timeout (`until` set) of `user` in `channel`."""

    channel: str
    user: str
    by: str
    at: datetime
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChatterState:
    """What one send needs to know about its room and sender, read together."""

    room: Room
    ban: Ban | None
    moderator: bool


# --- server → client -------------------------------------------------------------------------


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class ChatMessage(_Event):
    type: Literal["message"] = "message"
    id: str
    user: str
    display_name: str
    badges: list[Badge]
    text: str
    ts: datetime


class MessageDeleted(_Event):
    type: Literal["deleted"] = "deleted"
    id: str


NoticeCode = Literal[
    "anonymous",
    "banned",
    "timed-out",
    "rate-limited",
    "slow-mode",
    "empty",
    "too-long",
    "invalid",
    "forbidden",
    "not-found",
    "unavailable",
    "done",
]


class Notice(_Event):
    """To the sender only: why its action was refused, or that a moderation action was done."""

    type: Literal["notice"] = "notice"
    code: NoticeCode
    text: str
    retry_after_seconds: int | None = None


SystemKind = Literal["stream-started", "stream-ended", "slow-mode", "banned", "timed-out", "unbanned"]


class SystemEvent(_Event):
    """To the whole room: the stream started or ended, a moderation change everyone should see."""

    type: Literal["system"] = "system"
    kind: SystemKind
    text: str
    data: dict[str, Any] = Field(default_factory=dict)


class You(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str | None
    can_send: bool
    moderator: bool
    owner: bool


class History(_Event):
    """On join, to the new connection: the last messages (oldest first), the room, who you are."""

    type: Literal["history"] = "history"
    messages: list[ChatMessage]
    slow_seconds: int
    you: You


class Pong(_Event):
    type: Literal["pong"] = "pong"


class RoomSettings(BaseModel):
    """The chat settings page of a channel (owner and moderators)."""

    channel: str
    slow_seconds: int
    moderators: list[str]
    bans: list["BanEntry"]
    viewers: int


# A message id: 11 hex digits of its millisecond timestamp, then 16 random hex digits, so ids
# sort by time (`letslive.services.chat.rooms.new_message_id`).
MESSAGE_ID_PATTERN: Final = r"[0-9a-f]{27}"


def message_id_prefix(at: datetime) -> str:
    """What every message id of the millisecond `at` starts with."""
    return f"{int(at.timestamp() * 1000):011x}"


class ReplayedMessage(BaseModel):
    """A chat message as a VOD's chat replay gives it (`GET /vods/{vod_id}/chat`)."""

    id: str
    user: str
    display_name: str
    badges: list[Badge]
    text: str
    ts: datetime = Field(description="when it was sent")
    offset_seconds: float = Field(ge=0, description="seconds from the VOD's `started_at` to `ts`")


class ChatReplayPage(BaseModel):
    items: list[ReplayedMessage] = Field(description="oldest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class BanEntry(BaseModel):
    user: str
    by: str
    at: datetime
    until: datetime | None = Field(description="null for a ban, the end of a timeout otherwise")


class FanoutBatch(BaseModel):
    """A fan-out queue message: post `payload` to these connections of a big room."""

    kind: Literal["deliver"] = "deliver"
    channel: str
    connection_ids: list[str] = Field(max_length=1000)
    payload: str
    attempt: int = 0


class ViewerRecount(BaseModel):
    """A fan-out queue message, delayed: count the room's viewers again and publish the number
    (the trailing edge of the throttled viewer-count events)."""

    kind: Literal["recount"] = "recount"
    channel: str


FanoutTask = Annotated[FanoutBatch | ViewerRecount, Field(discriminator="kind")]
FANOUT_TASK: Final[TypeAdapter[FanoutTask]] = TypeAdapter(FanoutTask)


def parse_task(body: str) -> FanoutTask:
    """A queue message body as a task; `pydantic.ValidationError` for anything else."""
    return FANOUT_TASK.validate_json(body)
