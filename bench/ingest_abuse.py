"""Ingest under a malformed-RTMP flood: does a live broadcast notice?

The real worker (`python -m workers.ingest`, production defaults) runs against the emulator
(ministack, started here on a free port with just the tables, bucket and bus the worker uses).
A good publisher (ffmpeg, 640x360 30 fps x264 with 1 s keyframes + AAC, in real time: the
source is copied, so the broadcast costs little CPU) goes live; then a separate process fires
malformed sessions (`tests/fixtures/rtmp/client.py`: random and truncated handshakes, garbage
chunks, extreme chunk sizes, oversized and lying lengths, deep and huge AMF0, commands out of
order, wrong keys, message and chunk stream floods, slowloris, idle), 3 at a time from each of 64
loopback addresses (127.0.0.2 on), at the worker's RTMP port. The flood runs at nice 10: on
this one machine the attacker's own CPU would otherwise be charged to the worker.

Measured, in the worker's process:
- event-loop responsiveness: its /health answered every 100 ms (p50, p99, max), before and
  during the flood, from a process of its own. The worker's dependency checks are cached for
  the run (`LETSLIVE_INGEST_CHECK_CACHE_SECONDS=300`): with the default 5 s, one request in 50
  waits 0.1-0.2 s for DynamoDB and S3 to answer, which is not the loop's lag;
- the broadcast's segment cadence: when each segment of the copied rung was first listed in its
  live playlist (polled every 100 ms) against its place on the media clock; late = more than
  0.5 s behind the best-placed one; and its VOD's gaps;
- RSS before the flood, its peak, and after.
Targets: /health p99 <= 20 ms and max <= 100 ms during the flood, 0 segments late by more than
0.5 s, RSS growth <= 50 MiB.

Run from the repo root: `.venv/bin/python -m bench.ingest_abuse [--sessions 10000]`.
"""

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from letslive.constants import (
    ENV_AWS_ENDPOINT_URL,
    ENV_EVENT_BUS,
    ENV_INGEST_CHECK_CACHE_SECONDS,
    ENV_INGEST_HEALTH_HOST,
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_RTMP_HOST,
    ENV_INGEST_RTMP_PORT,
    ENV_INGEST_WORK_DIR,
    ENV_MEDIA_BUCKET,
    ENV_STAGE,
    TABLE_GSI,
    TABLE_GSI_PARTITION_KEY,
    TABLE_GSI_SORT_KEY,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
    Table,
    table_env_var,
)
from letslive.media.playlists import Segment, parse_master_playlist, parse_media_playlist
from letslive.services.recordings import broadcast_prefix
from localstack.emulator import EMULATOR_CREDENTIALS, REPO_ROOT, Emulator

USER = "bench_abuse"
BUCKET = "letslive-bench-media"
BUS = "letslive-bench-bus"
SOURCES = 64
PER_SOURCE = 3  # 192 at once: under the per-address cap (4) and the pending cap (256)
POLL_SECONDS = 0.1
LATE_SECONDS = 0.5
BURST_SECONDS = 2.0
MIB = 1024 * 1024
TARGET_P99_MS = 20.0
TARGET_MAX_MS = 100.0
TARGET_RSS_GROWTH_MIB = 50.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The emulator, provisioned for the worker


