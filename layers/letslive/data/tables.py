"""PynamoDB models bound to physical table names at run time, and table probes.

Every table shares one generic key schema (`pk`, `sk`, TTL `expires_at`), so entity models
subclass `BaseItem` and repositories bind them to a table with `bind`.
"""

import random
import time
from collections.abc import Callable
from functools import cache
from typing import Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from letslive.constants import Table
from letslive.data import aws
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


@aws.cached_client
def connection() -> Connection:
    """The process's low-level PynamoDB connection (transactions); its botocore client is reused."""
    settings = get_settings()
    return Connection(region=settings.region, host=settings.aws_endpoint_url)


@aws.on_reset_clients
def _drop_model_connections() -> None:
    """Each PynamoDB model class keeps its table connection (and its botocore client)."""
    pending: list[type[Model]] = [Model]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__dict__.get("_connection") is not None:
            setattr(cls, "_connection", None)  # noqa: B010  # a class attribute, as PynamoDB sets it


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


def conditional(write: Callable[[], object], what: str) -> bool:
    """Make one conditional write (a PynamoDB save, update or delete): False when its condition
    failed, True when it was made; any other failure is `DependencyUnavailable` ("could not `what`")."""
    try:
        write()
    except (PutError, UpdateError, DeleteError) as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise DependencyUnavailable(f"could not {what}: {exc.msg}") from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable(f"could not {what}: {exc.msg}") from exc
    return True


CONDITION_FAILED: Final = "ConditionalCheckFailed"
TRANSACTION_CONFLICT: Final = "TransactionConflict"


class Transactions:
    """Runs DynamoDB transactions for a repository.

    Transactions on one hot item (a popular streamer's account, a busy channel) cancel each
    other with `TransactionConflict`, which botocore does not retry: retried here with full
    jitter. A condition that failed is the caller's answer, not an error.
    """

    def __init__(self, max_attempts: int, sleep: Callable[[float], None] = time.sleep) -> None:
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._random = random.SystemRandom()

    def run(self, write: Callable[[TransactWrite], None], what: str) -> list[str | None] | None:
        """None on success, else the per-item cancellation codes."""
        for attempt in range(self._max_attempts):
            try:
                with TransactWrite(connection=connection()) as tx:
                    write(tx)
                return None
            except TransactWriteError as exc:
                if exc.cause_response_code != "TransactionCanceledException":
                    raise DependencyUnavailable(f"could not {what}: {exc.msg}") from exc
                codes = [reason.code if reason is not None else None for reason in exc.cancellation_reasons or []]
                if CONDITION_FAILED in codes or TRANSACTION_CONFLICT not in codes:
                    return codes
            except PynamoDBException as exc:
                raise DependencyUnavailable(f"could not {what}: {exc.msg}") from exc
            if attempt + 1 < self._max_attempts:
                self._sleep(self._random.uniform(0, min(1.0, 0.025 * 2**attempt)))
        raise DependencyUnavailable(f"could not {what}: the transaction kept conflicting; try again")
