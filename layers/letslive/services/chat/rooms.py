"""Chat rooms: who may join, who may say what, moderation, history and the viewer count.

One room per channel. Anyone may join a room whose channel exists; a valid access token makes
the connection a chatter, without one it only reads. Every client frame is parsed into an
action (`letslive.models.chat`) and then checked here: a refusal is a `ChatRefused` whose
notice the entry point sends back to the sender alone. Nothing a client sends reaches anyone
else unless it parsed, passed the rules and was cleaned.

Roles: the channel's owner (badge "broadcaster") may do everything, including `mod`/`unmod`;
moderators may delete, time out, ban, unban and set slow mode, and are exempt from rate limits
and slow mode; nobody may act on the owner, and moderators may not act on each other.

Viewer count: the room's open connections, counted with one query and published as
`ViewerCountChanged` at most once per `viewer_count_seconds`; a join or leave inside that window
queues a delayed recount, so the last change is always published. Anonymous connections count
too, so each client address (IPv4, or IPv6 /64) may hold at most `connections_per_address` of
them per room: a connection takes a slot at `$connect` (one conditional write) before it is
recorded in the room, so a refused one is never counted even for a moment, and frees it at
`$disconnect`. A slot whose `$disconnect` never came (or whose connection a fan-out dropped as
gone) is freed when that address next finds its slots full, by checking which holders older
than `SLOT_GRACE` are still open connections.
"""

import logging
import math
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol

from pydantic import ValidationError

from letslive.constants import CHAT_CONNECTION_TTL_SECONDS
from letslive.errors import (
    AnonymousChatter,
    Banned,
    ChannelNotFound,
    ChatRateLimited,
    ChatRefused,
    ChatTargetNotFound,
    DependencyUnavailable,
    EmptyMessage,
    MessageTooLong,
    NotModerator,
    RateLimited,
    SlowMode,
    TimedOut,
    UnknownConnection,
)
from letslive.models.addresses import client_key
from letslive.models.chat import (
    CLIENT_ACTION,
    FRAME_MAX_BYTES,
    HISTORY_SIZE,
    TEXT_MAX,
    Badge,
    Ban,
    BanAction,
    ChatMessage,
    ChatterState,
    ClientAction,
    Connection,
    DeleteAction,
    History,
    HistoryAction,
    MessageDeleted,
    ModAction,
    Notice,
    PingAction,
    Pong,
    Room,
    SendAction,
    SlowAction,
    SystemEvent,
    TimeoutAction,
    UnbanAction,
    UnmodAction,
    ViewerRecount,
    You,
    clean_text,
    message_id_prefix,
    shows_anything,
)
from letslive.models.events import StreamEnded, StreamStarted, ViewerCountChanged
from letslive.models.handles import normalize_channel
from letslive.services.chat.fanout import Fanout, FanoutQueue
from letslive.services.events import EventPublisher, publish_after_commit
from letslive.services.tokens import AccessClaims

logger = logging.getLogger(__name__)

Turn = Literal["publish", "recount"]
_REJECTED_DETAIL: Final = "that is not a chat action"
# A slot frees when one of the address's connections closes, which nothing here can foresee.
_SLOTS_FULL_RETRY_SECONDS: Final = 60
# A holder younger than this may be a `$connect` still running (its connection not recorded yet;
# API Gateway gives a route at most 29 s): never taken for a connection that is gone.
SLOT_GRACE: Final = timedelta(seconds=60)


class ConnectionStore(Protocol):
    def add(self, connection: Connection) -> None: ...

    def find(self, connection_id: str) -> Connection | None: ...

    def remove(self, channel: str, connection_id: str) -> None: ...

    def count(self, channel: str) -> int: ...

    def alive(self, channel: str, connection_ids: Iterable[str]) -> set[str]: ...

    def claim_slot(
        self, channel: str, address: str, connection_id: str, claimed_at: datetime, cap: int, expires: datetime
    ) -> bool: ...

    def slot_holders(self, channel: str, address: str) -> dict[str, datetime]: ...

    def release_slots(self, channel: str, address: str, holders: Mapping[str, datetime]) -> None: ...


