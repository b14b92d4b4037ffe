"""`RtmpSession`, the pure RTMP state machine, with no sockets: a client-side byte builder is
joined to the session (as h11's tests join two connections) and every byte is fed by hand,
whole, byte by byte or in odd pieces. Then recordings of real publishers (FFmpeg, GStreamer's
rtmpsink and rtmp2sink; `tests/fixtures/rtmp/record.py`) are replayed through it.
"""

import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.rtmp.client import S0_S1_S2_SIZE, Publisher, c0_c1, c2, commands, status
from workers.ingest.rtmp import amf0, messages
from workers.ingest.rtmp.amf0 import AmfValue, EcmaArray
from workers.ingest.rtmp.errors import AmfError, HandshakeError, LimitExceeded, ProtocolError
from workers.ingest.rtmp.handshake import HANDSHAKE_SIZE, RANDOM_SIZE
from workers.ingest.rtmp.limits import MemoryBudget, RtmpLimits
from workers.ingest.rtmp.messages import Command, Message, MessageType, PeerBandwidthLimit, UserControlEvent
from workers.ingest.rtmp.publish import EndReason
from workers.ingest.rtmp.session import (
    MAX_STREAM_NAME,
    MAX_STREAMS,
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

KEY = "live_0123456789abcdef"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "rtmp"

Decide = Callable[[RtmpSession, PublishRequested], None]


def accept(session: RtmpSession, request: PublishRequested) -> None:
    session.accept_publish()


def pieces(data: bytes, sizes: Iterable[int]) -> Iterator[bytes]:
    """`data` cut in pieces of the given sizes, cycled."""
    position = 0
    for size in itertools.cycle(sizes):
        if position >= len(data):
            return
        yield data[position : position + size]
        position += size


class Joined:
    """A `Publisher` (the client's bytes) joined to an `RtmpSession`, without sockets.

    `push` feeds the session in pieces and drains its events, deciding publishes with `decide`;
    the server's bytes are kept (`answer`) and read back into messages (`replies`).
    """

    def __init__(self, session: RtmpSession | None = None, decide: Decide = accept) -> None:
        self.session = RtmpSession() if session is None else session
        self.decide = decide
        self.client = Publisher()
        self.events: list[Event] = []
        self.pushed = 0
        self.answer = bytearray()
        self.replies: list[Message] = []

    def push(self, data: bytes, sizes: Iterable[int] = (1 << 30,)) -> list[Event]:
        """Feed `data` in pieces (b"" for the end of stream); the events it gave."""
        events: list[Event] = []
        self.pushed += len(data)
        for piece in pieces(data, sizes) if data else [b""]:
            self.session.receive_data(piece)
            while (event := self.session.next_event()) is not None:
                events.append(event)
                if isinstance(event, PublishRequested):
                    self.decide(self.session, event)
            self._collect()
        self.events += events
        return events

    def _collect(self) -> None:
        self.answer += self.session.data_to_send()
        if len(self.answer) > S0_S1_S2_SIZE:  # S0+S1+S2 stay; what follows is chunks
            self.replies += self.client.read(bytes(self.answer[S0_S1_S2_SIZE:]))
            del self.answer[S0_S1_S2_SIZE:]

    def handshake(self) -> bytes:
        """C0+C1, then C2 echoing S1; returns S0+S1+S2."""
        self.push(c0_c1())
        answer = bytes(self.answer[:S0_S1_S2_SIZE])
        assert len(answer) == S0_S1_S2_SIZE
        self.push(c2(answer))
        assert self.session.handshake_complete
        return answer

    def commands(self) -> list[Command]:
        return commands(self.replies)

    def last_status(self) -> dict[str, AmfValue]:
        return status(self.commands()[-1])


def connected(session: RtmpSession | None = None, decide: Decide = accept) -> Joined:
    joined = Joined(session, decide)
    joined.handshake()
    joined.push(joined.client.connect())
    return joined


def up_to_publish(client: Publisher, key: str = KEY) -> bytes:
    """OBS's commands from releaseStream to publish (createStream's answer is stream 1)."""
    return b"".join(
        (
            client.call("releaseStream", 2, key),
            client.call("FCPublish", 3, key),
            client.call("createStream", 4),
            client.call("publish", 5, key, "live", stream_id=1),
        )
    )


def publishing(session: RtmpSession | None = None) -> Joined:
    joined = connected(session)
    joined.push(up_to_publish(joined.client))
    assert joined.session.publishing
    return joined


def metadata_message(values: dict[str, AmfValue], stream_id: int = 1) -> Message:
    return Message(MessageType.DATA_AMF0, 0, stream_id, amf0.encode("@setDataFrame", "onMetaData", values), 4)


def audio(timestamp: int, stream_id: int = 1, size: int = 300) -> Message:
    return Message(MessageType.AUDIO, timestamp, stream_id, b"\xaf\x01" + bytes(size), 4)


def video(timestamp: int, stream_id: int = 1, size: int = 1000) -> Message:
    return Message(MessageType.VIDEO, timestamp, stream_id, b"\x27\x01" + bytes(size), 6)


# Handshake


def test_handshake_answers_the_simple_scheme_and_takes_any_c2() -> None:
    random_part = (bytes(range(256)) * 6)[:RANDOM_SIZE]
    joined = Joined(RtmpSession(uptime_ms=0x1_2345_6789, random=random_part))
    c1 = bytes(4) + b"\x80\x00\x07\x02" + bytes(range(256)) * 6  # a digest-style version field
    joined.push(c0_c1(c1[:HANDSHAKE_SIZE]))
    answer = bytes(joined.answer)
    assert len(answer) == S0_S1_S2_SIZE
    assert answer[0] == 3
    assert answer[1:5] == (0x2345_6789).to_bytes(4, "big")  # our time, on 32 bits
    assert answer[5:9] == bytes(4)  # S1: the simple scheme
    assert answer[9 : 1 + HANDSHAKE_SIZE] == random_part
    assert answer[1 + HANDSHAKE_SIZE :] == c1[:HANDSHAKE_SIZE]  # S2 echoes C1
    assert not joined.session.handshake_complete

    joined.push(b"\xff" * HANDSHAKE_SIZE)  # a C2 that echoes nothing
    assert joined.session.handshake_complete
    assert joined.events == []
    assert joined.push(joined.client.connect()) == [Connected("live")]


def test_handshake_byte_by_byte_answers_once_c1_is_whole() -> None:
    session = RtmpSession()
    first = c0_c1()
    for byte in first[:-1]:
        session.receive_data(bytes((byte,)))
        assert session.next_event() is None
        assert session.data_to_send() == b""
    session.receive_data(first[-1:])
    assert session.next_event() is None
    answer = session.data_to_send()
    assert len(answer) == S0_S1_S2_SIZE
    for byte in c2(answer):
        assert not session.handshake_complete
        session.receive_data(bytes((byte,)))
        assert session.next_event() is None
    assert session.handshake_complete
    assert session.data_to_send() == b""


def test_chunks_right_behind_c2_are_read() -> None:
    joined = Joined()
    joined.push(c0_c1())
    events = joined.push(c2(bytes(joined.answer)) + joined.client.connect())
    assert events == [Connected("live")]


@pytest.mark.parametrize("version", [0, 6, 0x47])  # 0x47: "G" of an HTTP request
def test_a_version_we_do_not_serve_is_refused_on_the_first_byte(version: int) -> None:
    session = RtmpSession()
    session.receive_data(bytes((version,)))
    with pytest.raises(HandshakeError, match="version"):
        session.next_event()
    assert session.data_to_send() == b""  # not even S0
    assert session.closed
    session.receive_data(b"more")  # ignored from now on
    assert session.next_event() is None


def test_the_end_of_stream_during_the_handshake_is_a_plain_close() -> None:
    joined = Joined()
    assert joined.push(c0_c1()[:100]) == []
    assert joined.push(b"") == [ConnectionClosed(truncated=False)]
    assert joined.session.closed


# The whole publish


CHUNKINGS = [(1 << 30,), (1,), (7,), (1000,), (1, 1536, 3, 200, 4096, 2)]


def publish_sequence(client: Publisher) -> tuple[bytes, list[Message]]:
    """What OBS sends from connect to deleteStream, and the media messages in it."""
    client_messages = [audio(23 * i) for i in range(8)] + [video(33 * i) for i in range(3)]
    data = b"".join(
        (
            client.connect(),
            client.set_chunk_size(1000),
            up_to_publish(client),
            client.send(metadata_message(EcmaArray(width=640.0, height=360.0))),
            client.send(*client_messages),
            client.call("FCUnpublish", 6, KEY),
            client.call("deleteStream", 7, 1.0),
        )
    )
    return data, client_messages


@pytest.mark.parametrize("sizes", CHUNKINGS, ids=lambda sizes: "-".join(map(str, sizes)))
def test_the_whole_publish_sequence_in_any_chunking(sizes: tuple[int, ...]) -> None:
    joined = Joined()
    data, sent = publish_sequence(joined.client)
    handshake = c0_c1()
    for piece in pieces(handshake, sizes):
        joined.push(piece)
    for piece in pieces(c2(bytes(joined.answer)) + data, sizes):
        joined.push(piece)
    joined.push(b"")

    media: list[Event] = [
        Audio(m.timestamp, m.payload) if m.type_id == MessageType.AUDIO else Video(m.timestamp, m.payload) for m in sent
    ]
    assert joined.events == [
        Connected("live"),
        PublishRequested("live", KEY, 1),
        Metadata({"width": 640.0, "height": 360.0}),
        *media,
        Unpublished(EndReason.UNPUBLISHED),
        ConnectionClosed(truncated=False),
    ]
    replies = [(c.name, c.transaction_id) for c in joined.commands()]
    assert replies == [
        ("_result", 1),
        ("_result", 2),
        ("onFCPublish", 0),
        ("_result", 3),
        ("_result", 4),
        ("onStatus", 0),
        ("onFCUnpublish", 0),
        ("_result", 6),
    ]
    assert joined.session.closed


def test_replies_are_shaped_like_nginx_rtmp() -> None:
    joined = publishing(RtmpSession(RtmpLimits(ack_window_bytes=5_000_000)))
    controls = [m for m in joined.replies if m.type_id != MessageType.COMMAND_AMF0]
    assert [(m.type_id, m.chunk_stream_id, m.stream_id) for m in controls] == [
        (MessageType.WINDOW_ACK_SIZE, 2, 0),
        (MessageType.SET_PEER_BANDWIDTH, 2, 0),
        (MessageType.SET_CHUNK_SIZE, 2, 0),
    ]
    assert [messages.read_u32(m.payload, "") for m in controls] == [5_000_000, 5_000_000, 4096]
    assert controls[1].payload[4] == PeerBandwidthLimit.DYNAMIC
    assert joined.client.chunks_in.chunk_size == 4096

    connect, released, fc_publish, fc_result, created, started = joined.commands()
    assert connect.command_object == {"fmsVer": "FMS/3,0,1,123", "capabilities": 31.0}
    assert status(connect) == {
        "level": "status",
        "code": "NetConnection.Connect.Success",
        "description": "Connection succeeded.",
        "objectEncoding": 0.0,
    }
    assert (released.name, released.arguments) == ("_result", (None,))
    assert status(fc_publish) == {"code": "NetStream.Publish.Start", "description": KEY}
    assert (fc_result.name, fc_result.transaction_id) == ("_result", 3)
    assert created.arguments == (1.0,)
    assert status(started) == {"level": "status", "code": "NetStream.Publish.Start", "description": "Publishing."}
    onstatus = [m for m in joined.replies if m.type_id == MessageType.COMMAND_AMF0][-1]
    assert (onstatus.stream_id, onstatus.chunk_stream_id) == (1, 5)  # on the publish stream


def test_commands_without_a_transaction_id_get_no_result() -> None:
    joined = connected()
    before = len(joined.commands())
    joined.push(joined.client.call("releaseStream", 0, KEY) + joined.client.call("FCPublish", 0, KEY))
    assert [c.name for c in joined.commands()[before:]] == ["onFCPublish"]


def test_a_publish_waits_for_the_decision_and_the_media_behind_it_waits_too() -> None:
    joined = connected(decide=lambda session, request: None)  # the test decides
    session = joined.session
    data = up_to_publish(joined.client) + joined.client.send(video(0), audio(0))
    session.receive_data(data)
    assert session.next_event() == PublishRequested("live", KEY, 1)
    with pytest.raises(RuntimeError, match="first"):
        session.next_event()
    session.accept_publish()
    assert session.publishing
    assert session.next_event() == Video(0, video(0).payload)
    assert session.next_event() == Audio(0, audio(0).payload)
    assert session.next_event() is None


def test_the_stream_key_is_in_no_repr() -> None:
    request = PublishRequested("live", KEY, 1)
    assert KEY not in repr(request)
    assert KEY not in str(request)


# Refusals


def test_commands_before_connect_are_a_protocol_error() -> None:
    joined = Joined()
    joined.handshake()
    with pytest.raises(ProtocolError, match="before connect"):
        joined.push(joined.client.call("createStream", 2))
    assert joined.session.closed


@pytest.mark.parametrize("second", [True, False], ids=["second-connect", "connect-without-app"])
def test_an_invalid_connect_is_refused(second: bool) -> None:
    joined = Joined()
    joined.handshake()
    if second:
        joined.push(joined.client.connect())
        data = joined.client.connect()
    else:
        data = joined.client.send(messages.command("connect", 1, {"tcUrl": "rtmp://127.0.0.1/"}))
    events = joined.push(data + joined.client.call("createStream", 2))
    assert events == [Refused("NetConnection.Connect.Rejected", "Invalid connect.")]
    last = joined.commands()[-1]
    assert last.name == "_error"
    assert status(last)["code"] == "NetConnection.Connect.Rejected"
    assert joined.session.closed


def test_play_is_refused() -> None:
    joined = connected()
    joined.push(joined.client.call("createStream", 2))
    events = joined.push(joined.client.call("play", 3, KEY, stream_id=1))
    assert events == [Refused("NetStream.Play.Failed", "This server takes publishers.")]
    assert joined.last_status()["level"] == "error"
    assert joined.session.closed


def test_unknown_commands_get_an_error_when_they_expect_an_answer() -> None:
    joined = connected()
    before = len(joined.commands())
    joined.push(joined.client.call("getStreamLength", 4, KEY) + joined.client.call("onBWDone", 0))
    (error,) = joined.commands()[before:]
    assert (error.name, error.transaction_id) == ("_error", 4)
    assert status(error)["code"] == "NetConnection.Call.Failed"
    assert not joined.session.closed


def test_streams_per_connection_are_bounded() -> None:
    joined = connected()
    before = len(joined.commands())
    joined.push(b"".join(joined.client.call("createStream", 10 + i) for i in range(MAX_STREAMS + 1)))
    created = joined.commands()[before:]
    assert [c.arguments for c in created[:MAX_STREAMS]] == [(float(i),) for i in range(1, MAX_STREAMS + 1)]
    assert created[-1].name == "_error"
    assert status(created[-1])["description"] == "Too many streams."


def invalid_publish(client: Publisher, name: AmfValue, stream_id: int = 1) -> bytes:
    return client.call("createStream", 4) + client.call("publish", 5, name, "live", stream_id=stream_id)


@pytest.mark.parametrize(
    ("name", "stream_id", "description"),
    [
        (KEY, 2, "Publish on a stream that was not created."),
        ("", 1, "Invalid stream name."),
        ("k" * (MAX_STREAM_NAME + 1), 1, "Invalid stream name."),
        (None, 1, "Invalid stream name."),
        (42.0, 1, "Invalid stream name."),
    ],
    ids=["stream-not-created", "empty", "too-long", "null", "number"],
)
def test_an_invalid_publish_is_refused_with_badname(name: AmfValue, stream_id: int, description: str) -> None:
    joined = connected()
    events = joined.push(invalid_publish(joined.client, name, stream_id) + joined.client.send(video(0, stream_id)))
    assert events == [Refused("NetStream.Publish.BadName", description)]
    assert joined.last_status() == {"level": "error", "code": "NetStream.Publish.BadName", "description": description}
    assert joined.session.closed


def test_the_longest_stream_name_is_taken() -> None:
    joined = connected()
    name = "k" * MAX_STREAM_NAME
    assert joined.push(invalid_publish(joined.client, name)) == [PublishRequested("live", name, 1)]


def test_one_publish_per_connection() -> None:
    joined = publishing()
    joined.push(joined.client.call("FCUnpublish", 6, KEY) + joined.client.call("deleteStream", 7, 1.0))
    events = joined.push(joined.client.call("createStream", 8) + joined.client.call("publish", 9, KEY, stream_id=2))
    assert events == [Refused("NetStream.Publish.BadName", "One publish per connection.")]


def test_a_second_publish_while_publishing_is_refused() -> None:
    joined = publishing()
    events = joined.push(joined.client.call("publish", 6, KEY, stream_id=1))
    assert events == [Refused("NetStream.Publish.BadName", "One publish per connection.")]
    assert not joined.session.publishing


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (("Stream key refused.",), "NetStream.Publish.BadName"),
        (("Try again later.", "NetStream.Publish.Failed"), "NetStream.Publish.Failed"),
    ],
)
def test_the_driver_refuses_a_publish(arguments: tuple[str, ...], code: str) -> None:
    def refuse(session: RtmpSession, request: PublishRequested) -> None:
        session.refuse_publish(*arguments)

    joined = connected(decide=refuse)
    events = joined.push(up_to_publish(joined.client) + joined.client.send(video(0)))
    assert events == [PublishRequested("live", KEY, 1)]  # the video behind it is never read
    assert joined.last_status() == {"level": "error", "code": code, "description": arguments[0]}
    onstatus = joined.replies[-1]
    assert (onstatus.stream_id, onstatus.chunk_stream_id) == (1, 5)
    assert joined.session.closed
    assert not joined.session.publishing
    assert joined.push(joined.client.send(video(40))) == []  # closed for further input


