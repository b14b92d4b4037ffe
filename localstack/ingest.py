"""The ingest service's tasks as local processes (the emulator records ECS services but runs no
containers): N workers, each with its own identity, ports, work dir and log, and a supervisor
that restarts one that dies, with the same ports and environment, as ECS replaces a task."""

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.constants import OUTPUT_EVENT_BUS, OUTPUT_RESTREAM_KEY
from letslive.constants import (
    ENV_AWS_ENDPOINT_URL,
    ENV_EVENT_BUS,
    ENV_INGEST_HEALTH_HOST,
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_PREFIX,
    ENV_INGEST_RESTREAM_VERIFY_TLS,
    ENV_INGEST_RTMP_HOST,
    ENV_INGEST_RTMP_PORT,
    ENV_INGEST_WORK_DIR,
    ENV_INGEST_WORKER_ID,
    ENV_MEDIA_BUCKET,
    ENV_RESTREAM_ALLOW_PRIVATE_HOSTS,
    ENV_RESTREAM_KEY,
    ENV_STAGE,
    Table,
    table_env_var,
)
from localstack.deploy import Deployment
from localstack.emulator import EMULATOR_CREDENTIALS, REPO_ROOT
from localstack.processes import describe_exit, stop_processes

# A worker that dies is restarted after RESTART_DELAY: about as long as the balancer takes to
# mark it down (2 failed checks 1 s apart), so the replacement joins a rotation that has already
# dropped the dead one. One that keeps dying within STABLE_SECONDS of its start waits twice as
# long each time, up to MAX_RESTART_DELAY.
RESTART_DELAY = 3.0
MAX_RESTART_DELAY = 30.0
STABLE_SECONDS = 10.0
# Longer than the worker's own 30 s drain, so SIGTERM can finish what it started.
STOP_TIMEOUT = 40.0


def worker_id(index: int) -> str:
    return f"worker-{index}"


