"""The worker's /health endpoint over real sockets on 127.0.0.1, with fake dependency probes."""

import asyncio
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from letslive import __version__
from letslive.constants import ENV_MEDIA_BUCKET, Table, table_env_var
from letslive.errors import ConfigurationError, DependencyUnavailable
from letslive.services.health import Probe
from letslive.settings import reset_settings
from workers.ingest.health import (
    CHECK_MEDIA_BUCKET,
    CHECK_STREAMS_TABLE,
    HealthServer,
    WorkerStatus,
    default_probes,
)
from workers.ingest.worker import BroadcastRegistry

# Bounds every client wait, so a server that never answers fails the test instead of hanging it.
CLIENT_TIMEOUT = 5.0


class FakeProbe:
    """Counts its calls; raises `error` when given one."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.error = error

    def __call__(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


@asynccontextmanager
async def serving(
    probes: Mapping[str, Probe] | None = None, status: WorkerStatus | None = None, **options: Any
) -> AsyncIterator[HealthServer]:
    server = HealthServer(
        {CHECK_STREAMS_TABLE: FakeProbe(), CHECK_MEDIA_BUCKET: FakeProbe()} if probes is None else probes,
        BroadcastRegistry() if status is None else status,
        host="127.0.0.1",
        port=0,
        **options,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def exchange(port: int, data: bytes, *, half_close: bool = False) -> bytes:
    """Send `data`, then read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(), CLIENT_TIMEOUT)
    finally:
        writer.close()


def parse(raw: bytes, *, head: bool = False) -> Reply:
    """A response as the server must send it: Content-Length and `Connection: close`, always."""
    head_bytes, separator, body = raw.partition(b"\r\n\r\n")
    assert separator, raw
    status_line, *fields = head_bytes.decode("ascii").split("\r\n")
    version, code, _ = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {name.lower(): value.strip() for name, _, value in (field.partition(":") for field in fields)}
    assert headers["connection"] == "close"
    if head:
        assert body == b""
    else:
        assert int(headers["content-length"]) == len(body)
    return Reply(int(code), headers, body)


async def request(port: int, method: str, target: str) -> Reply:
    raw = await exchange(port, f"{method} {target} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return parse(raw, head=method == "HEAD")


def test_get_health_reports_version_status_broadcasts_and_checks() -> None:
    async def scenario() -> None:
        table, bucket = FakeProbe(), FakeProbe()
        broadcasts = BroadcastRegistry()
        broadcasts.started("a")
        broadcasts.started("b")
        async with serving({CHECK_STREAMS_TABLE: table, CHECK_MEDIA_BUCKET: bucket}, broadcasts) as server:
            reply = await request(server.port, "GET", "/health")
        assert reply.status == 200
        assert reply.headers["content-type"] == "application/json"
        body = reply.json()
        assert set(body) == {"service", "version", "status", "draining", "active_broadcasts", "checks", "loop_lag"}
        assert body["loop_lag"] is None  # this server was given no meter (the worker's is)
        assert body["service"] == "ingest"
        assert body["version"] == __version__
        assert body["status"] == "ok"
        assert body["draining"] is False
        assert body["active_broadcasts"] == 2
        assert set(body["checks"]) == {CHECK_STREAMS_TABLE, CHECK_MEDIA_BUCKET}
        for check in body["checks"].values():
            assert check["ok"] is True
            assert check["latency_ms"] >= 0
            assert check["error"] is None
        assert (table.calls, bucket.calls) == (1, 1)

    run(scenario)


def test_head_has_the_headers_of_get_and_no_body() -> None:
    async def scenario() -> None:
        async with serving() as server:
            got = await request(server.port, "GET", "/health")
            head = await request(server.port, "HEAD", "/health")
        assert head.status == 200
        assert head.headers["content-type"] == "application/json"
        assert int(head.headers["content-length"]) == len(got.body) > 0

    run(scenario)


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /health?verbose=1 HTTP/1.1\r\nHost: test\r\n\r\n",
        b"GET http://test/health HTTP/1.1\r\nHost: test\r\n\r\n",
        b"GET /health HTTP/1.0\r\n\r\n",
        b"\r\nGET /health HTTP/1.1\nHost: test\n\n",
    ],
    ids=["query", "absolute-form", "http-1.0", "leading-empty-line-and-bare-lf"],
)
def test_accepted_request_forms(raw: bytes) -> None:
    async def scenario() -> None:
        async with serving() as server:
            reply = parse(await exchange(server.port, raw))
        assert reply.status == 200
        assert reply.json()["service"] == "ingest"

    run(scenario)


