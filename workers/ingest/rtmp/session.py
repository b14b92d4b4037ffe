"""One RTMP server session, publish only, as a pure state machine: bytes in, events and bytes out.

Why sans-IO (as h11 does HTTP): everything RTMP decides -- the handshake, the chunk stream, the
connect → createStream → publish sequence, the replies, acknowledgements -- follows from the
bytes alone. Free of sockets, tasks and clocks, every path is tested byte by byte and against
recordings of real clients, and the asyncio driver (`connection.py`) keeps only what needs I/O:
timeouts, the authorizer, the publish session's callbacks, writing and closing.

    session = RtmpSession(limits, uptime_ms=..., random=os.urandom(RANDOM_SIZE))
    session.receive_data(data)  # b"" when the client closed its side
    while (event := session.next_event()) is not None:
        ...  # after PublishRequested: accept_publish() or refuse_publish(...)
    send(session.data_to_send())

The sequence answered is the one OBS, FFmpeg and GStreamer send (spec section 7.2; replies shaped
like nginx-rtmp's and SRS's): connect, releaseStream, FCPublish, createStream, publish,
@setDataFrame/onMetaData, audio and video, FCUnpublish, deleteStream or closeStream, then the
end of the stream. Malformed input or a limit exceeded raises (`ProtocolError`, `LimitExceeded`,
`HandshakeError`) and closes the session. A refusal the client must read (`play`, an invalid
publish, a second connect) is queued as a reply, reported as `Refused`, and closes the session
too; the driver then delivers the reply before closing the socket.

Until a publish is accepted the client is anyone, so it gets small budgets (`RtmpLimits`'s
`pre_publish_*`): messages of a few KiB, a small total of chunk bytes, messages and AMF0 values,
and no chunk size below the default. Input is parsed one message at a time, so the media limits
take over exactly at the byte after `publish`, however the bytes were split into reads. The bytes
a session holds (input not parsed yet, partly received messages) are charged to a `MemoryBudget`
that the server's sessions share. The publish deadline is a clock, so it is the driver's.

The stream name of `publish` is the channel's stream key, a secret: it appears in no repr.
"""

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from workers.ingest.rtmp import messages
from workers.ingest.rtmp.amf0 import AmfValue, ValueBudget
from workers.ingest.rtmp.chunks import DEFAULT_CHUNK_SIZE, ChunkReader, ChunkWriter
from workers.ingest.rtmp.errors import LimitExceeded, ProtocolError
from workers.ingest.rtmp.handshake import RANDOM_SIZE, ServerHandshake
from workers.ingest.rtmp.limits import MemoryBudget, RtmpLimits
from workers.ingest.rtmp.messages import (
    CSID_STREAM,
    Command,
    Message,
    MessageType,
    PeerBandwidthLimit,
    UserControlEvent,
)
from workers.ingest.rtmp.publish import PUBLISH_REJECTED, EndReason

# Our outgoing chunk size, announced right after connect as nginx-rtmp does (its default 4096).
OUT_CHUNK_SIZE: Final = 4096
# Streams one connection may create; a publisher needs one.
MAX_STREAMS: Final = 8
MAX_STREAM_NAME: Final = 1024

# Answered like nginx-rtmp/FMS do; fmsVer matters to some encoders that branch on it.
CONNECT_PROPERTIES: Final[dict[str, AmfValue]] = {"fmsVer": "FMS/3,0,1,123", "capabilities": 31.0}

PUBLISH_BAD_NAME: Final = "NetStream.Publish.BadName"


# Events


@dataclass(frozen=True, slots=True)
class Connected:
    """`connect` was answered; `app` is the application ("live" for rtmp://host/live)."""

    app: str


@dataclass(frozen=True, slots=True)
class PublishRequested:
    """A valid `publish`: the session waits for `accept_publish()` or `refuse_publish()`."""

    app: str
    stream_name: str = field(repr=False)  # the stream key: never in a log line
    stream_id: int


