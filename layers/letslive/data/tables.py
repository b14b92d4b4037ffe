"""PynamoDB models bound to physical table names at run time, and table probes.

Every table shares one generic key schema (`pk`, `sk`, TTL `expires_at`), so entity models
subclass `BaseItem` and repositories bind them to a table with `bind`.
"""

from functools import cache
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

from letslive.constants import Table
from letslive.errors import DependencyUnavailable
from letslive.settings import get_settings

ItemT = TypeVar("ItemT", bound="BaseItem")


class BaseItem(Model):
    """Key attributes common to every table (names from `letslive.constants`)."""

    class Meta:
        # Replaced by `bind`; an unbound model must never reach DynamoDB.
        table_name = "__unbound__"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(null=True)


@cache
def bind(model: type[ItemT], table: Table, timeout_seconds: float | None = None) -> type[ItemT]:
    """`model` as a subclass whose Meta points at `table` on the configured endpoint."""
    settings = get_settings()
    attrs: dict[str, object] = {
        "table_name": settings.table_name(table),
        "region": settings.region,
        "host": settings.aws_endpoint_url,
    }
    if timeout_seconds is not None:
        attrs |= {
            "connect_timeout_seconds": timeout_seconds,
            "read_timeout_seconds": timeout_seconds,
            "max_retry_attempts": 0,
        }
    meta = type("Meta", (), attrs)
    return type(f"{model.__name__}_{table.value}", (model,), {"Meta": meta})


@cache
def connection() -> Connection:
    """The process's low-level PynamoDB connection (transactions); its botocore client is reused."""
    settings = get_settings()
    return Connection(region=settings.region, host=settings.aws_endpoint_url)


def ping_table(table: Table) -> None:
    """Raise `DependencyUnavailable` unless `table` exists and is ACTIVE."""
    model = bind(BaseItem, table, get_settings().probe_timeout_seconds)
    try:
        status = model.describe_table().get("TableStatus")
    except PynamoDBException as exc:
        raise DependencyUnavailable(f"table {table.value}: {exc.msg}") from exc
    except (BotoCoreError, ClientError) as exc:
        # PynamoDB re-raises some client errors (access denied, throttling) unwrapped.
        raise DependencyUnavailable(f"table {table.value}: {exc}") from exc
    if status != "ACTIVE":
        raise DependencyUnavailable(f"table {table.value} is {status}")
