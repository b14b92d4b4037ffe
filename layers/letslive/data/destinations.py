"""Restream destinations, in the streams table: one item per channel holding the whole list.

`CHANNEL#<username>` / `DESTINATIONS`: `destinations`, a list of maps (id, name, url, sealed_key,
key_hint, enabled, updated_at). The list is small (at most `DESTINATIONS_MAX`) and always
replaced whole, so one item, one read, one write. The keys are sealed by the service before they
get here (`letslive.data.kms`).
"""

from typing import Any, Final, cast

from pynamodb.attributes import BooleanAttribute, ListAttribute, MapAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException

from letslive.constants import Table
from letslive.data.tables import BaseItem, bind
from letslive.errors import DependencyUnavailable
from letslive.models.restream import StoredDestination

DESTINATIONS_SK: Final = "DESTINATIONS"


class DestinationMap(MapAttribute[str, Any]):
    id = UnicodeAttribute()
    name = UnicodeAttribute()
    url = UnicodeAttribute()
    sealed_key = UnicodeAttribute()
    key_hint = UnicodeAttribute()
    enabled = BooleanAttribute()
    updated_at = UTCDateTimeAttribute()


class DestinationsItem(BaseItem):
    destinations = ListAttribute[DestinationMap](of=DestinationMap, default=list)


def destinations_key(username: str) -> tuple[str, str]:
    return f"CHANNEL#{username}", DESTINATIONS_SK


class DestinationRepository:
    """`letslive.services.restream.DestinationStore` on DynamoDB."""

    def __init__(self) -> None:
        self.items = bind(DestinationsItem, Table.STREAMS)

    def destinations(self, username: str) -> list[StoredDestination]:
        try:
            item = cast(DestinationsItem, self.items.get(*destinations_key(username), consistent_read=True))
        except DoesNotExist:
            return []
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the restream destinations: {exc.msg}") from exc
        return [StoredDestination(**stored.attribute_values) for stored in item.destinations or ()]

    def replace(self, username: str, destinations: list[StoredDestination]) -> None:
        pk, sk = destinations_key(username)
        maps = [DestinationMap(**_fields(d)) for d in destinations]  # type: ignore[no-untyped-call]
        try:
            if maps:
                self.items(pk, sk, destinations=maps).save()
            else:
                self.items(pk, sk).delete()
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not save the restream destinations: {exc.msg}") from exc


def _fields(destination: StoredDestination) -> dict[str, object]:
    return {name: getattr(destination, name) for name in StoredDestination.__slots__}
