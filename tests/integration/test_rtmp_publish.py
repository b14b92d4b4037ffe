"""The RTMP server on 127.0.0.1 with real publishers: FFmpeg (and GStreamer when installed), and
a raw-socket client built from the chunk and AMF0 layers for what FFmpeg cannot be made to do.

Every wait is bounded; nothing sleeps in place of a readiness signal: the server reports its
port once listening, sessions signal their first frame and their end.
"""

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from letslive.constants import (
    ENV_INGEST_RTMP_ACK_WINDOW_BYTES,
    ENV_INGEST_RTMP_AUTHORIZE_TIMEOUT_SECONDS,
    ENV_INGEST_RTMP_HANDSHAKE_TIMEOUT_SECONDS,
    ENV_INGEST_RTMP_IDLE_TIMEOUT_SECONDS,
    ENV_INGEST_RTMP_MAX_CHUNK_STREAMS,
    ENV_INGEST_RTMP_MAX_CONNECTIONS_PER_ADDRESS,
    ENV_INGEST_RTMP_MAX_MESSAGE_BYTES,
)
from tests.fixtures.rtmp.client import RawClient, status
from workers.ingest.config import IngestSettings
from workers.ingest.rtmp import (
    EcmaArray,
    EndReason,
    FlvWriter,
    InMemoryAuthorizer,
    PublishRejected,
    RtmpLimits,
    RtmpServer,
    amf0,
)
from workers.ingest.rtmp import messages as rtmp
from workers.ingest.rtmp.amf0 import AmfValue
from workers.ingest.rtmp.handshake import HANDSHAKE_SIZE
from workers.ingest.rtmp.messages import Command, Message, MessageType

needs_ffmpeg = pytest.mark.tools("ffmpeg", "ffprobe")

KEY = "live_0123456789abcdef"
# Bounds every wait on the server or a client.
TIMEOUT = 5.0
# On top of a publish's duration: FFmpeg's start-up and encoding on a slow machine.
PUBLISH_SLACK = 20.0
# ffprobe must find the publish's duration within this (the acceptance bound).
DURATION_TOLERANCE = 0.5

AAC_ARGS = ("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-c:a", "aac")
# 441-sample frames at 44.1 kHz: every audio message is 10 ms and 882 bytes, so FFmpeg sends all
# but the first with a type 3 header that starts a new message and reuses the 10 ms delta.
PCM_ARGS = ("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:samples_per_frame=441", "-c:a", "pcm_s16le")


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def eventually(predicate: Callable[[], bool]) -> None:
    """Wait (bounded) for a count the server updates on its own once a client has gone."""
    async with asyncio.timeout(TIMEOUT):
        # Polling: connection counts have no event to wait on, and need none in production.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


# Sessions


def is_aac_sequence_header(payload: bytes) -> bool:
    return len(payload) >= 2 and payload[0] >> 4 == 10 and payload[1] == 0


def is_avc_frame(payload: bytes) -> bool:
    """An H.264 NAL unit packet: not the sequence header (0) nor the end of sequence (2)."""
    return len(payload) >= 2 and payload[0] & 0x0F == 7 and payload[1] == 1


