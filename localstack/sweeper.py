"""The broadcast sweeper's schedule, locally: the emulator runs no EventBridge schedules, so the
platform invokes the deployed sweeper Lambda itself, on a timer (AWS: every minute)."""

import json
import logging
import threading
from typing import Any

from infra.constants import OUTPUT_SWEEPER_FUNCTION
from localstack.deploy import Deployment

logger = logging.getLogger(__name__)

# More often than AWS's one minute: a dead worker's channel is offline (and its VOD written)
# within `live_stale_seconds` plus this.
SWEEP_INTERVAL_SECONDS = 5.0


class LocalSweeper:
    def __init__(self, deployment: Deployment, interval_seconds: float = SWEEP_INTERVAL_SECONDS) -> None:
        self.function = deployment.output(OUTPUT_SWEEPER_FUNCTION)
        self.interval = interval_seconds
        self.runs = 0
        self.ended: list[str] = []  # every broadcast a run ended
        self._lambda: Any = deployment.client("lambda")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> dict[str, Any]:
        """One run, as the schedule's: the function's answer (or its error)."""
        response = self._lambda.invoke(FunctionName=self.function, Payload=b"{}")
        payload: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
        self.runs += 1
        if "FunctionError" in response:
            logger.warning("the sweeper failed: %s", payload)
        else:
            self.ended += payload.get("ended", [])
        return payload

    def start(self) -> "LocalSweeper":
        def run() -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.sweep()
                except Exception:  # the emulator stalled or is stopping: the next run tries again
                    logger.warning("sweeper invocation failed", exc_info=True)

        self._thread = threading.Thread(target=run, name="sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
