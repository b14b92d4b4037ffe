"""A VOD's chat replay: the messages of its broadcast, kept as long as the VOD and read by time.

Messages are stored once, by room and time (`letslive.data.chat`). When a broadcast becomes a
VOD (`VodReady`), the messages sent from its start to its recording are kept until the VOD
expires instead of the chat's own week; a replay then reads them in order of time. What was
deleted is gone from the table, so from the replay too; a user banned from the room (a ban, not a
timeout) is left out of every replay of it, at read time, so a ban after the broadcast counts.
A deleted VOD's replay is refused with the VOD; its messages expire when the VOD would have.

A clip replays its own part of the chat (`ClipCreated`): its messages are held, with no expiry,
while it exists, so a clip that outlives the VOD keeps its chat; when it is deleted
(`ClipDeleted`) they expire again (as their VOD's, or a week after they were sent) unless
another clip holds them. Offsets in a clip's replay count from the clip's start.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from letslive.errors import ClipNotFound, InvalidInput
from letslive.models.chat import MESSAGE_ID_PATTERN, Ban, ChatMessage, ChatReplayPage, ReplayedMessage
from letslive.models.clips import CLIP_ID_PATTERN, ClipRecord
from letslive.models.events import ClipCreated, ClipDeleted, VodReady
from letslive.models.streams import ListPosition
from letslive.services.pagination import check_limit, decode_cursor, encode_cursor
from letslive.services.vods import VodStore, live_vod_record

REPLAY_LIMIT_DEFAULT: Final = 100
REPLAY_LIMIT_MAX: Final = 500
_MESSAGE_ID_RE: Final = re.compile(MESSAGE_ID_PATTERN)
_CLIP_ID_RE: Final = re.compile(CLIP_ID_PATTERN)


class ReplayStore(Protocol):
    """The chat table as a replay reads it (`letslive.data.chat.ChatRepository`)."""

    def messages_between(
        self, channel: str, start: datetime, end: datetime, limit: int, after: str | None = None
    ) -> tuple[list[ChatMessage], bool]: ...

    def bans(self, channel: str, now: datetime) -> list[Ban]: ...


class MessageRetention(Protocol):
    """The chat table as the keeper changes messages' expiry (`letslive.data.chat.ChatRepository`)."""

    def keep_messages(self, channel: str, start: datetime, end: datetime, until: datetime) -> int: ...

    def hold_messages(self, channel: str, start: datetime, end: datetime, holder: str) -> int: ...

    def release_messages(
        self, channel: str, start: datetime, end: datetime, holder: str, kept_until: datetime | None
    ) -> int: ...


class ClipDirectory(Protocol):
    """The vods table's clips, read only (`letslive.data.clips.ClipRepository`)."""

    def get(self, clip_id: str) -> ClipRecord | None: ...


def replay_listing(vod_id: str) -> str:
    return f"chat:{vod_id}"


def clip_holder(clip_id: str) -> str:
    return f"CLIP#{clip_id}"


class ChatKeeper:
    """How long a broadcast's messages stay: the chat's side of `VodReady`, `ClipCreated` and
    `ClipDeleted` (the chat table only; the events carry what it needs of the VOD or clip)."""

    def __init__(self, messages: MessageRetention) -> None:
        self.messages = messages

    def keep(self, ready: VodReady) -> int:
        """Keep the broadcast's messages as long as its VOD; how many were extended. An event
        without the VOD's expiry (published before it carried one) keeps nothing."""
        if ready.expires_at is None:
            return 0
        return self.messages.keep_messages(ready.username, ready.started_at, ready.recorded_at, ready.expires_at)

    def hold(self, created: ClipCreated) -> int:
        """Keep the clip's messages as long as the clip; how many it holds."""
        return self.messages.hold_messages(
            created.channel, created.starts_at, created.ends_at, clip_holder(created.clip_id)
        )

    def release(self, deleted: ClipDeleted) -> int:
        """Let a deleted clip's messages expire again (no sooner than its VOD); how many."""
        if deleted.starts_at is None or deleted.ends_at is None:
            return 0
        return self.messages.release_messages(
            deleted.channel, deleted.starts_at, deleted.ends_at, clip_holder(deleted.clip_id), deleted.vod_expires_at
        )


