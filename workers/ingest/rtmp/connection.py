"""Drives one `RtmpSession` over an asyncio connection: the I/O half of an RTMP connection.

The protocol is the session's (`session.py`); what is left here needs a socket, a clock or the
rest of the worker: the handshake, publish and idle timeouts, the authorizer, the `PublishSession`
callbacks, writing with back-pressure, and closing -- with a lingering close after a refusal, so
that the client reads the status that says why. `run()` never raises: anything malformed, any
limit exceeded, a timeout or a failing callback ends this connection with a log line.
"""

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import NoReturn

from workers.ingest.rtmp.errors import HandshakeError, LimitExceeded, ProtocolError
from workers.ingest.rtmp.handshake import RANDOM_SIZE
from workers.ingest.rtmp.limits import MemoryBudget, RtmpLimits
from workers.ingest.rtmp.publish import EndReason, PublishAuthorizer, PublishRejected, PublishSession
from workers.ingest.rtmp.session import (
    Audio,
    Connected,
    ConnectionClosed,
    Event,
    Metadata,
    PublishRequested,
    Refused,
    RtmpSession,
    Unpublished,
    Video,
)

logger = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
# How long a refused client gets to read its onStatus before the socket closes.
LINGER_SECONDS = 2.0


class _TimedOut(Exception):
    """The handshake or the way to `publish` took too long, or nothing came from the client (or
    no reading of ours) for the idle timeout."""


class _Closed(Exception):
    """The client was told why the connection ends and had its time to read it."""

    def __init__(self, reason: EndReason) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Publish:
    session: PublishSession
    ended: bool = False


