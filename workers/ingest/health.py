"""The worker's `/health` endpoint: HTTP/1.1 by h11, served on a `TcpServer`.

It answers one route for the load balancer and ECS. Every connection carries one request and
is closed after the response; every read and write is bounded by the read timeout, the request
head by `max_header_bytes`, and no input can make it raise past the connection handler.
"""

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from email.utils import formatdate
from http import HTTPStatus
from typing import Final, Literal, Protocol
from urllib.parse import urlsplit

import h11
from pydantic import BaseModel, Field

from letslive import __version__
from letslive.constants import Table
from letslive.errors import DependencyUnavailable, LetsLiveError
from letslive.models.health import CheckResult
from letslive.services.health import MEDIA_BUCKET_CHECK, HealthService, Probe, dependency_probes, table_check
from workers.ingest.logs import SERVICE
from workers.ingest.looplag import LoopLag, LoopLagReport
from workers.ingest.tcp import TcpServer

logger = logging.getLogger(__name__)

HEALTH_PATH: Final = "/health"
ALLOWED_METHODS: Final = ("GET", "HEAD")
CHECK_STREAMS_TABLE: Final = table_check(Table.STREAMS)
CHECK_MEDIA_BUCKET: Final = MEDIA_BUCKET_CHECK
# How long requests in progress get to be answered once the server closes.
CLOSE_GRACE_SECONDS: Final = 1.0

# The details of the errors h11 reports, by status (its own messages quote the input).
_PROTOCOL_ERRORS: Final = {
    HTTPStatus.BAD_REQUEST: "malformed request",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "the request head is too large",
    HTTPStatus.NOT_IMPLEMENTED: "unsupported transfer coding",
}
_OBSOLETE_FOLD = re.compile(rb"\n[ \t]")
_READ_CHUNK = 4096
# What a lingering close reads and drops at most before giving up on a talkative client.
_LINGER_MAX_BYTES = 64 * 1024


class WorkerStatus(Protocol):
    """What the health endpoint reports about the worker itself."""

    @property
    def draining(self) -> bool: ...

    @property
    def active_broadcasts(self) -> int: ...


class IngestHealthReport(BaseModel):
    service: str
    version: str
    status: Literal["ok", "degraded", "draining"]
    draining: bool
    active_broadcasts: int = Field(ge=0)
    checks: dict[str, CheckResult]
    # How late the event loop has run since start (absent when the worker does not measure it).
    loop_lag: LoopLagReport | None = None


def default_probes() -> dict[str, Probe]:
    """The worker's dependencies: the streams table (stream keys) and the media bucket (HLS)."""
    return dependency_probes((Table.STREAMS,), media=True)


def _guarded(name: str, probe: Probe) -> Probe:
    """`probe`, with any unexpected exception reported as a failed check instead of a 500."""

    def run() -> None:
        try:
            probe()
        except LetsLiveError:
            raise
        except Exception as exc:
            logger.warning("health probe failed unexpectedly", exc_info=True, extra={"check": name})
            # The exception's text may carry internals; the report names only its type.
            raise DependencyUnavailable(f"{name}: unexpected {type(exc).__name__}") from exc

    return run


