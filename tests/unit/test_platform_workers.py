"""`make dev`'s workers: their flags, slots and environment, and the supervisor that restarts a
dead one as ECS replaces a task (run on stand-in processes here; the e2e suite runs real workers)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.constants import OUTPUT_EVENT_BUS, OUTPUT_MEDIA_BUCKET, OUTPUT_RESTREAM_KEY, table_output
from letslive.constants import (
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_REWIND_SECONDS,
    ENV_INGEST_RTMP_HOST,
    ENV_INGEST_RTMP_PORT,
    ENV_INGEST_WORK_DIR,
    ENV_INGEST_WORKER_ID,
    Table,
)
from localstack import ingest
from localstack.deploy import Deployment
from localstack.ingest import IngestWorkers, WorkerSlot, worker_env
from localstack.platform import parse_args, platform_urls, worker_slots

DEPLOYMENT = Deployment(
    endpoint="http://127.0.0.1:4566",
    stage="local",
    outputs={
        OUTPUT_MEDIA_BUCKET: "media",
        OUTPUT_EVENT_BUS: "bus",
        OUTPUT_RESTREAM_KEY: "restream-key-arn",
        "HttpApiId": "api",
        "WebSocketApiId": "ws",
        "WebSocketStage": "local",
        **{table_output(table): f"{table.value}-table" for table in Table},
    },
)


def test_one_worker_by_default_and_n_on_request() -> None:
    args = parse_args([])
    assert (args.workers, args.fresh, args.rtmp_port, args.worker_port, args.worker_rtmp_port) == (
        1,
        False,
        1935,
        8080,
        1936,
    )
    assert parse_args(["--workers", "3", "--fresh"]).workers == 3
    assert parse_args(["--fresh"]).fresh


@pytest.mark.parametrize(
    "argv",
    [
        ["--workers", "0"],
        ["--workers", "17"],
        ["--workers", "9"],  # health ports 8080..8088 would take the edge's 8088
        ["--worker-rtmp-port", "1935"],  # the balancer's
        ["--worker-port", "65535", "--workers", "2"],
        ["--rtmp-port", "70000"],
    ],
)
def test_flags_that_cannot_work_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_worker_settings_reach_the_workers_only_when_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`make dev` passes its environment's `LETSLIVE_INGEST_*` on; nothing else leaks (a test
    session's settings, for one), and the platform's own settings win over a given one."""
    monkeypatch.setenv(ENV_INGEST_REWIND_SECONDS, "600")
    monkeypatch.setenv(ENV_INGEST_WORKER_ID, "not-this")
    plain = worker_env(DEPLOYMENT, 8080, 1936, tmp_path)
    assert ENV_INGEST_REWIND_SECONDS not in plain
    tuned = worker_env(DEPLOYMENT, 8080, 1936, tmp_path, settings=ingest.tuning_from_environment())
    assert tuned[ENV_INGEST_REWIND_SECONDS] == "600"
    assert tuned[ENV_INGEST_WORKER_ID] == "worker-1"


def test_each_worker_has_its_own_ports_log_work_dir_and_identity(tmp_path: Path) -> None:
    slots = worker_slots(3, 1936, 8080, tmp_path)
    assert [(s.index, s.rtmp_port, s.health_port) for s in slots] == [(1, 1936, 8080), (2, 1937, 8081), (3, 1938, 8082)]
    assert len({s.log_path for s in slots}) == len({s.work_dir for s in slots}) == 3
    env = worker_env(DEPLOYMENT, slots[1].health_port, slots[1].rtmp_port, slots[1].work_dir, slots[1].worker_id)
    assert env[ENV_INGEST_WORKER_ID] == "worker-2"
    assert (env[ENV_INGEST_HEALTH_PORT], env[ENV_INGEST_RTMP_PORT]) == ("8081", "1937")
    assert env[ENV_INGEST_RTMP_HOST] == "127.0.0.1"
    assert env[ENV_INGEST_WORK_DIR] == str(tmp_path / "ingest-2-work")
    urls = platform_urls(DEPLOYMENT, slots, 8088, 1935)
    assert urls["RTMP ingest (OBS server)"] == "rtmp://127.0.0.1:1935/live"
    assert [urls[f"ingest worker {n} health"] for n in (1, 2, 3)] == [
        "http://127.0.0.1:8080/health",
        "http://127.0.0.1:8081/health",
        "http://127.0.0.1:8082/health",
    ]