class ChatReplay:
    def __init__(
        self,
        vods: VodStore,
        messages: ReplayStore,
        clips: ClipDirectory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.vods = vods
        self.messages = messages
        self.clips = clips
        self._clock = clock

    def page(
        self,
        vod_id: str,
        start_seconds: float = 0.0,
        end_seconds: float | None = None,
        limit: int = REPLAY_LIMIT_DEFAULT,
        cursor: str | None = None,
    ) -> ChatReplayPage:
        """The VOD's messages sent from `start_seconds` to before `end_seconds` after its start
        (its end when None), oldest first; a window with nothing in it (`to` not after `from`)
        is an empty page: `VodNotFound`, `InvalidInput` (a negative `from`), `InvalidCursor`."""
        _check(limit, start_seconds)
        record = live_vod_record(self.vods, vod_id, self._clock())
        window = _Window(record.username, record.started_at, record.recorded_at, replay_listing(record.vod_id))
        return self._page(window, start_seconds, end_seconds, limit, cursor)

    def clip_page(
        self,
        clip_id: str,
        start_seconds: float = 0.0,
        end_seconds: float | None = None,
        limit: int = REPLAY_LIMIT_DEFAULT,
        cursor: str | None = None,
    ) -> ChatReplayPage:
        """The clip's messages from `start_seconds` to before `end_seconds` after the clip's
        start (its end when None), oldest first, offsets from the clip's start, whether or not
        its VOD is still kept: `ClipNotFound`, `InvalidInput`, `InvalidCursor`."""
        _check(limit, start_seconds)
        record = self.clips.get(clip_id) if _CLIP_ID_RE.fullmatch(clip_id) else None
        if record is None:
            raise ClipNotFound(f"there is no clip {clip_id}")
        window = _Window(record.channel, record.starts_at, record.ends_at, f"clipchat:{record.clip_id}")
        return self._page(window, start_seconds, end_seconds, limit, cursor)

    def _page(
        self, window: "_Window", start_seconds: float, end_seconds: float | None, limit: int, cursor: str | None
    ) -> ChatReplayPage:
        start = window.origin + timedelta(seconds=start_seconds)
        end = window.end
        if end_seconds is not None:
            end = min(end, window.origin + timedelta(seconds=end_seconds))
        after = None if cursor is None else decode_cursor(cursor, window.listing, _MESSAGE_ID_RE).key
        found, more = self.messages.messages_between(window.channel, start, end, limit, after)
        banned = {ban.user for ban in self.messages.bans(window.channel, self._clock()) if ban.until is None}
        items = [
            ReplayedMessage(
                **message.model_dump(exclude={"type"}),
                offset_seconds=max((message.ts - window.origin).total_seconds(), 0.0),
            )
            for message in found
            if message.user not in banned
        ]
        next_cursor = None
        if more and found:
            next_cursor = encode_cursor(window.listing, ListPosition(at=found[-1].ts, key=found[-1].id))
        return ChatReplayPage(items=items, next_cursor=next_cursor)


def _check(limit: int, start_seconds: float) -> None:
    check_limit(limit, REPLAY_LIMIT_MAX)
    if start_seconds < 0:
        raise InvalidInput("`from` must be at least 0")


@dataclass(frozen=True)
class _Window:
    """What a replay reads: `channel`'s messages from `origin` (offset 0) to before `end`."""

    channel: str
    origin: datetime
    end: datetime
    listing: str


def chat_keeper() -> ChatKeeper:
    """The keeper on DynamoDB (the chat table)."""
    from letslive.data.chat import ChatRepository

    return ChatKeeper(ChatRepository())


def chat_replay() -> ChatReplay:
    """The replay on DynamoDB: the vods table for the VOD or clip, the chat table for its messages."""
    from letslive.data.chat import ChatRepository
    from letslive.data.clips import ClipRepository
    from letslive.data.vods import VodRepository

    return ChatReplay(VodRepository(), ChatRepository(), ClipRepository())
