"""Going live through the local platform, with real media end to end.

A real ffmpeg publishes over RTMP to the ingest worker, which transcodes with FFmpeg and
uploads to the emulator's S3; everything is read back through the edge (the CloudFront
stand-in) and the API, as a player and the web app would. Nothing is mocked.
"""

import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from letslive.media.playlists import parse_master_playlist, parse_media_playlist
from localstack.platform import free_port, start_ingest_worker
from tests.e2e.channels import (
    channel_state,
    fetch,
    ffprobe_ok,
    finish,
    media_objects,
    new_channel,
    playback_url,
    vods_of,
    vods_once_offline,
)
from tests.e2e.conftest import LocalPlatform
from tests.e2e.media import make_source, publish, wait_for

SEGMENT_TARGET = 1.0


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (make installs it)")
    directory = tmp_path_factory.mktemp("sources")
    return {
        "1080p": make_source(directory, 1080, 15),
        "720p": make_source(directory, 720, 8),
        "720p_short": make_source(directory, 720, 5),
    }


def test_a_1080p_broadcast_goes_live_with_the_full_ladder_and_becomes_a_vod(
    platform: LocalPlatform,
    api: httpx.Client,
    sources: dict[str, Path],
    events: Callable[[], list[dict[str, Any]]],
) -> None:
    channel = new_channel(api)
    publisher = publish(sources["1080p"], f"{platform.rtmp_url}/{channel.key}")
    try:
        live = playback_url(api, channel.username)
        assert channel.username in [item["username"] for item in api.get("/streams/live").json()["items"]]
        variants = parse_master_playlist(fetch(live).text)
        assert [v.resolution for v in variants] == [(1920, 1080), (1280, 720), (640, 360)]
        assert all(v.codecs and v.codecs[0].startswith("avc1.") and "mp4a.40.2" in v.codecs for v in variants)
        assert all(v.frame_rate == pytest.approx(30) for v in variants)
        base = live.rsplit("/", 1)[0]
        for variant in variants:
            live_playlist = httpx.get(f"{base}/{variant.uri}")
            assert live_playlist.headers["cache-control"] == "public, max-age=0, s-maxage=1"
            parsed = parse_media_playlist(live_playlist.text)
            assert all(segment.program_date_time is not None for segment in parsed.segments)
        finish(publisher)
    finally:
        publisher.kill()

    vod = vods_once_offline(api, channel.username, 30)[0]
    assert vod["duration_seconds"] == pytest.approx(15, abs=1)
    vod_master = httpx.get(vod["playback_url"])
    assert vod_master.status_code == 200
    vod_base = vod["playback_url"].rsplit("/", 1)[0]
    for variant in parse_master_playlist(vod_master.text):
        playlist = parse_media_playlist(httpx.get(f"{vod_base}/{variant.uri}").text)
        assert playlist.ended
        assert playlist.duration == pytest.approx(15, abs=1)
        for segment in playlist.segments:
            assert segment.duration <= SEGMENT_TARGET + 0.5
            url = f"{vod_base}/{segment.uri}"
            head = httpx.head(url)
            assert head.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert ffprobe_ok(url), url
    assert vod["thumbnail_url"]
    assert httpx.get(vod["thumbnail_url"]).content[:2] == b"\xff\xd8"  # a JPEG

    def all_three() -> bool:
        # The chat's `ViewerCountChanged` (the room is counted when its channel goes live) is not
        # this service's to check.
        lifecycle = ("StreamStarted", "StreamEnded", "VodReady")
        mine = [
            e["detail-type"]
            for e in events()
            if e["detail"].get("username") == channel.username and e["detail-type"] in lifecycle
        ]
        return sorted(mine) == ["StreamEnded", "StreamStarted", "VodReady"]

    wait_for(all_three, 15, "StreamStarted, StreamEnded and VodReady, once each, on the bus")


def test_a_720p_source_gets_no_1080p_rung_and_two_broadcasts_run_at_once(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path]
) -> None:
    first, second = new_channel(api), new_channel(api)
    publishers = [publish(sources["720p"], f"{platform.rtmp_url}/{c.key}") for c in (first, second)]
    try:
        for channel in (first, second):
            master = fetch(playback_url(api, channel.username))
            assert [v.resolution for v in parse_master_playlist(master.text)] == [(1280, 720), (640, 360)]
        for publisher in publishers:
            finish(publisher)
    finally:
        for publisher in publishers:
            publisher.kill()
    for channel in (first, second):
        name = channel.username
        vod = wait_for(lambda name=name: vods_of(api, name), 30, "both VODs")[0]  # type: ignore[misc]
        assert vod["duration_seconds"] == pytest.approx(8, abs=1)


def test_a_wrong_key_is_refused_and_writes_nothing(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path]
) -> None:
    channel = new_channel(api)
    objects = media_objects(platform)
    publisher = publish(sources["720p_short"], f"{platform.rtmp_url}/live_{'x' * 32}")
    publisher.communicate(timeout=30)
    assert publisher.returncode != 0
    assert media_objects(platform) == objects
    assert channel_state(api, channel.username)["live"] is False
    assert vods_of(api, channel.username) == []


def test_sigterm_drains_the_worker_and_finalizes_its_broadcast(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path], tmp_path: Path
) -> None:
    """ECS stops a task with SIGTERM: the worker stops taking publishes, finishes uploads,
    finalizes the live broadcast as a VOD and exits 0. A worker of its own, so the shared one
    keeps serving the other tests."""
    rtmp_port = free_port()
    worker = start_ingest_worker(platform.deployment, free_port(), rtmp_port, tmp_path / "ingest.log")
    channel = new_channel(api)
    publisher = publish(sources["1080p"], f"rtmp://127.0.0.1:{rtmp_port}/live/{channel.key}")
    try:
        fetch(playback_url(api, channel.username))
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        publisher.kill()
        worker.kill()
    (vod,) = vods_once_offline(api, channel.username, 30, "the VOD of the drained broadcast")
    variant = parse_master_playlist(httpx.get(vod["playback_url"]).text)[0]
    playlist = parse_media_playlist(httpx.get(vod["playback_url"].rsplit("/", 1)[0] + f"/{variant.uri}").text)
    assert playlist.ended
    assert playlist.segments