def sleeper(slot: WorkerSlot) -> "subprocess.Popen[bytes]":
    """A stand-in worker: runs until killed."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def supervise_until(workers: IngestWorkers, index: int, restarts: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while workers.restarts(index) < restarts:
        assert time.monotonic() < deadline, f"worker {index} was not restarted {restarts} times"
        workers.supervise()
        time.sleep(0.01)


@pytest.fixture
def quick_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "RESTART_DELAY", 0.1)
    monkeypatch.setattr(ingest, "MAX_RESTART_DELAY", 0.4)


@pytest.mark.usefixtures("quick_restarts")
def test_a_dead_worker_is_restarted_in_its_slot_and_the_others_are_left_alone(tmp_path: Path) -> None:
    slots = worker_slots(2, 1936, 8080, tmp_path)
    spawned: list[WorkerSlot] = []
    said: list[str] = []

    def spawn(slot: WorkerSlot) -> "subprocess.Popen[bytes]":
        spawned.append(slot)
        return sleeper(slot)

    workers = IngestWorkers(slots, spawn, echo=said.append)
    try:
        workers.start(timeout=None)  # stand-ins have no /health to wait for
        first, second = workers.process(1), workers.process(2)
        second.kill()
        supervise_until(workers, 2, 1)
        assert said == [f"[dev] ingest worker 2 exited with SIGKILL; restarting in 0.1s (log: {slots[1].log_path})"]
        assert spawned == [slots[0], slots[1], slots[1]]  # the same ports, log and identity
        assert workers.process(1) is first
        assert workers.process(2) is not second
        assert workers.process(2).poll() is None
        assert workers.restarts(1) == 0
    finally:
        workers.stop(timeout=5)
    assert all(workers.process(n).poll() is not None for n in (1, 2))
    workers.supervise()  # stopping is not dying: nothing comes back
    assert all(workers.process(n).poll() is not None for n in (1, 2))


@pytest.mark.usefixtures("quick_restarts")
def test_a_worker_that_keeps_dying_waits_longer_each_time(tmp_path: Path) -> None:
    said: list[str] = []

    def crash(slot: WorkerSlot) -> "subprocess.Popen[bytes]":
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    workers = IngestWorkers(worker_slots(1, 1936, 8080, tmp_path), crash, echo=said.append)
    try:
        workers.start(timeout=None)
        supervise_until(workers, 1, 3)
        deadline = time.monotonic() + 10
        while len(said) < 4 and time.monotonic() < deadline:
            workers.supervise()
            time.sleep(0.01)
    finally:
        workers.stop(timeout=5)
    delays = [line.split("restarting in ")[1].split("s ")[0] for line in said]
    assert delays == ["0.1", "0.2", "0.4", "0.4"]  # doubled, then capped
    assert all("exited with 3" in line for line in said)


@pytest.mark.usefixtures("quick_restarts")
def test_the_supervisor_thread_restarts_and_stops(tmp_path: Path) -> None:
    workers = IngestWorkers(worker_slots(1, 1936, 8080, tmp_path), sleeper, echo=lambda _: None)
    workers.start(timeout=None)
    workers.supervise_in_thread(interval=0.01)
    try:
        workers.process(1).kill()
        deadline = time.monotonic() + 10
        while workers.restarts(1) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        workers.stop(timeout=5)
    assert workers.process(1).poll() is not None
