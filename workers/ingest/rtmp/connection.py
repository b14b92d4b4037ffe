"""One RTMP connection, publish only: handshake, NetConnection/NetStream commands, media.

The sequence answered is the one OBS and FFmpeg send (spec section 7.2; replies shaped like
nginx-rtmp's and SRS's): connect, releaseStream, FCPublish, createStream, publish,
@setDataFrame/onMetaData, audio and video, FCUnpublish, deleteStream, then the socket closing.
Anything malformed, or any limit exceeded, ends this connection with a log line; it never
raises out of `run()`.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Final, NoReturn

from workers.ingest.rtmp import messages
from workers.ingest.rtmp.amf0 import AmfValue
from workers.ingest.rtmp.chunks import ChunkReader, ChunkWriter
from workers.ingest.rtmp.errors import HandshakeError, LimitExceeded, ProtocolError
from workers.ingest.rtmp.handshake import accept_handshake, uptime_ms
from workers.ingest.rtmp.limits import RtmpLimits
from workers.ingest.rtmp.messages import (
    CSID_STREAM,
    Command,
    Message,
    MessageType,
    PeerBandwidthLimit,
    UserControlEvent,
)
from workers.ingest.rtmp.publish import EndReason, PublishAuthorizer, PublishSession

logger = logging.getLogger(__name__)

READ_SIZE: Final = 64 * 1024
# Our outgoing chunk size, announced right after connect as nginx-rtmp does (its default 4096).
OUT_CHUNK_SIZE: Final = 4096
# Streams one connection may create; a publisher needs one.
MAX_STREAMS: Final = 8
MAX_STREAM_NAME: Final = 1024
# How long a refused client gets to read its onStatus before the socket closes.
LINGER_SECONDS: Final = 2.0

# Answered like nginx-rtmp/FMS do; fmsVer matters to some encoders that branch on it.
CONNECT_PROPERTIES: Final[dict[str, AmfValue]] = {"fmsVer": "FMS/3,0,1,123", "capabilities": 31.0}


def _info(**fields: AmfValue) -> dict[str, AmfValue]:
    """An info object (level, code, description), as `_result`, `_error` and `onStatus` carry."""
    return fields


class _Idle(Exception):
    """No data from the client (or no reading of ours) for the idle timeout."""


class _Refused(Exception):
    """The publish was refused and the client told; the connection closes without more ado."""


@dataclass(slots=True)
class _Publish:
    session: PublishSession
    stream_id: int
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
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._authorizer = authorizer
        self._limits = limits
        self.client = client
        self._origin = time.monotonic() if origin is None else origin
        self._chunks_in = ChunkReader(
            max_message_size=limits.max_message_bytes, max_chunk_streams=limits.max_chunk_streams
        )
        self._chunks_out = ChunkWriter()
        self._app: str | None = None
        self._streams: set[int] = set()
        self._next_stream_id = 1
        self._publish: _Publish | None = None
        self._published = False
        # Acknowledgements (5.4.3): sent every `_ack_window` bytes received, the window being
        # the one the client announces (nginx-rtmp), ours until it does.
        self._ack_window = limits.ack_window_bytes
        self._received = 0
        self._acked = 0

    @property
    def publishing(self) -> bool:
        return self._publish is not None and not self._publish.ended

    async def run(self) -> None:
        """Serve the connection; never raises (cancellation included: the server closing)."""
        reason = EndReason.CLOSED
        try:
            try:
                async with asyncio.timeout(self._limits.handshake_timeout_seconds):
                    await accept_handshake(self._reader, self._writer, uptime_ms(self._origin))
            except TimeoutError:
                logger.info("rtmp handshake timed out", extra={"client": self.client})
                return
            await self._serve()
        except _Refused:
            reason = EndReason.ERROR
        except _Idle:
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
        except (ConnectionError, asyncio.IncompleteReadError):
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
            await self._end_publish(reason)
            self._close()

    async def _serve(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._limits.idle_timeout_seconds):
                    data = await self._reader.read(READ_SIZE)
            except TimeoutError:
                raise _Idle from None
            if not data:
                if self._chunks_in.pending:
                    logger.info("rtmp client closed mid-message", extra={"client": self.client})
                return
            self._received += len(data)
            for message in self._chunks_in.feed(data):
                await self._handle(message)
            if self._received - self._acked >= self._ack_window:
                self._acked = self._received
                self._send(messages.acknowledgement(self._received))
            await self._flush()

    def _send(self, message: Message) -> None:
        self._writer.write(self._chunks_out.write(message))

    async def _flush(self) -> None:
        # A client that does not read our (few, small) replies is as good as idle.
        try:
            async with asyncio.timeout(self._limits.idle_timeout_seconds):
                await self._writer.drain()
        except TimeoutError:
            raise _Idle from None

    def _close(self) -> None:
        transport = self._writer.transport
        if transport.get_write_buffer_size():
            transport.abort()  # a graceful close would wait on a client that does not read
        else:
            self._writer.close()

    async def _refuse(self, status: Message) -> NoReturn:
        """Send `status`, let the client read it, close: raises `_Refused`."""
        self._send(status)
        try:
            await self._flush()
            if self._writer.can_write_eof():
                self._writer.write_eof()
            # Lingering close: closing with unread input makes the kernel reset the connection,
            # which can destroy the status before the client reads it.
            async with asyncio.timeout(LINGER_SECONDS):
                while await self._reader.read(READ_SIZE):
                    pass
        except (_Idle, TimeoutError, ConnectionError):
            pass
        raise _Refused

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

    # Messages

    async def _handle(self, message: Message) -> None:
        kind = message.type_id
        if kind in (MessageType.AUDIO, MessageType.VIDEO):
            await self._media(message)
        elif kind in (MessageType.COMMAND_AMF0, MessageType.COMMAND_AMF3):
            await self._command(messages.parse_command(message), message)
        elif kind in (MessageType.DATA_AMF0, MessageType.DATA_AMF3):
            await self._data(message)
        elif kind == MessageType.WINDOW_ACK_SIZE:
            window = messages.read_u32(message.payload, "Window Acknowledgement Size")
            if not 0 < window <= 0x7FFFFFFF:
                raise ProtocolError(f"invalid acknowledgement window {window}")
            self._ack_window = window
        elif kind == MessageType.USER_CONTROL:
            event, data = messages.parse_user_control(message.payload)
            if event == UserControlEvent.PING_REQUEST:
                self._send(messages.user_control(UserControlEvent.PING_RESPONSE, data[:4]))
        elif kind == MessageType.AGGREGATE:
            for part in messages.split_aggregate(message):
                if part.type_id in (MessageType.AUDIO, MessageType.VIDEO):
                    await self._media(part)
                elif part.type_id in (MessageType.DATA_AMF0, MessageType.DATA_AMF3):
                    await self._data(part)
        # Set Chunk Size and Abort were applied by the chunk reader; acknowledgements, Set Peer
        # Bandwidth (we send only replies) and shared objects need nothing; unknown types are
        # ignored (5.4: "the receiver ... should ignore" what it does not understand).

    def _publishing_on(self, message: Message) -> _Publish | None:
        publish = self._publish
        if publish is None or publish.ended or message.stream_id != publish.stream_id:
            return None  # media before publish, after it, or on another stream: dropped
        return publish

    async def _media(self, message: Message) -> None:
        publish = self._publishing_on(message)
        if publish is None:
            return
        if message.type_id == MessageType.AUDIO:
            await publish.session.on_audio(message.timestamp, message.payload)
        else:
            await publish.session.on_video(message.timestamp, message.payload)

    async def _data(self, message: Message) -> None:
        publish = self._publishing_on(message)
        if publish is None:
            return
        values = messages.parse_data(message)
        # `@setDataFrame` is how publishers ask the server to keep the following data (7.1.2);
        # FFmpeg and OBS send `@setDataFrame, onMetaData, {...}`, older tools `onMetaData, {...}`.
        if values and values[0] == "@setDataFrame":
            values = values[1:]
        if len(values) >= 2 and values[0] == "onMetaData" and isinstance(values[1], dict):
            await publish.session.on_metadata(dict(values[1]))

    # Commands

    async def _command(self, command: Command, message: Message) -> None:
        if command.name == "connect":
            await self._connect(command)
            return
        if self._app is None:
            raise ProtocolError(f"command {command.name[:64]!r} before connect")
        if command.name in ("releaseStream", "FCPublish", "FCUnpublish"):
            await self._fc_command(command)
        elif command.name == "createStream":
            self._create_stream(command)
        elif command.name == "publish":
            await self._publish_command(command, message)
        elif command.name in ("deleteStream", "closeStream"):
            await self._delete_stream(command, message)
        elif command.name == "play":
            status = self._status(message.stream_id, "error", "NetStream.Play.Failed", "This server takes publishers.")
            await self._refuse(status)
        elif command.transaction_id:
            # Unknown commands get `_error` when an answer is expected (transaction id non-zero).
            logger.debug("rtmp unknown command", extra={"client": self.client, "command": command.name[:64]})
            info = _info(level="error", code="NetConnection.Call.Failed", description="Unknown command.")
            self._send(messages.command("_error", command.transaction_id, None, info))

    async def _connect(self, command: Command) -> None:
        properties = command.command_object
        app = properties.get("app") if isinstance(properties, dict) else None
        if self._app is not None or not isinstance(app, str):
            info = _info(level="error", code="NetConnection.Connect.Rejected", description="Invalid connect.")
            await self._refuse(messages.command("_error", command.transaction_id, None, info))
        self._app = app.strip("/")
        logger.info("rtmp connect", extra={"client": self.client, "app": self._app})
        window = self._limits.ack_window_bytes
        self._send(messages.window_ack_size(window))
        self._send(messages.set_peer_bandwidth(window, PeerBandwidthLimit.DYNAMIC))
        self._send(messages.set_chunk_size(OUT_CHUNK_SIZE))
        self._chunks_out.set_chunk_size(OUT_CHUNK_SIZE)
        # objectEncoding 0: we speak AMF0, which makes clients send AMF0 commands.
        info = _info(
            level="status",
            code="NetConnection.Connect.Success",
            description="Connection succeeded.",
            objectEncoding=0.0,
        )
        self._send(messages.command("_result", command.transaction_id, dict(CONNECT_PROPERTIES), info))

    async def _fc_command(self, command: Command) -> None:
        # The FMLE-era commands OBS sends around publish: answered like SRS and nginx-rtmp so
        # that encoders waiting for them proceed. The real answer to publishing is `publish`'s.
        name = command.arguments[0] if command.arguments and isinstance(command.arguments[0], str) else ""
        if command.name == "FCPublish":
            info = _info(code="NetStream.Publish.Start", description=name)
            self._send(messages.command("onFCPublish", 0, None, info))
        elif command.name == "FCUnpublish":
            info = _info(code="NetStream.Unpublish.Success", description=name)
            self._send(messages.command("onFCUnpublish", 0, None, info))
            await self._end_publish(EndReason.UNPUBLISHED)
        if command.transaction_id:
            self._send(messages.command("_result", command.transaction_id, None, None))

    def _create_stream(self, command: Command) -> None:
        if len(self._streams) >= MAX_STREAMS:
            info = _info(level="error", code="NetConnection.Call.Failed", description="Too many streams.")
            self._send(messages.command("_error", command.transaction_id, None, info))
            return
        stream_id = self._next_stream_id
        self._next_stream_id += 1
        self._streams.add(stream_id)
        self._send(messages.command("_result", command.transaction_id, None, float(stream_id)))

    def _status(self, stream_id: int, level: str, code: str, description: str) -> Message:
        info = _info(level=level, code=code, description=description)
        return messages.command("onStatus", 0, None, info, stream_id=stream_id, chunk_stream_id=CSID_STREAM)

    async def _publish_command(self, command: Command, message: Message) -> None:
        stream_id = message.stream_id
        name = command.arguments[0] if command.arguments else None

        def bad_name(description: str) -> Message:
            return self._status(stream_id, "error", "NetStream.Publish.BadName", description)

        if self._published:
            await self._refuse(bad_name("One publish per connection."))
        if stream_id not in self._streams:
            await self._refuse(bad_name("Publish on a stream that was not created."))
        if not isinstance(name, str) or not name or len(name) > MAX_STREAM_NAME:
            await self._refuse(bad_name("Invalid stream name."))
        assert self._app is not None
        self._published = True
        # The stream key is a secret: it is never logged.
        where = {"client": self.client, "app": self._app}
        try:
            async with asyncio.timeout(self._limits.authorize_timeout_seconds):
                session = await self._authorizer.authorize(self._app, name, self.client)
        except Exception:
            logger.exception("rtmp publish authorization failed", extra=where)
            await self._refuse(self._status(stream_id, "error", "NetStream.Publish.Failed", "Try again later."))
        if session is None:
            logger.info("rtmp publish refused", extra=where)
            await self._refuse(bad_name("Stream key refused."))
        self._publish = _Publish(session, stream_id)
        logger.info("rtmp publish started", extra=where)
        self._send(self._status(stream_id, "status", "NetStream.Publish.Start", "Publishing."))

    async def _delete_stream(self, command: Command, message: Message) -> None:
        # deleteStream names the stream in its argument, closeStream is sent on the stream.
        target: AmfValue = message.stream_id
        if command.name == "deleteStream" and command.arguments:
            target = command.arguments[0]
        publish = self._publish
        if publish is not None and isinstance(target, int | float) and int(target) == publish.stream_id:
            await self._end_publish(EndReason.UNPUBLISHED)
