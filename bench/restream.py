"""Restream: the CPU one forwarded destination costs the ingest worker.

Run from the repo root: `.venv/bin/python -m bench.restream [--source FILE.flv]` (exit status 0
whatever the figures; a run where a destination was not live the whole window is no measurement
and raises).

Method. A realistic source is encoded once with FFmpeg (1920x1080 30 fps H.264 at 6 Mbit/s,
x264 veryfast, a keyframe every 2 s, a test pattern with temporal noise so the bitrate is spent;
AAC 160k of pink noise; 40 s), and its FLV tags are read into memory. Each run feeds them to the
real `Restream` (`workers/ingest/restream.py`) at real time, paced by their timestamps against
the monotonic clock in an asyncio loop as a publisher's messages arrive, with N destinations on
a local nginx-rtmp (`tests/support/nginx_rtmp.py`, a real RTMP server; RTMPS through its TLS
listener): one FFmpeg `-c copy` per destination, as in production. After `WARMUP` seconds
(FFmpeg starting and connecting), `MEASURE` seconds are measured:
- the CPU time (user + sys, /proc/<pid>/stat) of the forwarding FFmpeg children;
- the CPU time of this Python process (the event loop copying tags into each destination's
  buffer and writing them to FFmpeg's stdin, reading its progress);
- the same with no destination and no `Restream` at all (the baseline: pacing tags read from
  memory), subtracted from the Python figure.
Per destination: (FFmpeg children + Python - baseline) / N / wall seconds, in % of one core.
Every destination must be live the whole window, on its first connection, with nothing dropped
(polled every `STATUS_POLL` s) and still publishing at nginx at its end; the forwarded bitrate is
the mean of the statuses' `bitrate_kbps` over the window.

Left out: the network on a real link (loopback here: no retransmits, no congestion, the kernel's
TCP cost is small); TLS to a remote server (the handshake is in the warm-up; only the record
encryption is measured); the destination server's own CPU (nginx, its TLS termination and its
recording are not ours); the worker's RTMP ingest, detection and ladder, which run with or
without restream; `Restream`'s one encoding of each tag into FLV, shared by all destinations,
is counted in the per-destination figure (not in the baseline), so it is overstated for N > 1.
The machine's other load shows in the spread between runs: CPU time, not wall time, is measured,
but a busy machine still slows caches and clocks.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from letslive.media.flv import parse_audio_tag, parse_video_tag
from letslive.models.restream import ForwardTarget
from tests.flv_files import metadata_of, read_tags
from tests.support.nginx_rtmp import NginxRtmp
from workers.ingest.restream import Restream, RestreamTuning
from workers.ingest.rtmp.amf0 import AmfValue
from workers.ingest.rtmp.flv import TagType

SOURCE_SECONDS = 40
WIDTH, HEIGHT, FPS = 1920, 1080, 30
VIDEO_INPUT = f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS},noise=alls=12:allf=t+u"  # noise: the bitrate is spent
AUDIO_INPUT = "anoisesrc=color=pink:amplitude=0.2:sample_rate=48000"
VIDEO_CODEC = ("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60", "-sc_threshold", "0")
VIDEO_RATE = ("-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M")
AUDIO_CODEC = ("-c:a", "aac", "-b:a", "160k", "-ac", "2")
ENCODE_TIMEOUT = 900
WARMUP = 5.0
MEASURE = 30.0
STATUS_POLL = 0.5
# (scheme, destinations); the first is the baseline.
RUNS = (("rtmp", 0), ("rtmp", 1), ("rtmp", 3), ("rtmps", 1))
TARGET_PERCENT = 5.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class SourceTag:
    kind: TagType
    timestamp_ms: int
    body: bytes
    keyframe: bool
    header: bool


@dataclass(frozen=True, slots=True)
class Source:
    metadata: dict[str, AmfValue]
    tags: list[SourceTag]

    @property
    def seconds(self) -> float:
        return (self.tags[-1].timestamp_ms - self.tags[0].timestamp_ms) / 1000

    @property
    def kbps(self) -> float:
        return sum(len(tag.body) for tag in self.tags) * 8 / 1000 / self.seconds


@dataclass(frozen=True, slots=True)
class Run:
    scheme: str
    destinations: int
    wall: float
    python_cpu: float
    ffmpeg_cpu: float
    kbps: list[float]  # the mean forwarded bitrate of each destination over the window


def encode(path: Path) -> None:
    inputs = ("-f", "lavfi", "-i", VIDEO_INPUT, "-f", "lavfi", "-i", AUDIO_INPUT, "-t", str(SOURCE_SECONDS))
    output = (*VIDEO_CODEC, *VIDEO_RATE, *AUDIO_CODEC, "-f", "flv", str(path))
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs, *output],
        check=True,
        timeout=ENCODE_TIMEOUT,
    )


def read_flv(data: bytes) -> Source:
    """The FLV file's onMetaData and its audio and video tags, told apart as the worker does:
    sequence headers are headers, not keyframes."""
    tags = read_tags(data)
    source: list[SourceTag] = []
    for tag in tags:
        if tag.kind == TagType.VIDEO:
            video = parse_video_tag(tag.body)
            header = video.packet_type == "sequence-start"
            source.append(
                SourceTag(TagType.VIDEO, tag.timestamp_ms, tag.body, video.is_keyframe and not header, header)
            )
        elif tag.kind == TagType.AUDIO:
            header = parse_audio_tag(tag.body).packet_type == "sequence-start"
            source.append(SourceTag(TagType.AUDIO, tag.timestamp_ms, tag.body, False, header))
    return Source(metadata_of(tags), source)


def forwarder_cpu() -> dict[int, float]:
    """CPU seconds (user + sys) of each FFmpeg child of this process, by pid."""
    found: dict[int, float] = {}
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on
        if comm == "ffmpeg" and int(fields[1]) == me:
            found[int(name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


async def feed(source: Source, restream: Restream | None, start: float) -> None:
    """The source's tags at real time, as an RTMP publisher's messages reach the worker."""
    first = source.tags[0].timestamp_ms
    for tag in source.tags:
        delay = start + (tag.timestamp_ms - first) / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if restream is not None:
            restream.tag(tag.kind, tag.timestamp_ms, tag.body, keyframe=tag.keyframe, header=tag.header)


def check_live(restream: Restream | None, kbps: dict[str, list[float]]) -> None:
    """Every destination live on its first connection, nothing dropped; its bitrate noted."""
    for status in restream.statuses() if restream is not None else []:
        if status.state != "live" or status.attempts != 1 or status.dropped_seconds:
            raise AssertionError(f"a destination was not live the whole window: {status}")
        if status.bitrate_kbps is not None:
            kbps[status.id].append(status.bitrate_kbps)


async def measure(source: Source, server: NginxRtmp, scheme: str, count: int, run: int) -> Run:
    base = server.rtmp_url if scheme == "rtmp" else server.rtmps_url
    targets = [ForwardTarget(f"d{i}", f"bench {i}", base, f"bench{run}_{i}") for i in range(count)]
    restream = None
    if targets:
        restream = Restream(audio=True, video=True, tuning=RestreamTuning(allow_private_hosts=True, verify_tls=False))
        restream.metadata(source.metadata)
        restream.update(targets)
    start = time.monotonic()
    feeder = asyncio.create_task(feed(source, restream, start))
    kbps: dict[str, list[float]] = {target.id: [] for target in targets}
    try:
        await asyncio.sleep(start + WARMUP - time.monotonic())
        check_live(restream, kbps)
        children_before = forwarder_cpu()
        wall_before, python_before = time.monotonic(), time.process_time()
        end = wall_before + MEASURE
        while (now := time.monotonic()) < end:
            await asyncio.sleep(min(STATUS_POLL, end - now))
            check_live(restream, kbps)
        wall, python_cpu = time.monotonic() - wall_before, time.process_time() - python_before
        children_after = forwarder_cpu()
        if feeder.done():
            raise AssertionError("the source ended before the window did")
    finally:
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
    if len(children_before) != count or children_after.keys() != children_before.keys():
        raise AssertionError(f"forwarders changed during the window: {children_before} -> {children_after}")
    publishing = await asyncio.to_thread(server.publishing)
    missing = [target.key for target in targets if target.key not in publishing]
    if missing:
        raise AssertionError(f"not publishing at nginx at the end of the window: {missing}")
    if restream is not None:
        await restream.close()
    ffmpeg_cpu = sum(children_after[pid] - children_before[pid] for pid in children_before)
    means = [statistics.fmean(values) for values in kbps.values()]
    return Run(scheme, count, wall, python_cpu, ffmpeg_cpu, means)


def percent(cpu_seconds: float, wall_seconds: float) -> float:
    return cpu_seconds / wall_seconds * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="an FLV to forward instead of encoding one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="letslive-restream-bench-") as scratch:
        path = args.source
        if path is None:
            path = Path(scratch) / "source.flv"
            encode(path)
        source = read_flv(path.read_bytes())
        if source.seconds < WARMUP + MEASURE + 1:
            raise SystemExit(f"{path}: {source.seconds:.1f} s of media, {WARMUP + MEASURE + 1:.0f} s needed")
        print(
            f"Restream CPU per destination: a {WIDTH}x{HEIGHT} {FPS} fps H.264 + AAC source at "
            f"{source.kbps:.0f} kbit/s, paced at real time, to a local nginx-rtmp; "
            f"{WARMUP:.0f} s warm-up, {MEASURE:.0f} s measured per run; {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at the start\n"
        )
        keys = {f"bench{run}_{i}" for run, (_, count) in enumerate(RUNS) for i in range(count)}
        with NginxRtmp(keys, Path(scratch) / "nginx") as server:
            runs = [asyncio.run(measure(source, server, *spec, run)) for run, spec in enumerate(RUNS)]
    baseline, *forwarding = runs
    baseline_python = percent(baseline.python_cpu, baseline.wall)
    print(f"baseline (no destination, no restream: pacing the tags): worker {baseline_python:.2f} % of a core")
    worst = 0.0
    for run in forwarding:
        ffmpeg = percent(run.ffmpeg_cpu, run.wall) / run.destinations
        worker = (percent(run.python_cpu, run.wall) - baseline_python) / run.destinations
        worst = max(worst, ffmpeg + worker)
        plural = "destination" if run.destinations == 1 else "destinations"
        print(
            f"restream cpu per destination ({run.scheme}, {run.destinations} {plural}): "
            f"{ffmpeg + worker:.2f} % of a core (ffmpeg {ffmpeg:.2f} %, worker {worker:.2f} %); "
            f"forwarded {', '.join(f'{kbps:.0f}' for kbps in run.kbps)} kbit/s, live the whole {run.wall:.0f} s"
        )
    verdict = "met" if worst < TARGET_PERCENT else "NOT met"
    print(
        f"\nheadline: at most {worst:.2f} % of a core per destination; "
        f"target: well under {TARGET_PERCENT:.0f} % ({verdict})"
    )


if __name__ == "__main__":
    main()
