"""A VOD's chat replay: the messages of its broadcast, kept as long as the VOD and read by time.

Messages are stored once, by room and time (`letslive.data.chat`). When a broadcast becomes a
VOD (`VodReady`), the messages sent from its start to its recording are kept until the VOD
expires instead of the chat's own week; a replay then reads them in order of time. What was
deleted is gone from the table, so from the replay too; a user banned from the room (a ban, not a
timeout) is left out of every replay of it, at read time, so a ban after the broadcast counts.
A deleted VOD's replay is refused with the VOD; its messages expire when the VOD would have.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from letslive.errors import InvalidInput
from letslive.models.chat import MESSAGE_ID_PATTERN, Ban, ChatMessage, ChatReplayPage, ReplayedMessage
from letslive.models.events import VodReady
from letslive.models.streams import ListPosition
from letslive.services.pagination import check_limit, decode_cursor, encode_cursor
from letslive.services.vods import VodStore, live_vod_record

REPLAY_LIMIT_DEFAULT: Final = 100
REPLAY_LIMIT_MAX: Final = 500
_MESSAGE_ID_RE: Final = re.compile(MESSAGE_ID_PATTERN)


class ReplayStore(Protocol):
    """The chat table as a replay reads and keeps it (`letslive.data.chat.ChatRepository`)."""

    def messages_between(
        self, channel: str, start: datetime, end: datetime, limit: int, after: str | None = None
    ) -> tuple[list[ChatMessage], bool]: ...

    def keep_messages(self, channel: str, start: datetime, end: datetime, until: datetime) -> int: ...

    def bans(self, channel: str, now: datetime) -> list[Ban]: ...


def replay_listing(vod_id: str) -> str:
    return f"chat:{vod_id}"


class ChatReplay:
    def __init__(
        self, vods: VodStore, messages: ReplayStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.vods = vods
        self.messages = messages
        self._clock = clock

    def keep(self, ready: VodReady) -> int:
        """Keep the broadcast's messages as long as its VOD; how many were extended. An event
        without the VOD's expiry (published before it carried one) keeps nothing."""
        if ready.expires_at is None:
            return 0
        return self.messages.keep_messages(ready.username, ready.started_at, ready.recorded_at, ready.expires_at)

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
        check_limit(limit, REPLAY_LIMIT_MAX)
        if start_seconds < 0:
            raise InvalidInput("`from` must be at least 0")
        now = self._clock()
        record = live_vod_record(self.vods, vod_id, now)
        start = record.started_at + timedelta(seconds=start_seconds)
        end = record.recorded_at
        if end_seconds is not None:
            end = min(end, record.started_at + timedelta(seconds=end_seconds))
        listing = replay_listing(record.vod_id)
        after = None if cursor is None else decode_cursor(cursor, listing, _MESSAGE_ID_RE).key
        found, more = self.messages.messages_between(record.username, start, end, limit, after)
        banned = {ban.user for ban in self.messages.bans(record.username, now) if ban.until is None}
        items = [
            ReplayedMessage(
                **message.model_dump(exclude={"type"}),
                offset_seconds=max((message.ts - record.started_at).total_seconds(), 0.0),
            )
            for message in found
            if message.user not in banned
        ]
        next_cursor = None
        if more and found:
            next_cursor = encode_cursor(listing, ListPosition(at=found[-1].ts, key=found[-1].id))
        return ChatReplayPage(items=items, next_cursor=next_cursor)


def chat_replay() -> ChatReplay:
    """The replay on DynamoDB: the vods table for the VOD, the chat table for its messages."""
    from letslive.data.chat import ChatRepository
    from letslive.data.vods import VodRepository

    return ChatReplay(VodRepository(), ChatRepository())
