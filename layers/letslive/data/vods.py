"""Recorded broadcasts, in the vods table.

Item layout (keys `pk` / `sk`):
- `VOD#<id>` / `VOD`: `VodItem`. The id is the broadcast's. `username`, `title`, `category`,
  `started_at`, `duration_seconds`, `rungs` (a list of {name, height, bandwidth}),
  `playback_path` (e.g. `broadcasts/<id>/vod.m3u8`) and `thumbnail_key`, both relative to the
  media prefix, `recorded_at`, and `expires_at`, the TTL: the VOD is gone after it (DynamoDB
  deletes expired items lazily, up to days late, so readers check it too).
  `gsi1pk = CHANNEL#<username>`, `gsi1sk = <started_at>#<id>`: a channel's VODs are one query
  on the index `gsi1`, newest first (ISO-8601 UTC with microseconds: sorts as text).
"""

from datetime import UTC, datetime
from functools import partial
from typing import Final

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from letslive.constants import TABLE_GSI, TABLE_GSI_PARTITION_KEY, TABLE_GSI_SORT_KEY, Table
from letslive.data.tables import BaseItem, bind, conditional
from letslive.errors import DependencyUnavailable
from letslive.models.streams import ListPosition
from letslive.models.vods import VodRecord, VodRung, VodSlice

VOD_SK: Final = "VOD"


class RungMap(MapAttribute[str, object]):
    name = UnicodeAttribute()
    height = NumberAttribute()
    bandwidth = NumberAttribute()


class ChannelVodsIndex(GlobalSecondaryIndex["VodItem"]):  # type: ignore[no-untyped-call]
    """`gsi1` as the per-channel list: partition `CHANNEL#<username>`, sorted by start time."""

    class Meta:
        index_name = TABLE_GSI
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name=TABLE_GSI_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(range_key=True, attr_name=TABLE_GSI_SORT_KEY)


class VodItem(BaseItem):
    username = UnicodeAttribute()
    title = UnicodeAttribute()
    category = UnicodeAttribute(null=True)
    started_at = UTCDateTimeAttribute()
    duration_seconds = NumberAttribute()
    rungs = ListAttribute[RungMap](of=RungMap)
    playback_path = UnicodeAttribute()
    thumbnail_key = UnicodeAttribute(null=True)
    recorded_at = UTCDateTimeAttribute()
    gsi1pk = UnicodeAttribute(attr_name=TABLE_GSI_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(attr_name=TABLE_GSI_SORT_KEY)
    by_channel = ChannelVodsIndex()


def vod_key(vod_id: str) -> tuple[str, str]:
    return f"VOD#{vod_id}", VOD_SK


def channel_partition(username: str) -> str:
    return f"CHANNEL#{username}"


def vod_sort_key(started_at: datetime, vod_id: str) -> str:
    return f"{started_at.astimezone(UTC).isoformat(timespec='microseconds')}#{vod_id}"


class VodRepository:
    def __init__(self) -> None:
        self.vods = bind(VodItem, Table.VODS)

    def create(self, record: VodRecord) -> bool:
        """Store the VOD; False (and nothing written) when one with its id exists already."""
        started = record.started_at.astimezone(UTC)
        item = self.vods(
            *vod_key(record.vod_id),
            username=record.username,
            title=record.title,
            category=record.category,
            started_at=started,
            duration_seconds=record.duration_seconds,
            rungs=[RungMap(name=r.name, height=r.height, bandwidth=r.bandwidth) for r in record.rungs],  # type: ignore[no-untyped-call]
            playback_path=record.playback_path,
            thumbnail_key=record.thumbnail_key,
            recorded_at=record.recorded_at.astimezone(UTC),
            expires_at=record.expires_at.astimezone(UTC),
            gsi1pk=channel_partition(record.username),
            gsi1sk=vod_sort_key(started, record.vod_id),
        )
        return conditional(partial(item.save, condition=self.vods.pk.does_not_exist()), "store the VOD")

    def get(self, vod_id: str) -> VodRecord | None:
        """The VOD as stored, expired or not (the caller decides)."""
        try:
            item = self.vods.get(*vod_key(vod_id), consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the VOD: {exc.msg}") from exc
        return record_from_item(item)

    def page(self, username: str, limit: int, after: ListPosition | None, now: datetime) -> VodSlice:
        """Up to `limit` unexpired VODs of `username`, newest first, strictly after `after`."""
        partition = channel_partition(username)
        start = None
        if after is not None:
            pk, sk = vod_key(after.key)
            start = {
                "pk": {"S": pk},
                "sk": {"S": sk},
                TABLE_GSI_PARTITION_KEY: {"S": partition},
                TABLE_GSI_SORT_KEY: {"S": vod_sort_key(after.at, after.key)},
            }
        records: list[VodRecord] = []
        try:
            # Expired items may linger until DynamoDB's TTL sweep: skip them here, and read on
            # until one more than a page is found (it tells whether another page exists).
            query = self.vods.by_channel.query(
                partition, scan_index_forward=False, last_evaluated_key=start, page_size=limit + 1
            )
            for item in query:
                record = record_from_item(item)
                if record.expires_at > now:
                    records.append(record)
                    if len(records) > limit:
                        break
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the VODs: {exc.msg}") from exc
        page = records[:limit]
        last = ListPosition(page[-1].started_at, page[-1].vod_id) if len(records) > limit else None
        return VodSlice(records=page, last=last)

    def delete(self, vod_id: str, username: str) -> bool:
        """Delete the VOD if `username` owns it; False when there is no such VOD of theirs."""
        item = self.vods(*vod_key(vod_id))
        return conditional(partial(item.delete, condition=self.vods.username == username), "delete the VOD")


def record_from_item(item: VodItem) -> VodRecord:
    expires_at = item.expires_at
    if expires_at is None:  # every VOD is written with one; an item without it never expires
        expires_at = datetime.max.replace(tzinfo=UTC)
    return VodRecord(
        vod_id=item.pk.removeprefix("VOD#"),
        username=item.username,
        title=item.title,
        category=item.category,
        started_at=item.started_at,
        duration_seconds=float(item.duration_seconds),
        rungs=tuple(VodRung(name=r.name, height=int(r.height), bandwidth=int(r.bandwidth)) for r in item.rungs or ()),
        playback_path=item.playback_path,
        thumbnail_key=item.thumbnail_key,
        recorded_at=item.recorded_at,
        expires_at=expires_at,
    )