class RecordingSession:
    """Records what the server passes on and writes it as FLV to `path`."""

    def __init__(self, key: str, path: Path, fail_on_video: Exception | None = None) -> None:
        self.key = key
        self.path = path
        self.fail_on_video = fail_on_video  # raised by the first video message
        self._file = path.open("wb")
        self._flv = FlvWriter(self._file.write)
        self.metadata: list[dict[str, AmfValue]] = []
        self.audio: list[tuple[int, bytes]] = []
        self.video: list[tuple[int, bytes]] = []
        self.ends: list[str] = []
        self.live = asyncio.Event()  # the first video message arrived
        self.ended = asyncio.Event()

    async def on_metadata(self, metadata: dict[str, AmfValue]) -> None:
        self.metadata.append(metadata)
        await self._flv.write_metadata(metadata)

    async def on_audio(self, timestamp_ms: int, payload: bytes) -> None:
        self.audio.append((timestamp_ms, payload))
        await self._flv.write_audio(timestamp_ms, payload)

    async def on_video(self, timestamp_ms: int, payload: bytes) -> None:
        if self.fail_on_video is not None:
            raise self.fail_on_video
        self.video.append((timestamp_ms, payload))
        await self._flv.write_video(timestamp_ms, payload)
        self.live.set()

    async def on_end(self, reason: str) -> None:
        self.ends.append(reason)
        self._file.close()
        self.ended.set()

    async def wait_live(self) -> None:
        async with asyncio.timeout(PUBLISH_SLACK):
            await self.live.wait()

    async def wait_ended(self) -> None:
        async with asyncio.timeout(TIMEOUT):
            await self.ended.wait()


class Recorder:
    """The session factory: one `RecordingSession` per accepted publish, FLV in `directory`."""

    def __init__(self, directory: Path, failures: dict[str, Exception] | None = None) -> None:
        self.directory = directory
        self.failures = failures or {}
        self.sessions: list[RecordingSession] = []
        self._created = asyncio.Event()

    def __call__(self, app: str, stream_key: str, client: str) -> RecordingSession:
        assert app == "live"
        assert client.startswith("127.0.0.1:")
        session = RecordingSession(stream_key, self.directory / f"{stream_key}.flv", self.failures.get(stream_key))
        self.sessions.append(session)
        self._created.set()
        return session

    def of(self, key: str) -> list[RecordingSession]:
        return [session for session in self.sessions if session.key == key]

    async def session(self, key: str) -> RecordingSession:
        """The first session for `key`, waiting (bounded) for the publish to be accepted."""
        async with asyncio.timeout(PUBLISH_SLACK):
            while not self.of(key):
                self._created.clear()
                await self._created.wait()
        return self.of(key)[0]


@dataclass
class Served:
    server: RtmpServer
    recorder: Recorder
    authorizer: InMemoryAuthorizer

    @property
    def port(self) -> int:
        return self.server.port


@contextlib.asynccontextmanager
async def serving(
    directory: Path, keys: tuple[str, ...] = (KEY,), failures: dict[str, Exception] | None = None, **limits: Any
) -> AsyncIterator[Served]:
    """A server on a free port; the session of a key in `failures` raises it on its first video."""
    recorder = Recorder(directory, failures)
    authorizer = InMemoryAuthorizer(recorder, keys=keys)
    server = RtmpServer(authorizer, RtmpLimits(**limits))
    await server.start("127.0.0.1", 0)
    try:
        yield Served(server, recorder, authorizer)
    finally:
        await server.close()


# FFmpeg


@dataclass
class Outcome:
    returncode: int
    stderr: str


async def ffmpeg_publish(port: int, key: str, seconds: int, audio: tuple[str, ...] = AAC_ARGS) -> Outcome:
    """The issue's publish command: a real-time (-re) test pattern and tone, x264 + AAC, to RTMP."""
    args = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", *audio[:4], "-t", str(seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", *audio[4:],
        "-f", "flv", f"rtmp://127.0.0.1:{port}/live/{key}",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(seconds + PUBLISH_SLACK):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Outcome(process.returncode, stderr.decode(errors="replace"))


async def ffprobe(path: Path) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-show_entries",
        "stream=index,codec_type,codec_name:format=duration:packet=stream_index,pts_time",
        "-of", "json", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(TIMEOUT * 2):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode(errors="replace")
    report: dict[str, Any] = json.loads(stdout)
    return report


def assert_timestamps_sane(session: RecordingSession) -> None:
    for track in (session.audio, session.video):
        stamps = [timestamp for timestamp, _ in track]
        assert stamps == sorted(stamps), "timestamps went backwards"
    frames = [timestamp for timestamp, payload in session.audio if not is_aac_sequence_header(payload)]
    duplicates = [timestamp for timestamp, count in Counter(frames).items() if count > 1]
    assert not duplicates, f"duplicate audio timestamps: {duplicates[:5]}"


