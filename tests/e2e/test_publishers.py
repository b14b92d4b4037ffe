"""Every publisher, any keyframe settings, through the local platform.

Real publishers — FFmpeg, GStreamer's `rtmpsink` (librtmp) and `rtmp2sink` with their own
encoder and muxer defaults, and OBS Studio itself with its default output settings — and real
sources with OBS's default keyframe interval (x264's 250 frames) and with irregular scene-cut
keyframes. Everything is read back through the edge and
the API, as the player and the dashboard read it.
"""

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from letslive.media.playlists import MediaPlaylist, parse_master_playlist, parse_media_playlist
from tests.e2e.channels import (
    Channel,
    channel_state,
    fetch,
    ffprobe_ok,
    media_objects,
    new_channel,
    playback_url,
    vods_of,
)
from tests.e2e.conftest import LocalPlatform
from tests.e2e.media import (
    OBS_DEFAULT_VIDEO,
    gstreamer_command,
    make_scene_cut_source,
    make_source,
    wait_for,
)
from tests.fixtures.rtmp.obs import HeadlessObs
from tests.hls_checks import FRAME, assert_aligned

WRONG_KEY = "live_" + "x" * 32
Command = Callable[[str], list[str]]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    for tool in ("ffmpeg", "gst-launch-1.0"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required (make installs it)")
    directory = tmp_path_factory.mktemp("publishers")
    return {
        "obs-1s": make_source(directory, 720, 8),
        "obs-default": make_source(directory, 720, 12, OBS_DEFAULT_VIDEO, "_keyint250"),
        "scene-cuts": make_scene_cut_source(directory, 720),
    }


def ffmpeg_command(source: Path) -> Command:
    return lambda url: ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", str(source), "-c", "copy",
                        "-f", "flv", url]  # fmt: skip


def publishers(sources: dict[str, Path]) -> dict[str, Command]:
    return {
        "ffmpeg": ffmpeg_command(sources["obs-1s"]),
        "rtmpsink": lambda url: gstreamer_command("rtmpsink", url, 8),
        "rtmp2sink": lambda url: gstreamer_command("rtmp2sink", url, 8),
    }


def start(command: list[str]) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def health(api: httpx.Client, channel: Channel) -> dict[str, Any] | None:
    response = api.get("/streams/me/health", headers={"authorization": f"Bearer {channel.token}"})
    return response.json() if response.status_code == 200 else None


@pytest.mark.parametrize("client", ["ffmpeg", "rtmpsink", "rtmp2sink"])
def test_each_publisher_goes_live_with_every_rung_playable(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path], client: str
) -> None:
    channel = new_channel(api)
    publisher = start(publishers(sources)[client](f"{platform.rtmp_url}/{channel.key}"))
    try:
        live = playback_url(api, channel.username)
        variants = parse_master_playlist(fetch(live).text)
        assert [v.resolution for v in variants] == [(1280, 720), (640, 360)]
        for variant in variants:
            video, audio = variant.codecs
            assert video.startswith("avc1.")
            assert audio == "mp4a.40.2"
        base = live.rsplit("/", 1)[0]
        for variant in variants:
            playlist = parse_media_playlist(fetch(f"{base}/{variant.uri}").text)
            assert ffprobe_ok(f"{base}/{playlist.segments[-1].uri}"), variant.uri
        _, stderr = publisher.communicate(timeout=60)
        assert publisher.returncode == 0, stderr.decode(errors="replace")
    finally:
        publisher.kill()
    vod = wait_for(lambda: vods_of(api, channel.username), 30, "the VOD")[0]
    assert vod["duration_seconds"] == pytest.approx(8, abs=1)


@pytest.mark.parametrize("client", ["ffmpeg", "rtmpsink", "rtmp2sink"])
def test_a_wrong_key_is_refused_for_every_publisher(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path], client: str
) -> None:
    channel = new_channel(api)
    objects = media_objects(platform)
    publisher = start(publishers(sources)[client](f"{platform.rtmp_url}/{WRONG_KEY}"))
    try:
        publisher.communicate(timeout=60)
    finally:
        publisher.kill()
    assert publisher.returncode != 0
    assert media_objects(platform) == objects
    assert channel_state(api, channel.username)["live"] is False
    assert vods_of(api, channel.username) == []


