"""Chat rooms and connections in DynamoDB.

Connections table (keys `pk` / `sk`): `<channel>` / `<connection id>`: `ConnectionItem` (user,
display name, connected at), TTL `expires_at` = connect + 2 h (API Gateway's connection
lifetime, so an id whose `$disconnect` never came still goes away). `gsi1` is keyed by
connection id (`gsi1pk`), which is all a route event carries. A room's fan-out is one query on
its partition, never a scan. And `SLOTS#<channel>#<address key>` / `SLOTS`: the connections
that client address holds in the room, a string set of `<connection id>@<claimed at, epoch s>`
(`holders`) capped by a conditional add; TTL = the newest holder's connection TTL. Not in any
room's partition, so never counted as a connection.

Chat table, one partition per room, `ROOM#<channel>`:
- `ROOM`: settings (`slow_seconds`); `viewers_published_at` and `recount_queued_at` throttle
  the viewer-count events.
- `MOD#<user>`: a moderator; `BAN#<user>`: a ban, or a timeout when `until` is set (then TTL).
- `MSG#<id>`: a message, TTL `MESSAGE_TTL`, or the expiry of the VOD that replays it
  (`keep_messages`), or none while a clip replays it (`holders`, `hold_messages`); ids sort by
  time, so history is one query backwards and a VOD's or clip's chat one query forwards.
- `NONCE#<user>#<nonce>`: the message a client nonce produced (TTL 10 min): a resend is found.
- `RELEASED#CLIP#<id>`: a deleted clip let its messages go (TTL a day): its late hold holds none.
- `LAST#<user>`: when the user last sent (slow mode).
And `USER#<user>` / `RATE`: the sender's rate-limit state (GCRA theoretical arrival time).
"""

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from pynamodb.attributes import (
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DeleteError, DoesNotExist, PynamoDBException, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from letslive.constants import (
    CHAT_CONNECTION_TTL_SECONDS,
    TABLE_GSI,
    TABLE_GSI_PARTITION_KEY,
    TABLE_GSI_SORT_KEY,
    Table,
)
from letslive.data.tables import CONDITION_FAILED, BaseItem, Transactions, bind
from letslive.errors import DependencyUnavailable
from letslive.models.chat import Ban, ChatMessage, ChatterState, Connection, Room, message_id_prefix

ROOM_SK: Final = "ROOM"
SLOTS_SK: Final = "SLOTS"
RATE_SK: Final = "RATE"
MESSAGE_TTL: Final = timedelta(days=7)
NONCE_TTL: Final = timedelta(minutes=10)
# How long a release is remembered: longer than any delivery of its hold can be late (an event
# is retried for an hour at most).
RELEASED_TTL: Final = timedelta(days=1)
# Concurrent updates when a VOD keeps its messages: one request each, no batch API for updates.
KEEP_CONCURRENCY: Final = 8

Turn = Literal["publish", "recount"]


def _epoch(at: datetime) -> float:
    return at.timestamp()


def _conflict(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == f"{CONDITION_FAILED}Exception"


def _conditionally(write: Callable[[], object], what: str) -> bool:
    """Run a conditional update or delete: False when its condition did not hold."""
    try:
        write()
    except (UpdateError, DeleteError) as exc:
        if _conflict(exc):
            return False
        raise DependencyUnavailable(f"could not {what}: {exc.msg}") from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable(f"could not {what}: {exc.msg}") from exc
    return True


class ConnectionIndex(GlobalSecondaryIndex["ConnectionItem"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = TABLE_GSI
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name=TABLE_GSI_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(range_key=True, attr_name=TABLE_GSI_SORT_KEY)


class ConnectionItem(BaseItem):
    connected_at = UTCDateTimeAttribute()
    user = UnicodeAttribute(null=True)
    display_name = UnicodeAttribute(null=True)
    address = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(attr_name=TABLE_GSI_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(attr_name=TABLE_GSI_SORT_KEY)
    by_connection = ConnectionIndex()


class SlotsItem(BaseItem):
    """The connection ids one client address holds in one room (no GSI keys: not indexed)."""

    holders = UnicodeSetAttribute(null=True)


def slots_pk(channel: str, address: str) -> str:
    return f"SLOTS#{channel}#{address}"


def _holder(connection_id: str, claimed_at: datetime) -> str:
    return f"{connection_id}@{int(claimed_at.timestamp())}"


def _holders(members: Iterable[str]) -> dict[str, datetime]:
    held: dict[str, datetime] = {}
    for member in members:
        connection_id, _, claimed = member.rpartition("@")
        held[connection_id] = datetime.fromtimestamp(int(claimed), UTC)
    return held


def _connection(item: ConnectionItem) -> Connection:
    return Connection(
        channel=item.pk,
        connection_id=item.sk,
        connected_at=item.connected_at,
        user=item.user,
        display_name=item.display_name,
        address=item.address,
    )


class ConnectionRepository:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.items = bind(ConnectionItem, Table.CONNECTIONS)
        self.slots = bind(SlotsItem, Table.CONNECTIONS)
        self._clock = clock

    def add(self, connection: Connection) -> None:
        expires = connection.connected_at + timedelta(seconds=CHAT_CONNECTION_TTL_SECONDS)
        item = self.items(
            connection.channel,
            connection.connection_id,
            connected_at=connection.connected_at.astimezone(UTC),
            user=connection.user,
            display_name=connection.display_name,
            address=connection.address,
            gsi1pk=connection.connection_id,
            gsi1sk=connection.channel,
            expires_at=expires,
        )
        try:
            item.save()
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not record the connection: {exc.msg}") from exc

    def find(self, connection_id: str) -> Connection | None:
        try:
            for item in self.items.by_connection.query(connection_id, limit=1):
                return _connection(item)
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not look the connection up: {exc.msg}") from exc
        return None

    def remove(self, channel: str, connection_id: str) -> None:
        try:
            self.items(channel, connection_id).delete()
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not remove the connection: {exc.msg}") from exc

    def remove_many(self, channel: str, connection_ids: Iterable[str]) -> None:
        try:
            with self.items.batch_write() as batch:
                for connection_id in connection_ids:
                    batch.delete(self.items(channel, connection_id))
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not remove connections: {exc.msg}") from exc

    def ids(self, channel: str) -> list[str]:
        """Every live connection id in the room: one query (paginated), the sort keys only."""
        alive = self.items.expires_at > datetime.fromtimestamp(self._clock(), UTC)
        try:
            return [
                item.sk
                for item in self.items.query(channel, filter_condition=alive, attributes_to_get=["sk", "expires_at"])
            ]
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not list the room's connections: {exc.msg}") from exc

    def count(self, channel: str) -> int:
        alive = self.items.expires_at > datetime.fromtimestamp(self._clock(), UTC)
        try:
            return int(self.items.count(channel, filter_condition=alive))
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not count the room's connections: {exc.msg}") from exc

    def alive(self, channel: str, connection_ids: Iterable[str]) -> set[str]:
        """Which of these ids are open connections in the room (strongly consistent reads)."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        keys = [(channel, connection_id) for connection_id in connection_ids]
        try:
            items = self.items.batch_get(keys, consistent_read=True, attributes_to_get=["pk", "sk", "expires_at"])
            return {item.sk for item in items if item.expires_at is None or item.expires_at > now}
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not look the connections up: {exc.msg}") from exc

    # --- per-address slots ----------------------------------------------------------------------

    def claim_slot(
        self, channel: str, address: str, connection_id: str, claimed_at: datetime, cap: int, expires: datetime
    ) -> bool:
        """Add the connection to the address's holders unless it already holds `cap`: one
        conditional write, so a burst of concurrent connects cannot pass the cap together."""
        item = self.slots(slots_pk(channel, address), SLOTS_SK)
        holders = self.slots.holders
        condition = holders.does_not_exist() | (size(holders) < cap)  # type: ignore[no-untyped-call]
        # The item lives as long as its newest holder could; older holders expire before it.
        actions = [holders.add({_holder(connection_id, claimed_at)}), self.slots.expires_at.set(expires)]
        return _conditionally(lambda: item.update(actions=actions, condition=condition), "hold a connection slot")

    def slot_holders(self, channel: str, address: str) -> dict[str, datetime]:
        """The address's holders in the room: connection id → when it claimed its slot."""
        try:
            item = self.slots.get(slots_pk(channel, address), SLOTS_SK, consistent_read=True)
        except DoesNotExist:
            return {}
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the connection slots: {exc.msg}") from exc
        return _holders(item.holders or ())

    def release_slots(self, channel: str, address: str, holders: Mapping[str, datetime]) -> None:
        """Free these holders' slots (id → claimed at); freeing one not held is a no-op, so a
        repeat is harmless."""
        released = {_holder(connection_id, claimed_at) for connection_id, claimed_at in holders.items()}
        if not released:
            return
        item = self.slots(slots_pk(channel, address), SLOTS_SK)
        # Only an existing item: a DELETE on a missing one would create an empty item.
        condition = self.slots.pk.exists()
        _conditionally(
            lambda: item.update(actions=[self.slots.holders.delete(released)], condition=condition),
            "free a connection slot",
        )


class RoomItem(BaseItem):
    """`ROOM`, `MOD#<user>` and `BAN#<user>` items: one model, so one batch read gets all three."""

    slow_seconds = NumberAttribute(null=True)
    viewers_published_at = NumberAttribute(null=True)
    recount_queued_at = NumberAttribute(null=True)
    by = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute(null=True)
    until = UTCDateTimeAttribute(null=True)


class MessageItem(BaseItem):
    user = UnicodeAttribute()
    display_name = UnicodeAttribute()
    badges = ListAttribute[UnicodeAttribute](of=UnicodeAttribute)
    text = UnicodeAttribute()
    ts = UTCDateTimeAttribute()
    # The clips replaying it (`CLIP#<id>`): while any does, it has no expiry.
    holders = UnicodeSetAttribute(null=True)


class NonceItem(BaseItem):
    message_id = UnicodeAttribute()


class ReleasedItem(BaseItem):
    """`RELEASED#<holder>`: the holder let its messages go; a late hold of it holds nothing."""


class ThrottleItem(BaseItem):
    """`LAST#<user>` (slow mode: `at`) and `USER#<user>`/`RATE` (rate limit: `tat`), epoch seconds."""

    at = NumberAttribute(null=True)
    tat = NumberAttribute(null=True)


def room_pk(channel: str) -> str:
    return f"ROOM#{channel}"


def _message(item: MessageItem) -> ChatMessage:
    return ChatMessage(
        id=item.sk.removeprefix("MSG#"),
        user=item.user,
        display_name=item.display_name,
        badges=[badge for badge in item.badges if badge in ("broadcaster", "moderator")],  # type: ignore[misc]
        text=item.text,
        ts=item.ts,
    )


def _ban(channel: str, item: RoomItem) -> Ban:
    return Ban(
        channel=channel,
        user=item.sk.removeprefix("BAN#"),
        by=item.by or "",
        at=item.at or datetime.fromtimestamp(0, UTC),
        until=item.until,
    )


class ChatRepository:
    def __init__(self, max_attempts: int = 4, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rooms = bind(RoomItem, Table.CHAT)
        self.messages = bind(MessageItem, Table.CHAT)
        self.nonces = bind(NonceItem, Table.CHAT)
        self.released = bind(ReleasedItem, Table.CHAT)
        self.throttles = bind(ThrottleItem, Table.CHAT)
        self._transactions = Transactions(max_attempts, sleep)

    # --- room state ---------------------------------------------------------------------------

    def chatter_state(self, channel: str, user: str, now: datetime) -> ChatterState:
        """The room's settings, `user`'s ban or timeout (if in force) and moderator flag: one read."""
        pk = room_pk(channel)
        keys = [(pk, ROOM_SK), (pk, f"BAN#{user}"), (pk, f"MOD#{user}")]
        try:
            found = {item.sk: item for item in self.rooms.batch_get(keys)}
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the room: {exc.msg}") from exc
        room = found.get(ROOM_SK)
        ban_item = found.get(f"BAN#{user}")
        ban = _ban(channel, ban_item) if ban_item is not None else None
        if ban is not None and ban.until is not None and ban.until <= now:
            ban = None  # an expired timeout that TTL has not removed yet
        return ChatterState(
            room=Room(channel, slow_seconds=int(room.slow_seconds or 0) if room else 0),
            ban=ban,
            moderator=f"MOD#{user}" in found,
        )

    def room(self, channel: str) -> Room:
        pk = room_pk(channel)
        try:
            settings = next(iter(self.rooms.query(pk, self.rooms.sk == ROOM_SK)), None)
            moderators = frozenset(
                item.sk.removeprefix("MOD#") for item in self.rooms.query(pk, self.rooms.sk.startswith("MOD#"))
            )
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the room: {exc.msg}") from exc
        slow = int(settings.slow_seconds or 0) if settings is not None else 0
        return Room(channel, slow_seconds=slow, moderators=moderators)

    def bans(self, channel: str, now: datetime) -> list[Ban]:
        try:
            items = list(self.rooms.query(room_pk(channel), self.rooms.sk.startswith("BAN#")))
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not list the bans: {exc.msg}") from exc
        bans = [_ban(channel, item) for item in items]
        return [ban for ban in bans if ban.until is None or ban.until > now]

    def set_slow(self, channel: str, seconds: int) -> None:
        try:
            self.rooms(room_pk(channel), ROOM_SK).update(actions=[self.rooms.slow_seconds.set(seconds)])
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not change slow mode: {exc.msg}") from exc

    def add_moderator(self, channel: str, user: str, by: str, now: datetime) -> None:
        self._put(self.rooms(room_pk(channel), f"MOD#{user}", by=by, at=now), "add the moderator")

    def remove_moderator(self, channel: str, user: str) -> None:
        self._delete(self.rooms(room_pk(channel), f"MOD#{user}"), "remove the moderator")

    def ban(self, ban: Ban) -> None:
        item = self.rooms(room_pk(ban.channel), f"BAN#{ban.user}", by=ban.by, at=ban.at, until=ban.until)
        item.expires_at = ban.until  # a timeout expires by itself; a ban never does
        self._put(item, "ban the user")

    def unban(self, channel: str, user: str) -> None:
        self._delete(self.rooms(room_pk(channel), f"BAN#{user}"), "lift the ban")

    def claim_turn(self, channel: str, turn: Turn, now: float, every_seconds: float) -> bool:
        """True for at most one caller per `every_seconds` per room and kind of turn: the viewer
        count is published (`publish`) or a delayed recount queued (`recount`) by that caller."""
        attribute = self.rooms.viewers_published_at if turn == "publish" else self.rooms.recount_queued_at
        item = self.rooms(room_pk(channel), ROOM_SK)
        condition = attribute.does_not_exist() | (attribute <= now - every_seconds)
        return _conditionally(lambda: item.update(actions=[attribute.set(now)], condition=condition), "update the room")

    # --- messages -----------------------------------------------------------------------------

    def save_message(self, channel: str, message: ChatMessage, nonce: str | None) -> str | None:
        """Store `message`; with a nonce, only if that nonce is new for its sender. Returns None
        when stored, else the id of the message the nonce already produced."""
        item = self.messages(
            room_pk(channel),
            f"MSG#{message.id}",
            user=message.user,
            display_name=message.display_name,
            badges=list(message.badges),
            text=message.text,
            ts=message.ts.astimezone(UTC),
            expires_at=message.ts + MESSAGE_TTL,
        )
        if nonce is None:
            self._put(item, "store the message")
            return None
        nonce_key = (room_pk(channel), f"NONCE#{message.user}#{nonce}")
        nonce_item = self.nonces(*nonce_key, message_id=message.id, expires_at=message.ts + NONCE_TTL)

        def write(tx: TransactWrite) -> None:
            tx.save(nonce_item, condition=self.nonces.pk.does_not_exist())
            tx.save(item)

        codes = self._transactions.run(write, "store the message")
        if codes is None:
            return None
        if codes and codes[0] == CONDITION_FAILED:
            try:
                return str(self.nonces.get(*nonce_key, consistent_read=True).message_id)
            except DoesNotExist:
                # The earlier nonce expired between the two requests: store as new.
                return self.save_message(channel, message, nonce)
            except PynamoDBException as exc:
                raise DependencyUnavailable(f"could not read the nonce: {exc.msg}") from exc
        raise DependencyUnavailable(f"the message transaction was cancelled: {codes}")

    def nonce_message(self, channel: str, user: str, nonce: str) -> str | None:
        """The id of the message `user`'s `nonce` produced in `channel`; None when it is new."""
        try:
            return str(self.nonces.get(room_pk(channel), f"NONCE#{user}#{nonce}", consistent_read=True).message_id)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the nonce: {exc.msg}") from exc

    def message(self, channel: str, message_id: str) -> ChatMessage | None:
        try:
            return _message(self.messages.get(room_pk(channel), f"MSG#{message_id}"))
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the message: {exc.msg}") from exc

    def delete_message(self, channel: str, message_id: str) -> bool:
        """False when there was no such message."""
        item = self.messages(room_pk(channel), f"MSG#{message_id}")
        return _conditionally(lambda: item.delete(condition=self.messages.pk.exists()), "delete the message")

    def history(self, channel: str, limit: int) -> list[ChatMessage]:
        """The newest `limit` messages, oldest first."""
        try:
            items = self.messages.query(
                room_pk(channel), self.messages.sk.startswith("MSG#"), scan_index_forward=False, limit=limit
            )
            newest_first = [_message(item) for item in items]
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the history: {exc.msg}") from exc
        return newest_first[::-1]

    def messages_between(
        self, channel: str, start: datetime, end: datetime, limit: int, after: str | None = None
    ) -> tuple[list[ChatMessage], bool]:
        """At most `limit` messages of `channel` sent from `start` to before `end` (to the
        millisecond), oldest first, after the message `after` if given; True when more may follow."""
        low = f"MSG#{after}!" if after is not None else f"MSG#{message_id_prefix(start)}"
        high = f"MSG#{message_id_prefix(end)}"  # every id of that millisecond sorts above it
        if low >= high:
            return [], False
        try:
            items = self.messages.query(room_pk(channel), self.messages.sk.between(low, high), limit=limit)
            found = [_message(item) for item in items]
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the chat: {exc.msg}") from exc
        return found, items.last_evaluated_key is not None

    def keep_messages(self, channel: str, start: datetime, end: datetime, until: datetime) -> int:
        """Messages of `channel` sent from `start` to before `end` expire no earlier than
        `until`; returns how many were extended. Idempotent; a message deleted meanwhile stays
        deleted (each update is conditional on the message existing)."""
        messages = self.messages
        expires_at = messages.expires_at
        # A message a clip holds has no expiry, and keeps none.
        sooner = messages.holders.does_not_exist() & (expires_at.does_not_exist() | (expires_at < until))
        items = self._messages_in(channel, start, end, sooner)
        return self._update_each(items, [expires_at.set(until)], messages.pk.exists() & sooner, "keep")

    def hold_messages(self, channel: str, start: datetime, end: datetime, holder: str) -> int:
        """`holder` (a clip) keeps the messages sent from `start` to before `end`: they lose their
        expiry until every holder has let them go. Idempotent; how many it holds (none once the
        holder has released them: a hold delivered after its release)."""
        messages = self.messages
        try:
            self.released.get(room_pk(channel), f"RELEASED#{holder}", consistent_read=True)
            return 0  # its release came first (EventBridge does not order events)
        except DoesNotExist:
            pass
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the chat: {exc.msg}") from exc
        items = self._messages_in(channel, start, end, None)
        actions = [messages.holders.add({holder}), messages.expires_at.remove()]
        return self._update_each(items, actions, messages.pk.exists(), "hold")

    def release_messages(
        self, channel: str, start: datetime, end: datetime, holder: str, kept_until: datetime | None
    ) -> int:
        """`holder` lets its messages go; one no other holder keeps expires again, at the later
        of its own expiry (`MESSAGE_TTL` after it was sent) and `kept_until` (its VOD's expiry).
        Idempotent; how many it released."""
        messages = self.messages
        marker = self.released(room_pk(channel), f"RELEASED#{holder}", expires_at=datetime.now(UTC) + RELEASED_TTL)
        self._put(marker, "release the messages")
        items = self._messages_in(channel, start, end, messages.holders.contains(holder))

        def expire(item: MessageItem) -> bool:
            _conditionally(
                lambda: item.update(actions=[messages.holders.delete({holder})], condition=messages.pk.exists()),
                "release the message",
            )
            until = max(item.ts + MESSAGE_TTL, kept_until or item.ts)
            # Unless another clip holds it (now, or by the time this lands).
            condition = messages.pk.exists() & messages.holders.does_not_exist()
            _conditionally(lambda: item.update(actions=[messages.expires_at.set(until)], condition=condition), "expire")
            return True

        with ThreadPoolExecutor(KEEP_CONCURRENCY) as pool:
            return sum(pool.map(expire, items))

    def _messages_in(
        self, channel: str, start: datetime, end: datetime, condition: Condition | None
    ) -> list[MessageItem]:
        keys = self.messages.sk.between(f"MSG#{message_id_prefix(start)}", f"MSG#{message_id_prefix(end)}")
        try:
            return list(
                self.messages.query(
                    room_pk(channel), keys, filter_condition=condition, attributes_to_get=["pk", "sk", "ts"]
                )
            )
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the chat: {exc.msg}") from exc

    @staticmethod
    def _update_each(items: list[MessageItem], actions: list[Action], condition: Condition, what: str) -> int:
        def update(item: MessageItem) -> bool:
            return _conditionally(lambda: item.update(actions=actions, condition=condition), f"{what} the message")

        with ThreadPoolExecutor(KEEP_CONCURRENCY) as pool:
            return sum(pool.map(update, items))

    # --- throttles ----------------------------------------------------------------------------

    def take_rate_token(self, user: str, now: float, interval: float, burst: int) -> float | None:
        """GCRA: None if `user` may send now, else the seconds until it may.

        The state is one number, the theoretical arrival time `tat`: a send is allowed while
        `tat <= now + (burst - 1) * interval`, and pushes `tat` to `max(tat, now) + interval`.
        Two conditional writes instead of read-then-write, so concurrent sends cannot both
        take the last token.
        """
        item = self.throttles(f"USER#{user}", RATE_SK)
        tat = self.throttles.tat
        ttl = datetime.fromtimestamp(now + burst * interval + 60, UTC)
        idle = tat.does_not_exist() | (tat < now)
        expires = self.throttles.expires_at.set(ttl)
        if _conditionally(
            lambda: item.update(actions=[tat.set(now + interval), expires], condition=idle), "rate-limit"
        ):
            return None
        tolerance = (burst - 1) * interval
        if _conditionally(
            lambda: item.update(actions=[tat.add(interval), expires], condition=tat <= now + tolerance), "rate-limit"
        ):
            return None
        try:
            current = float(self.throttles.get(f"USER#{user}", RATE_SK, consistent_read=True).tat or now)
        except (DoesNotExist, PynamoDBException):
            return interval
        return max(current - tolerance - now, 0.001)

    def claim_slow_slot(self, channel: str, user: str, now: float, slow_seconds: int) -> float | None:
        """Slow mode: None if `user` may send in `channel` now (and records it), else seconds left."""
        item = self.throttles(room_pk(channel), f"LAST#{user}")
        at = self.throttles.at
        ttl = datetime.fromtimestamp(now + slow_seconds + 60, UTC)
        actions = [at.set(now), self.throttles.expires_at.set(ttl)]
        condition = at.does_not_exist() | (at <= now - slow_seconds)
        if _conditionally(lambda: item.update(actions=actions, condition=condition), "apply slow mode"):
            return None
        try:
            last = float(self.throttles.get(room_pk(channel), f"LAST#{user}", consistent_read=True).at or now)
        except (DoesNotExist, PynamoDBException):
            return float(slow_seconds)
        return max(last + slow_seconds - now, 0.001)

    # --- helpers ------------------------------------------------------------------------------

    def _put(self, item: BaseItem, what: str) -> None:
        try:
            item.save()
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not {what}: {exc.msg}") from exc

    def _delete(self, item: BaseItem, what: str) -> None:
        try:
            item.delete()
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not {what}: {exc.msg}") from exc