@pytest.mark.parametrize("code", [None, "NetStream.Publish.Failed"])
def test_the_driver_rejects_an_accepted_publish(code: str | None) -> None:
    joined = publishing()
    session = joined.session
    aggregate = aggregate_of(video(0), video(33))
    session.receive_data(joined.client.send(aggregate, audio(40)))
    assert isinstance(session.next_event(), Video)
    description = "This server takes H.264 video: set OBS Settings → Output → Encoder to x264"
    if code is None:
        session.reject_publish(description)
    else:
        session.reject_publish(description, code)
    assert session.closed
    assert not session.publishing
    assert session.next_event() is None  # the second video and the audio are dropped
    replies = joined.client.read(session.data_to_send())
    assert [(m.stream_id, m.chunk_stream_id) for m in replies] == [(1, 5)]
    assert status(messages.parse_command(replies[0])) == {
        "level": "error",
        "code": code or "NetStream.Publish.Rejected",
        "description": description,
    }


def test_decisions_out_of_turn_are_programming_errors() -> None:
    joined = connected()
    with pytest.raises(RuntimeError):
        joined.session.accept_publish()
    with pytest.raises(RuntimeError):
        joined.session.refuse_publish("no")
    with pytest.raises(RuntimeError):
        joined.session.reject_publish("no")
    joined.push(up_to_publish(joined.client))
    with pytest.raises(RuntimeError):
        joined.session.refuse_publish("already accepted")
    joined.push(joined.client.call("FCUnpublish", 6, KEY))
    with pytest.raises(RuntimeError):
        joined.session.reject_publish("already over")


