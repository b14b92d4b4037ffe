"""Ingest latency: from a frame leaving the publisher to its segment being listed at the origin.

A real ffmpeg publishes a pre-encoded 720p30 stream (H.264 1 s GOP + AAC) at real time over
RTMP to the ingest worker of a local platform (started here on free ports, or the running
`make dev` with `--reuse`). The edge's live playlist of the top rung is polled every 25 ms and
the wall-clock time each segment first appears is recorded.

The publisher sends at real time (`-re`), so the frame at media time t leaves it at
start + t, where start is when the publisher process was launched (which makes every figure
a little pessimistic: it includes the RTMP connect and the key check). A segment's media span
is the sum of the EXTINF durations before it, so:
- "last frame -> listed" = listed - (start + end of the segment): the pipeline's own delay
  (finish the segment, upload it, upload the playlist, origin) for the newest frame in it;
- "first frame -> listed" = the same for the oldest frame in it: plus the segment's duration.
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
from tests.e2e.media import make_source, publish

PASSWORD = "correct horse battery staple 42"


@contextmanager
def platform_urls(reuse: bool) -> Iterator[tuple[str, str]]:
    """(edge URL, RTMP URL) of the running `make dev`, or of a platform started for this run."""
    if reuse:
        urls = json.loads(STATE_FILE.read_text())["urls"]
        yield urls["web (edge)"].rstrip("/"), urls["RTMP ingest (OBS server)"]
        return
    with tempfile.TemporaryDirectory() as state, local_platform(Path(state), stage="bench") as running:
        yield running.edge_url, running.rtmp_url


def channel(api: httpx.Client) -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    api.post("/auth/signup", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})
    token = api.post("/auth/login", json={"username": name, "password": PASSWORD}).json()["access_token"]
    key = api.post("/streams/me/key", headers={"authorization": f"Bearer {token}"}).json()["stream_key"]
    return name, key


def measure(edge: str, rtmp: str, seconds: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as work, httpx.Client(base_url=f"{edge}/api", timeout=30) as api:
        source = make_source(Path(work), 720, seconds)
        name, key = channel(api)
        publisher = publish(source, f"{rtmp}/{key}")
        started = time.time()
        listed: dict[int, tuple[float, float]] = {}
        try:
            deadline = time.monotonic() + 30
            master_url = None
            while master_url is None and time.monotonic() < deadline:
                master_url = api.get(f"/streams/{name}").json().get("playback_url")
                time.sleep(0.05)
            assert master_url, "the channel never went live"
            while (master := httpx.get(master_url)).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            top = parse_master_playlist(master.text)[0].uri
            playlist_url = master_url.rsplit("/", 1)[0] + "/" + top
            while publisher.poll() is None:
                response = httpx.get(playlist_url)
                now = time.time()
                if response.status_code == 200:
                    for segment in parse_media_playlist(response.text).segments:
                        listed.setdefault(segment.sequence, (now, segment.duration))
                time.sleep(0.025)
        finally:
            publisher.wait(timeout=60)
    first: list[float] = []
    last: list[float] = []
    media_end = 0.0
    for sequence in range(max(listed) + 1 if listed else 0):
        if sequence not in listed:
            raise AssertionError(f"segment {sequence} was never seen listed (polling too slow?)")
        at, duration = listed[sequence]
        media_end += duration
        last.append(at - (started + media_end))
        first.append(at - (started + media_end - duration))
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
    print(f"Ingest latency, 720p30 source, 1 s segments, {len(first)} segments (seconds):")
    print(f"{'':<28} {'p50':>7} {'p95':>7} {'n':>5}")
    print(summary("last frame -> listed", last))
    print(summary("first frame -> listed", first))
    print("target: <= 1.5 s p50")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