async def assert_recording(
    session: RecordingSession, seconds: float, codecs: tuple[str, str] = ("h264", "aac")
) -> None:
    """A whole publish: metadata, both tracks for the full duration, ended once, playable FLV."""
    assert session.ends == [EndReason.UNPUBLISHED]
    assert session.metadata
    assert (session.metadata[0]["width"], session.metadata[0]["height"]) == (640.0, 360.0)
    assert sum(is_avc_frame(payload) for _, payload in session.video) >= seconds * 30 - 2
    assert session.audio
    assert_timestamps_sane(session)

    report = await ffprobe(session.path)
    kinds = {stream["codec_type"]: stream for stream in report["streams"]}
    assert set(kinds) == {"video", "audio"}
    assert (kinds["video"]["codec_name"], kinds["audio"]["codec_name"]) == codecs
    # The metadata says how long FFmpeg meant the stream to be; the packets say how long it is.
    assert abs(float(report["format"]["duration"]) - seconds) <= DURATION_TOLERANCE
    for stream in report["streams"]:
        last = max(float(p["pts_time"]) for p in report["packets"] if p["stream_index"] == stream["index"])
        assert abs(last - seconds) <= DURATION_TOLERANCE, (stream["codec_type"], last)


@needs_ffmpeg
def test_ffmpeg_publish_arrives_whole(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path) as served:
            publish = asyncio.create_task(ffmpeg_publish(served.port, KEY, 4))
            session = await served.recorder.session(KEY)
            await session.wait_live()
            assert served.server.active_publishes == 1
            assert served.authorizer.live == {KEY}

            outcome = await publish
            assert outcome.returncode == 0, outcome.stderr
            await session.wait_ended()
            assert served.server.active_publishes == 0
            assert served.authorizer.live == frozenset()
            await assert_recording(session, 4)
        assert session.ends == [EndReason.UNPUBLISHED]  # still once after the server closed

    run(scenario)


@needs_ffmpeg
def test_wrong_key_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path) as served:
            outcome = await ffmpeg_publish(served.port, "not-the-key", 2)
            assert outcome.returncode != 0
            assert "Stream key refused" in outcome.stderr
            assert served.recorder.sessions == []
            assert served.authorizer.refused == 1
            assert served.server.active_publishes == 0

    run(scenario)
    assert list(tmp_path.iterdir()) == []


@needs_ffmpeg
def test_second_publisher_on_a_live_key_is_refused_while_the_first_goes_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path) as served:
            first = asyncio.create_task(ffmpeg_publish(served.port, KEY, 3))
            session = await served.recorder.session(KEY)
            await session.wait_live()

            second = await ffmpeg_publish(served.port, KEY, 2)
            assert second.returncode != 0
            assert "Stream key refused" in second.stderr
            assert not first.done()
            assert not session.ended.is_set()
            assert served.server.active_publishes == 1

            outcome = await first
            assert outcome.returncode == 0, outcome.stderr
            await session.wait_ended()
            assert len(served.recorder.sessions) == 1
            await assert_recording(session, 3)

    run(scenario)


@needs_ffmpeg
def test_two_publishers_with_different_keys_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        keys = ("key-aac", "key-pcm")
        async with serving(tmp_path, keys=keys) as served:
            publishes = [
                asyncio.create_task(ffmpeg_publish(served.port, keys[0], 3)),
                asyncio.create_task(ffmpeg_publish(served.port, keys[1], 3, PCM_ARGS)),
            ]
            for key in keys:
                await (await served.recorder.session(key)).wait_live()
            assert served.server.active_publishes == 2

            for outcome in await asyncio.gather(*publishes):
                assert outcome.returncode == 0, outcome.stderr
            aac, pcm = [await served.recorder.session(key) for key in keys]
            for session in (aac, pcm):
                await session.wait_ended()
            await assert_recording(aac, 3)
            await assert_recording(pcm, 3, ("h264", "pcm_s16le"))
            # Type 3 headers starting new messages, 10 ms apart: a reader that drops the reused
            # delta gives every frame the first frame's timestamp.
            stamps = [timestamp for timestamp, _ in pcm.audio]
            assert stamps == list(range(0, 10 * len(stamps), 10))

    run(scenario)


