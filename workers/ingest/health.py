"""The worker's `/health` endpoint: a minimal HTTP/1.1 server on `asyncio.start_server`.

It answers one route for the load balancer and ECS. Every connection carries one request and
is closed after the response; every read and write is bounded by the read timeout, the request
head by `max_header_bytes`, and no input can make it raise past the connection handler.
"""

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Final, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from letslive import __version__
from letslive.constants import Table
from letslive.errors import DependencyUnavailable, LetsLiveError
from letslive.models.health import CheckResult
from letslive.services.health import HealthService, Probe
from workers.ingest.logs import SERVICE
from workers.ingest.looplag import LoopLag, LoopLagReport

logger = logging.getLogger(__name__)

HEALTH_PATH: Final = "/health"
ALLOWED_METHODS: Final = ("GET", "HEAD")
CHECK_STREAMS_TABLE: Final = f"table:{Table.STREAMS.value}"
CHECK_MEDIA_BUCKET: Final = "bucket:media"

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HTTP_VERSION = re.compile(rb"HTTP/(\d)\.\d")
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
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
    from letslive.data.tables import ping_table
    from letslive.storage import media_storage

    return {
        CHECK_STREAMS_TABLE: lambda: ping_table(Table.STREAMS),
        CHECK_MEDIA_BUCKET: lambda: media_storage().ping(),
    }


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


@dataclass(frozen=True)
class _Request:
    method: str
    path: str


class _HttpError(Exception):
    """A request that gets an error response; `detail` is ours, never an echo of the input."""

    def __init__(self, status: HTTPStatus, detail: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


class _NoRequest(Exception):
    """The client closed the connection without sending anything."""


def _response(
    status: HTTPStatus,
    body: bytes,
    content_type: str,
    *,
    head_only: bool = False,
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        f"Date: {formatdate(usegmt=True)}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers),
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    # HEAD gets the headers GET would get, Content-Length included, and no body.
    return head if head_only else head + body


def _problem(error: _HttpError, head_only: bool = False) -> bytes:
    """An RFC 9457 problem document (type omitted: `about:blank`, the status says it all)."""
    body = json.dumps({"title": error.status.phrase, "status": error.status.value, "detail": error.detail})
    return _response(
        error.status, body.encode(), "application/problem+json", head_only=head_only, headers=error.headers
    )


async def _read_head(reader: asyncio.StreamReader, buffer: bytearray, max_bytes: int) -> list[bytes]:
    """The request line and header lines, without line endings; raises `_HttpError`/`_NoRequest`.

    `buffer` belongs to the caller so that it can tell an idle client from a slow one on timeout.
    """
    lines: list[bytes] = []
    position = 0
    while True:
        newline = buffer.find(b"\n", position)
        if newline < 0:
            if len(buffer) > max_bytes:
                raise _HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "the request head is too large")
            chunk = await reader.read(_READ_CHUNK)
            if not chunk:
                if not buffer.strip():
                    raise _NoRequest
                raise _HttpError(HTTPStatus.BAD_REQUEST, "the request ended before its head did")
            buffer += chunk
            continue
        line = bytes(buffer[position:newline]).removesuffix(b"\r")
        position = newline + 1
        if position > max_bytes:
            raise _HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "the request head is too large")
        if line:
            lines.append(line)
        elif lines:
            return lines
        # Empty lines before the request line are ignored (RFC 9112, section 2.2).


def _parse(lines: list[bytes]) -> _Request:
    request_line, *fields = lines
    parts = request_line.split(b" ")
    if len(parts) != 3:
        raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed request line")
    method, target, version = parts
    if not _TOKEN.fullmatch(method):
        raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed method")
    matched = _HTTP_VERSION.fullmatch(version)
    if not matched:
        raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed HTTP version")
    if matched[1] != b"1":
        raise _HttpError(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "only HTTP/1.x is served")
    for field in fields:
        if field[:1] in (b" ", b"\t"):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "obsolete line folding is not accepted")
        name, colon, value = field.partition(b":")
        if not colon or not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed header field")
    # Host is not required: the load balancer is the only client that matters, and it sends one.
    return _Request(method.decode("ascii"), _path(target))


def _path(target: bytes) -> str:
    try:
        text = target.decode("ascii")
    except UnicodeDecodeError:
        raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed request target") from None
    if not text.isprintable():
        raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed request target")
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
        self._version = version
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, self._host, self._requested_port)

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the health server is not listening")
        # With a host name that resolves to several addresses, the first socket's port is reported.
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}{HEALTH_PATH}"

    async def close(self) -> None:
        """Stop listening and end the connections in progress."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

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

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            writer.close()  # accepted just before `close()`: do not hold the shutdown up
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or would not read its response
        except asyncio.CancelledError:
            # `close()` ends the connection. Returning instead of re-raising: the stream
            # machinery of Python 3.11 logs a cancelled handler as an error.
            pass
        except Exception:
            logger.exception("health connection failed")
        finally:
            self._connections.discard(task)
            if writer.transport.get_write_buffer_size():
                # A graceful close would wait for data a stalled client may never read.
                writer.transport.abort()
            else:
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = bytearray()
        try:
            async with asyncio.timeout(self._timeout):
                lines = await _read_head(reader, buffer, self._max_header_bytes)
            request = _parse(lines)
        except _NoRequest:
            return
        except TimeoutError:
            if not buffer:
                return  # connected and said nothing (e.g. a TCP probe): nothing to answer
            await self._send(reader, writer, _problem(_HttpError(HTTPStatus.REQUEST_TIMEOUT, "request too slow")))
            return
        except _HttpError as error:
            logger.debug("bad health request", extra={"status": error.status.value, "detail": error.detail})
            await self._send(reader, writer, _problem(error))
            return
        try:
            response = await self._respond(request)
        except Exception:
            logger.exception("health request failed")
            failure = _HttpError(HTTPStatus.INTERNAL_SERVER_ERROR, "the health check failed")
            response = _problem(failure, head_only=request.method == "HEAD")
        await self._send(reader, writer, response)

    async def _respond(self, request: _Request) -> bytes:
        head_only = request.method == "HEAD"
        if request.path != HEALTH_PATH:
            return _problem(_HttpError(HTTPStatus.NOT_FOUND, "no such route"), head_only)
        if request.method not in ALLOWED_METHODS:
            allow = (("Allow", ", ".join(ALLOWED_METHODS)),)
            return _problem(_HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "use GET or HEAD", allow))
        report = await self.report()
        # 503 only while draining: that takes this task out of the load balancer's rotation so
        # no new streamer lands on a task about to stop. A failing dependency stays 200
        # ("degraded"): DynamoDB or S3 trouble hits every task alike, and failing health
        # would make the NLB mark every target unhealthy and ECS replace them all, cutting
        # every live broadcast for a problem that restarting tasks cannot fix.
        status = HTTPStatus.SERVICE_UNAVAILABLE if report.draining else HTTPStatus.OK
        body = report.model_dump_json().encode()
        return _response(status, body, "application/json", head_only=head_only)

    async def _send(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes) -> None:
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
