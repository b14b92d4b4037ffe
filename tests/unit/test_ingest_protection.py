"""ECS task scale-in protection while broadcasts run.

The ECS agent is stood in for by a real HTTP server on loopback (stdlib `http.server` in a
thread) that answers `PUT /task-protection/v1/state` the way the agent documents it, so the
worker's own HTTP client, JSON and error handling are what is tested.
"""

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from letslive.constants import ENV_ECS_AGENT_URI
from tests.unit.test_ingest_metrics import until
from workers.ingest.config import IngestSettings
from workers.ingest.health import CHECK_MEDIA_BUCKET, CHECK_STREAMS_TABLE
from workers.ingest.protection import TASK_PROTECTION_PATH, EcsAgentProtection, ScaleInProtection
from workers.ingest.worker import BroadcastRegistry, IngestWorker

TASK_ARN = "arn:aws:ecs:eu-west-1:111122223333:task/letslive/0123456789abcdef0"
AGENT_PREFIX = "/api/0123456789abcdef0-1234"  # ECS_AGENT_URI carries a per-task path
WAIT = 5.0


@dataclass(frozen=True)
class AgentRequest:
    method: str
    path: str
    content_type: str | None
    body: dict[str, Any]


class FakeEcsAgent:
    """What the worker sees of the ECS agent: records every request; `answers` scripts replies
    (status, JSON body) ahead of the default success."""

    def __init__(self) -> None:
        self.requests: list[AgentRequest] = []
        self.answers: list[tuple[int, object]] = []
        self._lock = threading.Lock()
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with agent._lock:
                    agent.requests.append(AgentRequest("PUT", self.path, self.headers.get("Content-Type"), body))
                    status, answer = agent.answers.pop(0) if agent.answers else (200, agent._success(body))
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reads requests, not logs
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @staticmethod
    def _success(body: dict[str, Any]) -> dict[str, Any]:
        enabled = body["ProtectionEnabled"]
        expires = "2026-01-01T00:30:00Z" if enabled else None
        return {"protection": {"ExpirationDate": expires, "ProtectionEnabled": enabled, "TaskArn": TASK_ARN}}

    @property
    def uri(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{AGENT_PREFIX}"

    def states(self) -> list[bool]:
        with self._lock:
            return [request.body["ProtectionEnabled"] for request in self.requests]

    def __enter__(self) -> "FakeEcsAgent":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def agent() -> Iterator[FakeEcsAgent]:
    with FakeEcsAgent() as running:
        yield running


def make_worker(agent_uri: str | None) -> IngestWorker:
    settings = IngestSettings(
        health_host="127.0.0.1", health_port=0, ecs_agent_uri=agent_uri, scale_in_protection_minutes=45
    )
    return IngestWorker(settings, probes={CHECK_STREAMS_TABLE: lambda: None, CHECK_MEDIA_BUCKET: lambda: None})


def test_the_task_is_protected_exactly_while_a_broadcast_is_live(agent: FakeEcsAgent) -> None:
    async def scenario() -> None:
        worker = make_worker(agent.uri)
        runner = asyncio.create_task(worker.run())
        await asyncio.sleep(0.1)
        assert agent.requests == []  # idle from the start: nothing to ask

        worker.broadcasts.started("b-1")
        await until(lambda: agent.states() == [True])
        worker.broadcasts.started("b-2")
        worker.broadcasts.ended("b-1")  # one still live: still protected
        await asyncio.sleep(0.1)
        assert agent.states() == [True]
        worker.broadcasts.ended("b-2")
        await until(lambda: agent.states() == [True, False])

        worker.stop()
        assert await asyncio.wait_for(runner, WAIT) is True

    asyncio.run(scenario())
    protect, unprotect = agent.requests
    assert (protect.method, protect.path) == ("PUT", AGENT_PREFIX + TASK_PROTECTION_PATH)
    assert protect.content_type == "application/json"
    assert protect.body == {"ProtectionEnabled": True, "ExpiresInMinutes": 45}
    assert unprotect.body == {"ProtectionEnabled": False}


def test_protection_is_renewed_while_broadcasts_go_on(agent: FakeEcsAgent) -> None:
    registry = BroadcastRegistry()

    async def scenario() -> None:
        protection = ScaleInProtection(EcsAgentProtection(agent.uri), registry, expires_in_minutes=2, renew_seconds=0.1)
        registry.on_change(protection.changed)
        keeper = asyncio.create_task(protection.run())
        registry.started("b-1")
        await until(lambda: len(agent.requests) >= 4)
        registry.ended("b-1")
        await until(lambda: agent.states()[-1] is False)
        settled = len(agent.requests)
        await asyncio.sleep(0.3)  # unprotected: nothing more to renew
        keeper.cancel()
        assert len(agent.requests) == settled

    asyncio.run(scenario())
    *renewals, last = agent.states()
    assert all(renewals)
    assert last is False
    assert {r.body.get("ExpiresInMinutes") for r in agent.requests if r.body["ProtectionEnabled"]} == {2}


@pytest.mark.parametrize(
    "refusal",
    [
        (200, {"failure": {"Arn": TASK_ARN, "Detail": None, "Reason": "TASK_NOT_VALID"}}),
        (400, {"requestID": "r-1", "error": {"Arn": TASK_ARN, "Code": "ThrottlingException", "Message": "Rate"}}),
        (500, "not json at all"),
    ],
    ids=["failure", "error", "garbage"],
)
def test_a_refused_request_is_retried_and_never_raises(
    agent: FakeEcsAgent, refusal: tuple[int, object], caplog: pytest.LogCaptureFixture
) -> None:
    registry = BroadcastRegistry()
    agent.answers.append(refusal)

    async def scenario() -> bool:
        protection = ScaleInProtection(
            EcsAgentProtection(agent.uri), registry, expires_in_minutes=30, retry_seconds=0.1
        )
        registry.on_change(protection.changed)
        keeper = asyncio.create_task(protection.run())
        registry.started("b-1")
        await until(lambda: len(agent.requests) == 2)
        await asyncio.sleep(0.05)
        keeper.cancel()
        return protection.protected

    assert asyncio.run(scenario()) is True
    assert agent.states() == [True, True]  # refused, then retried after retry_seconds
    assert "task protection refused" in caplog.text


def test_an_unreachable_agent_is_a_logged_failure(caplog: pytest.LogCaptureFixture) -> None:
    with FakeEcsAgent() as stopped:
        uri = stopped.uri
    # The server is closed: the port refuses connections.
    assert asyncio.run(EcsAgentProtection(uri, timeout_seconds=1).set_protection(True, 30)) is False
    assert "task protection request failed" in caplog.text


def test_without_ecs_agent_uri_nothing_is_protected() -> None:
    async def scenario() -> None:
        worker = make_worker(None)
        assert worker.protection is None
        runner = asyncio.create_task(worker.run())
        worker.broadcasts.started("b-1")
        worker.broadcasts.ended("b-1")
        worker.stop()
        assert await asyncio.wait_for(runner, WAIT) is True

    asyncio.run(scenario())


def test_the_agent_uri_comes_from_ecs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ECS_AGENT_URI, "http://169.254.170.2/api/0123456789abcdef0-1234")
    assert IngestSettings().ecs_agent_uri == "http://169.254.170.2/api/0123456789abcdef0-1234"
    monkeypatch.delenv(ENV_ECS_AGENT_URI)
    assert IngestSettings().ecs_agent_uri is None
