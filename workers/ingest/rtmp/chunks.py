"""The RTMP chunk stream (spec section 5.3): splitting messages into chunks and reassembling them.

`ChunkReader` is sans-IO: `feed()` it the bytes as they arrive and it returns the messages they
complete (or `receive()` them and take the messages one by one with `next_message()`, so that a
caller can change the limits between two messages, as the session does at `publish`). It keeps
the state the spec keeps per chunk stream id, so chunk streams may interleave, and it applies
Set Chunk Size and Abort (5.4.1, 5.4.2) itself, at the exact point in the byte stream where they
take effect. `ChunkWriter` is its mirror, compressing headers like FFmpeg does.

Timestamps (5.3.1.2): a type 0 header carries the absolute timestamp, types 1 and 2 a delta from
the previous message on the same chunk stream, and a type 3 header that starts a new message
reuses the previous delta -- which, after a type 0 header, is that header's timestamp field
(5.3.1.2.4; FFmpeg's libavformat/rtmppkt.c reads and writes it so). Dropping that reused delta
is pyrtmp's bug: audio frames with equal deltas sent as type 3 get duplicate timestamps.

Extended timestamps (5.3.1.3): a 24-bit field of 0xFFFFFF means the value follows in 4 more
bytes; type 3 chunks of a chunk stream whose latest header was extended carry those 4 bytes too
(as FFmpeg and librtmp/OBS write them, and nginx-rtmp reads them).
"""

from dataclasses import dataclass
from typing import Final

from workers.ingest.rtmp.errors import LimitExceeded, ProtocolError
from workers.ingest.rtmp.messages import TIMESTAMP_MASK, Message, MessageType, read_u32

DEFAULT_CHUNK_SIZE: Final = 128  # until Set Chunk Size says otherwise (5.4.1)
MAX_CHUNK_SIZE: Final = 0x7FFFFFFF  # the most significant bit must be zero (5.4.1)
MIN_CHUNK_STREAM_ID: Final = 2  # 0 and 1 select the 2- and 3-byte basic header forms
MAX_CHUNK_STREAM_ID: Final = 65599  # 64 + 0xFFFF, the 3-byte form (5.3.1.1)
MAX_MESSAGE_LENGTH: Final = 0xFFFFFF  # the message length field has 24 bits (5.3.1.2.1)
EXTENDED_TIMESTAMP: Final = 0xFFFFFF

_MESSAGE_HEADER_SIZES: Final = (11, 7, 3, 0)  # by fmt (5.3.1.2)


@dataclass(slots=True)
class _ChunkStream:
    """What the previous chunks of one chunk stream id left for the next one to reuse."""

    timestamp: int  # absolute timestamp of the latest message
    delta: int  # timestamp field (or extended timestamp) of the latest message header
    length: int
    type_id: int
    stream_id: int
    extended: bool  # the latest type 0/1/2 header had an extended timestamp
    partial: bytearray | None = None  # the message being reassembled, if any