class RoomStore(Protocol):
    def chatter_state(self, channel: str, user: str, now: datetime) -> ChatterState: ...

    def room(self, channel: str) -> Room: ...

    def bans(self, channel: str, now: datetime) -> list[Ban]: ...

    def set_slow(self, channel: str, seconds: int) -> None: ...

    def add_moderator(self, channel: str, user: str, by: str, now: datetime) -> None: ...

    def remove_moderator(self, channel: str, user: str) -> None: ...

    def ban(self, ban: Ban) -> None: ...

    def unban(self, channel: str, user: str) -> None: ...

    def claim_turn(self, channel: str, turn: Turn, now: float, every_seconds: float) -> bool: ...

    def save_message(self, channel: str, message: ChatMessage, nonce: str | None) -> str | None: ...

    def nonce_message(self, channel: str, user: str, nonce: str) -> str | None: ...

    def message(self, channel: str, message_id: str) -> ChatMessage | None: ...

    def delete_message(self, channel: str, message_id: str) -> bool: ...

    def history(self, channel: str, limit: int) -> list[ChatMessage]: ...

    def take_rate_token(self, user: str, now: float, interval: float, burst: int) -> float | None: ...

    def claim_slow_slot(self, channel: str, user: str, now: float, slow_seconds: int) -> float | None: ...


class Accounts(Protocol):
    def display_name(self, username: str) -> str | None:
        """The account's display name; None when there is no such account."""
        ...


class TokenVerifier(Protocol):
    def verify(self, token: str) -> AccessClaims: ...


@dataclass(frozen=True)
class ChatLimits:
    # About one message a second, with a burst of three (Twitch allows 20 per 30 s).
    rate_interval_seconds: float = 1.0
    rate_burst: int = 3
    viewer_count_seconds: float = 5.0
    # Open connections per client address per room (`Settings.chat_connections_per_address`).
    connections_per_address: int = 10


def new_message_id(now: datetime) -> str:
    """Sorts by time (11 hex digits of milliseconds), then 64 random bits."""
    return f"{message_id_prefix(now)}{secrets.token_hex(8)}"


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))


