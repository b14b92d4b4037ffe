"""The ingest's broadcast path in one process: the RTMP server and `BroadcastManager` on moto
(DynamoDB, S3, EventBridge), real publishers (FFmpeg, GStreamer `rtmpsink` and `rtmp2sink`)
and the real FFmpeg ladder. What a viewer would get is read back from the media bucket.

Publishers send in real time, as encoders do. (One that sends seconds of media at once and
closes leaves our acknowledgements unread, so its kernel resets the connection, and ours drops
what we had not read yet: no real-time encoder gets that far ahead.)
"""

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from letslive.errors import NotLive
from letslive.media.playlists import MediaPlaylist, parse_master_playlist, parse_media_playlist
from letslive.models.streams import StreamHealthReport
from letslive.services.recordings import broadcast_prefix
from letslive.services.storage import media_storage
from letslive.services.streams import StreamService, stream_service
from letslive.services.vods import vod_service
from letslive.settings import get_settings
from tests.e2e.media import gstreamer_command
from tests.fixtures.rtmp.client import RawClient, status
from tests.fixtures.rtmp.obs import HeadlessObs
from tests.hls_checks import assert_aligned
from tests.integration.conftest import EventBus
from workers.ingest.broadcasts import BroadcastManager
from workers.ingest.config import IngestSettings
from workers.ingest.rtmp import RtmpServer
from workers.ingest.rtmp.amf0 import AmfValue
from workers.ingest.rtmp.messages import Message, MessageType
from workers.ingest.worker import BroadcastRegistry

USER = "streamer"
# Every wait is bounded by this, on top of the publish itself.
TIMEOUT = 60.0
X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-profile:v", "high")
AAC = ("-c:a", "aac", "-b:a", "96k")


@dataclass
class Ingest:
    key: str
    streams: StreamService
    bus: EventBus
    media: Path


@pytest.fixture
def env(accounts: Any, media_bucket: str, event_bus: EventBus, tmp_path: Path) -> Ingest:
    streams = stream_service()
    return Ingest(streams.create_key(USER).stream_key, streams, event_bus, tmp_path)


def ffmpeg_source(
    path: Path, *, seconds: float, video: tuple[str, ...], audio: bool = True, size: str = "1280x720"
) -> Path:
    """A file to publish, encoded once (publishing it with `-c copy` is what OBS's output is)."""
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30"]
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs, "-t", str(seconds), *video,
         *(AAC if audio else ("-an",)), "-f", "flv", str(path)],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path


# Runs a publisher against an RTMP URL to its end: its exit code and what it printed.
Publisher = Callable[[str], Awaitable[tuple[int, bytes]]]


def command_publisher(command: Callable[[str], list[str]]) -> Publisher:
    async def run(url: str) -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            *command(url), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await process.communicate()
        assert process.returncode is not None
        return process.returncode, stderr

    return run


def ffmpeg_publisher(source: Path) -> Publisher:
    return command_publisher(
        lambda url: [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-i",
            str(source),
            "-c",
            "copy",
            "-f",
            "flv",
            url,
        ]
    )


def gstreamer_publisher(sink: str, seconds: int, height: int = 720) -> Publisher:
    return command_publisher(lambda url: gstreamer_command(sink, url, seconds, height=height))


def obs_publisher(seconds: float, width: int = 640, height: int = 360) -> Publisher:
    """Real OBS Studio with its default output settings, streaming for `seconds`, then stopped
    as its button stops it; the exit code is 0 when the stream ended cleanly."""

    async def run(url: str) -> tuple[int, bytes]:
        server, key = url.rsplit("/", 1)
        obs = HeadlessObs(server, key, width=width, height=height)
        try:
            await asyncio.to_thread(obs.start)
            await asyncio.to_thread(obs.wait_streaming)
            await asyncio.sleep(seconds)
        finally:
            await asyncio.to_thread(obs.stop)
        return (0 if obs.stream_stopped else 1), obs.log().encode()

    return run


def settings(ingest: Ingest, **overrides: Any) -> IngestSettings:
    defaults: dict[str, Any] = {"heartbeat_seconds": 0.5, "thumbnail_seconds": 300, "ladder": "720,360"}
    return IngestSettings(work_dir=ingest.media / "work", **(defaults | overrides))


