"""Restream through the real worker: the RTMP server and `BroadcastManager` on moto (DynamoDB,
S3, EventBridge, KMS), a real FFmpeg publisher, the real ladder, and real RTMP servers as the
destinations: Debian's nginx with nginx-rtmp, behind an nginx `stream` TLS listener for RTMPS
(`tests/support/nginx_rtmp.py`). A destination that is down, refuses the key, or hangs mid-stream
must fail or recover alone: the broadcast, its ladder and the other destinations go on.
"""

import asyncio
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from letslive.data.destinations import DestinationRepository
from letslive.data.kms import KmsSealer
from letslive.errors import NotLive
from letslive.models.restream import DestinationInput, DestinationStatus, DestinationsUpdate
from letslive.services.restream import RestreamService
from letslive.services.storage import media_storage
from letslive.services.vods import vod_service
from tests.integration.test_ingest_broadcasts import (
    USER,
    X264,
    Ingest,
    broadcast_id,
    env,
    ffmpeg_publisher,
    ffmpeg_source,
    settings,
    vod_playlists,
)
from tests.support.nginx_rtmp import NginxRtmp, probe_recording, refused_url
from workers.ingest.broadcasts import BroadcastManager
from workers.ingest.rtmp import RtmpServer
from workers.ingest.worker import BroadcastRegistry

__all__ = ["env"]  # the fixture, shared with the broadcast tests

TIMEOUT = 120.0
# Retries come quickly and give up soon, so a test sees a destination fail in seconds; the test
# servers' RTMPS certificates are self-signed.
FAST_RETRIES: dict[str, Any] = {
    "restream_backoff_seconds": 0.3,
    "restream_backoff_max_seconds": 1.0,
    "restream_give_up_attempts": 3,
    "restream_verify_tls": False,
}


@pytest.fixture
def restream(env: Ingest) -> RestreamService:
    key_id = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    return RestreamService(DestinationRepository(), KmsSealer(key_id), allow_private_hosts=True)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[NginxRtmp]:
    with NginxRtmp({"main", "backup"}, tmp_path / "nginx") as server:
        yield server


def save(restream: RestreamService, *destinations: tuple[str, str, str]) -> dict[str, str]:
    """Save (name, url, key) destinations for the streamer: their ids by name."""
    saved = restream.replace(
        USER,
        DestinationsUpdate(destinations=[DestinationInput(name=n, url=u, key=k) for n, u, k in destinations]),
    )
    return {d.name: d.id for d in saved.destinations}


@dataclass
class Broadcast:
    """What a restreamed broadcast left: each destination's statuses over time, by name."""

    statuses: dict[str, list[DestinationStatus]] = field(default_factory=dict)

    def states(self, name: str) -> list[str]:
        """The states in the order seen, repeats collapsed."""
        seen: list[str] = []
        for status in self.statuses.get(name, []):
            if not seen or seen[-1] != status.state:
                seen.append(status.state)
        return seen

    def last(self, name: str) -> DestinationStatus:
        return self.statuses[name][-1]


async def broadcast(
    env: Ingest, restream: RestreamService, source: Path, during: Any = None, **overrides: Any
) -> Broadcast:
    """Publish `source` to the worker in real time and follow the destinations' statuses (the
    worker's session health, as its heartbeat reports it) until the broadcast is finalized.
    `during(result)` runs beside the publish (a fault to inject)."""
    manager = BroadcastManager(
        settings(env, **(FAST_RETRIES | overrides)),
        BroadcastRegistry(),
        env.streams,
        vod_service(),
        media_storage(),
        1.0,
        restream=restream,
        allow_private_restream_hosts=True,
    )
    server = RtmpServer(manager)
    await server.start(port=0)
    result = Broadcast()

    async def follow() -> None:
        while True:
            for live in manager.live.values():
                session = live.session
                if session is not None:
                    for status in session.health().destinations:
                        result.statuses.setdefault(status.name, []).append(status)
            await asyncio.sleep(0.1)

    follower = asyncio.create_task(follow())
    fault = asyncio.create_task(during(result)) if during is not None else None
    try:
        async with asyncio.timeout(TIMEOUT):
            code, output = await ffmpeg_publisher(source)(f"rtmp://127.0.0.1:{server.port}/live/{env.key}")
            assert code == 0, output
            while server.active_connections:  # noqa: ASYNC110 - the server has no event for it
                await asyncio.sleep(0.1)
            await asyncio.gather(*(live.finished.wait() for live in manager.live.values()))
            if fault is not None:
                await fault
    finally:
        follower.cancel()
        if fault is not None:
            fault.cancel()
        await server.close()
    return result


def video_packet_sizes(path: Path) -> list[int]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=size", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [int(line) for line in result.stdout.split()]


