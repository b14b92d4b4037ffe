"""Broadcasts across two workers behind HAProxy, as in AWS: a reconnect lands on the other worker
and the broadcast goes on there; a second publisher is refused wherever it lands; a worker killed
with SIGKILL loses the broadcast to nobody (the publisher reconnects, another worker resumes from
the recording in S3, and its restream), and a worker killed with nobody coming back is swept: channel offline,
VOD written from what reached S3."""

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from letslive.settings import Settings
from localstack.balancer import HAPROXY
from localstack.sweeper import SWEEP_INTERVAL_SECONDS
from tests.e2e.channels import (
    Channel,
    active_broadcasts,
    assert_complete,
    channel_state,
    fetch,
    finish,
    new_channel,
    playback_url,
    vods_of,
)
from tests.e2e.conftest import WORKERS, LocalPlatform
from tests.e2e.media import make_source, publish, wait_for
from tests.support.nginx_rtmp import NginxRtmp, probe_recording

pytestmark = pytest.mark.tools("ffmpeg", HAPROXY)

# The streams service's defaults: a dead worker's channel is held this long after its last
# heartbeat, and swept this long after it (plus the local sweeper's period).
LEASE_SECONDS = float(Settings.model_fields["lease_seconds"].default)
STALE_SECONDS = float(Settings.model_fields["live_stale_seconds"].default)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (make installs it)")
    directory = tmp_path_factory.mktemp("sources")
    return {"long": make_source(directory, 360, 40), "short": make_source(directory, 360, 8)}


def carrier(platform: LocalPlatform, before: list[int]) -> int:
    """The worker (1-based) whose broadcast count went up since `before`."""
    now: list[int] = wait_for(
        lambda: (a := active_broadcasts(platform)) != before and a, 20, "a worker to take the broadcast"
    )
    (index,) = [n for n, (b, a) in enumerate(zip(before, now, strict=True), 1) if a > b]
    return index


def republish_until_accepted(source: Path, url: str, within: float, settle: float = 4.0) -> "subprocess.Popen[bytes]":
    """What OBS does after a drop: publish again every second until a publish stays up."""
    deadline = time.monotonic() + within
    while True:
        attempt = publish(source, url)
        try:
            attempt.wait(timeout=settle)
        except subprocess.TimeoutExpired:
            return attempt  # accepted: still publishing
        assert time.monotonic() < deadline, "the publisher could not reconnect in time"
        time.sleep(1)


def live_broadcast_id(api: httpx.Client, channel: Channel) -> str:
    return playback_url(api, channel.username).split("/")[-2]


def test_a_reconnect_lands_on_the_other_worker_and_the_broadcast_goes_on(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path]
) -> None:
    assert WORKERS == 2
    channel = new_channel(api)
    url = f"{platform.rtmp_url}/{channel.key}"
    before = active_broadcasts(platform)
    dropped = publish(sources["long"], url)
    first = carrier(platform, before)
    broadcast = live_broadcast_id(api, channel)
    fetch(playback_url(api, channel.username))
    time.sleep(4)
    dropped.kill()  # a network drop: no FCUnpublish, no deleteStream
    dropped.wait()
    resumed = publish(sources["short"], url)  # round robin: the other worker
    try:
        wait_for(lambda: active_broadcasts(platform)[2 - first] == 1, 20, "the other worker to carry the broadcast")
        assert live_broadcast_id(api, channel) == broadcast
        finish(resumed)
    finally:
        resumed.kill()
    (vod,) = wait_for(lambda: vods_of(api, channel.username), 60, "the VOD")
    assert vod["playback_url"].split("/")[-2] == broadcast
    assert assert_complete(vod, discontinuities=1) >= 10
    # The first worker handed its part over and let go.
    wait_for(lambda: active_broadcasts(platform) == [0, 0], 30, "both workers to let go")


def test_a_second_publisher_on_a_live_key_is_refused_whichever_worker_it_reaches(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path]
) -> None:
    channel = new_channel(api)
    url = f"{platform.rtmp_url}/{channel.key}"
    first = publish(sources["short"], url)
    try:
        broadcast = live_broadcast_id(api, channel)
        for _ in range(WORKERS):  # round robin: one attempt reaches each worker
            second = publish(sources["short"], url)
            assert second.wait(timeout=20) != 0
        assert first.poll() is None, "the first publisher goes on"
        assert live_broadcast_id(api, channel) == broadcast
        finish(first)
    finally:
        first.kill()
    (vod,) = wait_for(lambda: vods_of(api, channel.username), 60, "the VOD")
    assert_complete(vod, discontinuities=0)


