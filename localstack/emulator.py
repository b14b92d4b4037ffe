"""A LocalStack-compatible AWS emulator on loopback: ministack started here, or a running one.

ministack needs no Docker; when something already answers the LocalStack health route at the
endpoint (real LocalStack started by a user who has Docker and a token), it is reused instead.

With `persist`, ministack keeps its state in `state_dir` across restarts (`make dev`): S3 objects
are written through to disk as they are stored, every other service's state (DynamoDB tables and
items, Lambda functions and their code, API Gateway, EventBridge, SQS, Secrets Manager,
CloudFormation stacks, ...) is saved when ministack shuts down on SIGTERM and loaded when it
starts. A ministack that is SIGKILLed loses every change since it started but S3 objects.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
EMULATOR_VENV = REPO_ROOT / ".venv-emulator"
HEALTH_PATH = "/_localstack/health"
# Credentials the emulator accepts; never real ones.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class EmulatorError(RuntimeError):
    pass


def is_ready(endpoint: str, timeout: float = 1.0) -> bool:
    """True when `endpoint` answers the LocalStack health route with a services map."""
    try:
        with urllib.request.urlopen(endpoint + HEALTH_PATH, timeout=timeout) as response:  # noqa: S310
            return "services" in json.load(response)
    except (OSError, ValueError):
        return False


@dataclass
class Emulator:
    """The emulator at `host:port`; `start()` launches ministack unless one already answers."""

    host: str = "127.0.0.1"
    port: int = 4566
    state_dir: Path = field(default_factory=lambda: REPO_ROOT / ".local" / "emulator")
    # Keep the emulator's state across restarts (`make dev`); tests start empty.
    persist: bool = False
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def started_here(self) -> bool:
        return self._process is not None

    @property
    def log_path(self) -> Path:
        return self.state_dir / f"ministack-{self.port}.log"

    @property
    def persist_dir(self) -> Path:
        """Where ministack saves its services' state (with `persist`, loaded again at start)."""
        return self.state_dir / f"state-{self.port}"

    @property
    def s3_dir(self) -> Path:
        """Where ministack keeps S3 objects (with `persist`, loaded again at start)."""
        return self.state_dir / f"s3-{self.port}"

    def reset(self) -> None:
        """Forget the persisted state: the next `start()` begins empty."""
        if self._process is not None:
            raise EmulatorError("the emulator is running: stop it before resetting its state")
        for path in (self.persist_dir, self.s3_dir):
            shutil.rmtree(path, ignore_errors=True)

    def start(self, timeout: float = 30.0) -> "Emulator":
        if is_ready(self.endpoint):
            return self
        executable = EMULATOR_VENV / "bin" / "ministack"
        if not executable.exists():
            raise EmulatorError(f"{executable} is missing: run `make emulator` (or `make dev`) first")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {
            # A clean environment: Lambda code the emulator runs inherits it, and must see
            # neither this project's virtualenv nor real AWS credentials.
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.state_dir)),
            "TMPDIR": str(self.state_dir),
            "BIND_HOST": self.host,
            "GATEWAY_PORT": str(self.port),
            "MINISTACK_HOST": self.host,
            "S3_DATA_DIR": str(self.s3_dir),
            # Also where Lambda code blobs and generated keys go: never the shared /tmp default.
            "STATE_DIR": str(self.persist_dir),
            "PERSIST_STATE": "1" if self.persist else "0",
            "S3_PERSIST": "1" if self.persist else "0",
            "LOG_LEVEL": "WARNING",
            **EMULATOR_CREDENTIALS,
        }
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [str(executable)], env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not is_ready(self.endpoint, timeout=0.5):
            if self._process.poll() is not None:
                raise EmulatorError(f"ministack exited with {self._process.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise EmulatorError(f"ministack did not answer within {timeout:.0f}s; see {self.log_path}")
            time.sleep(0.1)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the emulator if this object started it (a reused one is left running). SIGTERM
        first: ministack saves its persisted state while shutting down, so SIGKILL is the last
        resort."""
        if self._process is not None:
            # The whole process group: Lambda workers the emulator spawned go with it.
            _signal_group(self._process, signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self._process, signal.SIGKILL)
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def client_env(self) -> dict[str, str]:
        """Environment for AWS clients and the CDK CLI aimed at this emulator."""
        return {
            **EMULATOR_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
        }


def _signal_group(process: "subprocess.Popen[bytes]", sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