# Media, metadata and the end of a publish


def test_media_before_publish_on_another_stream_and_after_unpublish_is_dropped() -> None:
    joined = connected()
    joined.push(joined.client.call("createStream", 2) + joined.client.call("createStream", 3))
    assert joined.push(joined.client.send(video(0), metadata_message({"width": 1.0}))) == []
    joined.push(joined.client.call("publish", 5, KEY, stream_id=1))
    events = joined.push(joined.client.send(video(10, stream_id=2), video(20), metadata_message({}, stream_id=2)))
    assert events == [Video(20, video(20).payload)]
    events = joined.push(joined.client.call("closeStream", 0, stream_id=1) + joined.client.send(video(30)))
    assert events == [Unpublished(EndReason.UNPUBLISHED)]
    assert not joined.session.closed


def test_data_before_publish_is_not_even_parsed() -> None:
    joined = connected()
    assert joined.push(joined.client.send(Message(MessageType.DATA_AMF0, 0, 0, b"\x02\x00\x09cut", 4))) == []


@pytest.mark.parametrize(
    "payload",
    [
        amf0.encode("@setDataFrame", "onMetaData", EcmaArray(width=1280.0)),
        amf0.encode("onMetaData", {"width": 1280.0}),
    ],
    ids=["setDataFrame", "bare"],
)
@pytest.mark.parametrize("type_id", [MessageType.DATA_AMF0, MessageType.DATA_AMF3])
def test_metadata_in_every_form(payload: bytes, type_id: int) -> None:
    joined = publishing()
    if type_id == MessageType.DATA_AMF3:
        payload = b"\x00" + payload  # AMF0 behind the AMF3 format byte
    assert joined.push(joined.client.send(Message(type_id, 0, 1, payload, 4))) == [Metadata({"width": 1280.0})]