def assert_copied(recording: Path, source: Path, at_least: int) -> None:
    """The destination got the source's own frames: a run of at least `at_least` of its video
    packets, byte for byte the same sizes, in order (a re-encode would change every one)."""
    got, sent = video_packet_sizes(recording), video_packet_sizes(source)
    assert len(got) >= at_least, (len(got), at_least)
    starts = [i for i in range(len(sent) - len(got) + 1) if sent[i : i + len(got)] == got]
    assert starts, f"{recording.name}: its {len(got)} video packets are not a run of the source's"


def assert_vod_complete(env: Ingest, seconds: float) -> None:
    playlists = vod_playlists(broadcast_id(env))
    for playlist in playlists.values():
        assert sum(s.duration for s in playlist.segments) == pytest.approx(seconds, abs=0.2)
        assert not [s for s in playlist.segments if s.gap]


def test_the_source_is_forwarded_unchanged_over_rtmp_and_rtmps(
    env: Ingest, restream: RestreamService, nginx: NginxRtmp
) -> None:
    ids = save(restream, ("Plain", nginx.rtmp_url, "main"), ("Tls", nginx.rtmps_url, "backup"))
    source = ffmpeg_source(env.media / "source.flv", seconds=8, video=(*X264, "-g", "30"))

    result = asyncio.run(broadcast(env, restream, source))

    for name, key in (("Plain", "main"), ("Tls", "backup")):
        assert result.states(name)[:2] == ["connecting", "live"], result.states(name)
        assert result.last(name).id == ids[name]
        assert max(s.bitrate_kbps or 0 for s in result.statuses[name]) > 100
        (recording,) = nginx.recordings(key)
        found = probe_recording(recording)
        assert (found.video_codec, found.width, found.height, found.audio_codec) == ("h264", 1280, 720, "aac")
        # Everything from the keyframe before the destinations were read: 8 s at 30 fps, less at
        # most the read (a GOP is 1 s, and the read is well within it).
        assert_copied(recording, source, at_least=8 * 30 - 30)
        nginx.wait_not_publishing(key, timeout=10)  # unpublished when the broadcast ended
    assert_vod_complete(env, 8.0)


def test_a_destination_that_is_down_or_refuses_the_key_fails_alone(
    env: Ingest, restream: RestreamService, nginx: NginxRtmp
) -> None:
    save(
        restream,
        ("Down", refused_url(), "main"),
        ("Refused", nginx.rtmp_url, "wrong-key"),
        ("Good", nginx.rtmp_url, "main"),
    )
    source = ffmpeg_source(env.media / "source.flv", seconds=10, video=(*X264, "-g", "30"))

    result = asyncio.run(broadcast(env, restream, source))

    for name in ("Down", "Refused"):
        states = result.states(name)
        assert "live" not in states, states
        assert states[-1] == "failed", states
        last = result.last(name)
        assert last.attempts == FAST_RETRIES["restream_give_up_attempts"]
        assert last.reason is not None
        assert "gave up after 3 attempts" in last.reason
        assert "wrong-key" not in last.reason  # the URL (and so the key) never reaches a status
        # While retrying, the status said when the next attempt comes.
        assert next(s.retry_in_seconds for s in result.statuses[name] if s.state == "retrying") is not None
    assert "refused" in (result.last("Down").reason or "").lower()
    assert result.states("Good") == ["connecting", "live"]
    assert nginx.recordings("wrong-key") == [] or probe_recording(nginx.recordings("wrong-key")[0]).video_packets == 0
    assert_copied(nginx.recordings("main")[0], source, at_least=260)
    assert_vod_complete(env, 10.0)


def test_an_rtmps_server_whose_certificate_does_not_verify_is_refused(
    env: Ingest, restream: RestreamService, nginx: NginxRtmp
) -> None:
    """The stream key travels in that connection: a certificate no CA signed (the test server's)
    fails the destination, with the reason; the broadcast goes on. One refused attempt fails it
    here, so a slow machine need not fit several attempts and their backoff into the broadcast."""
    save(restream, ("Unverified", nginx.rtmps_url, "main"))
    source = ffmpeg_source(env.media / "source.flv", seconds=5, video=(*X264, "-g", "30"))

    result = asyncio.run(broadcast(env, restream, source, restream_verify_tls=True, restream_give_up_attempts=1))

    assert "live" not in result.states("Unverified")
    assert result.last("Unverified").state == "failed"
    assert "certificate" in (result.last("Unverified").reason or "")
    assert nginx.recordings("main") == []
    assert_vod_complete(env, 5.0)


# About 24 Mbit/s of 360p (noise defeats the encoder): a hung server's socket buffers, several
# MB on loopback, fill within a second or two, as a 6 Mbit/s stream fills them over the internet.
HEAVY = ("-vf", "noise=alls=12:allf=t", *X264[:-2], "-qp", "22", "-g", "30")