@pytest.mark.parametrize("path", ["/", "/healthz", "/health/", "/health/extra", "/HEALTH", "*"])
def test_other_paths_are_404(path: str) -> None:
    async def scenario() -> None:
        async with serving() as server:
            reply = await request(server.port, "GET", path)
            head = await request(server.port, "HEAD", path)
        assert reply.status == 404
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json() == {"title": "Not Found", "status": 404, "detail": "no such route"}
        assert head.status == 404

    run(scenario)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get"])
def test_other_methods_are_405(method: str) -> None:
    async def scenario() -> None:
        async with serving() as server:
            reply = await request(server.port, method, "/health")
        assert reply.status == 405
        assert reply.headers["allow"] == "GET, HEAD"
        assert reply.json()["status"] == 405

    run(scenario)


@pytest.mark.parametrize(
    "raw",
    [
        b"SECRET\r\n\r\n",
        b"GET /health\r\n\r\n",
        b"GET /health HTTP/1.1 SECRET\r\n\r\n",
        b"GET  /health HTTP/1.1\r\n\r\n",
        b"G(E)T /health HTTP/1.1\r\n\r\n",
        b"GET /health SECRET/1.1\r\n\r\n",
        b"GET /he\xffalth HTTP/1.1\r\n\r\n",
        b"GET /he\x01alth HTTP/1.1\r\n\r\n",
        b"GET SECRET HTTP/1.1\r\n\r\n",
        b"GET http://[SECRET/health HTTP/1.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nSECRET\r\n\r\n",
        b"GET /health HTTP/1.1\r\nSECRET name: x\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost : test\r\n\r\n",
        b"GET /health HTTP/1.1\r\nX-Secret: a\rb\r\n\r\n",
        b"GET /health HTTP/1.1\r\nX-Secret: a\x00b\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: test\r\n SECRET-folded\r\n\r\n",
    ],
)
def test_malformed_requests_are_400_and_the_server_keeps_serving(raw: bytes) -> None:
    async def scenario() -> None:
        async with serving() as server:
            reply = parse(await exchange(server.port, raw))
            after = await request(server.port, "GET", "/health")
        assert reply.status == 400
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["status"] == 400
        # Nothing of the input is echoed back, and no traceback leaks.
        assert b"SECRET" not in reply.body
        assert b"Traceback" not in reply.body
        assert after.status == 200

    run(scenario)


def test_unsupported_http_version_is_505() -> None:
    async def scenario() -> None:
        async with serving() as server:
            reply = parse(await exchange(server.port, b"GET /health HTTP/2.0\r\n\r\n"))
        assert reply.status == 505

    run(scenario)


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\n" + b"".join(b"X-Many-%d: %s\r\n" % (i, b"b" * 40) for i in range(40)) + b"\r\n",
        # No line end at all: the limit must apply without waiting for one (or for the timeout).
        b"GET /health HTTP/1.1\r\nX-Unterminated: " + b"c" * 5000,
    ],
    ids=["one-long-line", "many-lines", "no-line-end"],
)
def test_request_head_over_the_limit_is_431(raw: bytes) -> None:
    async def scenario() -> None:
        async with serving(max_header_bytes=1024, read_timeout_seconds=CLIENT_TIMEOUT * 2) as server:
            reply = parse(await exchange(server.port, raw))
            after = await request(server.port, "GET", "/health")
        assert reply.status == 431
        assert reply.json()["status"] == 431
        assert after.status == 200

    run(scenario)


def test_request_head_just_under_the_limit_is_served() -> None:
    async def scenario() -> None:
        start = b"GET /health HTTP/1.1\r\nHost: test\r\n"
        padding = b"X-Pad: " + b"p" * (1024 - len(start) - len(b"X-Pad: \r\n\r\n")) + b"\r\n"
        raw = start + padding + b"\r\n"
        assert len(raw) == 1024
        async with serving(max_header_bytes=1024) as server:
            reply = parse(await exchange(server.port, raw))
        assert reply.status == 200

    run(scenario)