def test_other_data_messages_are_ignored() -> None:
    joined = publishing()
    data = [amf0.encode("@setDataFrame", "onTextData", {"text": "hi"}), amf0.encode("onMetaData", "not a map")]
    assert joined.push(joined.client.send(*(Message(MessageType.DATA_AMF0, 0, 1, d, 4) for d in data))) == []


def aggregate_of(*parts: Message) -> Message:
    """An aggregate message (7.1.6) of FLV tags; the first part's timestamp is the aggregate's."""
    body = bytearray()
    for part in parts:
        size = len(part.payload)
        header = bytes((part.type_id,)) + size.to_bytes(3, "big") + (part.timestamp & 0xFFFFFF).to_bytes(3, "big")
        body += header + bytes((part.timestamp >> 24,)) + bytes(3) + part.payload + (11 + size).to_bytes(4, "big")
    return Message(MessageType.AGGREGATE, parts[0].timestamp, parts[0].stream_id, bytes(body), 4)


def test_aggregate_messages_are_split_into_media_and_metadata() -> None:
    joined = publishing()
    parts = [metadata_message({"width": 2.0}), audio(1000), video(1033), audio(1023)]
    aggregate = aggregate_of(*parts)
    events = joined.push(joined.client.send(Message(aggregate.type_id, 5000, 1, aggregate.payload, 4)))
    # Timestamps relative to the first part, which takes the aggregate's own.
    assert events == [
        Metadata({"width": 2.0}),
        Audio(6000, parts[1].payload),
        Video(6033, parts[2].payload),
        Audio(6023, parts[3].payload),
    ]


