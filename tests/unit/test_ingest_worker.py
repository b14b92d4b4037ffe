"""The ingest worker: its settings, the broadcast registry, the lifecycle and the drain."""

import asyncio
import gc
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from letslive.constants import (
    ENV_INGEST_CHECK_CACHE_SECONDS,
    ENV_INGEST_DRAIN_TIMEOUT_SECONDS,
    ENV_INGEST_HEALTH_HOST,
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_LOG_LEVEL,
    ENV_INGEST_MAX_HEADER_BYTES,
    ENV_INGEST_PREFIX,
    ENV_INGEST_READ_TIMEOUT_SECONDS,
)
from letslive.errors import ConfigurationError
from workers.ingest.config import IngestSettings, get_ingest_settings, reset_ingest_settings
from workers.ingest.health import CHECK_MEDIA_BUCKET, CHECK_STREAMS_TABLE
from workers.ingest.worker import BroadcastRegistry, IngestWorker, WorkerDraining

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_TIMEOUT = 5.0
INGEST_ENV_VARS = (
    ENV_INGEST_HEALTH_HOST,
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_DRAIN_TIMEOUT_SECONDS,
    ENV_INGEST_CHECK_CACHE_SECONDS,
    ENV_INGEST_MAX_HEADER_BYTES,
    ENV_INGEST_READ_TIMEOUT_SECONDS,
    ENV_INGEST_LOG_LEVEL,
)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in INGEST_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    reset_ingest_settings()
    yield monkeypatch
    reset_ingest_settings()


def make_worker(drain_timeout_seconds: float = 30.0) -> IngestWorker:
    settings = IngestSettings(health_host="127.0.0.1", health_port=0, drain_timeout_seconds=drain_timeout_seconds)
    return IngestWorker(settings, probes={CHECK_STREAMS_TABLE: lambda: None, CHECK_MEDIA_BUCKET: lambda: None})


async def get_health(port: int) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), CLIENT_TIMEOUT)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


# Settings


def test_settings_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = get_ingest_settings()
    assert settings.health_host == "127.0.0.1"
    assert settings.health_port == 8080
    assert settings.drain_timeout_seconds == 30
    assert settings.check_cache_seconds == 5
    assert settings.max_header_bytes == 8 * 1024
    assert settings.read_timeout_seconds == 5
    assert settings.log_level == "INFO"


def test_settings_come_from_the_env_names_in_constants(clean_env: pytest.MonkeyPatch) -> None:
    assert all(name.startswith(ENV_INGEST_PREFIX) for name in INGEST_ENV_VARS)
    values = {
        ENV_INGEST_HEALTH_HOST: "0.0.0.0",
        ENV_INGEST_HEALTH_PORT: "9090",
        ENV_INGEST_DRAIN_TIMEOUT_SECONDS: "90",
        ENV_INGEST_CHECK_CACHE_SECONDS: "0",
        ENV_INGEST_MAX_HEADER_BYTES: "16384",
        ENV_INGEST_READ_TIMEOUT_SECONDS: "2.5",
        ENV_INGEST_LOG_LEVEL: "DEBUG",
    }
    for name, value in values.items():
        clean_env.setenv(name, value)
    settings = get_ingest_settings()
    assert settings == IngestSettings(
        health_host="0.0.0.0",
        health_port=9090,
        drain_timeout_seconds=90,
        check_cache_seconds=0,
        max_header_bytes=16384,
        read_timeout_seconds=2.5,
        log_level="DEBUG",
    )