class DependencyChecks:
    """Runs the probes off the event loop, concurrently, and reuses the result for `cache_seconds`.

    Probes are blocking boto calls, hence threads; one `HealthService` per probe so that a slow
    dependency adds its own latency once instead of every probe's in sequence.
    """

    def __init__(
        self, probes: Mapping[str, Probe], cache_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._services = [HealthService(SERVICE, {name: _guarded(name, probe)}) for name, probe in probes.items()]
        self._cache_seconds = cache_seconds
        self._clock = clock
        # Requests arriving while a check runs wait for it and share its result.
        self._lock = asyncio.Lock()
        self._cached: tuple[float, dict[str, CheckResult]] | None = None

    async def results(self) -> dict[str, CheckResult]:
        async with self._lock:
            if self._cached is not None and self._clock() - self._cached[0] < self._cache_seconds:
                return dict(self._cached[1])
            reports = await asyncio.gather(*(asyncio.to_thread(service.check) for service in self._services))
            checks = {name: result for report in reports for name, result in report.checks.items()}
            self._cached = (self._clock(), checks)
            return dict(checks)


class _HttpError(Exception):
    """A request that gets an error response; `detail` is ours, never an echo of the input."""

    def __init__(self, status: HTTPStatus, detail: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def _response(
    http: h11.Connection,
    status: HTTPStatus,
    body: bytes,
    content_type: str,
    *,
    head_only: bool = False,
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    fields = [
        ("Date", formatdate(usegmt=True)),
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("Connection", "close"),
        *headers,
    ]
    data = http.send(h11.Response(status_code=status.value, reason=status.phrase, headers=fields)) or b""
    # HEAD gets the headers GET would get, Content-Length included, and no body.
    if not head_only:
        data += http.send(h11.Data(data=body)) or b""
    return data + (http.send(h11.EndOfMessage()) or b"")


def _problem(http: h11.Connection, error: _HttpError, head_only: bool = False) -> bytes:
    """An RFC 9457 problem document (type omitted: `about:blank`, the status says it all)."""
    body = json.dumps({"title": error.status.phrase, "status": error.status.value, "detail": error.detail})
    return _response(
        http, error.status, body.encode(), "application/problem+json", head_only=head_only, headers=error.headers
    )


async def _read_request(
    reader: asyncio.StreamReader, http: h11.Connection, head: bytearray, max_bytes: int
) -> h11.Request | None:
    """The request's head, parsed by h11; None when the client closed without sending one.

    `head` gets every byte read, so the caller can tell an idle client from a slow one. No more
    than `max_bytes` are read: what follows the head (a body, a pipelined request) stays unread.
    """
    started = ended = False
    while True:
        try:
            event = http.next_event()
        except h11.RemoteProtocolError as exc:
            # h11's message quotes the input: the detail is ours.
            status = HTTPStatus(exc.error_status_hint)
            detail = "the request ended before its head did" if ended else _PROTOCOL_ERRORS.get(status, "bad request")
            raise _HttpError(status, detail) from None
        if isinstance(event, h11.Request):
            return event
        if isinstance(event, h11.ConnectionClosed):
            return None
        if event is not h11.NEED_DATA:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed request")
        if len(head) >= max_bytes:
            raise _HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "the request head is too large")
        chunk = await reader.read(min(_READ_CHUNK, max_bytes - len(head)))
        ended = not chunk
        head += chunk
        if not started:
            # Empty lines before the request line are ignored (RFC 9112, section 2.2).
            chunk = chunk.lstrip(b"\r\n")
            started = bool(chunk)
        if chunk or ended:
            http.receive_data(chunk)  # b"": the client closed its side


def _refuse_folding(http: h11.Connection, head: bytearray) -> None:
    """h11 unfolds obsolete line folding; RFC 9112 (section 5.2) lets a server refuse it instead."""
    if _OBSOLETE_FOLD.search(head, 0, len(head) - len(http.trailing_data[0])):
        raise _HttpError(HTTPStatus.BAD_REQUEST, "obsolete line folding is not accepted")


def _path(target: bytes) -> str:
    """The path a request target names (h11 has checked it is visible ASCII)."""
    text = target.decode("ascii")
    if text.startswith("/"):
        return text.partition("?")[0]
    if text.startswith(("http://", "https://")):  # absolute form, which servers must accept
        try:
            return urlsplit(text).path or "/"
        except ValueError:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed request target") from None
    if text == "*":
        return text
    raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed request target")


class HealthServer:
    """`GET`/`HEAD /health` as JSON; 503 while the worker drains, 200 otherwise.

    `probes` are the dependency checks (injectable: tests pass fakes); `status` is the worker's
    own state. `port=0` binds a free port, readable from `port` once started.
    """

    def __init__(
        self,
        probes: Mapping[str, Probe],
        status: WorkerStatus,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cache_seconds: float = 5.0,
        max_header_bytes: int = 8 * 1024,
        read_timeout_seconds: float = 5.0,
        close_grace_seconds: float = CLOSE_GRACE_SECONDS,
        version: str = __version__,
        clock: Callable[[], float] = time.monotonic,
        loop_lag: LoopLag | None = None,
    ) -> None:
        self._checks = DependencyChecks(probes, cache_seconds, clock)
        self._loop_lag = loop_lag
        self._status = status
        self._host = host
        self._requested_port = port
        self._max_header_bytes = max_header_bytes
        self._timeout = read_timeout_seconds
        self._close_grace = close_grace_seconds
        self._version = version
        self._tcp = TcpServer("health", self._serve)

    async def start(self) -> int:
        """Listen (once: a second call changes nothing) and return the bound port."""
        if not self._tcp.listening:
            await self._tcp.start(self._host, self._requested_port)
        return self._tcp.port

    @property
    def listening(self) -> bool:
        return self._tcp.listening

    @property
    def port(self) -> int:
        return self._tcp.port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}{HEALTH_PATH}"

    async def close(self) -> None:
        """Stop listening; requests in progress get `close_grace_seconds` to be answered, then end."""
        await self._tcp.close(self._close_grace)

    async def report(self) -> IngestHealthReport:
        checks = await self._checks.results()
        draining = self._status.draining
        healthy = all(check.ok for check in checks.values())
        status: Literal["ok", "degraded", "draining"] = "draining" if draining else "ok" if healthy else "degraded"
        return IngestHealthReport(
            service=SERVICE,
            version=self._version,
            status=status,
            draining=draining,
            active_broadcasts=self._status.active_broadcasts,
            checks=checks,
            loop_lag=None if self._loop_lag is None else self._loop_lag.report(),
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request per connection; the `TcpServer` closes the connection after it."""
        http = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_header_bytes)
        try:
            response = await self._answer(reader, http)
            if response is not None:
                await self._send(reader, writer, response)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or would not read its response

    async def _answer(self, reader: asyncio.StreamReader, http: h11.Connection) -> bytes | None:
        """The response to send; None when there is no request to answer."""
        head = bytearray()
        try:
            async with asyncio.timeout(self._timeout):
                request = await _read_request(reader, http, head, self._max_header_bytes)
        except TimeoutError:
            if not head:
                return None  # connected and said nothing (e.g. a TCP probe): nothing to answer
            return _problem(http, _HttpError(HTTPStatus.REQUEST_TIMEOUT, "request too slow"))
        except _HttpError as error:
            logger.debug("bad health request", extra={"status": error.status.value, "detail": error.detail})
            return _problem(http, error)
        if request is None:
            return None
        head_only = request.method == b"HEAD"
        try:
            _refuse_folding(http, head)
            return await self._respond(http, request, head_only)
        except _HttpError as error:
            return _problem(http, error, head_only)
        except Exception:
            logger.exception("health request failed")
            return _problem(http, _HttpError(HTTPStatus.INTERNAL_SERVER_ERROR, "the health check failed"), head_only)

    async def _respond(self, http: h11.Connection, request: h11.Request, head_only: bool) -> bytes:
        if not request.http_version.startswith(b"1."):
            raise _HttpError(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "only HTTP/1.x is served")
        if _path(request.target) != HEALTH_PATH:
            raise _HttpError(HTTPStatus.NOT_FOUND, "no such route")
        if request.method.decode("ascii") not in ALLOWED_METHODS:
            raise _HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "use GET or HEAD", (("Allow", ", ".join(ALLOWED_METHODS)),))
        report = await self.report()
        # 503 only while draining: that takes this task out of the load balancer's rotation so
        # no new streamer lands on a task about to stop. A failing dependency stays 200
        # ("degraded"): DynamoDB or S3 trouble hits every task alike, and failing health
        # would make the NLB mark every target unhealthy and ECS replace them all, cutting
        # every live broadcast for a problem that restarting tasks cannot fix.
        status = HTTPStatus.SERVICE_UNAVAILABLE if report.draining else HTTPStatus.OK
        body = report.model_dump_json().encode()
        return _response(http, status, body, "application/json", head_only=head_only)

    async def _send(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes) -> None:
        # OSError: the client went away (a balancer's check closes early); nothing left to tell it.
        with contextlib.suppress(OSError):
            await self._send_and_linger(reader, writer, response)

    async def _send_and_linger(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response)
        async with asyncio.timeout(self._timeout):
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            # Lingering close: closing with unread input makes the kernel send a reset, which
            # can destroy the response before the client reads it (RFC 9112, section 9.6).
            # So drop what the client still sends until it closes its side.
            dropped = 0
            while dropped <= _LINGER_MAX_BYTES and (chunk := await reader.read(_READ_CHUNK)):
                dropped += len(chunk)