@pytest.mark.parametrize(
    ("unpublish", "name"),
    [("FCUnpublish", KEY), ("deleteStream", 1.0), ("closeStream", None)],
)
def test_each_unpublish_command_ends_the_publish_once(unpublish: str, name: AmfValue) -> None:
    joined = publishing()
    stream_id = 1 if unpublish == "closeStream" else 0
    arguments = () if name is None else (name,)
    events = joined.push(joined.client.call(unpublish, 6, *arguments, stream_id=stream_id))
    assert events == [Unpublished(EndReason.UNPUBLISHED)]
    assert not joined.session.publishing
    assert joined.push(joined.client.call("deleteStream", 7, 1.0)) == []


def test_deleting_another_stream_or_by_name_does_not_end_the_publish() -> None:
    joined = publishing()
    assert joined.push(joined.client.call("deleteStream", 6, 2.0) + joined.client.call("deleteStream", 7, KEY)) == []
    assert joined.session.publishing


def test_the_end_of_stream_while_publishing_ends_the_publish() -> None:
    joined = publishing()
    assert joined.push(b"") == [Unpublished(EndReason.CLOSED), ConnectionClosed(truncated=False)]
    assert joined.session.closed
    session = RtmpSession()
    session.receive_data(b"")
    with pytest.raises(RuntimeError, match="after the end"):
        session.receive_data(b"late")


def test_the_end_of_stream_mid_message_is_reported_truncated() -> None:
    joined = publishing()
    data = joined.client.send(video(0))
    assert joined.push(data[:-1]) == []
    assert joined.push(b"") == [Unpublished(EndReason.CLOSED), ConnectionClosed(truncated=True)]


# Protocol control


def test_acknowledgements_follow_the_window_the_client_announces() -> None:
    joined = publishing(RtmpSession(RtmpLimits(ack_window_bytes=100_000)))
    joined.push(joined.client.send(messages.window_ack_size(4096)))
    before = len(joined.replies)
    data = joined.client.send(*(audio(23 * i, size=1000) for i in range(5)))  # about 5 kB
    joined.push(data, (999,))
    (ack,) = joined.replies[before:]
    assert ack.type_id == MessageType.ACKNOWLEDGEMENT
    assert 4096 <= messages.read_u32(ack.payload, "") <= joined.pushed - 1 - 2 * HANDSHAKE_SIZE


