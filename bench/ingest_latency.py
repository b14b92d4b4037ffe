"""Ingest latency: from a frame's capture to its segment being listed at the origin.

A live publisher (ffmpeg encoding a 720p30 test pattern in real time with OBS's x264 settings,
`tests/e2e/media.publish_clock`) burns its wall clock at capture into every frame and sends over
RTMP to the ingest worker of a local platform (started here on free ports, or the running
`make dev` with `--reuse`). The edge's live playlist of the top rung (the source, copied) is
polled every 25 ms and the wall-clock time each segment first appears is recorded; afterwards
each segment is fetched and its frames' clocks decoded, so:
- "last frame -> listed" = listed - capture of the segment's newest frame: the pipeline's own
  delay (FFmpeg closing the segment, the upload pass, segment and playlist stored, the origin);
- "first frame -> listed" = the same for its oldest frame: plus the segment's length.
Target (issue): <= 1.5 s p50 with 1 s segments. Both are printed.

Run from the repo root: `.venv/bin/python -m bench.ingest_latency [--seconds 30] [--reuse]`.
"""

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from letslive.media.playlists import parse_master_playlist, parse_media_playlist
from localstack.platform import STATE_FILE, local_platform
from tests.e2e.media import publish_clock, read_clocks

PASSWORD = "correct horse battery staple 42"
HEIGHT = 720


@contextmanager
def platform_urls(reuse: bool) -> Iterator[tuple[str, str]]:
    """(edge URL, RTMP URL) of the running `make dev`, or of a platform started for this run."""
    if reuse:
        urls = json.loads(STATE_FILE.read_text())["urls"]
        yield urls["web (edge)"].rstrip("/"), urls["RTMP ingest (OBS server)"]
        return
    with tempfile.TemporaryDirectory() as state, local_platform(Path(state), stage="bench") as running:
        # "Listed at the origin": the edge's 1 s playlist cache (CloudFront's) is not counted.
        running.edge.caching = False
        yield running.edge_url, running.rtmp_url


def channel(api: httpx.Client) -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    api.post("/auth/signup", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})
    token = api.post("/auth/login", json={"username": name, "password": PASSWORD}).json()["access_token"]
    key = api.post("/streams/me/key", headers={"authorization": f"Bearer {token}"}).json()["stream_key"]
    return name, key


def measure(edge: str, rtmp: str, seconds: int) -> tuple[list[float], list[float]]:
    with httpx.Client(base_url=f"{edge}/api", timeout=30) as api:
        name, key = channel(api)
        epoch = time.time()
        publisher = publish_clock(f"{rtmp}/{key}", HEIGHT, seconds, epoch)
        listed: dict[int, tuple[float, str]] = {}
        try:
            deadline = time.monotonic() + 30
            master_url = None
            while master_url is None and time.monotonic() < deadline:
                master_url = api.get(f"/streams/{name}").json().get("playback_url")
                time.sleep(0.05)
            assert master_url, "the channel never went live"
            while (master := httpx.get(master_url)).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            base = master_url.rsplit("/", 1)[0]
            playlist_url = f"{base}/{parse_master_playlist(master.text)[0].uri}"
            while publisher.poll() is None:
                response = httpx.get(playlist_url)
                now = time.time()
                if response.status_code == 200:
                    for segment in parse_media_playlist(response.text).segments:
                        listed.setdefault(segment.sequence, (now, f"{base}/{segment.uri}"))
                time.sleep(0.025)
        finally:
            publisher.wait(timeout=60)
    first: list[float] = []
    last: list[float] = []
    for sequence in range(max(listed) + 1 if listed else 0):
        if sequence not in listed:
            raise AssertionError(f"segment {sequence} was never seen listed (polling too slow?)")
        at, url = listed[sequence]
        clocks = read_clocks(httpx.get(url).content, HEIGHT)
        if clocks:
            first.append(at - epoch - min(clocks) / 1000)
            last.append(at - epoch - max(clocks) / 1000)
    return first, last


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{name:<28} {statistics.median(ordered):>7.3f} {p95:>7.3f} {len(ordered):>5}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30, help="length of the published stream")
    parser.add_argument("--reuse", action="store_true", help="measure the running `make dev` platform")
    args = parser.parse_args()
    with platform_urls(args.reuse) as (edge, rtmp):
        first, last = measure(edge, rtmp, args.seconds)
    print(f"Ingest latency, live 720p30 publisher, 1 s segments, {len(first)} segments (seconds):")
    print(f"{'':<28} {'p50':>7} {'p95':>7} {'n':>5}")
    print(summary("last frame -> listed", last))
    print(summary("first frame -> listed", first))
    print("target: <= 1.5 s p50")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