def test_settings_are_read_once_until_reset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv(ENV_INGEST_HEALTH_PORT, "9001")
    first = get_ingest_settings()
    clean_env.setenv(ENV_INGEST_HEALTH_PORT, "9002")
    assert get_ingest_settings() is first
    reset_ingest_settings()
    assert get_ingest_settings().health_port == 9002


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (ENV_INGEST_HEALTH_HOST, ""),
        (ENV_INGEST_HEALTH_PORT, "-1"),
        (ENV_INGEST_HEALTH_PORT, "65536"),
        (ENV_INGEST_HEALTH_PORT, "http"),
        (ENV_INGEST_DRAIN_TIMEOUT_SECONDS, "-1"),
        (ENV_INGEST_DRAIN_TIMEOUT_SECONDS, "121"),
        (ENV_INGEST_CHECK_CACHE_SECONDS, "-0.5"),
        (ENV_INGEST_CHECK_CACHE_SECONDS, "301"),
        (ENV_INGEST_MAX_HEADER_BYTES, "512"),
        (ENV_INGEST_MAX_HEADER_BYTES, "1000000"),
        (ENV_INGEST_READ_TIMEOUT_SECONDS, "0"),
        (ENV_INGEST_READ_TIMEOUT_SECONDS, "61"),
        (ENV_INGEST_LOG_LEVEL, "LOUD"),
    ],
)
def test_out_of_range_settings_are_a_configuration_error(clean_env: pytest.MonkeyPatch, name: str, value: str) -> None:
    clean_env.setenv(name, value)
    # The message names the env var to fix, and only that one.
    with pytest.raises(ConfigurationError, match=f"1 validation error for IngestSettings\\n{name}\\n"):
        get_ingest_settings()


def test_nothing_reads_the_environment_at_import_time() -> None:
    env = {"PATH": "/usr/bin:/bin", ENV_INGEST_HEALTH_PORT: "not-a-port"}
    code = "import workers.ingest.main, workers.ingest.worker, workers.ingest.health, workers.ingest.config"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()


# Broadcast registry


def test_registry_counts_broadcasts_and_refuses_duplicates() -> None:
    registry = BroadcastRegistry()
    registry.started("a")
    registry.started("b")
    assert registry.active_broadcasts == 2
    with pytest.raises(ValueError, match="already live"):
        registry.started("a")
    registry.ended("a")
    registry.ended("a")  # a second end (cleanup paths) changes nothing
    registry.ended("unknown")
    assert registry.active_broadcasts == 1


def test_track_ends_the_broadcast_however_the_session_ends() -> None:
    registry = BroadcastRegistry()
    seen: list[int] = []

    def failing_session() -> None:
        with registry.track("a"):
            seen.append(registry.active_broadcasts)
            raise RuntimeError("session failed")

    with pytest.raises(RuntimeError, match="session failed"):
        failing_session()
    assert seen == [1]
    assert registry.active_broadcasts == 0


def test_no_broadcast_starts_while_draining() -> None:
    registry = BroadcastRegistry()
    registry.start_draining()
    with pytest.raises(WorkerDraining):
        registry.started("late")
    assert registry.active_broadcasts == 0


# Lifecycle and drain


def test_start_serves_health_and_stop_closes_it() -> None:
    async def scenario() -> None:
        worker = make_worker()
        await worker.start()
        port = worker.health.port
        runner = asyncio.create_task(worker.run())
        status, body = await get_health(port)
        assert status == 200
        assert body["status"] == "ok"
        assert body["active_broadcasts"] == 0
        assert not runner.done()
        worker.stop()
        assert await asyncio.wait_for(runner, CLIENT_TIMEOUT) is True
        assert not worker.health.listening
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)

    run(scenario)


def test_drain_waits_for_the_active_broadcast_to_end() -> None:
    async def scenario() -> None:
        worker = make_worker(drain_timeout_seconds=30)
        await worker.start()
        runner = asyncio.create_task(worker.run())
        worker.broadcasts.started("live-1")
        worker.stop()
        status, body = await get_health(worker.health.port)
        assert status == 503
        assert body["status"] == "draining"
        assert body["active_broadcasts"] == 1
        with pytest.raises(WorkerDraining):
            worker.broadcasts.started("live-2")
        # Still waiting for "live-1" (the drain timeout is far away).
        done, _ = await asyncio.wait({runner}, timeout=0.3)
        assert not done
        worker.broadcasts.ended("live-1")
        assert await asyncio.wait_for(runner, CLIENT_TIMEOUT) is True

    run(scenario)


def test_drain_gives_up_after_the_timeout() -> None:
    async def scenario() -> None:
        worker = make_worker(drain_timeout_seconds=0.2)
        await worker.start()
        worker.broadcasts.started("never-ends")
        runner = asyncio.create_task(worker.run())
        started = time.monotonic()
        worker.stop()
        assert await asyncio.wait_for(runner, CLIENT_TIMEOUT) is False
        assert time.monotonic() - started >= 0.2
        assert not worker.health.listening

    run(scenario)