def test_until_the_client_announces_a_window_ours_applies() -> None:
    joined = Joined(RtmpSession(RtmpLimits(ack_window_bytes=1000)))
    joined.handshake()
    data = joined.client.connect() + joined.client.send(*(audio(i, stream_id=0, size=400) for i in range(3)))
    joined.push(data)
    acks = [m for m in joined.replies if m.type_id == MessageType.ACKNOWLEDGEMENT]
    assert [messages.read_u32(m.payload, "") for m in acks] == [len(data)]  # not the handshake's bytes


def test_a_window_change_applies_to_what_was_already_received() -> None:
    joined = connected()
    data = joined.client.send(*(audio(i, stream_id=0, size=400) for i in range(3)), messages.window_ack_size(1000))
    joined.push(data)
    assert [m.type_id for m in joined.replies][-1] == MessageType.ACKNOWLEDGEMENT


@pytest.mark.parametrize("window", [0, 0x80000000])
def test_an_invalid_window_is_a_protocol_error(window: int) -> None:
    joined = connected()
    with pytest.raises(ProtocolError, match="acknowledgement window"):
        joined.push(joined.client.send(messages.window_ack_size(window)))


def test_pings_are_answered_with_their_timestamp() -> None:
    joined = connected()
    before = len(joined.replies)
    ping = messages.user_control(UserControlEvent.PING_REQUEST, b"\x00\x01\x02\x03")
    other = messages.user_control(UserControlEvent.SET_BUFFER_LENGTH, bytes(8))
    assert joined.push(joined.client.send(ping, other)) == []
    (pong,) = joined.replies[before:]
    assert messages.parse_user_control(pong.payload) == (UserControlEvent.PING_RESPONSE, b"\x00\x01\x02\x03")


def test_the_client_chunk_size_and_unknown_message_types_are_taken() -> None:
    joined = publishing()
    joined.push(joined.client.set_chunk_size(64))
    unknown = Message(0x7F, 0, 0, b"whatever", 3)
    assert joined.push(joined.client.send(unknown, video(0))) == [Video(0, video(0).payload)]


# Limits and malformed input: raised, and the session is closed


def assert_refused(joined: Joined, data: bytes, error: type[Exception], match: str | None = None) -> None:
    with pytest.raises(error, match=match):
        joined.push(data)
    assert joined.session.closed
    assert not joined.session.publishing
    joined.session.receive_data(b"anything")
    assert joined.session.next_event() is None


def test_a_declared_oversize_message_exceeds_the_limit() -> None:
    joined = publishing(RtmpSession(RtmpLimits(max_message_bytes=10_000)))
    header = bytes.fromhex("04 000000") + (10_001).to_bytes(3, "big") + bytes.fromhex("09 01000000")
    assert_refused(joined, header, LimitExceeded, "10001 bytes")


def test_chunk_streams_are_bounded() -> None:
    joined = publishing(RtmpSession(RtmpLimits(max_chunk_streams=4)))
    data = joined.client.send(*(Message(MessageType.AUDIO, 0, 1, b"\xaf\x01", 10 + i) for i in range(4)))
    assert_refused(joined, data, LimitExceeded, "chunk streams")


def test_malformed_amf_is_refused() -> None:
    joined = Joined()
    joined.handshake()
    cut_short = Message(MessageType.COMMAND_AMF0, 0, 0, b"\x02\x00\x07conn", 3)  # a 7-byte string of 4
    assert_refused(joined, joined.client.send(cut_short), AmfError)


def test_a_broken_chunk_stream_is_refused() -> None:
    joined = Joined()
    joined.handshake()
    assert_refused(joined, bytes.fromhex("44 000021 000010 09") + bytes(16), ProtocolError, "type 1")


def test_amf3_encoded_commands_are_refused() -> None:
    joined = Joined()
    joined.handshake()
    data = joined.client.send(Message(MessageType.COMMAND_AMF3, 0, 0, b"\x11\x06\x0fconnect", 3))
    assert_refused(joined, data, ProtocolError, "AMF3")


def test_a_command_without_a_name_is_refused() -> None:
    joined = connected()
    nameless = Message(MessageType.COMMAND_AMF0, 0, 0, amf0.encode(1.0), 3)
    assert_refused(joined, joined.client.send(nameless), ProtocolError, "without a name")


# Before publish: small budgets of bytes, messages and decode work; media limits after it.
# Each test fails if its limit is removed: the same input is taken once the publish is accepted.


def command_of(size: int, name: str = "whatever") -> Message:
    """A command (no answer expected) whose payload is `size` bytes: a string argument pads it."""
    head = amf0.encode(name, 0.0, None)
    return Message(MessageType.COMMAND_AMF0, 0, 0, head + amf0.encode("x" * (size - len(head) - 3)), 3)