async def publish(
    ingest: Ingest, publisher: Publisher, key: str | None = None, **overrides: Any
) -> tuple[int, bytes, list[StreamHealthReport]]:
    """Serve, run the publisher to its end, wait for its broadcast to be finalized: the
    publisher's exit code and output, and every health report seen while it was live."""
    manager = BroadcastManager(
        settings(ingest, **overrides), BroadcastRegistry(), ingest.streams, vod_service(), media_storage(), 1.0
    )
    server = RtmpServer(manager)
    await server.start(port=0)
    url = f"rtmp://127.0.0.1:{server.port}/live/{key or ingest.key}"
    reports: list[StreamHealthReport] = []

    async def poll_health() -> None:
        while True:
            with contextlib.suppress(NotLive):
                reports.append(await asyncio.to_thread(ingest.streams.health, USER))
            await asyncio.sleep(0.25)

    poller = asyncio.create_task(poll_health())
    try:
        async with asyncio.timeout(TIMEOUT):
            code, output = await publisher(url)
            # The publisher may exit with its media still in the socket buffers: the worker reads on.
            while server.active_connections:  # noqa: ASYNC110 - the server has no event for it
                await asyncio.sleep(0.1)
            # Finalized: the VOD written, the channel offline, the events sent.
            await asyncio.gather(*(live.finished.wait() for live in manager.live.values()))
    finally:
        poller.cancel()
        await server.close()
    return code, output, reports


def read(path: str) -> str:
    return media_storage().get(path).decode()


def broadcast_id(ingest: Ingest) -> str:
    started = [e for e in ingest.bus.received() if e["detail-type"] == "StreamStarted"]
    assert len(started) == 1, started
    value: str = started[0]["detail"]["broadcast_id"]
    return value


def vod_playlists(broadcast: str) -> dict[str, MediaPlaylist]:
    prefix = broadcast_prefix(broadcast)
    master = parse_master_playlist(read(f"{prefix}/vod.m3u8"))
    return {variant.uri: parse_media_playlist(read(f"{prefix}/{variant.uri}")) for variant in master}


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_obs_default_keyframe_interval_gives_aligned_1s_segments_on_every_rung(env: Ingest) -> None:
    source = ffmpeg_source(env.media / "gop250.flv", seconds=6, video=(*X264, "-g", "250"))

    code, stderr, reports = run(publish(env, ffmpeg_publisher(source)))

    assert code == 0, stderr
    playlists = vod_playlists(broadcast_id(env))
    assert_aligned(playlists)
    assert sum(s.duration for s in next(iter(playlists.values())).segments) == pytest.approx(6.0, abs=0.1)
    live = [r for r in reports if r.top_rung is not None]
    assert live, "no health report while live"
    assert live[-1].top_rung == "re-encoded"
    assert [w.code for w in live[-1].warnings] == ["keyframe-interval"]
    assert [(r.name, r.copied) for r in live[-1].rungs] == [("720p", False), ("360p", False)]


def test_keyframes_that_stop_coming_mid_stream_switch_to_re_encoding_without_a_gap(env: Ingest) -> None:
    # 1 s keyframes for 3.5 s, then none until x264's default 250 frames: the copied top rung can
    # no longer be cut every second from 4 s on.
    keyframes = ("-g", "250", "-sc_threshold", "0", "-force_key_frames", "expr:lt(t,3.5)*gte(t,n_forced)")
    source = ffmpeg_source(env.media / "switch.flv", seconds=8, video=(*X264, *keyframes))

    code, stderr, reports = run(publish(env, ffmpeg_publisher(source)))

    assert code == 0, stderr
    playlists = vod_playlists(broadcast_id(env))
    assert_aligned(playlists)
    for playlist in playlists.values():
        # Copied part, then the re-encoded one from the start of the unfinished segment: the
        # media of the whole publish exactly once (no gap, nothing repeated).
        assert [s.discontinuity for s in playlist.segments].count(True) == 1
        assert sum(s.duration for s in playlist.segments) == pytest.approx(8.0, abs=0.05)
        # The clock runs on across the switch: the re-encoded part starts when the copied one ends.
        switch = next(i for i, s in enumerate(playlist.segments) if s.discontinuity)
        before, after = playlist.segments[switch - 1], playlist.segments[switch]
        assert before.program_date_time is not None
        assert after.program_date_time is not None
        end_of_copy = before.program_date_time + timedelta(seconds=before.duration)
        assert abs((after.program_date_time - end_of_copy).total_seconds()) < 0.1
    tops = [r.top_rung for r in reports if r.top_rung is not None]
    assert tops[0] == "copied"
    assert tops[-1] == "re-encoded"
    last = reports[-1]
    assert last.keyframe_interval_seconds is not None
    assert last.keyframe_interval_seconds > 1.0
    assert [w.code for w in last.warnings] == ["keyframe-interval"]


