"""RTMP messages: type ids, protocol control and user control messages, commands, aggregates.

Section numbers refer to Adobe's "Real-Time Messaging Protocol (RTMP) specification" (2012).
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from workers.ingest.rtmp import amf0
from workers.ingest.rtmp.amf0 import AmfValue, ValueBudget
from workers.ingest.rtmp.errors import ProtocolError

# Chunk stream ids this server sends on. 2 is reserved for protocol control messages (5.4);
# commands go on 3 and per-stream status on 5, as nginx-rtmp and FMS do.
CSID_PROTOCOL: Final = 2
CSID_COMMAND: Final = 3
CSID_STREAM: Final = 5

TIMESTAMP_MASK: Final = 0xFFFFFFFF


class MessageType(IntEnum):
    SET_CHUNK_SIZE = 1
    ABORT = 2
    ACKNOWLEDGEMENT = 3
    USER_CONTROL = 4
    WINDOW_ACK_SIZE = 5
    SET_PEER_BANDWIDTH = 6
    AUDIO = 8
    VIDEO = 9
    DATA_AMF3 = 15
    SHARED_OBJECT_AMF3 = 16
    COMMAND_AMF3 = 17
    DATA_AMF0 = 18
    SHARED_OBJECT_AMF0 = 19
    COMMAND_AMF0 = 20
    AGGREGATE = 22


# Set Chunk Size and Abort act on the chunk stream layer itself (5.4.1, 5.4.2).
CHUNK_CONTROL_TYPES: Final = frozenset({MessageType.SET_CHUNK_SIZE, MessageType.ABORT})


class UserControlEvent(IntEnum):
    """User control message event types (7.1.7)."""

    STREAM_BEGIN = 0
    STREAM_EOF = 1
    STREAM_DRY = 2
    SET_BUFFER_LENGTH = 3
    STREAM_IS_RECORDED = 4
    PING_REQUEST = 6
    PING_RESPONSE = 7


class PeerBandwidthLimit(IntEnum):
    """The limit type of Set Peer Bandwidth (5.4.5)."""

    HARD = 0
    SOFT = 1
    DYNAMIC = 2


@dataclass(frozen=True, slots=True)
class Message:
    """One reassembled RTMP message; `timestamp` is absolute (deltas already applied), in ms."""

    type_id: int
    timestamp: int
    stream_id: int
    payload: bytes
    chunk_stream_id: int = CSID_PROTOCOL


def read_u32(payload: bytes, what: str) -> int:
    if len(payload) < 4:
        raise ProtocolError(f"{what} message of {len(payload)} bytes, 4 needed")
    return int.from_bytes(payload[:4], "big")


def _control(type_id: MessageType, payload: bytes) -> Message:
    # Protocol control messages travel on chunk stream 2, message stream 0 (5.4).
    return Message(type_id, 0, 0, payload, CSID_PROTOCOL)


def set_chunk_size(size: int) -> Message:
    return _control(MessageType.SET_CHUNK_SIZE, size.to_bytes(4, "big"))


def abort(chunk_stream_id: int) -> Message:
    return _control(MessageType.ABORT, chunk_stream_id.to_bytes(4, "big"))


def acknowledgement(sequence_number: int) -> Message:
    return _control(MessageType.ACKNOWLEDGEMENT, (sequence_number & 0xFFFFFFFF).to_bytes(4, "big"))


def window_ack_size(size: int) -> Message:
    return _control(MessageType.WINDOW_ACK_SIZE, size.to_bytes(4, "big"))


def set_peer_bandwidth(size: int, limit: PeerBandwidthLimit = PeerBandwidthLimit.DYNAMIC) -> Message:
    return _control(MessageType.SET_PEER_BANDWIDTH, size.to_bytes(4, "big") + bytes((limit,)))


def user_control(event: UserControlEvent, data: bytes) -> Message:
    return _control(MessageType.USER_CONTROL, event.to_bytes(2, "big") + data)


def parse_user_control(payload: bytes) -> tuple[int, bytes]:
    """(event type, event data) of a user control message."""
    if len(payload) < 2:
        raise ProtocolError("user control message shorter than its event type")
    return int.from_bytes(payload[:2], "big"), payload[2:]


@dataclass(frozen=True, slots=True)
class Command:
    """A command message (7.1.1): name, transaction id, command object, then the arguments."""

    name: str
    transaction_id: float
    command_object: AmfValue
    arguments: tuple[AmfValue, ...]


def amf0_body(message: Message) -> bytes:
    """The AMF0 part of a command or data message.

    The AMF3 variants (types 15 and 17) start with a format byte; clients that get
    objectEncoding 0 in the connect reply (as ours say) put 0 there and AMF0 after it.
    """
    if message.type_id in (MessageType.COMMAND_AMF3, MessageType.DATA_AMF3):
        if not message.payload or message.payload[0] != 0:
            raise ProtocolError("AMF3-encoded message: this server speaks AMF0 only")
        return message.payload[1:]
    return message.payload


def parse_command(message: Message, budget: ValueBudget | None = None) -> Command:
    """The command in `message`; decoding spends `budget` (`amf0.MAX_VALUES` unless given)."""
    values = amf0.decode_all(amf0_body(message), budget)
    if len(values) < 2:
        raise ProtocolError("command without a name and a transaction id")
    name, transaction_id = values[0], values[1]
    if not isinstance(name, str):
        raise ProtocolError("command name is not a string")
    # A number; some clients send null where no answer is expected, read as 0.
    if transaction_id is None:
        transaction_id = 0.0
    if isinstance(transaction_id, bool) or not isinstance(transaction_id, int | float):
        raise ProtocolError("command transaction id is not a number")
    command_object = values[2] if len(values) > 2 else None
    return Command(name, float(transaction_id), command_object, tuple(values[3:]))


def command(
    name: str,
    transaction_id: float,
    command_object: AmfValue,
    *arguments: AmfValue,
    stream_id: int = 0,
    chunk_stream_id: int = CSID_COMMAND,
) -> Message:
    payload = amf0.encode(name, transaction_id, command_object, *arguments)
    return Message(MessageType.COMMAND_AMF0, 0, stream_id, payload, chunk_stream_id)


def parse_data(message: Message, budget: ValueBudget | None = None) -> list[AmfValue]:
    """The AMF0 values of a data message (e.g. `@setDataFrame`, `onMetaData`, {...})."""
    return amf0.decode_all(amf0_body(message), budget)


_AGGREGATE_HEADER = 11
_BACK_POINTER = 4


def split_aggregate(message: Message) -> list[Message]:
    """The sub-messages of an aggregate message (7.1.6), with absolute timestamps.

    Each sub-message is an FLV tag (header, body, back pointer). Their timestamps are relative to
    the first one's: the aggregate's own timestamp replaces it, as nginx-rtmp computes them.
    """
    payload = message.payload
    position = 0
    first: int | None = None
    parts: list[Message] = []
    while position < len(payload):
        if len(payload) - position < _AGGREGATE_HEADER:
            raise ProtocolError("truncated aggregate sub-message header")
        header = payload[position : position + _AGGREGATE_HEADER]
        type_id = header[0]
        size = int.from_bytes(header[1:4], "big")
        timestamp = int.from_bytes(header[4:7], "big") | (header[7] << 24)
        body_start = position + _AGGREGATE_HEADER
        body_end = body_start + size
        if body_end + _BACK_POINTER > len(payload):
            raise ProtocolError("truncated aggregate sub-message")
        if first is None:
            first = timestamp
        absolute = (message.timestamp + timestamp - first) & TIMESTAMP_MASK
        parts.append(
            Message(type_id, absolute, message.stream_id, payload[body_start:body_end], message.chunk_stream_id)
        )
        position = body_end + _BACK_POINTER
    return parts
