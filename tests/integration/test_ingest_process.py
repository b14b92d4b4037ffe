"""The worker as a real process (serves /health, drains on a signal, exits 0) and its real probes on moto."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from letslive.constants import (
    ENV_AWS_ENDPOINT_URL,
    ENV_EVENT_BUS,
    ENV_INGEST_HEALTH_HOST,
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_RTMP_PORT,
    ENV_INGEST_WORK_DIR,
    ENV_MEDIA_BUCKET,
    ENV_PREFIX,
    ENV_STAGE,
    INGEST_METRIC_SERVICE,
    POWERTOOLS_NAMESPACE,
    Table,
    table_env_var,
)
from letslive.data.aws import reset_clients
from letslive.data.tables import bind
from letslive.settings import reset_settings
from workers.ingest.health import HealthServer, default_probes
from workers.ingest.worker import BroadcastRegistry

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE = 30.0
EXIT_DEADLINE = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def worker_env(**overrides: str) -> dict[str, str]:
    """A complete configuration whose AWS endpoint is a closed loopback port: the worker starts,
    and every dependency check fails fast (degraded, not down)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    env.pop("AWS_ENDPOINT_URL", None)
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            ENV_AWS_ENDPOINT_URL: f"http://127.0.0.1:{free_port()}",
            table_env_var(Table.STREAMS): "no-such-streams-table",
            table_env_var(Table.VODS): "no-such-vods-table",
            ENV_MEDIA_BUCKET: "no-such-bucket",
            ENV_EVENT_BUS: "no-such-bus",
            ENV_INGEST_RTMP_PORT: "0",
            ENV_INGEST_WORK_DIR: str(Path(tempfile.mkdtemp(prefix="ingest-test-"))),
        }
    )
    env.update(overrides)
    return env


def spawn(env: dict[str, str], log: Path) -> "subprocess.Popen[bytes]":
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.ingest"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def written(log: Path) -> list[dict[str, Any]]:
    """Every line the worker wrote must be a JSON object: a log record or an EMF metrics document."""
    return [json.loads(line) for line in log.read_text().splitlines()]


def log_lines(log: Path) -> list[dict[str, Any]]:
    return [line for line in written(log) if "_aws" not in line]


def metric_lines(log: Path) -> list[dict[str, Any]]:
    return [line for line in written(log) if "_aws" in line]


def wait_for_health(process: "subprocess.Popen[bytes]", url: str, log: Path) -> tuple[int, dict[str, Any]]:
    """Poll `url` until the worker answers (or dies, or the deadline passes)."""
    deadline = time.monotonic() + STARTUP_DEADLINE
    while True:
        assert process.poll() is None, f"worker exited with {process.returncode}:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)
        except OSError:
            assert time.monotonic() < deadline, f"no answer from {url}:\n{log.read_text()}"
            time.sleep(0.05)  # polling interval while the interpreter starts, not a readiness guess


@pytest.fixture
def stopped() -> Iterator[list["subprocess.Popen[bytes]"]]:
    """Processes to kill if a test fails before they exit."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_worker_serves_health_and_exits_0_after_draining(
    tmp_path: Path, stopped: list["subprocess.Popen[bytes]"], stop_signal: signal.Signals
) -> None:
    port = free_port()
    log = tmp_path / "ingest.log"
    overrides = {ENV_INGEST_HEALTH_PORT: str(port), ENV_INGEST_HEALTH_HOST: "127.0.0.1", ENV_STAGE: "itest"}
    process = spawn(worker_env(**overrides), log)
    stopped.append(process)
    url = f"http://127.0.0.1:{port}/health"

    status, body = wait_for_health(process, url, log)

    # No table or bucket configured: every check fails, and the worker still answers 200.
    assert status == 200, body
    assert body["service"] == "ingest"
    assert body["status"] == "degraded"
    assert body["draining"] is False
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "table:streams": False,
        "bucket:media": False,
    }

    process.send_signal(stop_signal)
    assert process.wait(EXIT_DEADLINE) == 0

    lines = log_lines(log)
    assert any(line.get("health_url") == url for line in lines), lines
    assert [line["message"] for line in lines if line["message"] in ("draining", "drained")] == ["draining", "drained"]
    assert all(line["service"] == "ingest" for line in lines)
    # Idle, it still reports its live broadcasts (0) for autoscaling, under the deployment's stage.
    metrics = metric_lines(log)
    assert metrics, "no ActiveBroadcasts metric was written"
    assert all(line["ActiveBroadcasts"] == 0 for line in metrics)
    assert all((line["service"], line["stage"]) == (INGEST_METRIC_SERVICE, "itest") for line in metrics)
    assert metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == POWERTOOLS_NAMESPACE


def test_worker_exits_2_on_invalid_configuration(tmp_path: Path, stopped: list["subprocess.Popen[bytes]"]) -> None:
    log = tmp_path / "ingest.log"
    process = spawn(worker_env(**{ENV_INGEST_HEALTH_PORT: "not-a-port"}), log)
    stopped.append(process)
    assert process.wait(EXIT_DEADLINE) == 2
    lines = log_lines(log)
    assert [line["message"] for line in lines] == ["invalid configuration"]
    assert ENV_INGEST_HEALTH_PORT in lines[0]["detail"]


def test_worker_exits_1_when_the_port_is_taken(tmp_path: Path, stopped: list["subprocess.Popen[bytes]"]) -> None:
    log = tmp_path / "ingest.log"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = spawn(worker_env(**{ENV_INGEST_HEALTH_PORT: str(port), ENV_INGEST_HEALTH_HOST: "127.0.0.1"}), log)
        stopped.append(process)
        assert process.wait(EXIT_DEADLINE) == 1
    assert [line["message"] for line in log_lines(log)] == ["cannot listen"]


def test_default_probes_see_the_streams_table_and_media_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's real probes against moto: both checks pass once the table and bucket exist."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        table_env_var(Table.STREAMS): "streams-test",
        ENV_MEDIA_BUCKET: "media-test",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(ENV_AWS_ENDPOINT_URL, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    def forget() -> None:
        reset_settings()
        reset_clients()
        bind.cache_clear()

    async def report() -> dict[str, Any]:
        server = HealthServer(default_probes(), BroadcastRegistry(), cache_seconds=0)
        return (await server.report()).model_dump()

    forget()
    try:
        with mock_aws():
            before = asyncio.run(report())
            assert before["status"] == "degraded"
            boto3.client("dynamodb", region_name="us-east-1").create_table(
                TableName="streams-test",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="media-test")
            after = asyncio.run(report())
    finally:
        forget()
    assert {name: check["ok"] for name, check in before["checks"].items()} == {
        "table:streams": False,
        "bucket:media": False,
    }
    assert after["status"] == "ok", after


def test_a_worker_without_its_tables_exits_with_a_configuration_error(tmp_path: Path) -> None:
    env = worker_env(**{ENV_INGEST_HEALTH_PORT: str(free_port())})
    del env[table_env_var(Table.STREAMS)]
    process = spawn(env, tmp_path / "worker.log")
    assert process.wait(timeout=30) == 2