def test_before_publish_a_message_may_not_exceed_a_few_kib() -> None:
    limit = RtmpLimits().pre_publish_max_message_bytes
    joined = connected()
    assert joined.push(joined.client.send(command_of(limit))) == []
    assert_refused(joined, joined.client.send(command_of(limit + 1)), LimitExceeded, "before publish")

    joined = publishing()  # after it the media limit applies: the same message is taken
    assert joined.push(joined.client.send(command_of(limit + 1), video(0, size=100_000))) == [
        Video(0, video(0, size=100_000).payload)
    ]


def test_before_publish_a_message_is_refused_on_its_header() -> None:
    joined = connected()
    header = bytes.fromhex("03 000000") + (0x7FFFFF).to_bytes(3, "big") + bytes.fromhex("14 00000000")
    assert_refused(joined, header, LimitExceeded, "the limit is 4096, before publish")


def test_before_publish_the_bytes_are_bounded() -> None:
    # 17 messages of 4 KiB: each one and their count within their limits, their sum not.
    limits = RtmpLimits()
    joined = connected()
    data = joined.client.send(*[command_of(4000)] * 17)
    assert len(data) > limits.pre_publish_max_bytes
    assert_refused(joined, data, LimitExceeded, f"more than {limits.pre_publish_max_bytes} bytes before publish")

    joined = publishing()
    assert joined.push(joined.client.send(*[command_of(4000)] * 17)) == []


def test_before_publish_the_messages_are_counted() -> None:
    # A type 3 header on a chunk stream whose last message was empty is a whole message in one byte.
    limit = RtmpLimits().pre_publish_max_messages
    joined = connected()
    empty = joined.client.send(Message(0x7F, 0, 0, b"", 3))
    assert_refused(joined, empty + b"\xc3" * limit, LimitExceeded, f"more than {limit} messages before publish")

    joined = publishing()
    assert joined.push(joined.client.send(Message(0x7F, 0, 0, b"", 3)) + b"\xc3" * 10 * limit) == []