def provision(endpoint: str) -> dict[str, str]:
    """The worker's tables, bucket and bus in the emulator; the environment that names them."""
    clients: dict[str, Any] = {"endpoint_url": endpoint, "region_name": EMULATOR_CREDENTIALS["AWS_DEFAULT_REGION"]}
    dynamodb = boto3.client("dynamodb", **clients)
    env = {ENV_AWS_ENDPOINT_URL: endpoint, ENV_STAGE: "bench", ENV_MEDIA_BUCKET: BUCKET, ENV_EVENT_BUS: BUS}
    for table in (Table.STREAMS, Table.VODS):
        name = f"letslive-bench-{table.value}"
        keys = (TABLE_PARTITION_KEY, TABLE_SORT_KEY, TABLE_GSI_PARTITION_KEY, TABLE_GSI_SORT_KEY)
        dynamodb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": TABLE_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": TABLE_SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": TABLE_GSI,
                    "KeySchema": [
                        {"AttributeName": TABLE_GSI_PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": TABLE_GSI_SORT_KEY, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        env[table_env_var(table)] = name
    boto3.client("s3", **clients).create_bucket(Bucket=BUCKET)
    boto3.client("events", **clients).create_event_bus(Name=BUS)
    return env


@dataclass
class Worker:
    process: "subprocess.Popen[bytes]"
    health_url: str
    rtmp_port: int

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


@contextmanager
def worker(env: dict[str, str], work: Path) -> Iterator[Worker]:
    health_port, rtmp_port = free_port(), free_port()
    process_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        **EMULATOR_CREDENTIALS,
        **env,
        ENV_INGEST_HEALTH_HOST: "127.0.0.1",
        ENV_INGEST_HEALTH_PORT: str(health_port),
        ENV_INGEST_RTMP_HOST: "127.0.0.1",
        ENV_INGEST_RTMP_PORT: str(rtmp_port),
        ENV_INGEST_WORK_DIR: str(work / "media"),
        # A /health request that finds the dependency checks stale waits for them (DynamoDB and
        # S3, 0.1-0.2 s here): cached for the whole run, /health measures the event loop.
        ENV_INGEST_CHECK_CACHE_SECONDS: "300",
    }
    with (work / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.ingest"], cwd=REPO_ROOT, env=process_env, stdout=log, stderr=log
        )
    running = Worker(process, f"http://127.0.0.1:{health_port}/health", rtmp_port)
    try:
        deadline = time.monotonic() + 30
        while health_latency(running.health_url) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; see {work / 'worker.log'}")
            time.sleep(0.1)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def health_latency(url: str) -> float | None:
    """Seconds /health took to answer (any status), None if it did not."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
            response.read()
    except urllib.error.HTTPError:
        pass  # 503 (degraded) is an answer too
    except OSError:
        return None
    return time.perf_counter() - started


# What is watched while the flood runs


def every(seconds: float, stop: threading.Event) -> Iterator[None]:
    tick = time.monotonic()
    while not stop.is_set():
        yield
        tick += seconds
        stop.wait(max(0.0, tick - time.monotonic()))


def poll_health_main(url: str) -> None:
    """The /health poller's own process (no GIL shared with the bench's other threads): a line
    "<monotonic time> <seconds or None>" per request until killed. CLOCK_MONOTONIC is
    system-wide, so the times compare with the bench's."""
    for _ in every(POLL_SECONDS, threading.Event()):
        print(time.monotonic(), health_latency(url), flush=True)


