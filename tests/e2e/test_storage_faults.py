"""Storage faults during a live publish, against the real worker, real FFmpeg and the emulator.

A worker of its own talks to the emulator through `StorageFaultProxy`, which stalls S3 (the
connection accepted, then silence), resets its connections, or answers 500/503, while DynamoDB
and EventBridge go on. Whatever the fault: no segment is missing from the VOD, numbering is
continuous, the live playlist is current again within seconds of recovery, and the channel is
offline after the end."""

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from letslive.constants import ENV_AWS_ENDPOINT_URL
from letslive.media.playlists import parse_master_playlist, parse_media_playlist
from localstack.emulator import REPO_ROOT
from localstack.ingest import WorkerSlot, wait_until_healthy, worker_env
from localstack.platform import free_port
from tests.e2e.channels import (
    assert_complete,
    fetch,
    finish,
    new_channel,
    playback_url,
    vods_once_offline,
)
from tests.e2e.conftest import LocalPlatform
from tests.e2e.media import make_source, publish, wait_for
from tests.fixtures.faults import StorageFaultProxy

pytestmark = pytest.mark.tools("ffmpeg")

SEGMENT_SECONDS = 1.0
# "Current again": the newest segment in the live playlist began at most this long ago.
CURRENT_SECONDS = 6.0


class FaultyWorker:
    def __init__(self, process: "subprocess.Popen[bytes]", rtmp_port: int, proxy: StorageFaultProxy, log: Path):
        self.process = process
        self.rtmp_url = f"rtmp://127.0.0.1:{rtmp_port}/live"
        self.proxy = proxy
        self.log = log


@pytest.fixture
def worker(platform: LocalPlatform, tmp_path: Path) -> Iterator[FaultyWorker]:
    proxy = StorageFaultProxy(platform.deployment.endpoint)
    slot = WorkerSlot(9, free_port(), free_port(), tmp_path / "ingest-faults.log")
    env = worker_env(platform.deployment, slot.health_port, slot.rtmp_port, slot.work_dir, "worker-faults")
    env[ENV_AWS_ENDPOINT_URL] = proxy.url
    with slot.log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.ingest"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
    try:
        wait_until_healthy(process, slot.health_url, slot.log_path)
        yield FaultyWorker(process, slot.rtmp_port, proxy, slot.log_path)
    finally:
        proxy.set("forward")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        proxy.close()


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    directory = tmp_path_factory.mktemp("sources")
    return {seconds: make_source(directory, 360, seconds) for seconds in (35, 45, 50, 95)}


def live_lag(playlist_url: str) -> float | None:
    """Seconds since the newest segment of the live top rung began (its program date-time)."""
    try:
        master = parse_master_playlist(httpx.get(playlist_url, timeout=5).text)
        base = playlist_url.rsplit("/", 1)[0]
        live = parse_media_playlist(httpx.get(f"{base}/{master[0].uri}", timeout=5).text)
    except (httpx.HTTPError, ValueError):
        return None
    newest = live.segments[-1].program_date_time
    return None if newest is None else (datetime.now(UTC) - newest).total_seconds()


def run_fault(
    api: httpx.Client, worker: FaultyWorker, source: Path, seconds: int, mode: str, after: float, lasting: float
) -> tuple[dict[str, object], float]:
    """Publish `source` (`seconds` long); `after` seconds in, break storage for `lasting`
    seconds. Returns the VOD and how long after recovery the live playlist was current again."""
    channel = new_channel(api)
    publisher = publish(source, f"{worker.rtmp_url}/{channel.key}")
    try:
        url = playback_url(api, channel.username)
        fetch(url)
        time.sleep(after)
        before = worker.proxy.storage_connections
        worker.proxy.set(mode)
        time.sleep(lasting)
        worker.proxy.set("forward")
        recovered = time.monotonic()
        if mode != "refuse":  # refused connections never reach the proxy to be counted
            assert worker.proxy.storage_connections > before, "the worker kept trying storage during the fault"
        wait_for(lambda: (lag := live_lag(url)) is not None and lag <= CURRENT_SECONDS, 30, "the live edge")
        caught_up = time.monotonic() - recovered
        finish(publisher, timeout=seconds + 60)
    finally:
        publisher.kill()
    (vod,) = vods_once_offline(api, channel.username, 90)
    return vod, caught_up


# `stall-all` freezes DynamoDB for the worker too (its heartbeats wait) while the sweeper goes on:
# it must stay under `live_stale_seconds` (30) less a heartbeat interval, or the broadcast is
# rightly taken for dead.
@pytest.mark.parametrize(
    ("mode", "lasting", "seconds"),
    [
        ("stall", 25, 50),
        ("stall", 70, 95),
        ("stall-all", 20, 45),
        ("reset", 15, 35),
        ("refuse", 15, 35),
        ("500", 15, 35),
        ("503", 15, 35),
    ],
)
def test_a_storage_fault_during_a_publish_loses_nothing(
    api: httpx.Client, worker: FaultyWorker, sources: dict[int, Path], mode: str, lasting: int, seconds: int
) -> None:
    vod, caught_up = run_fault(api, worker, sources[seconds], seconds, mode, after=6, lasting=lasting)
    segments = assert_complete(vod, discontinuities=0)
    # Every second of the publish is in the VOD (the last segment may be short).
    assert segments >= seconds / SEGMENT_SECONDS - 1
    assert float(str(vod["duration_seconds"])) == pytest.approx(seconds, abs=1.5)
    assert caught_up < 15
    assert "SegmentsDropped" not in worker.log.read_text()