class ChunkReader:
    """Reassembles messages from the bytes of one connection, after the handshake.

    Raises `ProtocolError` for input that breaks the chunk stream rules and `LimitExceeded` for a
    message declared longer than `max_message_size`, more than `max_chunk_streams` chunk stream
    ids, or more than `max_partial_bytes` held in partly received messages across all chunk
    streams (default twice the message limit: a keyframe and the audio interleaved with it fit,
    a message started on every chunk stream does not); either leaves the reader unusable (the
    connection is to be closed).
    """

    def __init__(
        self,
        *,
        max_message_size: int = MAX_MESSAGE_LENGTH,
        max_chunk_streams: int = 64,
        max_partial_bytes: int | None = None,
    ) -> None:
        if max_chunk_streams < 1:
            raise ValueError("max_chunk_streams must be positive")
        self._max_chunk_streams = max_chunk_streams
        self._max_message_size = self._max_partial_bytes = 0
        self.set_limits(max_message_size=max_message_size, max_partial_bytes=max_partial_bytes)
        self._partial_bytes = 0
        self._chunk_size = DEFAULT_CHUNK_SIZE
        self._streams: dict[int, _ChunkStream] = {}
        self._buffer = bytearray()
        self._start = 0  # where the unparsed bytes begin in `_buffer`: consumed bytes are dropped lazily

    def set_limits(self, *, max_message_size: int, max_partial_bytes: int | None = None) -> None:
        """Take new message limits from the next chunk on (a message under way keeps its length)."""
        if not 0 < max_message_size <= MAX_MESSAGE_LENGTH:
            raise ValueError(f"max_message_size must be in 1..{MAX_MESSAGE_LENGTH}")
        partial = 2 * max_message_size if max_partial_bytes is None else max_partial_bytes
        if partial < max_message_size:
            raise ValueError("max_partial_bytes must hold at least one whole message")
        self._max_message_size, self._max_partial_bytes = max_message_size, partial

    @property
    def chunk_size(self) -> int:
        """The peer's current (incoming) chunk size."""
        return self._chunk_size

    @property
    def chunk_streams(self) -> int:
        return len(self._streams)

    @property
    def buffered(self) -> int:
        """Bytes received and not parsed yet (after `feed`, those that do not make a whole chunk)."""
        return len(self._buffer) - self._start

    @property
    def partial_bytes(self) -> int:
        """Bytes held in partly received messages."""
        return self._partial_bytes

    @property
    def held(self) -> int:
        """The memory the peer makes us hold: unparsed bytes and partly received messages."""
        return self.buffered + self._partial_bytes

    @property
    def pending(self) -> bool:
        """Whether input stopped mid-chunk or mid-message (so an end of stream now truncates)."""
        return bool(self.buffered) or any(stream.partial is not None for stream in self._streams.values())

    def set_chunk_size(self, size: int) -> None:
        if not 1 <= size <= MAX_CHUNK_SIZE:
            raise ProtocolError(f"invalid chunk size {size}: must be in 1..{MAX_CHUNK_SIZE}")
        self._chunk_size = size

    def abort(self, chunk_stream_id: int) -> None:
        """Drop the partly received message of `chunk_stream_id` (5.4.2); unknown ids are ignored."""
        stream = self._streams.get(chunk_stream_id)
        if stream is not None and stream.partial is not None:
            self._partial_bytes -= len(stream.partial)
            stream.partial = None

    def feed(self, data: bytes) -> list[Message]:
        """The messages that `data` completes, in the order their last chunks arrived."""
        self.receive(data)
        messages: list[Message] = []
        while (message := self.next_message()) is not None:
            messages.append(message)
        return messages

    def receive(self, data: bytes) -> None:
        """Queue `data` for `next_message`, parsing nothing yet."""
        if self._start:
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += data

    def next_message(self) -> Message | None:
        """The next message the queued bytes complete, or None when they complete none (yet).

        Parses chunk after chunk, up to the first complete message only: the limits in force
        when it is returned apply to every chunk after it.
        """
        while (step := self._chunk(self._start)) is not None:
            self._start, message = step
            if message is not None:
                if message.type_id in (MessageType.SET_CHUNK_SIZE, MessageType.ABORT):
                    self._control(message)
                return message
        if self._start == len(self._buffer):
            self._buffer.clear()
            self._start = 0
        return None

    def _control(self, message: Message) -> None:
        if message.type_id == MessageType.SET_CHUNK_SIZE:
            value = read_u32(message.payload, "Set Chunk Size")
            if value & 0x80000000:
                raise ProtocolError("Set Chunk Size with the reserved most significant bit set")
            self.set_chunk_size(value)
        else:
            self.abort(read_u32(message.payload, "Abort"))

    def _chunk(self, start: int) -> tuple[int, Message | None] | None:
        """(position after the chunk, the message it completes) or None if it is incomplete.

        Nothing is changed until the whole chunk is in the buffer, so an incomplete chunk is
        simply parsed again once more bytes arrive.
        """
        buffer = self._buffer
        size = len(buffer)
        if start >= size:
            return None
        position = start + 1
        fmt = buffer[start] >> 6
        csid = buffer[start] & 0x3F
        # Basic header (5.3.1.1): ids 0 and 1 announce the 2- and 3-byte forms.
        if csid == 0:
            if size < position + 1:
                return None
            csid = 64 + buffer[position]
            position += 1
        elif csid == 1:
            if size < position + 2:
                return None
            csid = 64 + buffer[position] + (buffer[position + 1] << 8)
            position += 2

        stream = self._streams.get(csid)
        if stream is None:
            if fmt != 0:
                raise ProtocolError(f"chunk stream {csid} starts with a type {fmt} header instead of type 0")
            if len(self._streams) >= self._max_chunk_streams:
                raise LimitExceeded(f"more than {self._max_chunk_streams} chunk streams")
        partial = stream.partial if stream is not None else None
        continuing = partial is not None
        if continuing and fmt != 3:
            # Only type 3 chunks continue a message (5.3.1.2.4); anything else here is a
            # broken sender, and guessing which message it meant would corrupt media.
            raise ProtocolError(f"type {fmt} header on chunk stream {csid} in the middle of a message")

        header_size = _MESSAGE_HEADER_SIZES[fmt]
        if size < position + header_size:
            return None
        field = 0
        if fmt <= 2:
            field = int.from_bytes(buffer[position : position + 3], "big")
        if fmt <= 1:
            length = int.from_bytes(buffer[position + 3 : position + 6], "big")
            type_id = buffer[position + 6]
        else:
            assert stream is not None
            length, type_id = stream.length, stream.type_id
        if fmt == 0:
            # The only little-endian field of the protocol (5.3.1.2.1).
            stream_id = int.from_bytes(buffer[position + 7 : position + 11], "little")
        else:
            assert stream is not None
            stream_id = stream.stream_id
        position += header_size

        if fmt == 3:
            assert stream is not None
            extended = stream.extended
            field = stream.delta
        else:
            extended = field == EXTENDED_TIMESTAMP
        if extended:
            if size < position + 4:
                return None
            # On a continuation chunk the value repeats the message's own and is not used.
            if not continuing:
                field = int.from_bytes(buffer[position : position + 4], "big")
            position += 4

        if fmt <= 1 and length > self._max_message_size:
            raise LimitExceeded(f"message of {length} bytes announced, the limit is {self._max_message_size}")

        take = min(length - (len(partial) if partial is not None else 0), self._chunk_size)
        if size < position + take:
            return None
        if self._partial_bytes + take > self._max_partial_bytes:
            raise LimitExceeded(f"more than {self._max_partial_bytes} bytes held in partly received messages")

        # The whole chunk is here: commit.
        if stream is None:
            stream = _ChunkStream(timestamp=0, delta=0, length=0, type_id=0, stream_id=0, extended=False)
            self._streams[csid] = stream
        if not continuing:
            stream.length, stream.type_id, stream.stream_id = length, type_id, stream_id
            if fmt != 3:
                stream.extended = extended
            stream.delta = field
            stream.timestamp = field if fmt == 0 else (stream.timestamp + field) & TIMESTAMP_MASK
            stream.partial = bytearray()
        assert stream.partial is not None
        stream.partial += buffer[position : position + take]
        self._partial_bytes += take
        position += take
        if len(stream.partial) < stream.length:
            return position, None
        self._partial_bytes -= len(stream.partial)
        payload, stream.partial = bytes(stream.partial), None
        return position, Message(stream.type_id, stream.timestamp, stream.stream_id, payload, csid)