class RtmpConnection:
    """Serves one client socket until it closes, misbehaves, times out or the server closes."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        authorizer: PublishAuthorizer,
        limits: RtmpLimits,
        client: str,
        origin: float | None = None,
        memory: MemoryBudget | None = None,
    ) -> None:
        """`memory` is the server's budget for buffered input (the session's own if None)."""
        self._reader = reader
        self._writer = writer
        self._authorizer = authorizer
        self._limits = limits
        self.client = client
        origin = time.monotonic() if origin is None else origin
        uptime_ms = int((time.monotonic() - origin) * 1000)  # S1's time field: the server's uptime
        self._session = RtmpSession(limits, uptime_ms=uptime_ms, random=os.urandom(RANDOM_SIZE), memory=memory)
        started = asyncio.get_running_loop().time()
        self._handshake_deadline = started + limits.handshake_timeout_seconds
        self._publish_deadline = started + limits.publish_timeout_seconds
        self._app: str | None = None
        self._publish: _Publish | None = None

    @property
    def publishing(self) -> bool:
        return self._publish is not None and not self._publish.ended

    @property
    def pre_publish(self) -> bool:
        """No publish accepted yet: the connection counts as pending (`max_pending_connections`)."""
        return self._session.pre_publish

    async def run(self) -> None:
        """Serve the connection; never raises (cancellation included: the server closing)."""
        reason = EndReason.CLOSED
        try:
            await self._serve()
        except _Closed as closed:
            reason = closed.reason
        except _TimedOut:
            if not self._session.handshake_complete:
                logger.info("rtmp handshake timed out", extra={"client": self.client})
            elif self._session.pre_publish and asyncio.get_running_loop().time() >= self._publish_deadline:
                seconds = self._limits.publish_timeout_seconds
                logger.info(
                    "rtmp client did not publish in time, closing", extra={"client": self.client, "seconds": seconds}
                )
            else:
                reason = EndReason.TIMEOUT
                logger.info("rtmp connection idle, closing", extra={"client": self.client})
        except HandshakeError as exc:
            logger.info("rtmp handshake refused", extra={"client": self.client, "error": str(exc)})
        except LimitExceeded as exc:
            reason = EndReason.ERROR
            logger.warning("rtmp limit exceeded, closing", extra={"client": self.client, "error": str(exc)})
        except ProtocolError as exc:
            reason = EndReason.ERROR
            logger.warning("rtmp protocol error, closing", extra={"client": self.client, "error": str(exc)})
        except ConnectionError:
            reason = EndReason.CLOSED
        except asyncio.CancelledError:
            # `RtmpServer.close()`. Not re-raised: the stream machinery of Python 3.11 logs a
            # cancelled connection handler as an error, and the handler ends here anyway.
            reason = EndReason.SERVER_CLOSED
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # so that timeouts in `on_end` still work as timeouts
        except Exception:
            reason = EndReason.ERROR
            logger.exception("rtmp connection failed", extra={"client": self.client})
        finally:
            self._session.close()  # returns what it held to the server's memory budget
            await self._end_publish(reason)
            self._close()

    async def _serve(self) -> None:
        session = self._session
        while True:
            session.receive_data(await self._read())
            while (event := session.next_event()) is not None:
                # Replies go out before any callback is awaited: a slow session delays no answer.
                self._writer.write(session.data_to_send())
                if isinstance(event, ConnectionClosed):
                    if event.truncated:
                        logger.info("rtmp client closed mid-message", extra={"client": self.client})
                    return
                await self._handle(event)
            self._writer.write(session.data_to_send())
            await self._drain()

    def _deadline(self) -> float:
        """The deadline of one read or drain: the handshake's until it is complete, then the idle
        timeout, and until a publish is accepted no later than the publish deadline."""
        if not self._session.handshake_complete:
            return self._handshake_deadline
        idle = asyncio.get_running_loop().time() + self._limits.idle_timeout_seconds
        return min(idle, self._publish_deadline) if self._session.pre_publish else idle

    async def _read(self) -> bytes:
        try:
            async with asyncio.timeout_at(self._deadline()):
                return await self._reader.read(READ_SIZE)
        except TimeoutError:
            raise _TimedOut from None

    async def _drain(self) -> None:
        # A client that does not read our (few, small) replies is as good as idle.
        try:
            async with asyncio.timeout_at(self._deadline()):
                await self._writer.drain()
        except TimeoutError:
            raise _TimedOut from None

    async def _handle(self, event: Event) -> None:
        if isinstance(event, Audio | Video | Metadata):
            await self._deliver(event)
        elif isinstance(event, Connected):
            self._app = event.app
            logger.info("rtmp connect", extra={"client": self.client, "app": event.app})
        elif isinstance(event, PublishRequested):
            await self._authorize(event)
        elif isinstance(event, Unpublished):
            await self._end_publish(event.reason)
        elif isinstance(event, Refused):
            logger.info("rtmp client refused", extra={"client": self.client, "code": event.code})
            await self._close_after_status(EndReason.ERROR)

    async def _authorize(self, request: PublishRequested) -> None:
        # The stream key is a secret: it is never logged.
        where = {"client": self.client, "app": request.app}
        try:
            async with asyncio.timeout(self._limits.authorize_timeout_seconds):
                session = await self._authorizer.authorize(request.app, request.stream_name, self.client)
        except Exception:
            logger.exception("rtmp publish authorization failed", extra=where)
            self._session.refuse_publish("Try again later.", "NetStream.Publish.Failed")
            await self._close_after_status(EndReason.ERROR)
        if session is None:
            logger.info("rtmp publish refused", extra=where)
            self._session.refuse_publish("Stream key refused.")
            await self._close_after_status(EndReason.ERROR)
        self._publish = _Publish(session)
        self._session.accept_publish()
        logger.info("rtmp publish started", extra=where)

    async def _deliver(self, event: Audio | Video | Metadata) -> None:
        publish = self._publish
        assert publish is not None, "the session gives media of an accepted publish only"
        try:
            if isinstance(event, Audio):
                await publish.session.on_audio(event.timestamp_ms, event.payload)
            elif isinstance(event, Video):
                await publish.session.on_video(event.timestamp_ms, event.payload)
            else:
                await publish.session.on_metadata(event.values)
        except PublishRejected as rejected:
            logger.info(
                "rtmp publish rejected",
                extra={"client": self.client, "app": self._app, "code": rejected.code, "why": rejected.description},
            )
            self._session.reject_publish(rejected.description, rejected.code)
            await self._close_after_status(EndReason.REJECTED)

    async def _close_after_status(self, reason: EndReason) -> NoReturn:
        """End the publish, if any; deliver the status the session queued, let the client read
        it, and raise `_Closed`.

        Lingering close: closing with unread input makes the kernel reset the connection, which
        can destroy the status before the client reads it.
        """
        await self._end_publish(reason)
        self._writer.write(self._session.data_to_send())
        try:
            await self._drain()
            if self._writer.can_write_eof():
                self._writer.write_eof()
            async with asyncio.timeout(LINGER_SECONDS):
                while await self._reader.read(READ_SIZE):
                    pass
        except (_TimedOut, TimeoutError, ConnectionError):
            pass
        raise _Closed(reason)

    async def _end_publish(self, reason: EndReason) -> None:
        publish = self._publish
        if publish is None or publish.ended:
            return
        publish.ended = True
        try:
            await publish.session.on_end(reason)
        except Exception:
            logger.exception("rtmp session on_end failed", extra={"client": self.client})
        logger.info("rtmp publish ended", extra={"client": self.client, "app": self._app, "reason": str(reason)})

    def _close(self) -> None:
        transport = self._writer.transport
        if transport.get_write_buffer_size():
            transport.abort()  # a graceful close would wait on a client that does not read
        else:
            self._writer.close()
