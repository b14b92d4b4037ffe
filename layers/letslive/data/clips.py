"""Clips, in the vods table (the vods service owns recorded media: VODs and clips).

Item layout (keys `pk` / `sk`):
- `CLIP#<id>` / `CLIP`: `ClipItem`: `title`, `channel`, `creator`, `broadcast_id`,
  `start_seconds`, `duration_seconds`, `created_at`, `playback_path` (relative to the media
  prefix), `views`, the MP4 download's `download_state`, `download_progress`, `download_bytes`,
  `download_reason`, `download_updated_at`, and `starts_at` (where its chat replay starts).
  `gsi1pk = CLIPS#<channel>`, `gsi1sk = <created_at>#<id>`: a channel's clips,
  newest first, are one query on `gsi1`. No TTL: a clip stays until it is deleted.
- `CLIP#<id>` / `VIEWS`: `ClipRankItem`, the clip's place among its channel's most viewed:
  `views`, `gsi1pk = CLIPTOP#<channel>`, `gsi1sk = <views, 12 digits>#<id>`. It follows the clip's
  count (a view moves it only up: two views at once never set it back).
- `CLIPRATE#<user>` / `<window start, epoch s>`: `made`, the clips `user` made in that window,
  expiring with it (TTL).
"""

from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, cast

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from letslive.constants import TABLE_GSI, TABLE_GSI_PARTITION_KEY, TABLE_GSI_SORT_KEY, Table
from letslive.data.tables import BaseItem, bind, conditional
from letslive.errors import DependencyUnavailable
from letslive.models.clips import ClipDownloadState, ClipDownloadUpdate, ClipRecord, ClipSlice
from letslive.models.streams import ListPosition

CLIP_SK: Final = "CLIP"
RANK_SK: Final = "VIEWS"
VIEWS_DIGITS: Final = 12