def worker_env(
    deployment: Deployment,
    health_port: int,
    rtmp_port: int,
    work_dir: Path,
    identity: str = worker_id(1),
    settings: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What the ECS task definition gives the worker in AWS, pointed at the emulator, after any
    worker `settings` (`LETSLIVE_INGEST_*`) to tune it locally."""
    return {
        **(settings or {}),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        **EMULATOR_CREDENTIALS,
        ENV_AWS_ENDPOINT_URL: deployment.endpoint,
        ENV_STAGE: deployment.stage,
        ENV_MEDIA_BUCKET: deployment.media_bucket,
        table_env_var(Table.STREAMS): deployment.table_name(Table.STREAMS),
        table_env_var(Table.VODS): deployment.table_name(Table.VODS),
        ENV_EVENT_BUS: deployment.output(OUTPUT_EVENT_BUS),
        ENV_RESTREAM_KEY: deployment.output(OUTPUT_RESTREAM_KEY),
        # The tests' and a developer's local RTMP servers (nginx-rtmp) are on 127.0.0.1, their
        # RTMPS certificates self-signed.
        ENV_RESTREAM_ALLOW_PRIVATE_HOSTS: "true",
        ENV_INGEST_RESTREAM_VERIFY_TLS: "false",
        ENV_INGEST_HEALTH_HOST: "127.0.0.1",
        ENV_INGEST_HEALTH_PORT: str(health_port),
        ENV_INGEST_RTMP_HOST: "127.0.0.1",
        ENV_INGEST_RTMP_PORT: str(rtmp_port),
        ENV_INGEST_WORK_DIR: str(work_dir),
        ENV_INGEST_WORKER_ID: identity,
    }


@dataclass(frozen=True)
class WorkerSlot:
    """One task's place in the service: the same identity, ports, work dir and log across restarts."""

    index: int
    rtmp_port: int
    health_port: int
    log_path: Path

    @property
    def worker_id(self) -> str:
        return worker_id(self.index)

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/health"

    @property
    def work_dir(self) -> Path:
        return work_dir_for(self.log_path)


def work_dir_for(log_path: Path) -> Path:
    return log_path.with_name(f"{log_path.stem}-work")


def tuning_from_environment() -> dict[str, str]:
    """The worker settings (`LETSLIVE_INGEST_*`) of this process's environment: `make dev`'s."""
    return {name: value for name, value in os.environ.items() if name.startswith(ENV_INGEST_PREFIX)}


def spawn_ingest_worker(
    deployment: Deployment, slot: WorkerSlot, settings: Mapping[str, str] | None = None
) -> "subprocess.Popen[bytes]":
    """Start the worker of `slot` (not waiting for it), with worker `settings` if any."""
    slot.log_path.parent.mkdir(parents=True, exist_ok=True)
    with slot.log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.ingest"],
            cwd=REPO_ROOT,
            env=worker_env(deployment, slot.health_port, slot.rtmp_port, slot.work_dir, slot.worker_id, settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches `make dev`, which then drains the worker itself.
            start_new_session=True,
        )


def wait_until_healthy(process: "subprocess.Popen[bytes]", url: str, log_path: Path, timeout: float = 20.0) -> None:
    """Return once `url` answers; raise (killing the process) if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"ingest worker exited with {process.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (a loopback URL built here)
                return
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"ingest worker did not answer {url} within {timeout:.0f}s") from None
            time.sleep(0.1)


def start_ingest_worker(
    deployment: Deployment,
    health_port: int,
    rtmp_port: int,
    log_path: Path,
    timeout: float = 20.0,
    index: int = 1,
) -> "subprocess.Popen[bytes]":
    """One ingest worker as a local process; returns once its /health answers."""
    slot = WorkerSlot(index, rtmp_port, health_port, log_path)
    process = spawn_ingest_worker(deployment, slot)
    wait_until_healthy(process, slot.health_url, log_path, timeout)
    return process


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class IngestWorkers:
    """The workers of `slots`, started by `spawn`. `supervise()` restarts the dead ones; call it
    periodically (`make dev` does from its main loop) or let `supervise_in_thread()` do it."""

    def __init__(
        self,
        slots: Sequence[WorkerSlot],
        spawn: Callable[[WorkerSlot], "subprocess.Popen[bytes]"],
        echo: Callable[[str], None] = _echo,
    ) -> None:
        self.slots = tuple(slots)
        self._spawn = spawn
        self._echo = echo
        self._lock = threading.Lock()
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._started_at: dict[int, float] = {}
        self._delay: dict[int, float] = {}
        self._restart_at: dict[int, float] = {}
        self._restarts: dict[int, int] = {slot.index: 0 for slot in self.slots}
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    @classmethod
    def for_deployment(
        cls, deployment: Deployment, slots: Sequence[WorkerSlot], settings: Mapping[str, str] | None = None
    ) -> "IngestWorkers":
        return cls(slots, lambda slot: spawn_ingest_worker(deployment, slot, settings))

    def process(self, index: int) -> "subprocess.Popen[bytes]":
        """The current process of worker `index` (a new one after each restart)."""
        with self._lock:
            return self._processes[index]

    def restarts(self, index: int) -> int:
        with self._lock:
            return self._restarts[index]

    def start(self, timeout: float | None = 20.0) -> "IngestWorkers":
        """Start every worker and wait until each answers /health (all or none keep running);
        with no `timeout`, do not wait."""
        with self._lock:
            for slot in self.slots:
                self._launch(slot)
        if timeout is None:
            return self
        try:
            for slot in self.slots:
                wait_until_healthy(self._processes[slot.index], slot.health_url, slot.log_path, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, slot: WorkerSlot) -> None:
        self._processes[slot.index] = self._spawn(slot)
        self._started_at[slot.index] = time.monotonic()

    def supervise(self) -> list[int]:
        """Restart every worker that has exited and waited out its backoff; the indexes restarted."""
        restarted: list[int] = []
        with self._lock:
            if self._stopping:
                return restarted
            now = time.monotonic()
            for slot in self.slots:
                process = self._processes.get(slot.index)
                if process is None or process.poll() is None:
                    continue
                due = self._restart_at.get(slot.index)
                if due is None:
                    quick = now - self._started_at[slot.index] < STABLE_SECONDS
                    previous = self._delay.get(slot.index)
                    delay = min(previous * 2, MAX_RESTART_DELAY) if quick and previous else RESTART_DELAY
                    self._delay[slot.index] = delay
                    self._restart_at[slot.index] = now + delay
                    self._echo(
                        f"[dev] ingest worker {slot.index} exited with {describe_exit(process.returncode)}; "
                        f"restarting in {delay:.1f}s (log: {slot.log_path})"
                    )
                elif now >= due:
                    del self._restart_at[slot.index]
                    self._launch(slot)
                    self._restarts[slot.index] += 1
                    restarted.append(slot.index)
        return restarted

    def supervise_in_thread(self, interval: float = 0.2) -> "IngestWorkers":
        def run() -> None:
            while not self._wake.wait(interval):
                try:
                    self.supervise()
                except Exception as error:  # the supervisor must outlive any one failed restart
                    self._echo(f"[dev] restarting an ingest worker failed: {error!r}")

        self._thread = threading.Thread(target=run, name="ingest-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every worker (each drains its broadcasts, as on ECS) and wait for them."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        stop_processes(list(self._processes.values()), timeout)
