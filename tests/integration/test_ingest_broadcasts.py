"""The ingest's broadcast path in one process: the RTMP server and `BroadcastManager` on moto
(DynamoDB, S3, EventBridge), real publishers (FFmpeg, GStreamer `rtmpsink` and `rtmp2sink`)
and the real FFmpeg ladder. What a viewer would get is read back from the media bucket.

Publishers send in real time, as encoders do. (One that sends seconds of media at once and
closes leaves our acknowledgements unread, so its kernel resets the connection, and ours drops
what we had not read yet: no real-time encoder gets that far ahead.)
"""

import asyncio
import contextlib
import itertools
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from letslive.errors import NotLive
from letslive.media.playlists import MediaPlaylist, parse_master_playlist, parse_media_playlist
from letslive.models.streams import StreamHealthReport
from letslive.services.streams import StreamService, stream_service
from letslive.services.vods import vod_service
from letslive.storage import media_storage
from tests.integration.conftest import EventBus
from workers.ingest.broadcasts import BroadcastManager
from workers.ingest.config import IngestSettings
from workers.ingest.rtmp import RtmpServer
from workers.ingest.uploader import broadcast_prefix
from workers.ingest.worker import BroadcastRegistry

USER = "streamer"
# Every wait is bounded by this, on top of the publish itself.
TIMEOUT = 60.0
X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-profile:v", "high")
AAC = ("-c:a", "aac", "-b:a", "96k")
# One frame at 30 fps: how far a segment may be from the target, and rungs from each other.
FRAME = 1 / 30 + 0.001


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


Publisher = Callable[[str], list[str]]


def ffmpeg_publisher(source: Path) -> Publisher:
    return lambda url: [
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


def gstreamer_publisher(sink: str, seconds: int, keyint: int = 30) -> Publisher:
    """GStreamer's own encoder and muxer with their defaults (flvmux puts no width or height in
    onMetaData), as the issue tried them; `sink` is rtmpsink (librtmp) or rtmp2sink."""
    return lambda url: [
        "gst-launch-1.0", "-q",
        "videotestsrc", "is-live=true", f"num-buffers={seconds * 30}", "!", "video/x-raw,width=1280,height=720,framerate=30/1", "!",
        "x264enc", "tune=zerolatency", "speed-preset=ultrafast", f"key-int-max={keyint}", "!",
        "h264parse", "!", "flvmux", "streamable=true", "name=mux", "!", sink, f"location={url}",
        "audiotestsrc", "is-live=true", f"num-buffers={seconds * 47}", "samplesperbuffer=1024", "!",
        "audio/x-raw,rate=48000,channels=2", "!", "avenc_aac", "!", "aacparse", "!", "mux.",
    ]  # fmt: skip


def settings(ingest: Ingest, **overrides: Any) -> IngestSettings:
    return IngestSettings(
        work_dir=ingest.media / "work", heartbeat_seconds=0.5, thumbnail_seconds=300, ladder="720,360", **overrides
    )


async def publish(
    ingest: Ingest, publisher: Publisher, key: str | None = None, **overrides: Any
) -> tuple[int, bytes, list[StreamHealthReport]]:
    """Serve, run the publisher to its end, wait for its broadcast to be finalized: the
    publisher's exit code and stderr, and every health report seen while it was live."""
    manager = BroadcastManager(
        settings(ingest, **overrides), BroadcastRegistry(), ingest.streams, vod_service(), media_storage(), 1.0
    )
    server = RtmpServer(manager)
    await server.start(port=0)
    url = f"rtmp://127.0.0.1:{server.port}/live/{key or ingest.key}"
    reports: list[StreamHealthReport] = []
    try:
        process = await asyncio.create_subprocess_exec(
            *publisher(url), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(TIMEOUT):
            waiter = asyncio.create_task(process.communicate())
            while not waiter.done():
                with contextlib.suppress(NotLive):
                    reports.append(await asyncio.to_thread(ingest.streams.health, USER))
                await asyncio.wait([waiter], timeout=0.25)
            _, stderr = await waiter
            # The publisher may exit with its media still in the socket buffers: the worker reads on.
            while server.active_connections:
                await asyncio.sleep(0.1)  # noqa: ASYNC110 - the server offers no event for this
            # Finalized: the VOD written, the channel offline, the events sent.
            await asyncio.gather(*(live.finished.wait() for live in manager.live.values()))
    finally:
        await server.close()
    assert process.returncode is not None
    return process.returncode, stderr, reports


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


def assert_aligned(playlists: dict[str, MediaPlaylist], target: float = 1.0) -> None:
    """Every rung cut at the same instants into segments of the target length (± a frame; the
    last segment of each part may be shorter), with the same target duration."""
    durations = {name: [s.duration for s in p.segments] for name, p in playlists.items()}
    counts = {name: len(d) for name, d in durations.items()}
    assert len(set(counts.values())) == 1, counts
    assert len({p.target_duration for p in playlists.values()}) == 1
    bounds = [list(itertools.accumulate(d)) for d in durations.values()]
    for boundaries in zip(*bounds, strict=True):
        assert max(boundaries) - min(boundaries) <= FRAME, boundaries
    for playlist in playlists.values():
        last_of_part = {i - 1 for i, s in enumerate(playlist.segments) if s.discontinuity} | {
            len(playlist.segments) - 1
        }
        for index, segment in enumerate(playlist.segments):
            if index not in last_of_part:
                assert abs(segment.duration - target) <= FRAME, (index, segment.duration)


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