def test_a_client_that_sends_nothing_is_disconnected_after_the_read_timeout() -> None:
    async def scenario() -> None:
        async with serving(read_timeout_seconds=0.2) as server:
            started = time.monotonic()
            raw = await exchange(server.port, b"")
            elapsed = time.monotonic() - started
            after = await request(server.port, "GET", "/health")
        assert raw == b""  # closed without a response: there was no request to answer
        assert elapsed >= 0.2
        assert after.status == 200

    run(scenario)


def test_a_client_that_stops_mid_request_gets_408() -> None:
    async def scenario() -> None:
        async with serving(read_timeout_seconds=0.2) as server:
            started = time.monotonic()
            raw = await exchange(server.port, b"GET /health HTTP/1.1\r\nHost: test\r\n")
            elapsed = time.monotonic() - started
        assert parse(raw).status == 408
        assert elapsed >= 0.2

    run(scenario)


def test_a_request_cut_off_by_the_client_is_400() -> None:
    async def scenario() -> None:
        async with serving() as server:
            raw = await exchange(server.port, b"GET /health HTTP/1.1\r\nHost: test\r\n", half_close=True)
        assert parse(raw).status == 400

    run(scenario)


def test_a_failing_dependency_is_degraded_but_still_200() -> None:
    async def scenario() -> None:
        probes = {
            CHECK_STREAMS_TABLE: FakeProbe(DependencyUnavailable("table streams: unreachable")),
            CHECK_MEDIA_BUCKET: FakeProbe(),
        }
        async with serving(probes) as server:
            reply = await request(server.port, "GET", "/health")
        assert reply.status == 200
        body = reply.json()
        assert body["status"] == "degraded"
        assert body["draining"] is False
        assert body["checks"][CHECK_STREAMS_TABLE]["ok"] is False
        assert body["checks"][CHECK_STREAMS_TABLE]["error"] == "table streams: unreachable"
        assert body["checks"][CHECK_MEDIA_BUCKET]["ok"] is True

    run(scenario)


def test_an_unexpected_probe_error_is_a_failed_check_without_its_message() -> None:
    async def scenario() -> None:
        probes = {CHECK_MEDIA_BUCKET: FakeProbe(RuntimeError("SECRET internal detail"))}
        async with serving(probes) as server:
            reply = await request(server.port, "GET", "/health")
        assert reply.status == 200
        body = reply.json()
        assert body["status"] == "degraded"
        assert body["checks"][CHECK_MEDIA_BUCKET] == {
            "ok": False,
            "latency_ms": body["checks"][CHECK_MEDIA_BUCKET]["latency_ms"],
            "error": f"{CHECK_MEDIA_BUCKET}: unexpected RuntimeError",
        }
        assert b"SECRET" not in reply.body

    run(scenario)


def test_dependency_checks_are_cached_for_the_configured_window() -> None:
    async def scenario() -> None:
        now = [1000.0]
        probe = FakeProbe()
        async with serving({CHECK_STREAMS_TABLE: probe}, cache_seconds=5.0, clock=lambda: now[0]) as server:
            first = await request(server.port, "GET", "/health")
            now[0] += 4.9
            second = await request(server.port, "GET", "/health")
            assert probe.calls == 1
            assert second.body == first.body
            now[0] += 0.2  # past the window: probed again
            await request(server.port, "GET", "/health")
            assert probe.calls == 2

    run(scenario)


def test_draining_is_503() -> None:
    async def scenario() -> None:
        broadcasts = BroadcastRegistry()
        broadcasts.started("live")
        broadcasts.start_draining()
        async with serving(status=broadcasts) as server:
            reply = await request(server.port, "GET", "/health")
            head = await request(server.port, "HEAD", "/health")
        assert reply.status == 503
        body = reply.json()
        assert body["status"] == "draining"
        assert body["draining"] is True
        assert body["active_broadcasts"] == 1
        assert head.status == 503

    run(scenario)


def test_probes_run_off_the_event_loop() -> None:
    """A probe stuck in a blocking call must not stall the server for other requests."""

    async def scenario() -> None:
        entered, release = threading.Event(), threading.Event()

        def blocking_probe() -> None:
            entered.set()
            release.wait(CLIENT_TIMEOUT)

        async with serving({CHECK_STREAMS_TABLE: blocking_probe}) as server:
            health = asyncio.create_task(request(server.port, "GET", "/health"))
            try:
                assert await asyncio.to_thread(entered.wait, CLIENT_TIMEOUT)
                other = await asyncio.wait_for(request(server.port, "GET", "/elsewhere"), 2.0)
                assert other.status == 404
                assert not health.done()
            finally:
                release.set()
            assert (await health).status == 200

    run(scenario)