def test_a_destination_that_hangs_mid_stream_is_dropped_and_comes_back_alone(
    env: Ingest, restream: RestreamService, nginx: NginxRtmp, tmp_path: Path
) -> None:
    with NginxRtmp({"main"}, tmp_path / "hanging") as hanging:
        save(restream, ("Hangs", hanging.rtmp_url, "main"), ("Steady", nginx.rtmp_url, "main"))
        seconds = 30
        source = ffmpeg_source(env.media / "source.flv", seconds=seconds, video=HEAVY, size="640x360")
        hung_for: list[float] = []

        async def hang_then_recover(result: Broadcast) -> None:
            while "live" not in result.states("Hangs"):  # noqa: ASYNC110 - statuses are polled
                await asyncio.sleep(0.1)
            await asyncio.sleep(2)
            hanging.stall()
            stalled_at = asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(20):
                    while "retrying" not in result.states("Hangs"):  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                hung_for.append(asyncio.get_running_loop().time() - stalled_at)
                await asyncio.sleep(2)
            finally:
                hanging.resume()

        result = asyncio.run(
            broadcast(env, restream, source, during=hang_then_recover, ladder="360", copy_max_kbps=50_000)
        )

        states = result.states("Hangs")
        assert states[:3] == ["connecting", "live", "retrying"], states
        assert "live" in states[3:], f"never came back: {states} (the hang was noticed after {hung_for} s)"
        assert "behind" in (next(s.reason for s in result.statuses["Hangs"] if s.state == "retrying") or "")
        dropped = result.last("Hangs").dropped_seconds
        assert dropped > 2, dropped
        assert result.states("Steady") == ["connecting", "live"]
        # The steady destination got one unbroken stream: one publish, every frame from its start.
        (steady,) = nginx.recordings("main")
        assert_copied(steady, source, at_least=seconds * 30 - 30)
        # The hanging one got two publishes: before the hang and after it.
        assert len(hanging.recordings("main")) >= 2
    assert_vod_complete(env, seconds)


def test_a_broadcast_without_destinations_restreams_nothing(env: Ingest, restream: RestreamService) -> None:
    source = ffmpeg_source(env.media / "source.flv", seconds=3, video=(*X264, "-g", "30"))
    result = asyncio.run(broadcast(env, restream, source))
    assert result.statuses == {}
    with pytest.raises(NotLive):
        env.streams.health(USER)
    assert_vod_complete(env, 3.0)


def test_destinations_changed_while_live_take_effect_and_leave_the_others_alone(
    env: Ingest, restream: RestreamService, tmp_path: Path
) -> None:
    """Mid-broadcast the streamer saves a new list, as `PUT /streams/me/destinations` does: one
    destination disabled, one with a new key, one added. Within the refresh the disabled one is
    unpublished, the rekeyed one publishes again with its new key, the new one starts; the one
    left as it was forwards one unbroken stream."""
    with NginxRtmp({"stays", "goes", "old", "new", "comes"}, tmp_path / "nginx") as nginx:
        url = nginx.rtmp_url
        ids = save(restream, ("Stays", url, "stays"), ("Goes", url, "goes"), ("Rekeyed", url, "old"))
        seconds = 20
        source = ffmpeg_source(env.media / "source.flv", seconds=seconds, video=(*X264, "-g", "30"))
        took: list[float] = []

        async def edit(result: Broadcast) -> None:
            while not all("live" in result.states(name) for name in ids):  # noqa: ASYNC110 - polled
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)
            update = DestinationsUpdate(
                destinations=[
                    DestinationInput(id=ids["Stays"], name="Stays", url=url),
                    DestinationInput(id=ids["Goes"], name="Goes", url=url, enabled=False),
                    DestinationInput(id=ids["Rekeyed"], name="Rekeyed", url=url, key="new"),
                    DestinationInput(name="Comes", url=url, key="comes"),
                ]
            )
            await asyncio.to_thread(restream.replace, USER, update)
            edited = asyncio.get_running_loop().time()
            for key in ("goes", "old"):
                await asyncio.to_thread(nginx.wait_not_publishing, key, 15)
            for key in ("new", "comes"):
                await asyncio.to_thread(nginx.wait_publishing, key, 15)
            took.append(asyncio.get_running_loop().time() - edited)

        result = asyncio.run(broadcast(env, restream, source, during=edit, restream_refresh_seconds=1.0))

        assert took, "the edit never took effect"
        assert result.states("Stays") == ["connecting", "live"]
        (stays,) = nginx.recordings("stays")
        assert_copied(stays, source, at_least=seconds * 30 - 30)
        # Ended early: each a run of the source from the broadcast's start, well short of its end.
        for key in ("goes", "old"):
            (ended,) = nginx.recordings(key)
            assert_copied(ended, source, at_least=30)
            assert len(video_packet_sizes(ended)) < (seconds - 5) * 30, key
        # Started mid-broadcast, at a keyframe, and kept to its end.
        for key in ("new", "comes"):
            (started,) = nginx.recordings(key)
            assert_copied(started, source, at_least=5 * 30)
            assert probe_recording(started).video_codec == "h264"
        assert result.states("Comes") == ["connecting", "live"]
        assert result.last("Rekeyed").id == ids["Rekeyed"]
    assert_vod_complete(env, seconds)