@dataclass
class Watch:
    """/health every 100 ms (a process of its own), the live playlist every 100 ms and the
    worker's RSS (threads)."""

    worker: Worker
    s3: Any
    listed: dict[int, tuple[float, Segment]] = field(default_factory=dict)  # sequence -> first seen
    rss: list[tuple[float, int]] = field(default_factory=list)
    playlist_key: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _poller: "subprocess.Popen[str] | None" = None
    _already_listed: set[int] = field(default_factory=set)

    def start(self) -> None:
        self._poller = subprocess.Popen(
            [sys.executable, "-m", "bench.ingest_abuse", "--poll-health", self.worker.health_url],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        for target in (self._playlist, self._rss):
            threading.Thread(target=target, daemon=True).start()

    def finish(self) -> list[tuple[float, float | None]]:
        """Stop watching; every /health request as (when, latency)."""
        self.stop.set()
        assert self._poller is not None
        self._poller.terminate()
        output, _ = self._poller.communicate(timeout=10)
        samples: list[tuple[float, float | None]] = []
        for line in output.splitlines():
            when, latency = line.split()
            samples.append((float(when), None if latency == "None" else float(latency)))
        return samples

    def _playlist(self) -> None:
        for _ in every(POLL_SECONDS, self.stop):
            if self.playlist_key is None:
                continue
            with suppress(self.s3.exceptions.NoSuchKey):
                body = self.s3.get_object(Bucket=BUCKET, Key=self.playlist_key)["Body"].read().decode()
                now = time.monotonic()
                segments = parse_media_playlist(body).segments
                if not self.listed:
                    # Listed before polling began: when is unknown, so they are not judged.
                    self._already_listed = {segment.sequence for segment in segments}
                for segment in segments:
                    self.listed.setdefault(segment.sequence, (now, segment))

    def judged(self) -> dict[int, tuple[float, Segment]]:
        """The segments whose listing was seen happen (not already there at the first poll)."""
        return {sequence: seen for sequence, seen in self.listed.items() if sequence not in self._already_listed}

    def _rss(self) -> None:
        for _ in every(0.5, self.stop):
            with suppress(OSError, RuntimeError):
                self.rss.append((time.monotonic(), self.worker.rss_bytes()))


def wait_live(s3: Any, streams: Any, watch: Watch, deadline: float) -> str:
    """The broadcast id once the channel is live and its top rung's playlist is known."""
    while time.monotonic() < deadline:
        channel = streams.channel(USER, consistent_read=True)
        if channel is not None and channel.live and channel.broadcast_id:
            prefix = broadcast_prefix(channel.broadcast_id)
            with suppress(s3.exceptions.NoSuchKey):
                master = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/master.m3u8")["Body"].read().decode()
                watch.playlist_key = f"{prefix}/{parse_master_playlist(master)[0].uri}"
                return str(channel.broadcast_id)
        time.sleep(0.1)
    raise RuntimeError("the broadcast never went live")


def publisher(rtmp_url: str) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "30", "-c:a", "aac", "-b:a", "96k",
         "-f", "flv", rtmp_url],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def run_flood(rtmp_port: int, sessions: int, seed: int) -> tuple[Counter[str], float]:
    """The malformed sessions, from a separate (niced) process: outcomes by script/outcome, seconds."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bench.ingest_abuse", "--flood", str(rtmp_port), "--sessions", str(sessions),
         "--seed", str(seed)],
        cwd=REPO_ROOT, capture_output=True, check=True,
    )  # fmt: skip
    return Counter(json.loads(result.stdout)), time.monotonic() - started


def flood_main(port: int, sessions: int, seed: int) -> None:
    from tests.fixtures.rtmp.client import loopback_sources, malformed_flood

    os.nice(10)
    outcomes = asyncio.run(
        malformed_flood(port, sessions, loopback_sources(SOURCES), per_source=PER_SOURCE, seed=seed, patience=30.0)
    )
    print(json.dumps({f"{name} {outcome}": count for (name, outcome), count in sorted(outcomes.items())}))


# Figures


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def latency_line(name: str, samples: list[float | None]) -> tuple[str, float, float]:
    answered = [value * 1000 for value in samples if value is not None]
    if not answered:
        return f"{name:<36} no answer to {len(samples)} requests", float("inf"), float("inf")
    p50, p99, worst = statistics.median(answered), percentile(answered, 0.99), max(answered)
    unanswered = len(samples) - len(answered)
    return (
        f"{name:<36} {p50:>8.1f} {p99:>8.1f} {worst:>8.1f} {len(samples):>7}  ({unanswered} unanswered)",
        p99,
        worst if not unanswered else float("inf"),
    )


def lateness(listed: dict[int, tuple[float, Segment]], judged: set[int]) -> dict[int, float]:
    """Each judged segment's delay behind the best-placed one: (first listed - its end on the
    media clock) - the smallest such difference."""
    offsets: dict[int, float] = {}
    clock = 0.0
    for sequence in range(max(listed) + 1 if listed else 0):
        if sequence not in listed:
            break  # a segment never seen listed: the clock is lost from here on
        seen, segment = listed[sequence]
        clock += segment.duration
        if sequence in judged:
            offsets[sequence] = seen - clock
    best = min(offsets.values(), default=0.0)
    return {sequence: offset - best for sequence, offset in offsets.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--flood", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the flood process
    parser.add_argument("--poll-health", metavar="URL", help=argparse.SUPPRESS)  # the /health poller
    args = parser.parse_args()
    if args.flood:
        flood_main(args.flood, args.sessions, args.seed)
        return 0
    if args.poll_health:
        with suppress(KeyboardInterrupt):
            poll_health_main(args.poll_health)
        return 0

    with tempfile.TemporaryDirectory(prefix="ingest-abuse-") as temporary:
        work = Path(temporary)
        emulator = Emulator(port=free_port(), state_dir=work / "emulator").start()
        try:
            os.environ.update(EMULATOR_CREDENTIALS)  # the emulator's, never real ones
            env = provision(emulator.endpoint)
            os.environ.update(env)
            from letslive.services.streams import stream_service

            streams = stream_service()
            key = streams.create_key(USER).stream_key
            s3 = boto3.client("s3", endpoint_url=emulator.endpoint, region_name=EMULATOR_CREDENTIALS["AWS_REGION"])
            with worker(env, work) as running:
                report(running, streams.streams, s3, key, args)
        finally:
            emulator.stop()
    return 0


def report(running: Worker, repository: Any, s3: Any, key: str, args: argparse.Namespace) -> None:
    watch = Watch(running, s3)
    watch.start()
    ffmpeg = publisher(f"rtmp://127.0.0.1:{running.rtmp_port}/live/{key}")
    try:
        broadcast = wait_live(s3, repository, watch, time.monotonic() + 60)
        time.sleep(args.baseline_seconds)
        flood_start = time.monotonic()
        rss_before = running.rss_bytes()
        lag_before = loop_lag(running.health_url)
        outcomes, flood_seconds = run_flood(running.rtmp_port, args.sessions, args.seed)
        lag_during = lag_window(lag_before, loop_lag(running.health_url))
        flood_end = time.monotonic()
        time.sleep(5)  # what the flood left behind settles (lingering closes, timeouts)
        rss_after = running.rss_bytes()
    finally:
        # "q" is ffmpeg's own quit: the stream ends cleanly.
        _, publisher_errors = ffmpeg.communicate(b"q", timeout=30)
    health = watch.finish()
    vod = wait_vod(s3, broadcast)

    baseline = [latency for when, latency in health if when < flood_start]
    during = [latency for when, latency in health if flood_start <= when <= flood_end]
    # The flood opens 192 connections at once; after that, sessions come and go steadily.
    steady = [latency for when, latency in health if flood_start + BURST_SECONDS <= when <= flood_end]
    late = lateness(watch.listed, set(watch.judged()))
    during_flood = [s for s, (seen, _) in watch.listed.items() if flood_start <= seen <= flood_end + 2]
    late_segments = [s for s, delay in late.items() if delay > LATE_SECONDS]
    peak = max((rss for when, rss in watch.rss if flood_start <= when), default=rss_after)
    growth = (max(peak, rss_after) - rss_before) / MIB
    closed = sum(count for name, count in outcomes.items() if not name.endswith((" open", " refused")))
    left_open = sum(count for name, count in outcomes.items() if name.endswith(" open"))
    refused = sum(count for name, count in outcomes.items() if name.endswith(" refused"))
    gaps = sum(segment.gap for segment in vod) if vod is not None else None

    print(f"Ingest under a malformed-RTMP flood: {args.sessions} sessions from {SOURCES} loopback addresses")
    print(f"  ({PER_SOURCE} at a time from each) in {flood_seconds:.1f} s, beside one live 360p30 broadcast (copied)")
    print(f"sessions: {closed} ended by the server or the client, {left_open} left open, {refused} refused at connect")
    errors = publisher_errors.decode(errors="replace")[-200:] if ffmpeg.returncode else ""
    print(f"publisher (ffmpeg): exit {ffmpeg.returncode} {errors}")
    print()
    heading = f"worker /health every {POLL_SECONDS * 1000:.0f} ms (ms)"
    print(f"{heading:<36} {'p50':>8} {'p99':>8} {'max':>8} {'n':>7}")
    base_line, _, _ = latency_line("before the flood", baseline)
    flood_line, p99, worst = latency_line("during the flood", during)
    print(base_line)
    print(flood_line)
    print(latency_line(f"  after its first {BURST_SECONDS:.0f} s", steady)[0])
    slowest = sorted(((latency, when) for when, latency in health if latency is not None and when >= flood_start))
    print(
        "  slowest during the flood (ms at s after its start):",
        ", ".join(f"{latency * 1000:.0f} at +{when - flood_start:.1f}" for latency, when in reversed(slowest[-5:])),
    )
    print()
    delays = sorted(late.values())
    print(
        f"worker event loop, its own timer every 50 ms, during the flood: {sum(lag_during.values())} samples,"
        f" p99 <= {lag_percentile(lag_during, 0.99)} ms, {lag_over(lag_during, 100)} over 100 ms"
        f" (buckets: {', '.join(f'{name} {count}' for name, count in lag_during.items() if count)})"
    )
    print()
    print(f"broadcast: {len(late)} segments listed live, {len(during_flood)} during the flood;")
    print(f"  delay behind the best-placed segment p50 {statistics.median(delays):.2f} s, max {max(delays):.2f} s;")
    print(f"  {len(late_segments)} late by more than {LATE_SECONDS} s {late_segments[:10]}")
    print(f"  VOD: {len(vod) if vod is not None else 'missing'} segments, {gaps} gaps")
    print(f"worker RSS: {rss_before / MIB:.1f} MiB before, peak {peak / MIB:.1f}, after {rss_after / MIB:.1f} MiB")
    print()
    targets = (
        (f"/health p99 <= {TARGET_P99_MS:.0f} ms during the flood", f"{p99:.1f} ms", p99 <= TARGET_P99_MS),
        (f"/health max <= {TARGET_MAX_MS:.0f} ms during the flood", f"{worst:.1f} ms", worst <= TARGET_MAX_MS),
        (f"0 segments late > {LATE_SECONDS} s, no gap", f"{len(late_segments)}", not late_segments and gaps == 0),
        (f"RSS growth <= {TARGET_RSS_GROWTH_MIB:.0f} MiB", f"{growth:+.1f} MiB", growth <= TARGET_RSS_GROWTH_MIB),
        ("no session left open", f"{left_open}", left_open == 0),
        (
            "event loop lag p99 <= 20 ms and none over 100 ms during the flood (the worker's own meter)",
            f"p99 <= {lag_percentile(lag_during, 0.99)} ms, {lag_over(lag_during, 100)} over 100 ms",
            lag_percentile(lag_during, 0.99) <= TARGET_P99_MS and lag_over(lag_during, TARGET_MAX_MS) == 0,
        ),
    )
    for name, value, met in targets:
        print(f"target {name}: {value}, {'met' if met else 'MISSED'}")


def loop_lag(health_url: str) -> dict[str, int]:
    """The worker's event-loop lag buckets so far (`workers.ingest.looplag`), from its /health."""
    with urllib.request.urlopen(health_url, timeout=10) as response:  # noqa: S310 - loopback
        buckets: dict[str, int] = json.load(response)["loop_lag"]["buckets"]
    return buckets


