"""SnapStart's runtime hooks (issue 15): the HTTP entry builds its app before the snapshot and
makes nothing that must differ between sandboxes; after a restore, `random` is re-seeded and every
cached AWS client is dropped. The hooks are collected by a stand-in for the runtime's
`snapshot_restore_py` (same registration API) and called the way Lambda calls them."""

import os
import random
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from functions.common import snapstart
from functions.common.entry import HttpEntry, priming_event
from letslive.constants import ENV_PREFIX, ENV_STAGE, Service, Table, table_env_var
from letslive.data import aws, connections_api, tables
from letslive.settings import reset_settings

pytestmark = [
    # Invocations that add no metric of their own make Powertools warn.
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
    # Powertools keeps default dimensions process-wide; a second entry re-sets the stage.
    pytest.mark.filterwarnings("ignore:Dimension 'stage' has already been added"),
]

Registered = list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]


class Runtime:
    """What Lambda's managed runtime does with the hooks: before-snapshot ones in reverse order of
    registration, after-restore ones in order (the `snapshot_restore_py` contract)."""

    def __init__(self) -> None:
        self.before: Registered = []
        self.after: Registered = []
        self.module = types.ModuleType(snapstart.RUNTIME_HOOKS_MODULE)
        self.module.register_before_snapshot = self._register(self.before)  # type: ignore[attr-defined]
        self.module.register_after_restore = self._register(self.after)  # type: ignore[attr-defined]

    @staticmethod
    def _register(registry: Registered) -> Callable[..., Any]:
        def register(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
            registry.append((func, args, kwargs))
            return func

        return register

    def snapshot(self) -> None:
        for func, args, kwargs in reversed(self.before):
            func(*args, **kwargs)

    def restore(self) -> None:
        for func, args, kwargs in self.after:
            func(*args, **kwargs)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A deployed function's environment, with fake credentials and no endpoint reachable."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) or name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        ENV_STAGE: "test",
        table_env_var(Table.STREAMS): "streams-table",
        f"{ENV_PREFIX}AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    aws.reset_clients()
    yield
    aws.reset_clients()
    reset_settings()


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch, env: None) -> Runtime:
    """Lambda's runtime, with the hooks registered as a fresh handler module registers them."""
    lambda_runtime = Runtime()
    monkeypatch.setitem(sys.modules, snapstart.RUNTIME_HOOKS_MODULE, lambda_runtime.module)
    monkeypatch.setattr(snapstart, "_installed", False)
    return lambda_runtime


def test_outside_lambda_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, snapstart.RUNTIME_HOOKS_MODULE, None)  # import fails
    monkeypatch.setattr(snapstart, "_installed", False)
    assert snapstart.install() is False
    assert snapstart.before_snapshot(lambda: None) is False


def test_an_http_entry_registers_its_priming_and_the_restore_hooks_once(runtime: Runtime) -> None:
    HttpEntry(Service.STREAMS, "functions.streams.app:create_app")
    HttpEntry(Service.USERS, "functions.users.app:create_app")
    assert [func for func, _, _ in runtime.after] == list(snapstart.AFTER_RESTORE)
    assert len(runtime.before) == 2


def test_the_snapshot_holds_the_built_app_and_no_aws_client(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cold_start, "is_cold_start", True)  # a fresh sandbox
    entry = HttpEntry(Service.STREAMS, "functions.streams.app:create_app")
    capsys.readouterr()

    runtime.snapshot()

    assert entry._asgi is not None  # built once, before the snapshot
    assert aws.client.cache_info().currsize == 0
    assert tables.connection.cache_info().currsize == 0
    # The priming request bypassed Powertools: nothing logged, no metric, the cold start is the
    # first real event's.
    assert capsys.readouterr().out == ""
    assert cold_start.is_cold_start is True

    runtime.restore()
    response = entry.handler(priming_event(Service.STREAMS, "/streams/no/such/route"), _Context())
    assert response["statusCode"] == 404
    assert '"ColdStart"' in capsys.readouterr().out


def test_restored_sandboxes_draw_different_random_numbers(runtime: Runtime) -> None:
    HttpEntry(Service.STREAMS, "functions.streams.app:create_app")
    runtime.snapshot()
    snapshot = random.getstate()

    draws = []
    for _ in range(2):  # two sandboxes restored from the one snapshot
        random.setstate(snapshot)
        runtime.restore()
        draws.append([random.random() for _ in range(4)])
    assert draws[0] != draws[1]

    random.setstate(snapshot)  # without the hook, both would have drawn the same numbers
    unseeded = [random.random() for _ in range(4)]
    random.setstate(snapshot)
    assert unseeded == [random.random() for _ in range(4)]


def test_a_restore_drops_every_cached_aws_client(runtime: Runtime) -> None:
    HttpEntry(Service.STREAMS, "functions.streams.app:create_app")
    runtime.snapshot()
    # Whatever made clients before the snapshot (nothing here does, but a later change might).
    s3 = aws.client("s3")
    assert aws.client("s3") is s3
    low_level = tables.connection()
    model = tables.bind(tables.BaseItem, Table.STREAMS)
    table_connection = model._get_connection()  # PynamoDB keeps it on the class
    assert model._get_connection() is table_connection
    management = connections_api._client("http://127.0.0.1:9", "us-east-1")

    runtime.restore()

    assert aws.client.cache_info().currsize == 0
    assert aws.client("s3") is not s3
    assert tables.connection() is not low_level
    assert model._get_connection() is not table_connection
    assert connections_api._client("http://127.0.0.1:9", "us-east-1") is not management


class _Context:
    function_name = "letslive-streams"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:letslive-streams:live"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 29000
