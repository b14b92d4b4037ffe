"""Many workers, as in AWS: HAProxy (the NLB's stand-in) spreads publishers round robin over the
platform's workers, health-checked on their `/health`; a worker that dies is replaced with the
same ports and identity, leaving the rotation while it is down and coming back into it."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from letslive.constants import ENV_INGEST_WORKER_ID
from localstack.balancer import HAPROXY
from tests.e2e.channels import active_broadcasts, fetch, finish, new_channel, playback_url, vods_of
from tests.e2e.conftest import WORKERS, LocalPlatform
from tests.e2e.media import make_source, publish, wait_for


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (make installs it)")
    directory = tmp_path_factory.mktemp("sources")
    return {"8s": make_source(directory, 720, 8), "5s": make_source(directory, 720, 5)}


def health(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def identity(process: "subprocess.Popen[bytes]") -> str:
    """The worker id in a worker process's environment."""
    variables = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
    (value,) = [v.split(b"=", 1)[1] for v in variables if v.startswith(ENV_INGEST_WORKER_ID.encode() + b"=")]
    return value.decode()


def publish_one_per_worker(platform: LocalPlatform, api: httpx.Client, source: Path) -> None:
    """As many publishers as workers, through the balancer: round robin gives each worker one."""
    channels = [new_channel(api) for _ in range(WORKERS)]
    publishers = [publish(source, f"{platform.rtmp_url}/{channel.key}") for channel in channels]
    try:
        for channel in channels:
            fetch(playback_url(api, channel.username))  # live, played through the edge
        wait_for(lambda: active_broadcasts(platform) == [1] * WORKERS, 20, "one broadcast on each worker")
        for publisher in publishers:
            finish(publisher)
    finally:
        for publisher in publishers:
            publisher.kill()
    for channel in channels:
        name = channel.username
        wait_for(lambda name=name: vods_of(api, name), 30, f"the VOD of {name}")  # type: ignore[misc]


def test_every_worker_is_up_behind_the_balancer_with_its_own_identity(platform: LocalPlatform) -> None:
    assert len(platform.worker_health_urls) == WORKERS
    assert platform.worker_health_url == platform.worker_health_urls[0]
    for url in platform.worker_health_urls:
        assert health(url)["service"] == "ingest"
    names = [f"worker-{n}" for n in range(1, WORKERS + 1)]
    assert platform.balancer.server_states() == dict.fromkeys(names, "UP")
    assert [identity(platform.workers.process(n)) for n in range(1, WORKERS + 1)] == names


@pytest.mark.tools("ffmpeg", HAPROXY)
def test_publishers_through_the_balancer_are_spread_round_robin(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path]
) -> None:
    publish_one_per_worker(platform, api, sources["8s"])
    log = platform.balancer.log_path.read_text()
    assert all(f"rtmp ingest/worker-{n} " in log for n in range(1, WORKERS + 1)), log[-2000:]


@pytest.mark.tools("ffmpeg", HAPROXY)
def test_a_killed_worker_is_replaced_and_the_balancer_takes_it_out_and_back(
    platform: LocalPlatform, api: httpx.Client, sources: dict[str, Path]
) -> None:
    """SIGKILL: no drain, no goodbye, as when a task's container crashes."""
    killed = platform.workers.process(2)
    restarts = platform.workers.restarts(2)
    killed.kill()
    killed.wait()
    wait_for(lambda: platform.balancer.server_states()["worker-2"] == "DOWN", 10, "HAProxy to mark worker-2 down")
    assert platform.balancer.server_states()["worker-1"] == "UP"

    wait_for(lambda: platform.workers.restarts(2) == restarts + 1, 20, "the platform to restart worker-2")
    replacement = platform.workers.process(2)
    assert replacement.pid != killed.pid
    assert identity(replacement) == "worker-2"
    wait_for(lambda: _answers(platform.worker_health_urls[1]), 20, "worker-2's /health on its old port")
    wait_for(lambda: platform.balancer.server_states()["worker-2"] == "UP", 10, "HAProxy to mark worker-2 up")
    log = platform.balancer.log_path.read_text()
    assert "Server ingest/worker-2 is DOWN" in log
    assert "Server ingest/worker-2 is UP" in log

    # Back in the rotation: publishers land on both workers again.
    publish_one_per_worker(platform, api, sources["5s"])


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