# Raw RTMP client


def has_type(type_id: int, message: Message) -> bool:
    return message.type_id == type_id


def status_code(command: Command) -> AmfValue:
    return status(command)["code"]


def test_the_whole_publish_sequence_message_by_message(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path) as served:
            client = await RawClient.open(served.port)
            c1 = bytes(4) + b"\x80\x00\x07\x02" + os.urandom(HANDSHAKE_SIZE - 8)  # a digest-style version
            answer = await client.handshake(c1)
            assert answer[0] == 3
            assert answer[5:9] == bytes(4)  # S1: the simple scheme
            assert answer[1 + HANDSHAKE_SIZE :] == c1  # S2 echoes C1

            await client.send_raw(client.publisher.connect())
            controls = [
                await client.receive(partial(has_type, kind))
                for kind in (MessageType.WINDOW_ACK_SIZE, MessageType.SET_PEER_BANDWIDTH, MessageType.SET_CHUNK_SIZE)
            ]
            assert [rtmp.read_u32(m.payload, "") for m in controls] == [2_500_000, 2_500_000, 4096]
            assert controls[1].payload[4] == rtmp.PeerBandwidthLimit.DYNAMIC
            connected = await client.reply("_result")
            assert connected.transaction_id == 1
            assert status_code(connected) == "NetConnection.Connect.Success"
            assert client.publisher.chunks_in.chunk_size == 4096

            await client.call("releaseStream", 2, KEY)
            assert (await client.reply("_result")).transaction_id == 2
            await client.call("FCPublish", 3, KEY)
            assert status_code(await client.reply("onFCPublish")) == "NetStream.Publish.Start"
            assert (await client.reply("_result")).transaction_id == 3
            await client.call("getStreamLength", 4, KEY)
            unknown = await client.reply("_error")
            assert unknown.transaction_id == 4
            await client.call("createStream", 5)
            assert (await client.reply("_result")).arguments == (1.0,)
            await client.call("publish", 6, KEY, "live", stream_id=1)
            started = await client.reply("onStatus")
            assert status_code(started) == "NetStream.Publish.Start"
            session = await served.recorder.session(KEY)
            assert served.server.active_publishes == 1

            # Our acknowledgement window, a larger client chunk size, then media with a metadata
            # frame; the chunk writer sends the equal audio deltas as type 3 headers.
            await client.send(rtmp.window_ack_size(4096))
            await client.send_raw(client.publisher.set_chunk_size(1000))
            metadata = EcmaArray(width=640.0, height=360.0, encoder="raw")
            data = amf0.encode("@setDataFrame", "onMetaData", metadata)
            await client.send(Message(MessageType.DATA_AMF0, 0, 1, data, 4))
            audio = [Message(MessageType.AUDIO, 23 * i, 1, b"\xaf\x01" + bytes(1500), 4) for i in range(8)]
            video = [Message(MessageType.VIDEO, 33 * i, 1, b"\x27\x01" + bytes(2500), 6) for i in range(3)]
            stray = Message(MessageType.VIDEO, 0, 2, b"\x17\x01other stream", 6)
            await client.send(*audio, stray, *video)
            ack = await client.receive(lambda m: m.type_id == MessageType.ACKNOWLEDGEMENT)
            assert 4096 <= rtmp.read_u32(ack.payload, "") <= client.sent_after_handshake

            await client.call("FCUnpublish", 7, KEY)
            assert status_code(await client.reply("onFCUnpublish")) == "NetStream.Unpublish.Success"
            await session.wait_ended()
            assert session.metadata == [metadata]
            assert session.audio == [(m.timestamp, m.payload) for m in audio]
            assert session.video == [(m.timestamp, m.payload) for m in video]
            await client.call("deleteStream", 8, 1.0)
            # One publish per connection: another one is refused and the connection closed.
            await client.call("createStream", 9)
            await client.reply("_result", 9)
            await client.call("publish", 10, KEY, "live", stream_id=2)
            assert status_code(await client.reply("onStatus")) == "NetStream.Publish.BadName"
            await client.closed_by_server()
            await eventually(lambda: served.server.active_connections == 0)
            assert session.ends == [EndReason.UNPUBLISHED]
            assert len(served.recorder.sessions) == 1

    run(scenario)