@pytest.mark.parametrize("sink", ["rtmpsink", "rtmp2sink"])
def test_gstreamer_publishers_go_live_with_every_rung_playable(env: Ingest, sink: str) -> None:
    code, stderr, _ = run(publish(env, gstreamer_publisher(sink, seconds=4, height=360), ladder="360,160"))

    assert code == 0, stderr
    broadcast = broadcast_id(env)
    prefix = broadcast_prefix(broadcast)
    variants = parse_master_playlist(read(f"{prefix}/vod.m3u8"))
    assert [(v.uri, v.resolution) for v in variants] == [("vod_360p.m3u8", (640, 360)), ("vod_160p.m3u8", (284, 160))]
    frames = []
    for variant in variants:
        video, audio = variant.attributes["CODECS"].split(",")
        assert video.startswith("avc1.")
        assert audio == "mp4a.40.2"
        playlist = parse_media_playlist(read(f"{prefix}/{variant.uri}"))
        frames.append(decoded_frames(b"".join(media_storage().get(f"{prefix}/{s.uri}") for s in playlist.segments)))
        assert sum(s.duration for s in playlist.segments) == pytest.approx(4.0, abs=0.3)
    assert frames == [4 * 30] * 2  # every rung has every frame
    assert_aligned(vod_playlists(broadcast))


def decoded_frames(transport_stream: bytes) -> int:
    """How many video frames FFmpeg decodes from the bytes (and that it decodes them cleanly)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames", "-of", "json", "-f", "mpegts", "-i", "pipe:0"],
        input=transport_stream, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert not result.stderr, result.stderr
    return int(json.loads(result.stdout)["streams"][0]["nb_read_frames"])


def nothing_left(env: Ingest, s3: Any) -> None:
    """No broadcast happened: no event, no media, the channel offline, no VOD."""
    assert env.bus.received() == []
    assert s3.list_objects_v2(Bucket=get_settings().media_bucket_name()).get("KeyCount") == 0
    assert not env.streams.channel(USER).live
    assert vod_service().list_vods(USER).items == []


WRONG_KEY = "live_" + "x" * 32
PUBLISHERS: dict[str, Callable[[Path], Publisher]] = {
    "ffmpeg": lambda media: ffmpeg_publisher(ffmpeg_source(media / "gop30.flv", seconds=3, video=(*X264, "-g", "30"))),
    "rtmpsink": lambda media: gstreamer_publisher("rtmpsink", seconds=3),
    "rtmp2sink": lambda media: gstreamer_publisher("rtmp2sink", seconds=3),
}


@pytest.mark.parametrize("client", sorted(PUBLISHERS))
def test_a_wrong_key_is_refused_for_every_publisher(env: Ingest, s3: Any, client: str) -> None:
    code, _, reports = run(publish(env, PUBLISHERS[client](env.media), key=WRONG_KEY))

    assert code != 0
    assert reports == []
    nothing_left(env, s3)


def test_hevc_is_refused_before_anything_goes_live(env: Ingest, s3: Any) -> None:
    async def scenario() -> dict[str, AmfValue]:
        manager = BroadcastManager(settings(env), BroadcastRegistry(), env.streams, vod_service(), media_storage(), 1.0)
        async with RtmpServer(manager) as server:
            await server.start(port=0)
            client = await RawClient.open(server.port)
            await client.handshake()
            assert status(await client.publish(env.key))["code"] == "NetStream.Publish.Start"
            # OBS 30+ with an HEVC encoder: Enhanced RTMP, PacketTypeSequenceStart, FourCC hvc1
            # (FFmpeg 5.1 here cannot send it, so the tag is built from the spec).
            sequence_start = bytes([0x80 | 0x10]) + b"hvc1" + bytes(23)
            await client.send(Message(MessageType.VIDEO, 0, 1, sequence_start, 6))
            refused = status(await client.reply("onStatus"))
            await client.closed_by_server()
            return refused

    refused = run(scenario())

    assert refused["level"] == "error"
    assert refused["code"] == "NetStream.Publish.Rejected"
    description = str(refused["description"])
    assert "HEVC" in description
    assert "x264" in description
    nothing_left(env, s3)


AUDIO_CODECS = {
    "mp3": ("-c:a", "libmp3lame", "-ar", "44100"),
    "speex": ("-c:a", "libspeex", "-ar", "16000", "-ac", "1"),
    "pcm": ("-c:a", "pcm_s16le", "-ar", "44100"),
    "nellymoser": ("-c:a", "nellymoser", "-ar", "44100", "-ac", "1"),
    "g711": ("-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1"),
}


@pytest.mark.parametrize("codec", [*sorted(AUDIO_CODECS), "none"])
def test_audio_other_than_aac_or_none_at_all_is_served(env: Ingest, codec: str) -> None:
    audio = AUDIO_CODECS.get(codec)
    inputs = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"]
    if audio is not None:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    source = env.media / f"audio_{codec}.flv"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs, "-t", "4", *X264, "-g", "30",
         *(audio or ("-an",)), "-f", "flv", str(source)],
        check=True, timeout=120,
    )  # fmt: skip

    code, stderr, reports = run(publish(env, ffmpeg_publisher(source), ladder="360,160"))

    assert code == 0, stderr
    prefix = broadcast_prefix(broadcast_id(env))
    variants = parse_master_playlist(read(f"{prefix}/vod.m3u8"))
    assert [v.codecs[1:] for v in variants] == [("mp4a.40.2",) if audio else ()] * 2
    first = parse_media_playlist(read(f"{prefix}/{variants[0].uri}")).segments[0]
    streams = probe_streams(media_storage().get(f"{prefix}/{first.uri}"))
    assert streams == (["h264", "aac"] if audio else ["h264"])
    expected_codec = {"pcm": "pcm-le", "g711": "g711u", "nellymoser": "nellymoser"}.get(codec, codec)
    assert {r.audio_codec for r in reports if r.top_rung} == {None if audio is None else expected_codec}


def probe_streams(transport_stream: bytes) -> list[str]:
    """The codecs of a segment's streams, as FFmpeg reads them (failing on any decode error)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "json", "-f", "mpegts", "-i", "pipe:0"],
        input=transport_stream, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert not result.stderr, result.stderr
    return [stream["codec_name"] for stream in json.loads(result.stdout)["streams"]]