class BrokenStatus:
    draining = False

    @property
    def active_broadcasts(self) -> int:
        raise RuntimeError("SECRET internal state")


def test_an_internal_error_is_a_500_without_a_traceback_and_the_server_survives() -> None:
    async def scenario() -> None:
        async with serving(status=BrokenStatus()) as server:
            reply = await request(server.port, "GET", "/health")
            after = await request(server.port, "GET", "/elsewhere")
        assert reply.status == 500
        assert reply.json() == {"title": "Internal Server Error", "status": 500, "detail": "the health check failed"}
        assert b"SECRET" not in reply.body
        assert after.status == 404

    run(scenario)


def test_close_ends_open_connections_and_stops_listening() -> None:
    async def scenario() -> None:
        async with serving(read_timeout_seconds=CLIENT_TIMEOUT * 2) as server:
            port = server.port
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"GET /health HTTP/1.1\r\n")  # and never finishes
                await writer.drain()
                await server.close()
                # Well before the server's own read timeout, the connection ends: with a FIN, or a
                # reset when the request was still unread in the server's socket.
                try:
                    rest = await asyncio.wait_for(reader.read(), CLIENT_TIMEOUT)
                except ConnectionResetError:
                    rest = b""
                assert rest == b""
            finally:
                writer.close()
        assert not server.listening
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)

    run(scenario)