def test_refused_publish_gets_badname_and_the_connection_closes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path) as served:
            client = await RawClient.open(served.port)
            await client.handshake()
            info = status(await client.publish("wrong"))
            assert (info["level"], info["code"]) == ("error", "NetStream.Publish.BadName")
            await client.closed_by_server()
            assert served.recorder.sessions == []

    run(scenario)


def test_idle_publisher_times_out_and_its_session_ends_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path, idle_timeout_seconds=0.5) as served:
            client = await RawClient.open(served.port)
            await client.handshake()
            assert status_code(await client.publish(KEY)) == "NetStream.Publish.Start"
            session = await served.recorder.session(KEY)
            await client.closed_by_server()
            await session.wait_ended()
            assert session.ends == [EndReason.TIMEOUT]

    run(scenario)


def test_closing_the_server_ends_live_publishes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path) as served:
            client = await RawClient.open(served.port)
            await client.handshake()
            assert status_code(await client.publish(KEY)) == "NetStream.Publish.Start"
            session = await served.recorder.session(KEY)
            await served.server.close()
            assert session.ends == [EndReason.SERVER_CLOSED]
            assert not served.server.listening
            await client.closed_by_server()

    run(scenario)


def test_a_failing_session_ends_its_connection_only(tmp_path: Path) -> None:
    async def scenario() -> None:
        failures: dict[str, Exception] = {"broken": RuntimeError("the session's sink broke")}
        async with serving(tmp_path, keys=(KEY, "broken"), failures=failures) as served:
            healthy = await RawClient.open(served.port)
            await healthy.handshake()
            assert status_code(await healthy.publish(KEY)) == "NetStream.Publish.Start"

            broken = await RawClient.open(served.port)
            await broken.handshake()
            assert status_code(await broken.publish("broken")) == "NetStream.Publish.Start"
            await broken.send(Message(MessageType.VIDEO, 0, 1, b"\x17\x01", 6))
            await broken.closed_by_server()
            (failed,) = served.recorder.of("broken")
            await failed.wait_ended()
            assert failed.ends == [EndReason.ERROR]

            await healthy.send(Message(MessageType.VIDEO, 40, 1, b"\x17\x01", 6))
            session = await served.recorder.session(KEY)
            await session.wait_live()
            assert served.server.active_publishes == 1

    run(scenario)


HEVC_REFUSAL = "This server takes H.264 video: set OBS Settings → Output → Encoder to x264"


def test_a_session_rejecting_the_publish_tells_the_client_why(tmp_path: Path) -> None:
    async def scenario() -> None:
        failures: dict[str, Exception] = {KEY: PublishRejected(HEVC_REFUSAL)}
        async with serving(tmp_path, failures=failures) as served:
            client = await RawClient.open(served.port)
            await client.handshake()
            assert status_code(await client.publish(KEY)) == "NetStream.Publish.Start"
            await client.send(Message(MessageType.VIDEO, 0, 1, b"\x1c\x00hevc", 6))
            rejected = await client.reply("onStatus")
            assert rejected.transaction_id == 0
            assert status(rejected) == {
                "level": "error",
                "code": "NetStream.Publish.Rejected",
                "description": HEVC_REFUSAL,
            }
            session = await served.recorder.session(KEY)
            await session.wait_ended()
            assert session.ends == [EndReason.REJECTED]
            # Lingering close: the server shut its side at once and waits for the client's.
            assert await client.closed_by_server() == b""
            await eventually(lambda: served.server.active_connections == 0)
            assert served.authorizer.live == frozenset()

    run(scenario)