class ChatService:
    def __init__(
        self,
        connections: ConnectionStore,
        rooms: RoomStore,
        accounts: Accounts,
        verifier: TokenVerifier,
        fanout: Fanout,
        events: EventPublisher,
        queue: FanoutQueue | None,
        limits: ChatLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.connections = connections
        self.rooms = rooms
        self.accounts = accounts
        self.verifier = verifier
        self.fanout = fanout
        self.events = events
        self.queue = queue
        self.limits = limits or ChatLimits()
        self._clock = clock

    # --- connections --------------------------------------------------------------------------

    def connect(self, connection_id: str, channel: str | None, token: str | None, source_ip: str) -> Connection:
        """Join `channel`'s room from `source_ip`: `ChannelNotFound` for no such channel,
        `Unauthorized` for a token that does not verify (a client without one joins read-only
        instead), `RateLimited` when that address already holds all its connections there."""
        name = normalize_channel(channel or "")
        if self.accounts.display_name(name) is None:
            raise ChannelNotFound("there is no such channel")
        user = display_name = None
        if token:
            claims = self.verifier.verify(token)
            user = claims.username
            display_name = self.accounts.display_name(user) or user
        address = client_key(source_ip)
        connection = Connection(
            channel=name,
            connection_id=connection_id,
            connected_at=self._clock(),
            user=user,
            display_name=display_name,
            address=address,
        )
        if not self._take_slot(connection, address):
            raise RateLimited("too many connections to this room from your address", _SLOTS_FULL_RETRY_SECONDS)
        try:
            self.connections.add(connection)
        except DependencyUnavailable:
            self._release_slot(connection, address)
            raise
        self.count_viewers(name)
        return connection

    def disconnect(self, connection_id: str) -> None:
        connection = self.connections.find(connection_id)
        if connection is None:
            return
        self.connections.remove(connection.channel, connection_id)
        if connection.address is not None:
            self._release_slot(connection, connection.address)
        self.count_viewers(connection.channel)

    def _take_slot(self, connection: Connection, address: str) -> bool:
        """One of the address's `connections_per_address` slots in the room, if one is free or
        held by a connection that is gone (its `$disconnect` was lost, or a fan-out dropped it)."""
        channel, connection_id, now = connection.channel, connection.connection_id, connection.connected_at
        cap = self.limits.connections_per_address
        expires = now + timedelta(seconds=CHAT_CONNECTION_TTL_SECONDS)
        if self.connections.claim_slot(channel, address, connection_id, now, cap, expires):
            return True
        settled = {
            held: at for held, at in self.connections.slot_holders(channel, address).items() if at <= now - SLOT_GRACE
        }
        alive = self.connections.alive(channel, settled)
        stale = {held: at for held, at in settled.items() if held not in alive}
        if not stale:
            return False
        self.connections.release_slots(channel, address, stale)
        return self.connections.claim_slot(channel, address, connection_id, now, cap, expires)

    def _release_slot(self, connection: Connection, address: str) -> None:
        """Best effort: a slot left held is freed by `_take_slot` once its holder is gone."""
        try:
            self.connections.release_slots(
                connection.channel, address, {connection.connection_id: connection.connected_at}
            )
        except DependencyUnavailable:
            logger.warning("could not free a connection slot", exc_info=True)

    # --- client frames ------------------------------------------------------------------------

    def handle(self, connection_id: str, frame: str) -> ChatMessage | None:
        """Run one client frame. Refusals raise `ChatRefused` (see `notice_for`). Returns the
        message when the frame sent a new one (not a resend), for the caller's metrics."""
        if len(frame.encode("utf-8", "surrogatepass")) > FRAME_MAX_BYTES:
            raise MessageTooLong(f"a frame may be at most {FRAME_MAX_BYTES} bytes")
        action = parse_action(frame)
        connection = self.connections.find(connection_id)
        if connection is None:
            raise UnknownConnection("this connection is not in a room; reconnect")
        match action:
            case SendAction():
                return self._send(connection, action)
            case DeleteAction():
                self._delete(connection, action)
            case TimeoutAction() | BanAction():
                self._ban(connection, action)
            case UnbanAction():
                self._unban(connection, action)
            case SlowAction():
                self._slow(connection, action)
            case ModAction() | UnmodAction():
                self._mod(connection, action)
            case PingAction():
                self.fanout.tell(connection_id, Pong().to_json())
                self.count_viewers(connection.channel)
            case HistoryAction():
                self._history(connection)
        return None

    def tell(self, connection_id: str, notice: Notice) -> None:
        """A notice to one connection; a connection gone meanwhile is not an error."""
        try:
            self.fanout.tell(connection_id, notice.to_json())
        except DependencyUnavailable:
            logger.warning("could not send a notice", exc_info=True)

    def _send(self, connection: Connection, action: SendAction) -> ChatMessage | None:
        user = self._chatter(connection)
        text = clean_text(action.text)
        if not shows_anything(text):
            raise EmptyMessage("the message is empty")
        if len(text) > TEXT_MAX:
            raise MessageTooLong(f"a message may be at most {TEXT_MAX} characters")
        now = self._clock()
        state = self.rooms.chatter_state(connection.channel, user, now)
        self._not_banned(state, now)
        if action.nonce is not None:
            # A resend is answered before the throttles: it is not a second message.
            earlier = self.rooms.nonce_message(connection.channel, user, action.nonce)
            if earlier is not None:
                self._resend(connection, earlier)
                return None
        owner = user == connection.channel
        if not (owner or state.moderator):
            # Slow mode first: its refusals (the usual ones while it is on) cost no rate token.
            if state.room.slow_seconds:
                left = self.rooms.claim_slow_slot(connection.channel, user, now.timestamp(), state.room.slow_seconds)
                if left is not None:
                    raise SlowMode(f"slow mode: wait {_seconds(left)} s", _seconds(left))
            wait = self.rooms.take_rate_token(
                user, now.timestamp(), self.limits.rate_interval_seconds, self.limits.rate_burst
            )
            if wait is not None:
                raise ChatRateLimited("you are sending messages too fast", _seconds(wait))
        badges: list[Badge] = ["broadcaster"] if owner else (["moderator"] if state.moderator else [])
        message = ChatMessage(
            id=new_message_id(now),
            user=user,
            display_name=connection.display_name or user,
            badges=badges,
            text=text,
            ts=now,
        )
        earlier = self.rooms.save_message(connection.channel, message, action.nonce)
        if earlier is not None:
            self._resend(connection, earlier)
            return None
        self.fanout.broadcast(connection.channel, message.to_json())
        return message

    def _resend(self, connection: Connection, message_id: str) -> None:
        """A resend of a message that was stored: the sender gets it again, nobody else."""
        original = self.rooms.message(connection.channel, message_id)
        if original is not None:
            self.fanout.tell(connection.connection_id, original.to_json())

    def _delete(self, connection: Connection, action: DeleteAction) -> None:
        actor = self._moderator(connection)
        message = self.rooms.message(connection.channel, action.message_id)
        if message is None:
            raise ChatTargetNotFound("there is no such message")
        if message.user != actor:  # anyone may take back their own words
            self._may_act_on(connection, actor, message.user)
        if not self.rooms.delete_message(connection.channel, action.message_id):
            raise ChatTargetNotFound("there is no such message")
        self.fanout.broadcast(connection.channel, MessageDeleted(id=action.message_id).to_json())

    def _ban(self, connection: Connection, action: TimeoutAction | BanAction) -> None:
        actor = self._moderator(connection)
        self._may_act_on(connection, actor, action.user)
        now = self._clock()
        until = now + timedelta(seconds=action.seconds) if isinstance(action, TimeoutAction) else None
        self.rooms.ban(Ban(channel=connection.channel, user=action.user, by=actor, at=now, until=until))
        if not isinstance(action, TimeoutAction):
            # A ban takes the moderator role too (a timeout only suspends it while it lasts).
            self.rooms.remove_moderator(connection.channel, action.user)
            event = SystemEvent(kind="banned", text=f"{action.user} is banned", data={"user": action.user})
        else:
            event = SystemEvent(
                kind="timed-out",
                text=f"{action.user} is timed out for {action.seconds} s",
                data={"user": action.user, "seconds": action.seconds},
            )
        self.fanout.broadcast(connection.channel, event.to_json())

    def _unban(self, connection: Connection, action: UnbanAction) -> None:
        actor = self._moderator(connection)
        self._may_act_on(connection, actor, action.user)
        self.rooms.unban(connection.channel, action.user)
        event = SystemEvent(kind="unbanned", text=f"{action.user} may chat again", data={"user": action.user})
        self.fanout.broadcast(connection.channel, event.to_json())

    def _slow(self, connection: Connection, action: SlowAction) -> None:
        self._moderator(connection)
        self.rooms.set_slow(connection.channel, action.seconds)
        text = f"slow mode: one message every {action.seconds} s" if action.seconds else "slow mode is off"
        event = SystemEvent(kind="slow-mode", text=text, data={"seconds": action.seconds})
        self.fanout.broadcast(connection.channel, event.to_json())

    def _mod(self, connection: Connection, action: ModAction | UnmodAction) -> None:
        user = self._chatter(connection)
        if user != connection.channel:
            raise NotModerator("only the channel's owner may change its moderators")
        if action.user == connection.channel:
            raise ChatRefused("the owner is always a moderator")
        if isinstance(action, ModAction):
            if self.accounts.display_name(action.user) is None:
                raise ChatTargetNotFound("there is no such user")
            self.rooms.add_moderator(connection.channel, action.user, user, self._clock())
            done = f"{action.user} is now a moderator"
        else:
            self.rooms.remove_moderator(connection.channel, action.user)
            done = f"{action.user} is no longer a moderator"
        self.fanout.tell(connection.connection_id, Notice(code="done", text=done).to_json())

    def _history(self, connection: Connection) -> None:
        now = self._clock()
        messages = self.rooms.history(connection.channel, HISTORY_SIZE)
        if connection.user is None:
            state = ChatterState(room=self.rooms.room(connection.channel), ban=None, moderator=False)
        else:
            state = self.rooms.chatter_state(connection.channel, connection.user, now)
        owner = connection.user == connection.channel
        you = You(
            user=connection.user,
            can_send=connection.user is not None and state.ban is None,
            moderator=owner or state.moderator,
            owner=owner,
        )
        history = History(messages=messages, slow_seconds=state.room.slow_seconds, you=you)
        self.fanout.tell(connection.connection_id, history.to_json())

    # --- rules ----------------------------------------------------------------------------------

    def _chatter(self, connection: Connection) -> str:
        if connection.user is None:
            raise AnonymousChatter("log in to chat")
        return connection.user

    def _moderator(self, connection: Connection) -> str:
        user = self._chatter(connection)
        if user == connection.channel:
            return user
        state = self.rooms.chatter_state(connection.channel, user, self._clock())
        if not state.moderator:
            raise NotModerator("only the channel's owner and moderators may do that")
        if state.ban is not None:
            raise NotModerator("a banned or timed-out moderator cannot moderate")
        return user

    def _may_act_on(self, connection: Connection, actor: str, target: str) -> None:
        if target == connection.channel:
            raise NotModerator("nobody can moderate the channel's owner")
        if target == actor:
            raise ChatRefused("you cannot moderate yourself")
        if actor == connection.channel:
            return
        if self.rooms.chatter_state(connection.channel, target, self._clock()).moderator:
            raise NotModerator("only the owner can moderate a moderator")

    @staticmethod
    def _not_banned(state: ChatterState, now: datetime) -> None:
        if state.ban is None:
            return
        if state.ban.until is None:
            raise Banned("you are banned from this chat")
        left = (state.ban.until - now).total_seconds()
        raise TimedOut(f"you are timed out for {_seconds(left)} s", _seconds(left))

    # --- the room's audience --------------------------------------------------------------------

    def count_viewers(self, channel: str, *, force: bool = False) -> None:
        """Publish the room's viewer count if its turn has come (never fails the caller)."""
        now = self._clock().timestamp()
        every = self.limits.viewer_count_seconds
        try:
            if force or self.rooms.claim_turn(channel, "publish", now, every):
                viewers = self.connections.count(channel)
                counted_at = datetime.fromtimestamp(now, UTC)
                publish_after_commit(
                    self.events, ViewerCountChanged(username=channel, viewers=viewers, counted_at=counted_at)
                )
            elif self.queue is not None and self.rooms.claim_turn(channel, "recount", now, every):
                self.queue.enqueue([ViewerRecount(channel=channel)], delay_seconds=math.ceil(every))
        except DependencyUnavailable:
            logger.warning("could not count the viewers of %s", channel, exc_info=True)

    def stream_changed(self, event: StreamStarted | StreamEnded) -> None:
        """A `system` line for the room when its channel goes live or offline."""
        if isinstance(event, StreamStarted):
            system = SystemEvent(
                kind="stream-started",
                text=f"{event.username} is live",
                data={"broadcast_id": event.broadcast_id, "started_at": event.started_at.isoformat()},
            )
        else:
            system = SystemEvent(
                kind="stream-ended",
                text=f"{event.username} ended the stream",
                data={"broadcast_id": event.broadcast_id, "ended_at": event.ended_at.isoformat()},
            )
        self.fanout.broadcast(event.username, system.to_json())
        if isinstance(event, StreamStarted):
            self.count_viewers(event.username, force=True)


def parse_action(frame: str) -> ClientAction:
    try:
        return CLIENT_ACTION.validate_json(frame)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if not errors:
            raise ChatRefused(_REJECTED_DETAIL) from None
        if errors[0]["type"] == "string_too_long" and errors[0]["loc"][-1:] == ("text",):
            # Far over the limit: refused unparsed, but it is still a message that is too long.
            raise MessageTooLong(f"a message may be at most {TEXT_MAX} characters") from None
        where = ".".join(str(part) for part in errors[0]["loc"])
        detail = f"{_REJECTED_DETAIL}: {where + ': ' if where else ''}{errors[0]['msg']}"
        raise ChatRefused(detail[:200]) from None


def notice_for(error: ChatRefused) -> Notice:
    return Notice(code=error.notice, text=error.detail, retry_after_seconds=error.retry_after_seconds)  # type: ignore[arg-type]