def test_sigkill_of_a_worker_loses_nothing_its_publisher_brings_back(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path]
) -> None:
    """The publisher reconnects through the balancer; a worker resumes the broadcast from what
    reached S3 once the dead worker's lease ran out. The other worker's broadcast is untouched."""
    victim, bystander = new_channel(api), new_channel(api)
    url = f"{platform.rtmp_url}/{victim.key}"
    before = active_broadcasts(platform)
    publisher = publish(sources["long"], url)
    killed = carrier(platform, before)
    broadcast = live_broadcast_id(api, victim)
    other = publish(sources["long"], f"{platform.rtmp_url}/{bystander.key}")
    try:
        wait_for(lambda: active_broadcasts(platform) == [1] * WORKERS, 20, "round robin: one broadcast on each worker")
        fetch(playback_url(api, bystander.username))
        time.sleep(5)
        process = platform.workers.process(killed)
        process.kill()  # SIGKILL: no drain, no goodbye
        process.wait()
        killed_at = time.monotonic()
        publisher.wait(timeout=30)  # its connection is gone
        resumed = republish_until_accepted(sources["short"], url, within=LEASE_SECONDS + 20)
        reconnected_after = time.monotonic() - killed_at
        assert live_broadcast_id(api, victim) == broadcast, "the same broadcast goes on"
        finish(resumed)
        assert other.poll() is None, "the other worker's publisher never noticed"
        finish(other)
    finally:
        publisher.kill()
        other.kill()
    assert reconnected_after < STALE_SECONDS, "resumed within the grace of a dead worker"
    (vod,) = wait_for(lambda: vods_of(api, victim.username), 60, "the victim's VOD")
    assert vod["playback_url"].split("/")[-2] == broadcast
    assert assert_complete(vod, discontinuities=1) >= 8
    (untouched,) = wait_for(lambda: vods_of(api, bystander.username), 60, "the bystander's VOD")
    assert assert_complete(untouched, discontinuities=0) >= 38


def test_sigkill_mid_restream_the_worker_that_resumes_forwards_again(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path], tmp_path: Path
) -> None:
    """Restream across a dead worker: its forwarding FFmpeg goes with it (its stdin closes), the
    publisher reconnects, and the worker that resumes the broadcast reads the destinations again
    and forwards from its first tag: the destination sees a second publish and the health API
    reports it live again. Nothing on the destination's side has to notice a worker died."""
    destination_key = f"dest_{uuid.uuid4().hex[:12]}"
    with NginxRtmp({destination_key}, tmp_path / "nginx") as destination:
        channel = new_channel(api)
        owner = {"authorization": f"Bearer {channel.token}"}
        body = {"destinations": [{"name": "nginx", "url": destination.rtmp_url, "key": destination_key}]}
        saved = api.put("/streams/me/destinations", json=body, headers=owner)
        assert saved.status_code == 200, saved.text
        url = f"{platform.rtmp_url}/{channel.key}"
        before = active_broadcasts(platform)
        publisher = publish(sources["long"], url)
        resumed: subprocess.Popen[bytes] | None = None
        try:
            killed = carrier(platform, before)
            broadcast = live_broadcast_id(api, channel)
            destination.wait_publishing(destination_key, timeout=30)
            time.sleep(3)
            process = platform.workers.process(killed)
            process.kill()  # SIGKILL: no drain, no goodbye to the destination
            process.wait()
            publisher.wait(timeout=30)
            destination.wait_not_publishing(destination_key, timeout=30)
            resumed = republish_until_accepted(sources["short"], url, within=LEASE_SECONDS + 20)
            assert live_broadcast_id(api, channel) == broadcast, "the same broadcast goes on"
            stats = destination.wait_publishing(destination_key, timeout=30)
            assert stats.video_codec == "H264"

            def forwarding() -> bool:
                health = api.get("/streams/me/health", headers=owner).json()
                return [d["state"] for d in health.get("destinations") or []] == ["live"]

            wait_for(forwarding, 30, "the destination live again in the health API")
            finish(resumed)
        finally:
            publisher.kill()
            if resumed is not None:
                resumed.kill()
        destination.wait_not_publishing(destination_key, timeout=30)
        first, second = destination.recordings(destination_key)
        assert probe_recording(first).video_packets > 3 * 30  # up to the kill
        assert probe_recording(second).video_packets > 6 * 30  # most of the 8 s resumed


def test_a_dead_worker_with_nobody_coming_back_is_swept(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path]
) -> None:
    channel = new_channel(api)
    before = active_broadcasts(platform)
    publisher = publish(sources["long"], f"{platform.rtmp_url}/{channel.key}")
    try:
        killed = carrier(platform, before)
        fetch(playback_url(api, channel.username))
        time.sleep(6)
        process = platform.workers.process(killed)
        process.kill()
        process.wait()
        killed_at = time.monotonic()
        publisher.kill()  # the streamer does not come back
        wait_for(lambda: channel_state(api, channel.username)["live"] is False, STALE_SECONDS + 15, "offline")
        offline_after = time.monotonic() - killed_at
        (vod,) = wait_for(lambda: vods_of(api, channel.username), 30, "the swept VOD")
    finally:
        publisher.kill()
    assert offline_after <= STALE_SECONDS + SWEEP_INTERVAL_SECONDS
    assert not [c for c in api.get("/streams/live").json()["items"] if c["username"] == channel.username]
    assert assert_complete(vod, discontinuities=0) >= 5