def test_before_publish_the_amf0_values_decoded_are_bounded_across_commands() -> None:
    limit = RtmpLimits().pre_publish_max_amf_values
    # Each command is small and has fewer values than the per-message bound; together too many.
    fifty = Message(MessageType.COMMAND_AMF0, 0, 0, amf0.encode("whatever", 0.0, None, *[None] * 47), 3)
    joined = connected()
    joined.push(joined.client.send(*[fifty] * (limit // 50 - 1)))
    assert not joined.session.closed
    assert_refused(joined, joined.client.send(*[fifty] * 2), LimitExceeded, f"more than {limit} AMF0 values")

    joined = publishing()
    assert joined.push(joined.client.send(*[fifty] * (limit // 50 + 2))) == []


def test_before_publish_the_chunk_size_only_grows() -> None:
    joined = connected()
    joined.push(joined.client.set_chunk_size(128))
    assert_refused(joined, joined.client.set_chunk_size(127), LimitExceeded, "chunk size 127 before publish")

    joined = publishing()
    joined.push(joined.client.set_chunk_size(1))
    assert joined.push(joined.client.send(video(0, size=10))) == [Video(0, video(0, size=10).payload)]


def test_the_media_limits_apply_from_the_byte_after_publish() -> None:
    # Sent in one piece: the keyframe after `publish` is read under the media limits, not
    # refused by the pre-publish ones it arrived with.
    joined = connected()
    keyframe = video(0, size=200_000)
    joined.push(up_to_publish(joined.client) + joined.client.send(keyframe))
    assert joined.events[-2:] == [PublishRequested("live", KEY, 1), Video(0, keyframe.payload)]


def test_a_publish_refused_keeps_the_pre_publish_limits() -> None:
    def refuse(session: RtmpSession, request: PublishRequested) -> None:
        session.refuse_publish("no")

    joined = connected(decide=refuse)
    joined.push(up_to_publish(joined.client) + joined.client.send(video(0, size=200_000)))
    assert joined.session.closed
    assert joined.session.pre_publish
    assert not any(isinstance(event, Video) for event in joined.events)


def test_the_memory_budget_is_shared_and_given_back() -> None:
    memory = MemoryBudget(10_000)
    first = publishing(RtmpSession(memory=memory))
    first.push(first.client.send(video(0, size=6000))[:-1])  # a keyframe that has not arrived whole
    assert 6000 <= memory.held == first.session.held < 6100

    second = publishing(RtmpSession(memory=memory))
    partial = second.client.send(video(0, size=6000))[:-1]
    assert_refused(second, partial, LimitExceeded, "10000 bytes for buffered client input")
    assert memory.held == first.session.held  # the refused session holds nothing any more

    first.session.close()
    assert memory.held == 0
    third = publishing(RtmpSession(memory=memory))
    third.push(third.client.send(video(0, size=6000)))
    assert memory.held == 0  # a message delivered is no longer held


def test_a_session_holds_nothing_once_it_ends() -> None:
    memory = MemoryBudget(1 << 20)
    joined = publishing(RtmpSession(memory=memory))
    joined.push(joined.client.send(video(0, size=5000))[:-10])
    assert memory.held > 0
    joined.push(b"")
    assert joined.session.closed
    assert memory.held == 0


# Recordings of real publishers


@dataclass(frozen=True)
class Recording:
    """What a recording holds (`record.py` made them; update these if it remakes them)."""

    videos: int  # video messages: the AVC sequence header, the frames (and an end of sequence)
    audios: int  # the AAC sequence header and frames
    metadata: int  # onMetaData messages (GStreamer's flvmux repeats it)
    answered: list[int]  # transactions we answer with `_result` (rtmp2sink asks for few)
    size: tuple[int, int]
    encoder: str
    last_ms: tuple[int, int]  # the range the last timestamps fall in
    keyframes: int  # after the first frame
    ends_with_end_of_sequence: bool = True


# ffmpeg and GStreamer: 160x90, -g 30 / key-int-max=30, 45 frames (1.5 s). OBS 29 with its
# default output settings (keyframe interval "0 = auto", i.e. x264's 250 frames) at 320x180.
RECORDINGS = {
    "ffmpeg": Recording(47, 66, 1, [1, 2, 3, 4, 6], (160, 90), "Lavf59.27.100", (1300, 1600), 1),
    "gst-rtmpsink": Recording(47, 71, 14, [1, 2, 3, 4, 6], (160, 90), "GStreamer 1.22.0 FLV muxer", (1300, 1600), 1),
    "gst-rtmp2sink": Recording(47, 71, 14, [1, 2], (160, 90), "GStreamer 1.22.0 FLV muxer", (1300, 1600), 1),
    "obs": Recording(
        67, 101, 1, [1, 2, 3, 4, 6], (320, 180), "obs-output module (libobs version 29.0.2.1-1+b1)", (2100, 2250), 0,
        ends_with_end_of_sequence=False,
    ),
}  # fmt: skip
RECORDED_KEY = "fixture-stream-key"


def replay(name: str, sizes: Iterable[int]) -> Joined:
    joined = Joined(RtmpSession(random=random.Random(name).randbytes(RANDOM_SIZE)))
    joined.push((FIXTURES / f"{name}.bin").read_bytes(), sizes)
    joined.push(b"")
    return joined


def is_sequence_header(event: Event, codec: int) -> bool:
    """The AVC (7) decoder configuration or AAC (10) AudioSpecificConfig, packet type 0."""
    payload = event.payload if isinstance(event, Audio | Video) else b""
    codec_of = payload[0] & 0x0F if isinstance(event, Video) else payload[0] >> 4
    return codec_of == codec and payload[1] == 0


@pytest.mark.parametrize("sizes", [(65536,), (1,), (3, 1000, 17)], ids=["reads", "byte-by-byte", "odd"])
@pytest.mark.parametrize("name", list(RECORDINGS))
def test_a_recorded_publisher_replays_whole(name: str, sizes: tuple[int, ...]) -> None:
    recording = RECORDINGS[name]
    joined = replay(name, sizes)
    events = joined.events

    assert events[:2] == [Connected("live"), PublishRequested("live", RECORDED_KEY, 1)]
    assert isinstance(events[2], Metadata)
    assert events[-2:] == [Unpublished(EndReason.UNPUBLISHED), ConnectionClosed(truncated=False)]
    video_events = [e for e in events if isinstance(e, Video)]
    audio_events = [e for e in events if isinstance(e, Audio)]
    metadata = [e.values for e in events if isinstance(e, Metadata)]
    counts = (len(video_events), len(audio_events), len(metadata))
    assert counts == (recording.videos, recording.audios, recording.metadata)
    assert len(events) == 2 + sum(counts) + 2
    # The decoder configurations come first; ffmpeg and GStreamer end with the AVC end of sequence.
    assert is_sequence_header(video_events[0], 7)
    assert is_sequence_header(audio_events[0], 10)
    assert (video_events[-1].payload[:2] == b"\x17\x02") is recording.ends_with_end_of_sequence
    for track in (video_events, audio_events):
        stamps = [e.timestamp_ms for e in track]
        assert stamps == sorted(stamps)
        assert recording.last_ms[0] <= stamps[-1] <= recording.last_ms[1]
    frames = video_events[1:-1] if recording.ends_with_end_of_sequence else video_events[1:]
    assert frames[0].payload[0] >> 4 == 1  # a keyframe first
    assert len([e for e in frames[1:] if e.payload[0] >> 4 == 1]) == recording.keyframes

    # Every client says what it sends (GStreamer's flvmux the size too, from h264parse's caps).
    first = metadata[0]
    assert (first["width"], first["height"]) == tuple(float(side) for side in recording.size)
    assert (first["videocodecid"], first["audiocodecid"], first["framerate"]) == (7.0, 10.0, 30.0)
    assert first["encoder"] == recording.encoder
    assert all(values.keys() == first.keys() for values in metadata)

    # Our answers, as the client read them.
    results = [c.transaction_id for c in joined.commands() if c.name == "_result"]
    assert results == recording.answered
    statuses = [status(c)["code"] for c in joined.commands() if c.name in ("onStatus", "onFCPublish", "onFCUnpublish")]
    assert statuses == ["NetStream.Publish.Start", "NetStream.Publish.Start", "NetStream.Unpublish.Success"]