def lag_window(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


def lag_percentile(buckets: dict[str, int], fraction: float) -> float:
    """The upper bound (ms) of the bucket holding the `fraction` quantile (inf past the last)."""
    total, seen = sum(buckets.values()), 0
    for name, count in buckets.items():
        seen += count
        if total and seen >= fraction * total:
            return float(name[2:]) if name.startswith("<=") else math.inf
    return 0.0


def lag_over(buckets: dict[str, int], bound_ms: float) -> int:
    """Samples above `bound_ms` (a bound of `LAG_BOUNDS_MS`): those of the buckets past it."""
    names = list(buckets)
    lower = [0.0] + [float(name.lstrip("<=>")) for name in names[:-1]]
    return sum(buckets[name] for name, low in zip(names, lower, strict=True) if low >= bound_ms)


def wait_vod(s3: Any, broadcast: str) -> list[Segment] | None:
    """The VOD playlist of the top rung, once the broadcast is finalized (None if never)."""
    prefix = broadcast_prefix(broadcast)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with suppress(s3.exceptions.NoSuchKey):
            master = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/vod.m3u8")["Body"].read().decode()
            uri = parse_master_playlist(master)[0].uri
            body = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/{uri}")["Body"].read().decode()
            return list(parse_media_playlist(body).segments)
        time.sleep(0.5)
    return None


if __name__ == "__main__":
    raise SystemExit(main())