def live_playlists(base: str, names: list[str]) -> dict[str, MediaPlaylist]:
    return {name: parse_media_playlist(httpx.get(f"{base}/{name}").text) for name in names}


def assert_live_aligned(playlists: dict[str, MediaPlaylist], frames: int = 1) -> None:
    """The live windows agree wherever they overlap: the same sequence numbers have the same
    length and program date-time in every rung (rungs are uploaded one after another, so one
    window may be a segment ahead)."""
    assert len({p.target_duration for p in playlists.values()}) == 1
    by_sequence = [{s.sequence: s for s in p.segments} for p in playlists.values()]
    common = set.intersection(*(set(segments) for segments in by_sequence))
    assert len(common) >= 3
    for sequence in common:
        durations = [segments[sequence].duration for segments in by_sequence]
        assert max(durations) - min(durations) <= FRAME, (sequence, durations)
        stamps = [segments[sequence].program_date_time for segments in by_sequence]
        assert len(set(stamps)) == 1, (sequence, stamps)
    for playlist in playlists.values():
        for segment in playlist.segments[:-1]:
            assert abs(segment.duration - 1.0) <= frames * FRAME or segment.discontinuity, segment


class ObsPublisher:
    """Real OBS Studio (headless) with its default output settings, as `Popen`-like as the
    test needs: it streams until `communicate()` stops it, about `seconds` after it started."""

    def __init__(self, url: str, seconds: float) -> None:
        server, key = url.rsplit("/", 1)
        self.obs = HeadlessObs(server, key, width=960, height=540)
        self.obs.start()
        self.obs.wait_streaming()
        self.until = time.monotonic() + seconds
        self.returncode: int | None = None

    def communicate(self, timeout: float) -> tuple[bytes, bytes]:
        time.sleep(max(0.0, min(timeout, self.until - time.monotonic())))
        self.obs.stop()
        self.returncode = 0 if self.obs.stream_stopped else 1
        return b"", self.obs.log().encode()

    def kill(self) -> None:
        self.obs.stop()


@pytest.mark.parametrize("source", ["obs-default", "scene-cuts", "obs-studio"])
def test_any_keyframe_interval_gives_aligned_1s_segments_and_a_warning(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path], source: str
) -> None:
    channel = new_channel(api)
    url = f"{platform.rtmp_url}/{channel.key}"
    publisher = ObsPublisher(url, 12) if source == "obs-studio" else start(ffmpeg_command(sources[source])(url))
    try:
        live = playback_url(api, channel.username)
        base = live.rsplit("/", 1)[0]
        names = [v.uri for v in parse_master_playlist(fetch(live).text)]

        def enough() -> dict[str, MediaPlaylist] | None:
            playlists = live_playlists(base, names)
            return playlists if min(len(p.segments) for p in playlists.values()) >= 5 else None

        # OBS on software OpenGL skips frames when the machine is busy: a cut lands on a frame it sent.
        frames = 3 if source == "obs-studio" else 1
        assert_live_aligned(wait_for(enough, 30, "five live segments in every rung"), frames)
        # The worker reports every 5 s; the first report after going live carries the ladder.
        report = wait_for(lambda: (h := health(api, channel)) and h["top_rung"] and h, 20, "the health report")
        assert report["top_rung"] == "re-encoded"
        assert report["keyframe_interval_seconds"] is not None
        assert [w["code"] for w in report["warnings"]] == ["keyframe-interval"]
        assert "Keyframe Interval: 1 s" in report["warnings"][0]["setting"]
        _, stderr = publisher.communicate(timeout=60)
        assert publisher.returncode == 0, stderr.decode(errors="replace")
    finally:
        publisher.kill()
    vod = wait_for(lambda: vods_of(api, channel.username), 30, "the VOD")[0]
    vod_base = vod["playback_url"].rsplit("/", 1)[0]
    playlists = {
        v.uri: parse_media_playlist(httpx.get(f"{vod_base}/{v.uri}").text)
        for v in parse_master_playlist(httpx.get(vod["playback_url"]).text)
    }
    assert_aligned(playlists, frames=frames)
    for playlist in playlists.values():
        if source == "obs-studio":
            assert playlist.duration >= 12  # streamed 12 s, then what OBS's encoder held at the stop
        else:
            assert playlist.duration == pytest.approx(12, abs=0.2)  # the ffmpeg sources are 12 s long