@needs_ffmpeg
def test_ffmpeg_publisher_rejected_by_its_session_exits_with_the_reason(tmp_path: Path) -> None:
    async def scenario() -> None:
        failures: dict[str, Exception] = {KEY: PublishRejected(HEVC_REFUSAL)}
        async with serving(tmp_path, failures=failures) as served:
            outcome = await ffmpeg_publish(served.port, KEY, 3)
            assert outcome.returncode != 0
            assert HEVC_REFUSAL in outcome.stderr
            (session,) = served.recorder.sessions
            await session.wait_ended()
            assert session.ends == [EndReason.REJECTED]
            assert session.video == []
            assert served.server.active_publishes == 0

    run(scenario)


# Abuse: each kind closes its own connection; a real publish right after still works.


async def garbage(client: RawClient, limits: RtmpLimits) -> None:
    await client.send_raw(b"GET / HTTP/1.1\r\nHost: ingest\r\n\r\n")
    assert await client.closed_by_server() == b""  # not even S0


async def silent(client: RawClient, limits: RtmpLimits) -> None:
    started = time.monotonic()
    assert await client.closed_by_server() == b""
    assert time.monotonic() - started >= limits.handshake_timeout_seconds * 0.9


async def oversized(client: RawClient, limits: RtmpLimits) -> None:
    await client.handshake()
    # A type 0 header announcing 16 MiB - 1, more than the 8 MiB allowed; no payload follows.
    await client.send_raw(bytes.fromhex("04 000000 ffffff 09 01000000"))
    await client.closed_by_server()


async def bad_amf(client: RawClient, limits: RtmpLimits) -> None:
    await client.handshake()
    await client.send(Message(MessageType.COMMAND_AMF0, 0, 0, b"\x02\x00\x07conn", 3))  # string cut short
    await client.closed_by_server()


async def bad_chunk(client: RawClient, limits: RtmpLimits) -> None:
    await client.handshake()
    await client.send_raw(bytes.fromhex("44 000021 000010 09") + bytes(16))  # type 1 on a new chunk stream
    await client.closed_by_server()


async def command_before_connect(client: RawClient, limits: RtmpLimits) -> None:
    await client.handshake()
    await client.call("createStream", 2)
    await client.closed_by_server()


ABUSE = [garbage, silent, oversized, bad_amf, bad_chunk, command_before_connect]


@pytest.mark.parametrize("abuse", ABUSE, ids=[abuse.__name__ for abuse in ABUSE])
@needs_ffmpeg
def test_abusive_connection_is_closed_and_others_are_unaffected(
    tmp_path: Path, abuse: Callable[[RawClient, RtmpLimits], Coroutine[Any, Any, None]]
) -> None:
    async def scenario() -> None:
        async with serving(tmp_path, handshake_timeout_seconds=0.5) as served:
            bystander = await RawClient.open(served.port)
            await bystander.handshake()
            await bystander.connect()

            await abuse(await RawClient.open(served.port), served.server.limits)

            await bystander.call("createStream", 9)
            assert (await bystander.reply("_result")).transaction_id == 9
            outcome = await ffmpeg_publish(served.port, KEY, 1)
            assert outcome.returncode == 0, outcome.stderr
            (session,) = served.recorder.sessions
            await session.wait_ended()
            assert session.ends == [EndReason.UNPUBLISHED]
            assert session.audio
            assert session.video
            assert_timestamps_sane(session)

    run(scenario)