class ChannelClipsIndex(GlobalSecondaryIndex[Any]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = TABLE_GSI
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name=TABLE_GSI_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(range_key=True, attr_name=TABLE_GSI_SORT_KEY)


class ClipItem(BaseItem):
    title = UnicodeAttribute()
    channel = UnicodeAttribute()
    creator = UnicodeAttribute()
    broadcast_id = UnicodeAttribute()
    start_seconds = NumberAttribute()
    duration_seconds = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    playback_path = UnicodeAttribute()
    views = NumberAttribute(default=0)
    download_state = UnicodeAttribute(default="pending")
    download_progress = NumberAttribute(default=0)
    download_bytes = NumberAttribute(null=True)
    download_reason = UnicodeAttribute(null=True)
    download_updated_at = UTCDateTimeAttribute(null=True)
    starts_at = UTCDateTimeAttribute()
    gsi1pk = UnicodeAttribute(attr_name=TABLE_GSI_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(attr_name=TABLE_GSI_SORT_KEY)
    by_channel = ChannelClipsIndex()


class ClipRankItem(BaseItem):
    views = NumberAttribute(default=0)
    gsi1pk = UnicodeAttribute(attr_name=TABLE_GSI_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(attr_name=TABLE_GSI_SORT_KEY)
    by_views = ChannelClipsIndex()


class ClipRateItem(BaseItem):
    made = NumberAttribute(default=0)


def clip_key(clip_id: str) -> tuple[str, str]:
    return f"CLIP#{clip_id}", CLIP_SK


def clips_partition(channel: str) -> str:
    return f"CLIPS#{channel}"


def top_partition(channel: str) -> str:
    return f"CLIPTOP#{channel}"


def rank_sort_key(views: int, clip_id: str) -> str:
    return f"{views:0{VIEWS_DIGITS}d}#{clip_id}"


def clip_sort_key(created_at: datetime, clip_id: str) -> str:
    return f"{created_at.astimezone(UTC).isoformat(timespec='microseconds')}#{clip_id}"


class ClipRepository:
    """`letslive.services.clips.ClipStore` on DynamoDB."""

    def __init__(self) -> None:
        self.clips = bind(ClipItem, Table.VODS)
        self.ranks = bind(ClipRankItem, Table.VODS)
        self.rates = bind(ClipRateItem, Table.VODS)

    def create(self, record: ClipRecord) -> None:
        created = record.created_at.astimezone(UTC)
        item = self.clips(
            *clip_key(record.clip_id),
            title=record.title,
            channel=record.channel,
            creator=record.creator,
            broadcast_id=record.broadcast_id,
            start_seconds=record.start_seconds,
            duration_seconds=record.duration_seconds,
            created_at=created,
            playback_path=record.playback_path,
            views=record.views,
            download_state=record.download_state,
            download_progress=record.download_progress,
            starts_at=record.starts_at.astimezone(UTC),
            gsi1pk=clips_partition(record.channel),
            gsi1sk=clip_sort_key(created, record.clip_id),
        )
        if not conditional(partial(item.save, condition=self.clips.pk.does_not_exist()), "store the clip"):
            raise DependencyUnavailable("a clip with this id exists already")  # 64 random bits: never
        self._rank(record.clip_id, record.channel, record.views)

    def get(self, clip_id: str) -> ClipRecord | None:
        try:
            item = self.clips.get(*clip_key(clip_id), consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the clip: {exc.msg}") from exc
        return record_from_item(item)

    def page(self, channel: str, limit: int, after: ListPosition | None) -> ClipSlice:
        """Up to `limit` clips of `channel`, newest first, strictly after `after`."""
        partition = clips_partition(channel)
        start = None
        if after is not None:
            pk, sk = clip_key(after.key)
            start = {
                "pk": {"S": pk},
                "sk": {"S": sk},
                TABLE_GSI_PARTITION_KEY: {"S": partition},
                TABLE_GSI_SORT_KEY: {"S": clip_sort_key(after.at, after.key)},
            }
        try:
            query = self.clips.by_channel.query(
                partition, scan_index_forward=False, last_evaluated_key=start, limit=limit + 1, page_size=limit + 1
            )
            records = [record_from_item(item) for item in query]
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the clips: {exc.msg}") from exc
        page = records[:limit]
        last = ListPosition(page[-1].created_at, page[-1].clip_id) if len(records) > limit else None
        return ClipSlice(records=page, last=last)

    def most_viewed(self, channel: str, limit: int) -> list[ClipRecord]:
        """Up to `limit` clips of `channel`, most viewed first (the newer first among equals)."""
        try:
            ranked = [
                item.pk.removeprefix("CLIP#")
                for item in self.ranks.by_views.query(
                    top_partition(channel), scan_index_forward=False, limit=limit, page_size=limit
                )
            ]
            found = {item.pk: record_from_item(item) for item in self.clips.batch_get([clip_key(i) for i in ranked])}
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the clips: {exc.msg}") from exc
        # A rank whose clip was deleted a moment ago is left out.
        return [found[f"CLIP#{clip_id}"] for clip_id in ranked if f"CLIP#{clip_id}" in found]

    def delete(self, clip_id: str) -> bool:
        item = self.clips(*clip_key(clip_id))
        deleted = conditional(partial(item.delete, condition=self.clips.pk.exists()), "delete the clip")
        try:
            self.ranks(clip_key(clip_id)[0], RANK_SK).delete()
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not delete the clip's rank: {exc.msg}") from exc
        return deleted

    def count_view(self, clip_id: str) -> ClipRecord | None:
        """One more view; the clip with its new count (the update returns it whole), None when
        there is no such clip."""
        item = self.clips(*clip_key(clip_id))
        counted = conditional(
            partial(item.update, actions=[self.clips.views.add(1)], condition=self.clips.pk.exists()),
            "count a view",
        )
        if not counted:
            return None
        self._rank(clip_id, item.channel, int(item.views))
        return record_from_item(item)

    def set_download(self, clip_id: str, download: ClipDownloadUpdate) -> bool:
        """Record the MP4 download's state; False when the clip is gone (deleted meanwhile)."""
        clips = self.clips
        actions: list[Action] = [
            clips.download_state.set(download.state),
            clips.download_progress.set(download.progress),
            clips.download_updated_at.set(download.at.astimezone(UTC)),
        ]
        size, reason = clips.download_bytes, clips.download_reason
        actions.append(size.remove() if download.size_bytes is None else size.set(download.size_bytes))
        actions.append(reason.remove() if download.reason is None else reason.set(download.reason))
        item = clips(*clip_key(clip_id))
        return conditional(
            partial(item.update, actions=actions, condition=clips.pk.exists()), "record the clip's download"
        )

    def _rank(self, clip_id: str, channel: str, views: int) -> None:
        """Move the clip's rank to `views`, unless a later view has moved it further already."""
        ranks = self.ranks
        item = ranks(clip_key(clip_id)[0], RANK_SK)
        actions = [
            ranks.views.set(views),
            ranks.gsi1pk.set(top_partition(channel)),
            ranks.gsi1sk.set(rank_sort_key(views, clip_id)),
        ]
        condition = ranks.views.does_not_exist() | (ranks.views < views)
        conditional(partial(item.update, actions=actions, condition=condition), "rank the clip")

    def take_slot(self, user: str, window_start: int, limit: int, expires_at: datetime) -> bool:
        """Count one clip of `user` in the window starting at `window_start` (epoch s); False
        (nothing counted) when `limit` are counted already."""
        item = self.rates(f"CLIPRATE#{user}", str(window_start))
        rates = self.rates
        condition = rates.made.does_not_exist() | (rates.made < limit)
        actions = [rates.made.add(1), rates.expires_at.set(expires_at)]
        return conditional(partial(item.update, actions=actions, condition=condition), "count the clip")


def record_from_item(item: ClipItem) -> ClipRecord:
    return ClipRecord(
        clip_id=item.pk.removeprefix("CLIP#"),
        title=item.title,
        channel=item.channel,
        creator=item.creator,
        broadcast_id=item.broadcast_id,
        start_seconds=float(item.start_seconds),
        duration_seconds=float(item.duration_seconds),
        created_at=item.created_at,
        playback_path=item.playback_path,
        views=int(item.views or 0),
        download_state=cast(ClipDownloadState, item.download_state or "pending"),
        download_progress=float(item.download_progress or 0),
        download_bytes=None if item.download_bytes is None else int(item.download_bytes),
        download_reason=item.download_reason,
        download_updated_at=item.download_updated_at,
        starts_at=item.starts_at,
    )