def test_real_obs_with_its_default_settings_gets_aligned_1s_segments_and_a_warning(env: Ingest) -> None:
    # OBS Studio itself (headless, software OpenGL): output "Simple", keyframe interval "0 = auto".
    code, log, reports = run(publish(env, obs_publisher(8), ladder="360,160"))

    assert code == 0, log[-3000:]
    playlists = vod_playlists(broadcast_id(env))
    # OBS on software OpenGL skips frames when the machine is busy ("skipped frames" in its log).
    assert_aligned(playlists, frames=3)
    assert sum(s.duration for s in next(iter(playlists.values())).segments) >= 8
    live = [r for r in reports if r.top_rung is not None]
    assert live[-1].top_rung == "re-encoded"
    assert [(r.name, r.copied) for r in live[-1].rungs] == [("360p", False), ("160p", False)]
    assert [w.code for w in live[-1].warnings] == ["keyframe-interval"]
    assert live[-1].warnings[0].setting == "OBS → Settings → Output → Keyframe Interval: 1 s"


def test_an_audio_only_publisher_is_served_as_one_aac_rendition(env: Ingest) -> None:
    source = env.media / "radio.flv"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "sine=frequency=440:sample_rate=44100", "-t", "5", "-c:a", "libmp3lame", "-f", "flv", str(source)],
        check=True, timeout=60,
    )  # fmt: skip

    code, stderr, reports = run(publish(env, ffmpeg_publisher(source)))

    assert code == 0, stderr
    prefix = broadcast_prefix(broadcast_id(env))
    (variant,) = parse_master_playlist(read(f"{prefix}/vod.m3u8"))
    assert (variant.uri, variant.codecs, variant.resolution) == ("vod_audio.m3u8", ("mp4a.40.2",), None)
    playlist = parse_media_playlist(read(f"{prefix}/{variant.uri}"))
    assert playlist.duration == pytest.approx(5, abs=0.2)
    assert probe_streams(media_storage().get(f"{prefix}/{playlist.segments[0].uri}")) == ["aac"]
    live = [r for r in reports if r.audio_codec is not None]
    assert (live[-1].video_codec, live[-1].audio_codec, live[-1].top_rung, live[-1].width) == (None, "mp3", None, None)
    (vod,) = vod_service().list_vods(USER).items
    assert [(r.name, r.height) for r in vod.rungs] == [("audio", 0)]