def test_connections_per_address_are_limited(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path, max_connections_per_address=2) as served:
            first, second = await RawClient.open(served.port), await RawClient.open(served.port)
            await first.handshake()
            await second.handshake()

            third = await RawClient.open(served.port)
            with contextlib.suppress(ConnectionError):
                await third.send_raw(b"\x03" + bytes(HANDSHAKE_SIZE))
            assert await third.closed_by_server() == b""

            first.close()
            await eventually(lambda: served.server.active_connections == 1)
            fourth = await RawClient.open(served.port)
            await fourth.handshake()
            assert (await fourth.connect()).name == "_result"

    run(scenario)


def test_limits_come_from_the_ingest_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        ENV_INGEST_RTMP_HANDSHAKE_TIMEOUT_SECONDS: "2.5",
        ENV_INGEST_RTMP_IDLE_TIMEOUT_SECONDS: "45",
        ENV_INGEST_RTMP_MAX_MESSAGE_BYTES: "1048576",
        ENV_INGEST_RTMP_MAX_CONNECTIONS_PER_ADDRESS: "2",
        ENV_INGEST_RTMP_MAX_CHUNK_STREAMS: "16",
        ENV_INGEST_RTMP_ACK_WINDOW_BYTES: "5000000",
        ENV_INGEST_RTMP_AUTHORIZE_TIMEOUT_SECONDS: "3",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert RtmpLimits.from_settings(IngestSettings()) == RtmpLimits(
        handshake_timeout_seconds=2.5,
        idle_timeout_seconds=45,
        max_message_bytes=1048576,
        max_connections_per_address=2,
        max_chunk_streams=16,
        ack_window_bytes=5_000_000,
        authorize_timeout_seconds=3,
    )
    for name in values:
        monkeypatch.delenv(name)
    assert RtmpLimits.from_settings(IngestSettings()) == RtmpLimits()
    monkeypatch.setenv(ENV_INGEST_RTMP_MAX_MESSAGE_BYTES, str(0x1000000))  # beyond RTMP's 24 bits
    with pytest.raises(ValueError, match=ENV_INGEST_RTMP_MAX_MESSAGE_BYTES):
        IngestSettings()


# GStreamer (`make deps` installs it): rtmp2sink, and rtmpsink, which is librtmp, OBS's RTMP code.


GSTREAMER_ELEMENTS = ("videotestsrc", "x264enc", "h264parse", "flvmux")


def _gstreamer_has(*elements: str) -> bool:
    if shutil.which("gst-launch-1.0") is None or shutil.which("gst-inspect-1.0") is None:
        return False
    return all(
        subprocess.run(["gst-inspect-1.0", "--exists", element], check=False, timeout=30).returncode == 0
        for element in elements
    )


@pytest.mark.parametrize("sink", ["rtmp2sink", "rtmpsink"])
def test_gstreamer_publish(tmp_path: Path, sink: str) -> None:
    assert _gstreamer_has(*GSTREAMER_ELEMENTS, sink), f"GStreamer with {sink} and x264enc required (make installs it)"

    async def scenario() -> None:
        async with serving(tmp_path) as served:
            pipeline = (
                "videotestsrc is-live=true num-buffers=60 ! video/x-raw,width=640,height=360,framerate=30/1 "
                "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse "
                f"! flvmux streamable=true ! {sink} location=rtmp://127.0.0.1:{served.port}/live/{KEY}"
            )
            process = await asyncio.create_subprocess_exec(
                "gst-launch-1.0", "-e", *pipeline.split(), stdout=asyncio.subprocess.DEVNULL
            )
            try:
                async with asyncio.timeout(PUBLISH_SLACK):
                    assert await process.wait() == 0
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            session = await served.recorder.session(KEY)
            await session.wait_ended()
            assert session.ends == [EndReason.UNPUBLISHED] or session.ends == [EndReason.CLOSED]
            assert sum(is_avc_frame(payload) for _, payload in session.video) >= 55
            assert_timestamps_sane(session)

    run(scenario)