def test_a_second_stop_cuts_the_drain_short() -> None:
    async def scenario() -> None:
        worker = make_worker(drain_timeout_seconds=60)
        await worker.start()
        worker.broadcasts.started("live")
        runner = asyncio.create_task(worker.run())
        worker.stop()
        done, _ = await asyncio.wait({runner}, timeout=0.1)
        assert not done
        worker.stop()
        assert await asyncio.wait_for(runner, CLIENT_TIMEOUT) is False

    run(scenario)


def test_stop_before_run_drains_at_once() -> None:
    async def scenario() -> None:
        worker = make_worker()
        worker.stop()
        assert await asyncio.wait_for(worker.run(), CLIENT_TIMEOUT) is True
        assert not worker.health.listening

    run(scenario)


def test_long_lived_objects_are_out_of_full_gc_passes_only_while_broadcasts_run() -> None:
    """A full pass over the worker's long-lived objects stops every broadcast's loop for a few
    hundred ms: frozen while broadcasting, handed back to the collector once idle."""

    async def scenario() -> list[int]:
        worker = make_worker()
        counts = [gc.get_freeze_count()]
        worker.broadcasts.started("b-1")
        counts.append(gc.get_freeze_count())
        worker.broadcasts.started("b-2")
        worker.broadcasts.ended("b-1")
        counts.append(gc.get_freeze_count())
        worker.broadcasts.ended("b-2")
        counts.append(gc.get_freeze_count())
        return counts

    gc.unfreeze()
    idle, one, still_one, none = asyncio.run(scenario())
    assert idle == 0
    assert one > 0
    assert still_one >= one
    assert none == 0


def test_the_workers_health_reports_its_event_loop_lag() -> None:
    async def scenario() -> dict[str, Any]:
        worker = make_worker()
        runner = asyncio.create_task(worker.run())
        await worker.start()
        await asyncio.sleep(0.3)
        _, body = await get_health(worker.health.port)
        worker.stop()
        await asyncio.wait_for(runner, 5)
        return body

    lag = asyncio.run(scenario())["loop_lag"]
    assert lag["samples"] >= 3
    assert sum(lag["buckets"].values()) == lag["samples"]


def test_the_drain_closes_rtmp_first_answers_503_meanwhile_and_closes_health_last() -> None:
    """Health 503 -> RTMP closed, publishers told to go -> broadcasts drain -> health closed."""

    async def scenario() -> None:
        from workers.ingest.rtmp import InMemoryAuthorizer

        steps: list[str] = []
        rtmp_closed = asyncio.Event()

        def factory(registry: BroadcastRegistry) -> tuple[InMemoryAuthorizer, Callable[[], Awaitable[None]]]:
            async def on_rtmp_closed() -> None:
                assert worker.rtmp is not None
                steps.append(f"rtmp closed, rtmp listening={worker.rtmp.listening}")
                rtmp_closed.set()

            def refuse(app: str, key: str, client: str) -> Any:
                raise AssertionError("no publish in this test")

            return InMemoryAuthorizer(refuse), on_rtmp_closed

        settings = IngestSettings(
            health_host="127.0.0.1", health_port=0, rtmp_port=0, drain_timeout_seconds=CLIENT_TIMEOUT
        )
        worker = IngestWorker(
            settings,
            probes={CHECK_STREAMS_TABLE: lambda: None, CHECK_MEDIA_BUCKET: lambda: None},
            authorizer_factory=factory,
        )
        await worker.start()
        assert worker.rtmp is not None
        rtmp_port, health_port = worker.rtmp.port, worker.health.port
        worker.broadcasts.started("live")
        runner = asyncio.create_task(worker.run())
        worker.stop()
        await asyncio.wait_for(rtmp_closed.wait(), CLIENT_TIMEOUT)
        assert steps == ["rtmp closed, rtmp listening=False"]
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", rtmp_port)
        # Draining: the health server still answers, with 503, until the broadcast has ended.
        status, body = await get_health(health_port)
        assert (status, body["status"]) == (503, "draining")
        assert worker.health.listening
        worker.broadcasts.ended("live")
        assert await asyncio.wait_for(runner, CLIENT_TIMEOUT) is True
        assert not worker.health.listening
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", health_port)

    run(scenario)