def basic_header(fmt: int, chunk_stream_id: int) -> bytes:
    """The 1-, 2- or 3-byte basic header (5.3.1.1), the shortest form for the id."""
    if not 0 <= fmt <= 3:
        raise ValueError(f"invalid chunk type {fmt}")
    if MIN_CHUNK_STREAM_ID <= chunk_stream_id <= 63:
        return bytes(((fmt << 6) | chunk_stream_id,))
    if 64 <= chunk_stream_id <= 319:
        return bytes((fmt << 6, chunk_stream_id - 64))
    if 320 <= chunk_stream_id <= MAX_CHUNK_STREAM_ID:
        rest = chunk_stream_id - 64
        return bytes(((fmt << 6) | 1, rest & 0xFF, rest >> 8))
    raise ValueError(f"invalid chunk stream id {chunk_stream_id}")


@dataclass(slots=True)
class _Sent:
    timestamp: int
    delta: int
    length: int
    type_id: int
    stream_id: int


class ChunkWriter:
    """Splits messages into chunks of `chunk_size`, with the most compact header the reader's
    rules allow: type 0 for a new chunk stream, a new message stream or a timestamp going back,
    type 1 for a new length or type, type 2 for a new delta, type 3 when the delta repeats.
    """

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._chunk_size = DEFAULT_CHUNK_SIZE
        self.set_chunk_size(chunk_size)
        self._sent: dict[int, _Sent] = {}

    @property
    def chunk_size(self) -> int:
        return self._chunk_size

    def set_chunk_size(self, size: int) -> None:
        """Use `size` from the next message on (after sending Set Chunk Size to the peer)."""
        if not 1 <= size <= MAX_CHUNK_SIZE:
            raise ValueError(f"invalid chunk size {size}")
        self._chunk_size = size

    def write(self, message: Message) -> bytes:
        length = len(message.payload)
        if length > MAX_MESSAGE_LENGTH:
            raise ValueError(f"message of {length} bytes: RTMP messages are at most {MAX_MESSAGE_LENGTH}")
        csid = message.chunk_stream_id
        timestamp = message.timestamp & TIMESTAMP_MASK
        previous = self._sent.get(csid)
        if previous is None or previous.stream_id != message.stream_id or timestamp < previous.timestamp:
            fmt, value = 0, timestamp
        else:
            value = timestamp - previous.timestamp
            if previous.length != length or previous.type_id != message.type_id:
                fmt = 1
            elif previous.delta != value:
                fmt = 2
            else:
                fmt = 3
        self._sent[csid] = _Sent(timestamp, value, length, message.type_id, message.stream_id)

        extended = value >= EXTENDED_TIMESTAMP
        extension = value.to_bytes(4, "big") if extended else b""
        header = bytearray(basic_header(fmt, csid))
        if fmt <= 2:
            header += min(value, EXTENDED_TIMESTAMP).to_bytes(3, "big")
        if fmt <= 1:
            header += length.to_bytes(3, "big") + bytes((message.type_id,))
        if fmt == 0:
            header += message.stream_id.to_bytes(4, "little")
        # Type 3 chunks, continuations included, repeat the extended timestamp (5.3.1.3); for a
        # type 3 header `value` equals the previous delta, so the rule holds for it as well.
        header += extension

        out = bytearray(header)
        payload = message.payload
        out += payload[: self._chunk_size]
        continuation = basic_header(3, csid) + extension
        for offset in range(self._chunk_size, length, self._chunk_size):
            out += continuation
            out += payload[offset : offset + self._chunk_size]
        return bytes(out)