def test_default_probes_check_the_streams_table_and_the_media_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unconfigured, each default probe fails with the setting it lacks (no AWS call is made)."""
    monkeypatch.delenv(table_env_var(Table.STREAMS), raising=False)
    monkeypatch.delenv(ENV_MEDIA_BUCKET, raising=False)
    reset_settings()
    try:
        probes = default_probes()
        assert set(probes) == {CHECK_STREAMS_TABLE, CHECK_MEDIA_BUCKET}
        with pytest.raises(ConfigurationError, match=table_env_var(Table.STREAMS)):
            probes[CHECK_STREAMS_TABLE]()
        with pytest.raises(ConfigurationError, match=ENV_MEDIA_BUCKET):
            probes[CHECK_MEDIA_BUCKET]()
    finally:
        reset_settings()


# HTTP by h11: the edges of the request head, pipelining, clients that go away.


def test_a_complete_head_one_byte_over_the_limit_is_431() -> None:
    async def scenario() -> None:
        start = b"GET /health HTTP/1.1\r\nHost: test\r\n"
        padding = b"X-Pad: " + b"p" * (1025 - len(start) - len(b"X-Pad: \r\n\r\n")) + b"\r\n"
        raw = start + padding + b"\r\n"
        assert len(raw) == 1025
        async with serving(max_header_bytes=1024) as server:
            reply = parse(await exchange(server.port, raw))
        assert reply.status == 431
        assert reply.json()["detail"] == "the request head is too large"

    run(scenario)


def test_a_limit_above_h11s_default_is_the_one_applied() -> None:
    async def scenario() -> None:
        raw = b"GET /health HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
        async with serving(max_header_bytes=32 * 1024) as server:
            reply = parse(await exchange(server.port, raw))
        assert reply.status == 200

    run(scenario)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /health HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 requires Host (RFC 9112, section 3.2)
        (b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: SECRET\r\n\r\n", 501),
    ],
    ids=["no-host", "two-hosts", "conflicting-lengths", "unknown-transfer-coding"],
)
def test_requests_h11_refuses_get_a_problem_without_h11s_message(raw: bytes, status: int) -> None:
    async def scenario() -> None:
        async with serving() as server:
            reply = parse(await exchange(server.port, raw))
            after = await request(server.port, "GET", "/health")
        assert reply.status == status
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["status"] == status
        # h11's own messages quote the input; none of them reaches the client.
        assert b"SECRET" not in reply.body
        assert b"Host" not in reply.body
        assert after.status == 200

    run(scenario)


def test_a_malformed_request_line_is_400_with_a_detail_of_ours() -> None:
    async def scenario() -> None:
        async with serving() as server:
            reply = parse(await exchange(server.port, b"SECRET request line\r\nHost: test\r\n\r\n"))
        assert reply.json() == {"title": "Bad Request", "status": 400, "detail": "malformed request"}

    run(scenario)


def test_pipelined_requests_get_one_response_and_the_connection_closes() -> None:
    async def scenario() -> None:
        one = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"
        async with serving() as server:
            raw = await exchange(server.port, one + b"GET /elsewhere HTTP/1.1\r\nHost: test\r\n\r\n" + one)
            after = await request(server.port, "GET", "/health")
        assert raw.count(b"HTTP/1.1 ") == 1
        reply = parse(raw)  # Content-Length matches: nothing of a second response follows
        assert reply.status == 200
        assert after.status == 200

    run(scenario)


def test_a_request_body_is_not_read_as_a_request() -> None:
    async def scenario() -> None:
        smuggled = b"GET /elsewhere HTTP/1.1\r\nHost: test\r\n\r\n"
        head = b"POST /health HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % len(smuggled)
        async with serving() as server:
            raw = await exchange(server.port, head + smuggled)
        assert raw.count(b"HTTP/1.1 ") == 1
        assert parse(raw).status == 405

    run(scenario)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"HEAD /elsewhere HTTP/1.1\r\nHost: test\r\n\r\n", 404),
        (b"HEAD SECRET HTTP/1.1\r\nHost: test\r\n\r\n", 400),
        (b"HEAD /health HTTP/1.1\r\nHost: test\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        (b"HEAD /health HTTP/2.0\r\n\r\n", 505),
    ],
    ids=["unknown-route", "bad-target", "folded", "http-2"],
)
def test_an_error_answering_head_has_no_body(raw: bytes, status: int, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with serving() as server:
            reply = parse(await exchange(server.port, raw), head=True)
        assert reply.status == status
        assert int(reply.headers["content-length"]) > 0

    with caplog.at_level(logging.ERROR):
        run(scenario)
    assert caplog.records == []


async def reset(port: int, data: bytes) -> None:
    """Connect, send `data`, and drop the connection with a reset (SO_LINGER 0)."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@pytest.mark.parametrize(
    "data",
    [b"", b"GET /health HTTP/1.1\r\nHost: te", b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"],
    ids=["before-the-request", "mid-request", "before-the-response"],
)
def test_a_client_that_disconnects_never_crashes_the_server(data: bytes, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        entered, release = threading.Event(), threading.Event()

        def slow_probe() -> None:
            entered.set()
            release.wait(CLIENT_TIMEOUT)

        async with serving({CHECK_STREAMS_TABLE: slow_probe}, cache_seconds=0) as server:
            for _ in range(3):
                await reset(server.port, data)
            if data.endswith(b"\r\n\r\n"):
                # The responses are written after the clients are gone.
                assert await asyncio.to_thread(entered.wait, CLIENT_TIMEOUT)
            release.set()
            after = await request(server.port, "GET", "/health")
        assert after.status == 200

    with caplog.at_level(logging.WARNING):
        run(scenario)
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


def test_close_lets_a_request_in_progress_be_answered_within_the_grace() -> None:
    async def scenario() -> None:
        entered = threading.Event()

        def slow_probe() -> None:
            entered.set()
            time.sleep(0.2)

        async with serving({CHECK_STREAMS_TABLE: slow_probe}, close_grace_seconds=CLIENT_TIMEOUT) as server:
            answer = asyncio.create_task(request(server.port, "GET", "/health"))
            assert await asyncio.to_thread(entered.wait, CLIENT_TIMEOUT)
            await server.close()
            assert answer.done()
            assert (await answer).status == 200

    run(scenario)


def test_close_ends_a_request_that_outlasts_the_grace() -> None:
    async def scenario() -> None:
        entered, release = threading.Event(), threading.Event()

        def stuck_probe() -> None:
            entered.set()
            release.wait(CLIENT_TIMEOUT)

        async with serving({CHECK_STREAMS_TABLE: stuck_probe}, close_grace_seconds=0.1) as server:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
                await writer.drain()
                assert await asyncio.to_thread(entered.wait, CLIENT_TIMEOUT)
                started = time.monotonic()
                await server.close()
                assert time.monotonic() - started < 1.0
                assert await asyncio.wait_for(reader.read(), CLIENT_TIMEOUT) == b""
                writer.close()
            finally:
                release.set()

    run(scenario)
