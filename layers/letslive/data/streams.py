"""Channels, stream keys and broadcasts, in the streams table.

Item layout (keys `pk` / `sk`):
- `CHANNEL#<username>` / `CHANNEL`: `ChannelItem`, one per streamer, created on first use (a
  key or a settings change): `title` (default "<username>'s stream"), `category`, `tags`,
  `key_hash` (SHA-256 hex of the current stream key; absent until one is made) with
  `key_created_at` (absent on keys made before it was recorded), and the live state: `live`,
  `broadcast_id`, `started_at`, `thumbnail_key`, `viewer_count` (the chat's count of the
  room's connections, `viewers_counted_at` its time), `heartbeat_at` (last sign of life from
  the ingest worker) and `health` (a map: input_bitrate_kbps, fps, width, height,
  transcode_speed, last_segment_at, video_codec, audio_codec, keyframe_interval_seconds,
  top_rung, top_rung_reason, rungs (list of maps: name, width, height, fps, copied), warnings
  (list of maps: code, message, setting), destinations (restream status, list of maps: id, name,
  state, reason, attempts, retry_in_seconds, bitrate_kbps, dropped_seconds), updated_at;
  older workers leave the newer ones out).
  While live it also carries `gsi1pk = "LIVE"`, `gsi1sk = <started_at>#<username>`, so the
  live directory is one query on the sparse index `gsi1`, newest first; ending the broadcast
  removes them (and the live state).
- `KEY#<key_hash>` / `KEY`: `StreamKeyItem` → `username`: how a publish finds its channel. It is
  written and the previous one deleted in the same transaction that changes the channel's
  `key_hash`, so exactly one key per channel is ever valid.
- `CHANNEL#<username>` / `DESTINATIONS`: `DestinationsItem` (`letslive.data.destinations`), the
  channel's restream destinations, their keys sealed.
- `BROADCAST#<id>` / `BROADCAST`: `BroadcastItem`: `username`, `started_at`, `ended_at`,
  `key_hash`, `disconnected_at` (set while the publisher is gone, for a reconnect within the
  grace period), `parts` (publisher sessions: 1, plus one per resume), `title`, `category`
  (the channel's, kept for the VOD) and `thumbnail_key`.

Timestamps in sort keys are ISO-8601 UTC with microseconds: fixed width, so they sort as text.
Every state change of a live channel is a conditional write, so two ingest workers cannot both
start, resume or end the same broadcast.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, cast

from pydantic import ValidationError
from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from letslive.constants import TABLE_GSI, TABLE_GSI_PARTITION_KEY, TABLE_GSI_SORT_KEY, Table
from letslive.data.tables import CONDITION_FAILED, BaseItem, Transactions, bind, conditional
from letslive.errors import Conflict, DependencyUnavailable
from letslive.models.streams import (
    Broadcast,
    Channel,
    ChannelPatch,
    ListPosition,
    LiveSlice,
    PublishGrant,
    StreamHealth,
    default_title,
)

logger = logging.getLogger(__name__)

LIVE_PARTITION: Final = "LIVE"
CHANNEL_SK: Final = "CHANNEL"
KEY_SK: Final = "KEY"
BROADCAST_SK: Final = "BROADCAST"


class RungMap(MapAttribute[str, Any]):
    """`RungReport` as stored."""

    name = UnicodeAttribute()
    width = NumberAttribute()
    height = NumberAttribute()
    fps = NumberAttribute()
    copied = BooleanAttribute()


class WarningMap(MapAttribute[str, Any]):
    """`IngestWarning` as stored."""

    code = UnicodeAttribute()
    message = UnicodeAttribute()
    setting = UnicodeAttribute(null=True)


class DestinationStatusMap(MapAttribute[str, Any]):
    """`DestinationStatus` as stored."""

    id = UnicodeAttribute()
    name = UnicodeAttribute()
    state = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    retry_in_seconds = NumberAttribute(null=True)
    bitrate_kbps = NumberAttribute(null=True)
    dropped_seconds = NumberAttribute(default=0)


class HealthMap(MapAttribute[str, Any]):
    """`StreamHealth` as stored, plus when it was reported."""

    input_bitrate_kbps = NumberAttribute(null=True)
    fps = NumberAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    transcode_speed = NumberAttribute(null=True)
    last_segment_at = UTCDateTimeAttribute(null=True)
    video_codec = UnicodeAttribute(null=True)
    audio_codec = UnicodeAttribute(null=True)
    keyframe_interval_seconds = NumberAttribute(null=True)
    top_rung = UnicodeAttribute(null=True)
    top_rung_reason = UnicodeAttribute(null=True)
    rungs = ListAttribute[RungMap](of=RungMap, null=True)
    warnings = ListAttribute[WarningMap](of=WarningMap, null=True)
    destinations = ListAttribute[DestinationStatusMap](of=DestinationStatusMap, null=True)
    updated_at = UTCDateTimeAttribute(null=True)


class LiveIndex(GlobalSecondaryIndex["ChannelItem"]):  # type: ignore[no-untyped-call]
    """`gsi1` as the live directory: partition "LIVE", sorted by start time."""

    class Meta:
        index_name = TABLE_GSI
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name=TABLE_GSI_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(range_key=True, attr_name=TABLE_GSI_SORT_KEY)


class ChannelItem(BaseItem):
    username = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    tags = ListAttribute[UnicodeAttribute](of=UnicodeAttribute, null=True)
    key_hash = UnicodeAttribute(null=True)
    key_created_at = UTCDateTimeAttribute(null=True)
    live = BooleanAttribute(null=True)
    broadcast_id = UnicodeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    thumbnail_key = UnicodeAttribute(null=True)
    viewer_count = NumberAttribute(null=True)
    viewers_counted_at = UTCDateTimeAttribute(null=True)
    heartbeat_at = UTCDateTimeAttribute(null=True)
    health = HealthMap(null=True)  # type: ignore[no-untyped-call]
    gsi1pk = UnicodeAttribute(null=True, attr_name=TABLE_GSI_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(null=True, attr_name=TABLE_GSI_SORT_KEY)
    live_index = LiveIndex()


class StreamKeyItem(BaseItem):
    username = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class BroadcastItem(BaseItem):
    username = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    started_at = UTCDateTimeAttribute()
    ended_at = UTCDateTimeAttribute(null=True)
    disconnected_at = UTCDateTimeAttribute(null=True)
    parts = NumberAttribute(default=1)
    title = UnicodeAttribute()
    category = UnicodeAttribute(null=True)
    thumbnail_key = UnicodeAttribute(null=True)


def channel_key(username: str) -> tuple[str, str]:
    return f"CHANNEL#{username}", CHANNEL_SK


def stream_key_key(key_hash: str) -> tuple[str, str]:
    return f"KEY#{key_hash}", KEY_SK


def broadcast_key(broadcast_id: str) -> tuple[str, str]:
    return f"BROADCAST#{broadcast_id}", BROADCAST_SK


def sort_timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def live_sort_key(started_at: datetime, username: str) -> str:
    return f"{sort_timestamp(started_at)}#{username}"


def _padded(codes: list[str | None], size: int) -> list[str | None]:
    """The per-item reasons of a `size`-item transaction: a malformed answer must not crash."""
    return (codes + [None] * size)[:size]


class StreamRepository:
    def __init__(self, max_attempts: int = 6, sleep: Callable[[float], None] = time.sleep) -> None:
        self.channels = bind(ChannelItem, Table.STREAMS)
        self.keys = bind(StreamKeyItem, Table.STREAMS)
        self.broadcasts = bind(BroadcastItem, Table.STREAMS)
        self._transactions = Transactions(max_attempts, sleep)
        self._max_attempts = max_attempts

    # --- channels and keys --------------------------------------------------------------------

    def channel(self, username: str, consistent_read: bool = False) -> Channel | None:
        item = self._channel_item(username, consistent_read)
        return None if item is None else channel_from_item(item)

    def username_for_key(self, key_hash: str) -> str | None:
        try:
            # Consistent: a key rotated a moment ago must no longer open the channel.
            return str(self.keys.get(*stream_key_key(key_hash), consistent_read=True).username)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the stream key: {exc.msg}") from exc

    def replace_key(self, username: str, key_hash: str, now: datetime) -> None:
        """Make `key_hash` the channel's only key (creating the channel if need be), atomically."""
        created_at = now.astimezone(UTC)
        new_key = self.keys(*stream_key_key(key_hash), username=username, created_at=created_at)
        for _ in range(self._max_attempts):
            current = self._channel_item(username, consistent_read=True)
            old = current.key_hash if current is not None else None
            condition = self.channels.key_hash.does_not_exist() if old is None else self.channels.key_hash == old

            def write(tx: TransactWrite, old: str | None = old, condition: Condition = condition) -> None:
                if old is not None:
                    tx.delete(self.keys(*stream_key_key(old)))
                tx.save(new_key, condition=self.keys.pk.does_not_exist())
                actions = [
                    *self._defaults(username),
                    self.channels.key_hash.set(key_hash),
                    self.channels.key_created_at.set(created_at),
                ]
                tx.update(self.channels(*channel_key(username)), actions=actions, condition=condition)

            codes = self._transact(write, "replace the stream key")
            if codes is None:
                return
            # Request order: the delete (if any), the put, the update.
            *_, key_reason, channel_reason = _padded(codes, 3 if old is not None else 2)
            if key_reason == CONDITION_FAILED:
                raise Conflict("that stream key already exists; try again")
            if channel_reason != CONDITION_FAILED:
                raise DependencyUnavailable(f"the stream key transaction was cancelled: {codes}")
            # Another rotation changed the key since we read it: read again.
        raise DependencyUnavailable("the stream key kept changing; try again")

    def update_settings(self, username: str, patch: ChannelPatch) -> Channel:
        """Apply the fields present in `patch`, creating the channel with defaults if need be."""
        fields = patch.model_fields_set
        actions: list[Action] = []
        if "title" in fields and patch.title is not None:
            actions.append(self.channels.title.set(patch.title))
        if "category" in fields:
            category = self.channels.category
            actions.append(category.remove() if patch.category is None else category.set(patch.category))
        if "tags" in fields and patch.tags is not None:
            actions.append(self.channels.tags.set(patch.tags))
        item = self.channels(*channel_key(username))
        try:
            item.update(actions=[*self._defaults(username, skip=fields), *actions])
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not update the channel: {exc.msg}") from exc
        return channel_from_item(item)

    def live_page(self, limit: int, after: ListPosition | None) -> LiveSlice:
        """Up to `limit` live channels, newest broadcast first, strictly after `after`."""
        start = None
        if after is not None:
            pk, sk = channel_key(after.key)
            start = {
                "pk": {"S": pk},
                "sk": {"S": sk},
                TABLE_GSI_PARTITION_KEY: {"S": LIVE_PARTITION},
                TABLE_GSI_SORT_KEY: {"S": live_sort_key(after.at, after.key)},
            }
        try:
            # One extra item tells whether another page exists, so the last page has no cursor.
            items = list(
                self.channels.live_index.query(
                    LIVE_PARTITION, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start
                )
            )
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the live directory: {exc.msg}") from exc
        channels = [channel_from_item(item) for item in items[:limit]]
        last = None
        if len(items) > limit and channels[-1].started_at is not None:
            last = ListPosition(channels[-1].started_at, channels[-1].username)
        return LiveSlice(channels=channels, last=last)

    # --- broadcasts (the ingest worker) -------------------------------------------------------

    def broadcast(self, broadcast_id: str) -> Broadcast | None:
        try:
            # Consistent: the worker acts on a broadcast right after changing it.
            item = self.broadcasts.get(*broadcast_key(broadcast_id), consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the broadcast: {exc.msg}") from exc
        return broadcast_from_item(item)

    def start(self, broadcast: Broadcast) -> bool:
        """Record `broadcast` and make it the channel's live one; False when the channel is live
        already or its key is no longer `broadcast.key_hash` (nothing is written then)."""
        at = broadcast.started_at.astimezone(UTC)
        item = self.broadcasts(
            *broadcast_key(broadcast.broadcast_id),
            username=broadcast.username, key_hash=broadcast.key_hash, started_at=at, parts=1,
            title=broadcast.title, category=broadcast.category,
        )  # fmt: skip
        channels = self.channels
        offline = channels.live.does_not_exist() | (channels.live == False)  # noqa: E712 (a condition, not a test)

        def write(tx: TransactWrite) -> None:
            tx.save(item, condition=self.broadcasts.pk.does_not_exist())
            tx.update(
                channels(*channel_key(broadcast.username)),
                actions=[
                    channels.live.set(True),
                    channels.broadcast_id.set(broadcast.broadcast_id),
                    channels.started_at.set(at),
                    channels.heartbeat_at.set(at),
                    channels.viewer_count.set(0),
                    channels.gsi1pk.set(LIVE_PARTITION),
                    channels.gsi1sk.set(live_sort_key(at, broadcast.username)),
                    channels.thumbnail_key.remove(),
                    channels.health.remove(),
                ],
                condition=offline & (channels.key_hash == broadcast.key_hash),
            )

        codes = self._transact(write, "start the broadcast")
        if codes is None:
            return True
        if CONDITION_FAILED in codes:
            return False
        raise DependencyUnavailable(f"the start transaction was cancelled: {codes}")

    def resume(self, broadcast: Broadcast, grant: PublishGrant, now: datetime) -> Broadcast | None:
        """Resume the broadcast as read in `broadcast` (its publisher dropped, or its worker went
        silent) as a new part; None when it changed since (another publisher resumed or ended
        it: every resume counts a part) or the channel moved on."""
        at = now.astimezone(UTC)
        broadcasts, channels = self.broadcasts, self.channels
        unchanged = (broadcasts.parts == broadcast.parts) & broadcasts.ended_at.does_not_exist()
        still_live = (
            (channels.broadcast_id == broadcast.broadcast_id)
            & (channels.live == True)  # noqa: E712
            & (channels.key_hash == grant.key_hash)
        )

        def write(tx: TransactWrite) -> None:
            tx.update(
                broadcasts(*broadcast_key(broadcast.broadcast_id)),
                actions=[broadcasts.parts.add(1), broadcasts.disconnected_at.remove()],
                condition=unchanged & (broadcasts.key_hash == grant.key_hash),
            )
            tx.update(
                channels(*channel_key(broadcast.username)),
                actions=[channels.heartbeat_at.set(at), channels.health.remove()],
                condition=still_live,
            )

        codes = self._transact(write, "resume the broadcast")
        if codes is None:
            resumed = self.broadcast(broadcast.broadcast_id)
            if resumed is None:  # pragma: no cover - deleted between two reads: never happens
                return None
            return replace(resumed, resumed=True)
        if CONDITION_FAILED in codes:
            return None
        raise DependencyUnavailable(f"the resume transaction was cancelled: {codes}")

    def heartbeat(
        self, broadcast_id: str, key_hash: str, health: StreamHealth, now: datetime, part: int | None = None
    ) -> bool:
        """Store `health` on the channel; False unless the broadcast is still the channel's live
        one, `key_hash` still its key and (given `part`) that part still its latest."""
        broadcast = self.broadcast(broadcast_id)
        if broadcast is None or broadcast.ended_at is not None:
            return False
        if part is not None and broadcast.parts != part:
            return False  # resumed by another publisher (another worker): this one is cut off
        channels = self.channels
        at = now.astimezone(UTC)
        condition = (
            (channels.broadcast_id == broadcast_id) & (channels.key_hash == key_hash) & (channels.live == True)  # noqa: E712
        )
        item = channels(*channel_key(broadcast.username))
        actions = [channels.health.set(health_map(health, at)), channels.heartbeat_at.set(at)]
        return self._conditional_update(item, actions, condition, "store the health")

    def set_viewer_count(self, username: str, viewers: int, counted_at: datetime) -> bool:
        """Store a live channel's viewer count unless a later count is stored already (events
        arrive out of order); False when it was not stored."""
        channels = self.channels
        at = counted_at.astimezone(UTC)
        newer = channels.viewers_counted_at.does_not_exist() | (channels.viewers_counted_at < at)
        return self._conditional_update(
            channels(*channel_key(username)),
            [channels.viewer_count.set(viewers), channels.viewers_counted_at.set(at)],
            (channels.live == True) & newer,  # noqa: E712
            "store the viewer count",
        )

    def set_thumbnail(self, broadcast_id: str, key: str) -> bool:
        """Record the broadcast's latest thumbnail; False when it is not (any longer) live."""
        broadcasts, channels = self.broadcasts, self.channels
        stored = self._conditional_update(
            broadcasts(*broadcast_key(broadcast_id)),
            [broadcasts.thumbnail_key.set(key)],
            broadcasts.pk.exists(),
            "store the thumbnail",
        )
        broadcast = self.broadcast(broadcast_id) if stored else None
        if broadcast is None or broadcast.ended_at is not None:
            return False
        return self._conditional_update(
            channels(*channel_key(broadcast.username)),
            [channels.thumbnail_key.set(key)],
            (channels.broadcast_id == broadcast_id) & (channels.live == True),  # noqa: E712
            "store the thumbnail",
        )

    def disconnect(self, broadcast_id: str, now: datetime, part: int | None = None) -> Broadcast | None:
        """Record that the publisher dropped (the first drop time is kept), unless the broadcast
        ended or (given `part`) was resumed since by a later part; None when unknown."""
        broadcasts = self.broadcasts
        item = broadcasts(*broadcast_key(broadcast_id))
        at = now.astimezone(UTC)
        condition = broadcasts.pk.exists() & broadcasts.ended_at.does_not_exist()
        if part is not None:
            condition &= broadcasts.parts == part
        self._conditional_update(
            item,
            [broadcasts.disconnected_at.set(broadcasts.disconnected_at | at)],
            condition,
            "mark the broadcast disconnected",
        )
        return self.broadcast(broadcast_id)

    def end(
        self, broadcast_id: str, now: datetime, only_if_disconnected: bool, stale_before: datetime | None = None
    ) -> tuple[Broadcast, bool] | None:
        """End the broadcast and take its channel offline. Returns the broadcast and whether this
        call ended it; None when there is no such broadcast. With `stale_before`, only while it
        is its channel's live broadcast and its worker's last heartbeat is older than that."""
        at = now.astimezone(UTC)
        broadcasts, channels = self.broadcasts, self.channels
        for _ in range(self._max_attempts):
            broadcast = self.broadcast(broadcast_id)
            if broadcast is None:
                return None
            if broadcast.ended_at is None and only_if_disconnected and broadcast.disconnected_at is None:
                return broadcast, False  # resumed meanwhile: it goes on
            channel = self._channel_item(broadcast.username, consistent_read=True)
            clear_channel = channel is not None and channel.broadcast_id == broadcast_id
            if stale_before is not None and not (clear_channel and _heard_before(channel, stale_before)):
                return broadcast, False  # its worker is alive after all (or it is over already)
            if broadcast.ended_at is not None and not clear_channel:
                return broadcast, False
            title = (channel.title if channel is not None else None) or broadcast.title
            category = channel.category if channel is not None else broadcast.category
            condition = broadcasts.ended_at.does_not_exist()
            if only_if_disconnected:
                condition &= broadcasts.disconnected_at.exists()
            channel_condition = channels.broadcast_id == broadcast_id
            if stale_before is not None:
                at_before = stale_before.astimezone(UTC)
                channel_condition &= channels.heartbeat_at.does_not_exist() | (channels.heartbeat_at < at_before)

            def write(
                tx: TransactWrite,
                username: str = broadcast.username,
                ending: bool = broadcast.ended_at is None,
                clear_channel: bool = clear_channel,
                title: str = title,
                category: str | None = category,
                condition: Condition = condition,
                channel_condition: Condition = channel_condition,
            ) -> None:
                if ending:
                    category_action = (
                        broadcasts.category.remove() if category is None else broadcasts.category.set(category)
                    )
                    tx.update(
                        broadcasts(*broadcast_key(broadcast_id)),
                        actions=[broadcasts.ended_at.set(at), broadcasts.title.set(title), category_action],
                        condition=condition,
                    )
                if clear_channel:
                    tx.update(
                        channels(*channel_key(username)),
                        actions=[
                            channels.live.set(False),
                            channels.viewer_count.set(0),
                            channels.broadcast_id.remove(),
                            channels.started_at.remove(),
                            channels.heartbeat_at.remove(),
                            channels.thumbnail_key.remove(),
                            channels.health.remove(),
                            channels.gsi1pk.remove(),
                            channels.gsi1sk.remove(),
                        ],
                        condition=channel_condition,
                    )

            codes = self._transact(write, "end the broadcast")
            if codes is None:
                ended = self.broadcast(broadcast_id)
                if ended is None:  # pragma: no cover - deleted between two reads: never happens
                    return None
                return ended, broadcast.ended_at is None
            if CONDITION_FAILED not in codes:
                raise DependencyUnavailable(f"the end transaction was cancelled: {codes}")
            # The broadcast or the channel changed since we read them: look again.
        raise DependencyUnavailable("the broadcast kept changing; try again")

    # --- internals ----------------------------------------------------------------------------

    def _channel_item(self, username: str, consistent_read: bool) -> ChannelItem | None:
        try:
            return cast(ChannelItem, self.channels.get(*channel_key(username), consistent_read=consistent_read))
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the channel: {exc.msg}") from exc

    def _defaults(self, username: str, skip: Sequence[str] | set[str] = ()) -> list[Action]:
        """Actions that give a channel created by an update its defaults (and change nothing on
        an existing one): UpdateItem creates missing items."""
        channels = self.channels
        defaults: dict[str, Action] = {
            "title": channels.title.set(channels.title | default_title(username)),
            "tags": channels.tags.set(channels.tags | []),
            "live": channels.live.set(channels.live | False),
            "viewer_count": channels.viewer_count.set(channels.viewer_count | 0),
        }
        return [channels.username.set(username)] + [action for name, action in defaults.items() if name not in skip]

    def _conditional_update(self, item: BaseItem, actions: list[Action], condition: Condition, what: str) -> bool:
        return conditional(partial(item.update, actions=actions, condition=condition), what)

    def _transact(self, write: Callable[[TransactWrite], None], what: str) -> list[str | None] | None:
        return self._transactions.run(write, what)


def _heard_before(channel: ChannelItem | None, at: datetime) -> bool:
    """Whether the channel's worker last heartbeated before `at` (or never did)."""
    return channel is not None and (channel.heartbeat_at is None or channel.heartbeat_at < at)


def channel_from_item(item: ChannelItem) -> Channel:
    username = item.username
    health = None if item.health is None else health_from_map(item.health)
    health_updated_at = None if item.health is None else item.health.updated_at
    return Channel(
        username=username,
        title=item.title or default_title(username),
        category=item.category,
        tags=tuple(str(tag) for tag in item.tags or ()),
        key_hash=item.key_hash,
        key_created_at=item.key_created_at if item.key_hash is not None else None,
        live=bool(item.live),
        broadcast_id=item.broadcast_id,
        started_at=item.started_at,
        thumbnail_key=item.thumbnail_key,
        viewer_count=int(item.viewer_count or 0),
        health=health,
        health_updated_at=health_updated_at,
        heartbeat_at=item.heartbeat_at,
    )


def broadcast_from_item(item: BroadcastItem) -> Broadcast:
    return Broadcast(
        broadcast_id=item.pk.removeprefix("BROADCAST#"),
        username=item.username,
        key_hash=item.key_hash,
        started_at=item.started_at,
        title=item.title,
        category=item.category,
        ended_at=item.ended_at,
        disconnected_at=item.disconnected_at,
        parts=int(item.parts or 1),
        thumbnail_key=item.thumbnail_key,
    )


def health_map(health: StreamHealth, updated_at: datetime) -> HealthMap:
    values = health.model_dump(exclude={"rungs", "warnings", "destinations"})
    if health.last_segment_at is not None:
        values["last_segment_at"] = health.last_segment_at.astimezone(UTC)
    return HealthMap(  # type: ignore[no-untyped-call]
        **values,
        rungs=[RungMap(**rung.model_dump()) for rung in health.rungs],  # type: ignore[no-untyped-call]
        warnings=[WarningMap(**warning.model_dump()) for warning in health.warnings],  # type: ignore[no-untyped-call]
        destinations=[
            DestinationStatusMap(**status.model_dump())  # type: ignore[no-untyped-call]
            for status in health.destinations
        ],
        updated_at=updated_at,
    )


# The measurements every version of the worker has sent.
_MEASURED: Final = ("input_bitrate_kbps", "fps", "width", "height", "transcode_speed", "last_segment_at")


def health_from_map(stored: HealthMap) -> StreamHealth:
    """The stored health, validated again. A map without the newer fields (an older worker's)
    reads with their defaults; one this version cannot read (a newer worker's, mid-deploy) keeps
    its measurements rather than failing the dashboard."""
    values = dict(stored.attribute_values)  # the attributes present, by name
    values.pop("updated_at", None)
    values["rungs"] = [dict(rung.attribute_values) for rung in stored.rungs or ()]
    values["warnings"] = [dict(warning.attribute_values) for warning in stored.warnings or ()]
    values["destinations"] = [dict(status.attribute_values) for status in stored.destinations or ()]
    try:
        return StreamHealth.model_validate(values)
    except ValidationError as exc:
        logger.warning("stored stream health not understood, keeping the measurements: %s", exc)
        return StreamHealth.model_validate({name: values.get(name) for name in _MEASURED})
