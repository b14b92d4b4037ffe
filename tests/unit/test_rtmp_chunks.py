"""The chunk stream layer (RTMP spec 5.3): hand-built chunks in, messages out; writer round trips.

Chunks are built here byte by byte from the spec's layouts, independently of `ChunkWriter`, so
that a reader and a writer sharing one misreading cannot agree with each other and pass.
"""

import pytest

from workers.ingest.rtmp.chunks import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    ChunkReader,
    ChunkWriter,
    basic_header,
)
from workers.ingest.rtmp.errors import LimitExceeded, ProtocolError
from workers.ingest.rtmp.messages import Message, MessageType

AUDIO = MessageType.AUDIO
VIDEO = MessageType.VIDEO


def chunk(
    fmt: int,
    csid: int,
    payload: bytes = b"",
    *,
    timestamp: int = 0,
    length: int = 0,
    type_id: int = AUDIO,
    stream_id: int = 1,
    extended: int | None = None,
) -> bytes:
    """One chunk as the spec lays it out; `extended` appends the 4-byte extended timestamp."""
    if csid < 64:
        out = bytearray((fmt << 6 | csid,))
    elif csid < 320:
        out = bytearray((fmt << 6, csid - 64))
    else:
        out = bytearray((fmt << 6 | 1, (csid - 64) % 256, (csid - 64) // 256))
    if fmt <= 2:
        out += (0xFFFFFF if extended is not None and fmt != 3 else timestamp).to_bytes(3, "big")
    if fmt <= 1:
        out += length.to_bytes(3, "big") + bytes((type_id,))
    if fmt == 0:
        out += stream_id.to_bytes(4, "little")
    if extended is not None:
        out += extended.to_bytes(4, "big")
    return bytes(out + payload)


def set_chunk_size(size: int) -> bytes:
    return chunk(0, 2, size.to_bytes(4, "big"), length=4, type_id=MessageType.SET_CHUNK_SIZE, stream_id=0)


def timestamps(messages: list[Message]) -> list[int]:
    return [message.timestamp for message in messages]


# Basic header


@pytest.mark.parametrize(
    ("csid", "encoded"),
    [
        (2, b"\x02"),
        (63, b"\x3f"),
        (64, b"\x00\x00"),
        (319, b"\x00\xff"),
        (320, b"\x01\x00\x01"),
        (65599, b"\x01\xff\xff"),
    ],
)
def test_basic_header_uses_the_one_two_or_three_byte_form(csid: int, encoded: bytes) -> None:
    assert basic_header(0, csid) == encoded
    assert basic_header(3, csid)[0] == encoded[0] | 0xC0


@pytest.mark.parametrize("csid", [0, 1, 65600])
def test_basic_header_refuses_ids_outside_the_range(csid: int) -> None:
    with pytest.raises(ValueError, match="chunk stream id"):
        basic_header(0, csid)


@pytest.mark.parametrize("csid", [3, 63, 64, 100, 319, 320, 1000, 65599])
def test_reader_takes_every_basic_header_form(csid: int) -> None:
    reader = ChunkReader()
    data = chunk(0, csid, b"abc", timestamp=7, length=3) + chunk(3, csid, b"def")
    first, second = reader.feed(data[: len(data) - 3]), reader.feed(data[len(data) - 3 :])
    assert [(m.chunk_stream_id, m.timestamp, m.payload) for m in first + second] == [
        (csid, 7, b"abc"),
        (csid, 14, b"def"),  # type 3 after type 0: the delta is the type 0 timestamp (5.3.1.2.4)
    ]


# Message header types


def test_type_0_carries_everything_and_the_stream_id_is_little_endian() -> None:
    reader = ChunkReader()
    data = bytes.fromhex("040001020000020904030201") + b"hi"
    (message,) = reader.feed(data)
    assert message == Message(type_id=VIDEO, timestamp=0x000102, stream_id=0x01020304, payload=b"hi", chunk_stream_id=4)


def test_type_1_adds_a_delta_and_takes_a_new_length_and_type() -> None:
    reader = ChunkReader()
    messages = reader.feed(
        chunk(0, 4, b"a", timestamp=1000, length=1, type_id=AUDIO, stream_id=5)
        + chunk(1, 4, b"vid", timestamp=33, length=3, type_id=VIDEO)
    )
    assert [(m.type_id, m.timestamp, m.stream_id, m.payload) for m in messages] == [
        (AUDIO, 1000, 5, b"a"),
        (VIDEO, 1033, 5, b"vid"),
    ]


def test_type_2_adds_a_delta_and_keeps_length_and_type() -> None:
    reader = ChunkReader()
    messages = reader.feed(
        chunk(0, 4, b"ab", timestamp=500, length=2, type_id=VIDEO, stream_id=1)
        + chunk(2, 4, b"cd", timestamp=40)
        + chunk(2, 4, b"ef", timestamp=0)
    )
    assert [(m.type_id, m.timestamp, m.payload) for m in messages] == [
        (VIDEO, 500, b"ab"),
        (VIDEO, 540, b"cd"),
        (VIDEO, 540, b"ef"),
    ]


def test_type_3_starting_a_new_message_reuses_the_previous_delta() -> None:
    # The pyrtmp bug: AAC frames of equal size and duration, the 2nd onwards sent as type 3,
    # must advance by the delta of the last type 1/2 header instead of repeating a timestamp.
    reader = ChunkReader()
    messages = reader.feed(
        chunk(0, 4, b"A0", timestamp=1000, length=2)
        + chunk(2, 4, b"A1", timestamp=21)
        + chunk(3, 4, b"A2")
        + chunk(3, 4, b"A3")
        + chunk(1, 4, b"A4+", timestamp=22, length=3)
        + chunk(3, 4, b"A5+")
    )
    assert timestamps(messages) == [1000, 1021, 1042, 1063, 1085, 1107]
    assert [m.payload for m in messages] == [b"A0", b"A1", b"A2", b"A3", b"A4+", b"A5+"]


def test_type_3_after_type_0_uses_the_type_0_timestamp_as_delta() -> None:
    # RTMP spec 5.3.1.2.4, and what FFmpeg's writer relies on (rtmppkt.c).
    reader = ChunkReader()
    messages = reader.feed(chunk(0, 5, b"x", timestamp=40, length=1) + chunk(3, 5, b"y") + chunk(3, 5, b"z"))
    assert timestamps(messages) == [40, 80, 120]


def test_continuation_chunks_do_not_advance_the_timestamp() -> None:
    reader = ChunkReader()
    payload = bytes(range(256)) + b"tail"  # 260 bytes: 128 + 128 + 4
    data = (
        chunk(0, 6, payload[:128], timestamp=100, length=260, type_id=VIDEO)
        + chunk(3, 6, payload[128:256])
        + chunk(3, 6, payload[256:])
    )
    (message,) = reader.feed(data)
    assert message.payload == payload
    assert message.timestamp == 100


def test_zero_length_messages_complete_at_their_header() -> None:
    reader = ChunkReader()
    messages = reader.feed(chunk(0, 4, timestamp=5, length=0) + chunk(2, 4, timestamp=5))
    assert [(m.timestamp, m.payload) for m in messages] == [(5, b""), (10, b"")]


def test_the_first_chunk_of_a_chunk_stream_must_be_type_0() -> None:
    for fmt in (1, 2, 3):
        with pytest.raises(ProtocolError, match="starts with a type"):
            ChunkReader().feed(chunk(fmt, 4, b"x", timestamp=1, length=1))


def test_a_new_header_in_the_middle_of_a_message_is_refused() -> None:
    reader = ChunkReader()
    reader.feed(chunk(0, 4, bytes(128), length=200))
    with pytest.raises(ProtocolError, match="middle of a message"):
        reader.feed(chunk(1, 4, b"x", timestamp=1, length=1))


# Extended timestamps


def test_extended_timestamp_on_type_0_and_its_type_3_continuations() -> None:
    reader = ChunkReader()
    payload = bytes(200)
    data = chunk(0, 4, payload[:128], length=200, extended=0x01000000) + chunk(3, 4, payload[128:], extended=0x01000000)
    (message,) = reader.feed(data)
    assert message.timestamp == 0x01000000
    assert message.payload == payload  # the 4 bytes on the type 3 chunk were not taken for payload


def test_extended_delta_on_type_2_is_reused_by_a_type_3_new_message() -> None:
    reader = ChunkReader()
    messages = reader.feed(
        chunk(0, 4, b"a", timestamp=10, length=1)
        + chunk(2, 4, b"b", extended=0x01000000)
        + chunk(3, 4, b"c", extended=0x01000000)
    )
    assert timestamps(messages) == [10, 10 + 0x01000000, 10 + 0x02000000]


def test_type_3_chunks_carry_no_extension_once_the_header_is_back_below_0xffffff() -> None:
    reader = ChunkReader()
    messages = reader.feed(
        chunk(0, 4, b"a", length=1, extended=0x01000000)
        + chunk(2, 4, b"b", timestamp=20)
        + chunk(3, 4, b"c")  # no extended timestamp: the latest header did not have one
    )
    assert timestamps(messages) == [0x01000000, 0x01000014, 0x01000028]
    assert [m.payload for m in messages] == [b"a", b"b", b"c"]


def test_timestamps_wrap_at_32_bits() -> None:
    reader = ChunkReader()
    messages = reader.feed(chunk(0, 4, b"a", length=1, extended=0xFFFFFFF0) + chunk(2, 4, b"b", timestamp=0x20))
    assert timestamps(messages) == [0xFFFFFFF0, 0x10]


# Chunk size, interleaving, abort


def test_set_chunk_size_applies_from_the_next_chunk_even_within_one_read() -> None:
    reader = ChunkReader()
    payload = bytes(range(256)) * 2  # 512 bytes
    data = set_chunk_size(300) + chunk(0, 4, payload[:300], length=512) + chunk(3, 4, payload[300:])
    messages = reader.feed(data)
    assert [m.type_id for m in messages] == [MessageType.SET_CHUNK_SIZE, AUDIO]
    assert messages[1].payload == payload
    assert reader.chunk_size == 300


def test_chunk_size_can_change_between_two_chunks_of_one_message() -> None:
    reader = ChunkReader()
    payload = bytes(range(200)) + bytes(range(200))
    first = reader.feed(chunk(0, 4, payload[:128], length=400))
    # Set Chunk Size on chunk stream 2 interleaved before the rest of the message.
    second = reader.feed(set_chunk_size(4096) + chunk(3, 4, payload[128:]))
    assert first == []
    assert [m.type_id for m in second] == [MessageType.SET_CHUNK_SIZE, AUDIO]
    assert second[1].payload == payload


@pytest.mark.parametrize("size", [1, 4096, MAX_CHUNK_SIZE])
def test_chunk_sizes_up_to_0x7fffffff_are_valid(size: int) -> None:
    reader = ChunkReader()
    reader.feed(set_chunk_size(size))
    assert reader.chunk_size == size
    assert reader.feed(chunk(0, 4, b"x", length=1))[0].payload == b"x"


@pytest.mark.parametrize("size", [0, 0x80000000, 0xFFFFFFFF])
def test_invalid_chunk_sizes_are_refused(size: int) -> None:
    with pytest.raises(ProtocolError, match=r"(?i)chunk size"):
        ChunkReader().feed(set_chunk_size(size))


def test_interleaved_chunk_streams_keep_their_own_state() -> None:
    reader = ChunkReader()
    video = bytes(range(200)) + bytes(100)  # 300 bytes: 3 chunks
    audio = b"\xaf\x01" + bytes(198)  # 200 bytes: 2 chunks
    data = (
        chunk(0, 6, video[:128], timestamp=33, length=300, type_id=VIDEO)
        + chunk(0, 4, audio[:128], timestamp=21, length=200, type_id=AUDIO)
        + chunk(3, 6, video[128:256])
        + chunk(3, 4, audio[128:])
        + chunk(1, 4, b"", timestamp=21, length=0)  # a second audio message, empty, delta 21
        + chunk(3, 6, video[256:])
    )
    messages = reader.feed(data)
    assert [(m.chunk_stream_id, m.type_id, m.timestamp, m.payload) for m in messages] == [
        (4, AUDIO, 21, audio),
        (4, AUDIO, 42, b""),
        (6, VIDEO, 33, video),
    ]


def test_abort_drops_the_partial_message_of_its_chunk_stream() -> None:
    reader = ChunkReader()
    abort = chunk(0, 2, (4).to_bytes(4, "big"), length=4, type_id=MessageType.ABORT, stream_id=0)
    messages = reader.feed(
        chunk(0, 4, bytes(128), timestamp=10, length=300)  # 128 of 300 bytes, then abandoned
        + abort
        # Headers other than type 0 are valid again: the stream is between messages, and the
        # abandoned message's header is the one the next deltas build on.
        + chunk(1, 4, b"new", timestamp=5, length=3)
        + chunk(3, 4, b"old")
    )
    assert [(m.type_id, m.timestamp, m.payload) for m in messages] == [
        (MessageType.ABORT, 0, b"\x00\x00\x00\x04"),
        (AUDIO, 15, b"new"),
        (AUDIO, 20, b"old"),
    ]
    assert not reader.pending


# Limits and truncation


def test_a_declared_oversize_message_is_refused_at_its_header() -> None:
    reader = ChunkReader(max_message_size=1000)
    with pytest.raises(LimitExceeded, match="1001 bytes"):
        reader.feed(chunk(0, 4, length=1001)[:12])  # the header alone, no payload yet
    reader = ChunkReader(max_message_size=1000)
    reader.feed(chunk(0, 4, bytes(1000)[:128], length=1000))
    reader.feed(b"".join(chunk(3, 4, bytes(128)) for _ in range(6)) + chunk(3, 4, bytes(104)))
    with pytest.raises(LimitExceeded):
        reader.feed(chunk(1, 4, timestamp=1, length=0xFFFFFF))


def test_the_number_of_chunk_streams_is_bounded() -> None:
    reader = ChunkReader(max_chunk_streams=3)
    reader.feed(b"".join(chunk(0, csid, length=0) for csid in (2, 3, 4)))
    reader.feed(chunk(0, 3, length=0))  # a known id again is fine
    with pytest.raises(LimitExceeded, match="chunk streams"):
        reader.feed(chunk(0, 5, length=0))


def test_bytes_held_in_partial_messages_are_bounded_across_chunk_streams() -> None:
    reader = ChunkReader(max_message_size=1000, max_partial_bytes=1500)
    reader.feed(chunk(0, 4, bytes(128), length=1000) + chunk(0, 5, bytes(128), length=1000))
    reader.feed(b"".join(chunk(3, 4, bytes(128)) + chunk(3, 5, bytes(128)) for _ in range(4)))  # 640 each
    reader.feed(chunk(3, 4, bytes(128)))  # 1408 held
    with pytest.raises(LimitExceeded, match="partly received"):
        reader.feed(chunk(3, 5, bytes(128)))


def test_completed_and_aborted_messages_no_longer_count_as_held() -> None:
    reader = ChunkReader(max_message_size=300, max_partial_bytes=300)
    abort = chunk(0, 2, (4).to_bytes(4, "big"), length=4, type_id=MessageType.ABORT, stream_id=0)
    for _ in range(5):
        reader.feed(chunk(0, 4, bytes(128), length=300) + abort)  # started, then abandoned
        messages = reader.feed(chunk(0, 5, bytes(128), length=300) + chunk(3, 5, bytes(128)) + chunk(3, 5, bytes(44)))
        assert [len(m.payload) for m in messages] == [300]


def test_truncated_input_yields_nothing_until_it_is_complete() -> None:
    payload = bytes(range(250))
    data = (
        chunk(0, 320, payload[:128], length=250, extended=0x01020304)
        + chunk(3, 320, payload[128:], extended=0x01020304)
        + chunk(1, 320, b"", timestamp=1, length=0)
    )
    expected = ChunkReader().feed(data)
    assert [(m.timestamp, m.payload) for m in expected] == [(0x01020304, payload), (0x01020305, b"")]
    for cut in range(1, len(data)):
        reader = ChunkReader()
        head = reader.feed(data[:cut])
        assert reader.pending or head
        tail = reader.feed(data[cut:])
        assert head + tail == expected


def test_byte_by_byte_input_gives_the_same_messages() -> None:
    data = (
        set_chunk_size(64)
        + chunk(0, 4, bytes(64), timestamp=3, length=100)
        + chunk(0, 70, b"v", timestamp=9, length=1, type_id=VIDEO)
        + chunk(3, 4, bytes(36))
        + chunk(3, 70, b"w")
    )
    whole = ChunkReader().feed(data)
    reader = ChunkReader()
    pieces = [message for index in range(len(data)) for message in reader.feed(data[index : index + 1])]
    assert pieces == whole
    assert timestamps(whole) == [0, 9, 3, 18]
    assert not reader.pending


def test_pending_reports_a_partial_message() -> None:
    reader = ChunkReader()
    assert not reader.pending
    reader.feed(chunk(0, 4, bytes(128), length=129))
    assert reader.pending
    assert reader.buffered == 0
    reader.feed(chunk(3, 4, b"\x00"))
    assert not reader.pending


# Writer


def test_writer_picks_the_most_compact_header_like_ffmpeg() -> None:
    writer = ChunkWriter()
    sent = [
        Message(AUDIO, 0, 1, b"aa", 4),  # new chunk stream: type 0
        Message(AUDIO, 21, 1, b"bb", 4),  # same length and type, new delta: type 2
        Message(AUDIO, 42, 1, b"cc", 4),  # same delta: type 3
        Message(AUDIO, 64, 1, b"ddd", 4),  # new length: type 1
        Message(AUDIO, 10, 1, b"ddd", 4),  # timestamp going back: type 0
        Message(AUDIO, 20, 2, b"ddd", 4),  # another message stream: type 0
    ]
    formats = [writer.write(message)[0] >> 6 for message in sent]
    assert formats == [0, 2, 3, 1, 0, 0]


@pytest.mark.parametrize("chunk_size", [1, 128, 4096])
def test_writer_output_reads_back_identically(chunk_size: int) -> None:
    writer, reader = ChunkWriter(chunk_size), ChunkReader()
    reader.set_chunk_size(chunk_size)
    sent = [
        Message(AUDIO, 0, 1, b"\xaf\x00" + bytes(5), 4),
        Message(AUDIO, 21, 1, bytes(300), 4),
        Message(AUDIO, 42, 1, bytes(300), 4),
        Message(AUDIO, 63, 1, bytes(300), 4),
        Message(VIDEO, 33, 1, bytes(range(256)) * 20, 6),
        Message(VIDEO, 0x01000000, 1, bytes(700), 6),
        Message(VIDEO, 0x02000000, 1, bytes(700), 6),
        Message(VIDEO, 0x03000000, 1, bytes(700), 6),
        Message(VIDEO, 0x04000000, 1, bytes(700), 6),  # type 3 with an extended timestamp
        Message(MessageType.COMMAND_AMF0, 0, 0, b"x" * 500, 320),
        Message(MessageType.DATA_AMF0, 5, 1, b"", 65599),
    ]
    data = b"".join(writer.write(message) for message in sent)
    assert reader.feed(data) == sent
    assert not reader.pending


def test_writer_refuses_messages_longer_than_24_bits() -> None:
    with pytest.raises(ValueError, match="at most"):
        ChunkWriter().write(Message(VIDEO, 0, 1, bytes(0x1000000), 6))


def test_default_chunk_size_is_128() -> None:
    assert ChunkReader().chunk_size == ChunkWriter().chunk_size == DEFAULT_CHUNK_SIZE == 128
