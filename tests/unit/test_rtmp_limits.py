"""`RtmpLimits` from the ingest settings (the pre-publish ones included), its validation, and the
server-wide `MemoryBudget`."""

import pytest

from letslive.constants import (
    ENV_INGEST_RTMP_MAX_PENDING_CONNECTIONS,
    ENV_INGEST_RTMP_MEMORY_BUDGET_BYTES,
    ENV_INGEST_RTMP_PRE_PUBLISH_MAX_BYTES,
    ENV_INGEST_RTMP_PRE_PUBLISH_MAX_MESSAGE_BYTES,
    ENV_INGEST_RTMP_PUBLISH_TIMEOUT_SECONDS,
)
from workers.ingest.config import IngestSettings
from workers.ingest.rtmp.errors import LimitExceeded
from workers.ingest.rtmp.limits import MemoryBudget, RtmpLimits

MIB = 1024 * 1024


def test_the_pre_publish_limits_come_from_the_ingest_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        ENV_INGEST_RTMP_PRE_PUBLISH_MAX_MESSAGE_BYTES: "2048",
        ENV_INGEST_RTMP_PRE_PUBLISH_MAX_BYTES: "16384",
        ENV_INGEST_RTMP_PUBLISH_TIMEOUT_SECONDS: "4.5",
        ENV_INGEST_RTMP_MAX_PENDING_CONNECTIONS: "32",
        ENV_INGEST_RTMP_MEMORY_BUDGET_BYTES: str(64 * MIB),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    limits = RtmpLimits.from_settings(IngestSettings())
    assert (
        limits.pre_publish_max_message_bytes,
        limits.pre_publish_max_bytes,
        limits.publish_timeout_seconds,
        limits.max_pending_connections,
        limits.memory_budget_bytes,
    ) == (2048, 16384, 4.5, 32, 64 * MIB)
    for name in values:
        monkeypatch.delenv(name)
    assert RtmpLimits.from_settings(IngestSettings()) == RtmpLimits()


def test_the_defaults() -> None:
    limits = RtmpLimits()
    assert (limits.pre_publish_max_message_bytes, limits.pre_publish_max_bytes) == (4096, 65536)
    assert (limits.publish_timeout_seconds, limits.max_pending_connections) == (10.0, 256)
    assert limits.memory_budget_bytes == 256 * MIB


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"pre_publish_max_message_bytes": 100}, "pre_publish_max_message_bytes"),  # a connect does not fit
        ({"pre_publish_max_message_bytes": 64 * 1024, "max_message_bytes": 32 * 1024}, "pre_publish_max_message"),
        ({"pre_publish_max_bytes": 1024}, "at least one message"),
        ({"publish_timeout_seconds": 0}, "timeouts"),
        ({"max_pending_connections": 0}, "connection limits"),
        ({"memory_budget_bytes": 16 * MIB}, "three messages"),  # not three 8 MiB messages
    ],
)
def test_inconsistent_limits_are_refused(fields: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RtmpLimits(**fields)  # type: ignore[arg-type]


def test_a_memory_budget_refuses_growth_past_its_limit_and_always_takes_shrinking() -> None:
    budget = MemoryBudget(100)
    budget.charge(0, 60)
    budget.charge(0, 40)
    assert budget.held == 100
    with pytest.raises(LimitExceeded, match="100 bytes"):
        budget.charge(40, 41)
    assert budget.held == 100  # nothing charged
    budget.charge(60, 10)
    budget.charge(10, 60)  # back to the limit, not past it
    budget.charge(60, 0)
    budget.charge(40, 0)
    assert budget.held == 0