@dataclass(frozen=True, slots=True)
class Metadata:
    """`onMetaData` (bare or behind `@setDataFrame`) on the publish stream."""

    values: dict[str, AmfValue]


@dataclass(frozen=True, slots=True)
class Audio:
    """An audio message of the publish; `payload` is an FLV AUDIODATA body."""

    timestamp_ms: int
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Video:
    """A video message of the publish; `payload` is an FLV VIDEODATA body."""

    timestamp_ms: int
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Unpublished:
    """The accepted publish is over: `UNPUBLISHED` (FCUnpublish, deleteStream, closeStream) or
    `CLOSED` (the client's end of stream)."""

    reason: EndReason


@dataclass(frozen=True, slots=True)
class Refused:
    """The session refused the client: the reply (`_error` or `onStatus`) is queued and the
    session is closed; the connection is to close once the client has read it."""

    code: str
    description: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The client closed its side; `truncated` if it stopped in the middle of a chunk or message."""

    truncated: bool


Event = Connected | PublishRequested | Metadata | Audio | Video | Unpublished | Refused | ConnectionClosed


class _State(Enum):
    OPEN = "open"  # handshaking, or taking commands
    DECIDING = "deciding"  # PublishRequested given out, neither accepted nor refused yet
    CLOSED = "closed"  # refused, rejected, failed or at the end of the stream: input is ignored


def _info(**fields: AmfValue) -> dict[str, AmfValue]:
    """An info object (level, code, description), as `_result`, `_error` and `onStatus` carry."""
    return fields


def _status(stream_id: int, level: str, code: str, description: str) -> Message:
    info = _info(level=level, code=code, description=description)
    return messages.command("onStatus", 0, None, info, stream_id=stream_id, chunk_stream_id=CSID_STREAM)


class RtmpSession:
    """The server side of one RTMP connection that may publish one stream.

    `receive_data` takes the client's bytes (b"" for the end of its stream); `next_event`
    returns what they mean, one event at a time, None when more bytes are needed or the session
    is closed; `data_to_send` returns the bytes queued for the client. Input is parsed lazily,
    so after `PublishRequested` nothing further is read until the publish is decided, and after
    a refusal or rejection nothing further is read at all.
    """

    def __init__(
        self,
        limits: RtmpLimits | None = None,
        *,
        uptime_ms: int = 0,
        random: bytes | None = None,
        memory: MemoryBudget | None = None,
    ) -> None:
        """`uptime_ms` and `random` make S1 (the server's time and RANDOM_SIZE random bytes);
        `memory` is the server's budget (a session of its own gets one of `memory_budget_bytes`)."""
        self._limits = RtmpLimits() if limits is None else limits
        self._handshake = ServerHandshake(uptime_ms, bytes(RANDOM_SIZE) if random is None else random)
        self._chunks_in = ChunkReader(
            max_message_size=self._limits.pre_publish_max_message_bytes,
            max_chunk_streams=self._limits.max_chunk_streams,
        )
        self._chunks_out = ChunkWriter()
        self._state = _State.OPEN
        self._input = bytearray()
        self._end_of_input = False
        self._events: deque[Event] = deque()
        self._memory = MemoryBudget(self._limits.memory_budget_bytes) if memory is None else memory
        self._charged = 0  # what this session holds in `_memory`
        # Pre-publish budgets; messages are counted as they complete.
        self._pre_publish = True
        self._pre_publish_messages = 0
        self._pre_publish_values = ValueBudget(self._limits.pre_publish_max_amf_values)
        self._output = bytearray()
        self._app: str | None = None
        self._streams: set[int] = set()
        self._next_stream_id = 1
        self._requested: PublishRequested | None = None  # the one publish of this connection
        self._publishing = False
        # Acknowledgements (5.4.3): sent every `_ack_window` bytes received after the handshake,
        # the window being the one the client announces (nginx-rtmp), ours until it does.
        self._ack_window = self._limits.ack_window_bytes
        self._received = 0
        self._acked = 0

    # State

    @property
    def handshake_complete(self) -> bool:
        return self._handshake.complete

    @property
    def publishing(self) -> bool:
        """A publish was accepted and has not ended."""
        return self._publishing

    @property
    def pre_publish(self) -> bool:
        """No publish was accepted yet: the pre-publish budgets (and the driver's deadline) apply."""
        return self._pre_publish

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    @property
    def held(self) -> int:
        """Bytes of client input this session holds (charged to its `MemoryBudget`)."""
        return self._charged

    # Input and output

    def receive_data(self, data: bytes) -> None:
        """Queue the client's bytes; b"" means it closed its side. Ignored once the session is closed."""
        if self._state is _State.CLOSED:
            return
        if self._end_of_input:
            raise RuntimeError("data received after the end of the stream")
        if data:
            self._input += data
        else:
            self._end_of_input = True

    def data_to_send(self) -> bytes:
        """The bytes queued for the client since the last call."""
        data = bytes(self._output)
        self._output.clear()
        return data

    def next_event(self) -> Event | None:
        """The next event, or None when more input is needed or the session is closed.

        Raises `ProtocolError` (or its `HandshakeError`, `LimitExceeded`, `AmfError`) on input
        that is refused; the session is closed after it.
        """
        if self._state is _State.DECIDING:
            raise RuntimeError("accept_publish() or refuse_publish() first")
        try:
            while not self._events:
                if self._state is not _State.OPEN:
                    return None
                self._charge()
                if self._input:
                    self._consume_input()
                elif (message := self._next_message()) is not None:
                    self._handle(message)
                elif self._end_of_input:
                    self._end_of_stream()
                else:
                    return None
            self._charge()
            return self._events.popleft()
        except Exception:
            self._close()
            raise

    def close(self) -> None:
        """Ignore all further input and return the bytes held to the memory budget (the driver
        calls it however the connection ends)."""
        self._close()

    # Decisions of the driver

    def accept_publish(self) -> None:
        """Accept the requested publish: `NetStream.Publish.Start`, then its media as events."""
        requested = self._deciding()
        self._state = _State.OPEN
        self._publishing = True
        # The key is accepted: media limits from the byte after `publish` on.
        self._pre_publish = False
        self._chunks_in.set_limits(max_message_size=self._limits.max_message_bytes)
        self._send(_status(requested.stream_id, "status", "NetStream.Publish.Start", "Publishing."))

    def refuse_publish(self, description: str, code: str = PUBLISH_BAD_NAME) -> None:
        """Refuse the requested publish with an error `onStatus`; the session closes."""
        requested = self._deciding()
        self._send(_status(requested.stream_id, "error", code, description))
        self._close()

    def reject_publish(self, description: str, code: str = PUBLISH_REJECTED) -> None:
        """End an accepted publish with an error `onStatus` (a source that cannot be served, say);
        the session closes."""
        if not self._publishing or self._requested is None:
            raise RuntimeError("no publish to reject")
        self._send(_status(self._requested.stream_id, "error", code, description))
        self._close()

    def _deciding(self) -> PublishRequested:
        if self._state is not _State.DECIDING or self._requested is None:
            raise RuntimeError("no publish is waiting for a decision")
        return self._requested

    # Internals

    def _close(self) -> None:
        self._state = _State.CLOSED
        self._publishing = False
        self._input.clear()
        self._events.clear()
        self._chunks_in = ChunkReader()  # drops what the old one held
        self._memory.charge(self._charged, 0)
        self._charged = 0

    def _charge(self) -> None:
        held = len(self._input) + self._chunks_in.held
        if held != self._charged:
            self._memory.charge(self._charged, held)
            self._charged = held

    def _send(self, message: Message) -> None:
        self._output += self._chunks_out.write(message)

    def _refuse(self, reply: Message, code: str, description: str) -> None:
        self._send(reply)
        self._close()
        self._events.append(Refused(code, description))

    def _consume_input(self) -> None:
        """Hand the input to the handshake or the chunk reader (which parses it lazily)."""
        data = bytes(self._input)
        self._input.clear()
        if not self._handshake.complete:
            answer, data = self._handshake.receive_data(data)
            self._output += answer
            if not data:
                return
        self._received += len(data)
        self._chunks_in.receive(data)
        self._acknowledge()

    def _next_message(self) -> Message | None:
        if not self._handshake.complete:
            return None
        if not self._pre_publish:
            return self._chunks_in.next_message()
        try:
            message = self._chunks_in.next_message()
        except LimitExceeded as exc:
            raise LimitExceeded(f"{exc}, before publish") from exc
        limits = self._limits
        consumed = self._received - self._chunks_in.buffered
        if consumed > limits.pre_publish_max_bytes:
            raise LimitExceeded(f"more than {limits.pre_publish_max_bytes} bytes before publish")
        if message is None:
            return None
        self._pre_publish_messages += 1
        if self._pre_publish_messages > limits.pre_publish_max_messages:
            raise LimitExceeded(f"more than {limits.pre_publish_max_messages} messages before publish")
        # Smaller chunks only multiply the work per byte; no publisher goes below the default.
        if message.type_id == MessageType.SET_CHUNK_SIZE and self._chunks_in.chunk_size < DEFAULT_CHUNK_SIZE:
            size = self._chunks_in.chunk_size
            raise LimitExceeded(f"chunk size {size} before publish, {DEFAULT_CHUNK_SIZE} at least")
        return message

    def _acknowledge(self) -> None:
        if self._received - self._acked >= self._ack_window:
            self._acked = self._received
            self._send(messages.acknowledgement(self._received))

    def _end_of_stream(self) -> None:
        truncated = self._handshake.complete and self._chunks_in.pending
        publishing = self._publishing
        self._close()
        if publishing:
            self._events.append(Unpublished(EndReason.CLOSED))
        self._events.append(ConnectionClosed(truncated))

    # Messages

    def _handle(self, message: Message) -> None:
        kind = message.type_id
        if kind in (MessageType.AUDIO, MessageType.VIDEO, MessageType.DATA_AMF0, MessageType.DATA_AMF3):
            self._stream_message(message)
        elif kind in (MessageType.COMMAND_AMF0, MessageType.COMMAND_AMF3):
            # Before publish every command draws on one budget of values; after, each its own.
            budget = self._pre_publish_values if self._pre_publish else None
            self._command(messages.parse_command(message, budget), message)
        elif kind == MessageType.WINDOW_ACK_SIZE:
            window = messages.read_u32(message.payload, "Window Acknowledgement Size")
            if not 0 < window <= 0x7FFFFFFF:
                raise ProtocolError(f"invalid acknowledgement window {window}")
            self._ack_window = window
            self._acknowledge()
        elif kind == MessageType.USER_CONTROL:
            event, data = messages.parse_user_control(message.payload)
            if event == UserControlEvent.PING_REQUEST:
                self._send(messages.user_control(UserControlEvent.PING_RESPONSE, data[:4]))
        elif kind == MessageType.AGGREGATE and self._publishing:
            for part in messages.split_aggregate(message):
                self._stream_message(part)
        # Set Chunk Size and Abort were applied by the chunk reader; acknowledgements, Set Peer
        # Bandwidth (we send only replies) and shared objects need nothing; unknown types are
        # ignored (5.4: "the receiver ... should ignore" what it does not understand).

    def _stream_message(self, message: Message) -> None:
        """Media and data of the publish; anything before it, after it or on another stream is dropped."""
        requested = self._requested
        if not self._publishing or requested is None or message.stream_id != requested.stream_id:
            return
        if message.type_id == MessageType.AUDIO:
            self._events.append(Audio(message.timestamp, message.payload))
        elif message.type_id == MessageType.VIDEO:
            self._events.append(Video(message.timestamp, message.payload))
        elif message.type_id in (MessageType.DATA_AMF0, MessageType.DATA_AMF3):
            values = messages.parse_data(message)
            # `@setDataFrame` is how publishers ask the server to keep the following data (7.1.2);
            # FFmpeg and OBS send `@setDataFrame, onMetaData, {...}`, older tools `onMetaData, {...}`.
            if values and values[0] == "@setDataFrame":
                values = values[1:]
            if len(values) >= 2 and values[0] == "onMetaData" and isinstance(values[1], dict):
                self._events.append(Metadata(dict(values[1])))

    # Commands

    def _command(self, command: Command, message: Message) -> None:
        if command.name == "connect":
            self._connect(command)
            return
        if self._app is None:
            raise ProtocolError(f"command {command.name[:64]!r} before connect")
        if command.name in ("releaseStream", "FCPublish", "FCUnpublish"):
            self._fc_command(command)
        elif command.name == "createStream":
            self._create_stream(command)
        elif command.name == "publish":
            self._publish(command, message, self._app)
        elif command.name in ("deleteStream", "closeStream"):
            self._delete_stream(command, message)
        elif command.name == "play":
            code, description = "NetStream.Play.Failed", "This server takes publishers."
            self._refuse(_status(message.stream_id, "error", code, description), code, description)
        elif command.transaction_id:
            # Unknown commands get `_error` when an answer is expected (transaction id non-zero).
            info = _info(level="error", code="NetConnection.Call.Failed", description="Unknown command.")
            self._send(messages.command("_error", command.transaction_id, None, info))

    def _connect(self, command: Command) -> None:
        properties = command.command_object
        app = properties.get("app") if isinstance(properties, dict) else None
        if self._app is not None or not isinstance(app, str):
            code, description = "NetConnection.Connect.Rejected", "Invalid connect."
            info = _info(level="error", code=code, description=description)
            self._refuse(messages.command("_error", command.transaction_id, None, info), code, description)
            return
        self._app = app.strip("/")
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
        self._events.append(Connected(self._app))

    def _fc_command(self, command: Command) -> None:
        # The FMLE-era commands OBS sends around publish: answered like SRS and nginx-rtmp so
        # that encoders waiting for them proceed. The real answer to publishing is `publish`'s.
        name = command.arguments[0] if command.arguments and isinstance(command.arguments[0], str) else ""
        if command.name == "FCPublish":
            info = _info(code="NetStream.Publish.Start", description=name)
            self._send(messages.command("onFCPublish", 0, None, info))
        elif command.name == "FCUnpublish":
            info = _info(code="NetStream.Unpublish.Success", description=name)
            self._send(messages.command("onFCUnpublish", 0, None, info))
            self._unpublish()
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

    def _publish(self, command: Command, message: Message, app: str) -> None:
        stream_id = message.stream_id
        name = command.arguments[0] if command.arguments else None
        if self._requested is not None:
            description = "One publish per connection."
        elif stream_id not in self._streams:
            description = "Publish on a stream that was not created."
        elif not isinstance(name, str) or not name or len(name) > MAX_STREAM_NAME:
            description = "Invalid stream name."
        else:
            self._requested = PublishRequested(app, name, stream_id)
            self._state = _State.DECIDING
            self._events.append(self._requested)
            return
        self._refuse(_status(stream_id, "error", PUBLISH_BAD_NAME, description), PUBLISH_BAD_NAME, description)

    def _delete_stream(self, command: Command, message: Message) -> None:
        # deleteStream names the stream in its argument, closeStream is sent on the stream.
        target: AmfValue = message.stream_id
        if command.name == "deleteStream" and command.arguments:
            target = command.arguments[0]
        requested = self._requested
        if requested is not None and isinstance(target, int | float) and int(target) == requested.stream_id:
            self._unpublish()

    def _unpublish(self) -> None:
        if self._publishing:
            self._publishing = False
            self._events.append(Unpublished(EndReason.UNPUBLISHED))
