"""ECS task scale-in protection while this task carries a broadcast.

Scaling in (or a deployment) must not stop a task mid-broadcast: the streamer's connection would
drop. So while at least one broadcast is live the worker asks the ECS agent to protect its task
(`PUT $ECS_AGENT_URI/task-protection/v1/state`), renews the protection halfway through its
lifetime while broadcasts go on, and lifts it when the last one ends. A protection that expires
(a worker that hangs) makes the task eligible again, so the lifetime bounds how long a stuck task
can hold a scale-in or a deployment back.

Failures (no agent, throttling, a missing permission) are logged and retried; they never touch a
broadcast. Without `ECS_AGENT_URI` the worker is not on ECS and nothing is asked.

API: https://docs.aws.amazon.com/AmazonECS/latest/userguide/task-scale-in-protection-endpoint.html
"""

import asyncio
import contextlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Final, Protocol

logger = logging.getLogger(__name__)

TASK_PROTECTION_PATH: Final = "/task-protection/v1/state"
# How soon a failed request to the agent is tried again.
RETRY_SECONDS: Final = 10.0


class ProtectionAgent(Protocol):
    async def set_protection(self, enabled: bool, expires_in_minutes: int) -> bool:
        """True once the agent confirms the new state."""
        ...


class EcsAgentProtection:
    """The ECS agent's task protection endpoint, over plain HTTP (stdlib, off the event loop)."""

    def __init__(self, agent_uri: str, timeout_seconds: float = 5.0) -> None:
        self.url = agent_uri.rstrip("/") + TASK_PROTECTION_PATH
        self._timeout = timeout_seconds

    async def set_protection(self, enabled: bool, expires_in_minutes: int) -> bool:
        body: dict[str, object] = {"ProtectionEnabled": enabled}
        if enabled:
            body["ExpiresInMinutes"] = expires_in_minutes
        try:
            status, answer = await asyncio.to_thread(self._put, json.dumps(body).encode())
        except (OSError, ValueError) as exc:  # URLError is an OSError; ValueError: a reply that is not JSON
            logger.warning("task protection request failed", extra={"enabled": enabled, "error": str(exc)})
            return False
        protection = answer.get("protection") if isinstance(answer, dict) else None
        # The agent answers `{"protection": {...}}`, or `{"failure": {...}}` / `{"error": {...}}`.
        if 200 <= status < 300 and isinstance(protection, dict) and protection.get("ProtectionEnabled") is enabled:
            logger.info(
                "task protection set",
                extra={
                    "enabled": enabled,
                    "expires": protection.get("ExpirationDate"),
                    "task": protection.get("TaskArn"),
                },
            )
            return True
        problem = (answer.get("failure") or answer.get("error")) if isinstance(answer, dict) else answer
        logger.warning("task protection refused", extra={"enabled": enabled, "status": status, "problem": problem})
        return False

    def _put(self, body: bytes) -> tuple[int, object]:
        request = urllib.request.Request(  # noqa: S310 - the URL is the ECS agent's, from ECS
            self.url, data=body, method="PUT", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:  # the agent's errors come with a JSON body too
            with exc:
                raw = exc.read()
            try:
                return exc.code, json.loads(raw or b"null")
            except ValueError:
                return exc.code, raw.decode(errors="replace")[:200]


class BroadcastCount(Protocol):
    @property
    def active_broadcasts(self) -> int: ...


class ScaleInProtection:
    """Keeps the task protected exactly while `status.active_broadcasts > 0`.

    `changed()` is called whenever the count changes; `run()` reconciles in one loop, so requests
    never race each other and the last state asked for is the one that sticks.
    """

    def __init__(
        self,
        agent: ProtectionAgent,
        status: BroadcastCount,
        *,
        expires_in_minutes: int,
        renew_seconds: float | None = None,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._agent = agent
        self._status = status
        self.expires_in_minutes = expires_in_minutes
        # Halfway: one failed renewal still leaves time for the retries before it lapses.
        self._renew_seconds = expires_in_minutes * 60 / 2 if renew_seconds is None else renew_seconds
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._wake = asyncio.Event()
        self.protected = False  # what the agent last confirmed
        self._attempted = False  # what was last asked for (a failure is retried, not re-sent at once)
        self._next_request: float | None = None  # when to renew (protected) or retry (failed)

    def changed(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            wanted = self._status.active_broadcasts > 0
            if wanted == self.protected:
                self._attempted = wanted
                if not wanted:
                    self._next_request = None  # nothing to renew, no failed request worth retrying
            due = self._next_request is not None and self._clock() >= self._next_request
            if due or wanted != self._attempted:
                confirmed = await self._agent.set_protection(wanted, self.expires_in_minutes)
                self._attempted = wanted
                if confirmed:
                    self.protected = wanted
                    self._next_request = self._clock() + self._renew_seconds if wanted else None
                else:
                    self._next_request = self._clock() + self._retry_seconds
                continue  # the count may have changed while the request was out
            timeout = None if self._next_request is None else max(0.0, self._next_request - self._clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
