"""Clip downloads: what remuxing a clip's MP4 costs, PyAV in-process against the FFmpeg CLI.

Run from the repo root: `.venv/bin/python -m bench.clip_download` (exit status 0 whatever the
figures; two MP4s whose packets differ raise).

Method. A 60 s clip as the ladder cuts it is encoded once with FFmpeg: 1920x1080 30 fps H.264
at 6 Mbit/s (x264 veryfast, a keyframe every second, a test pattern with temporal noise so the
bitrate is spent), AAC 160k, in 1 s MPEG-TS segments, joined in order into one file as the
consumer joins them. Then, `RUNS` times each, alternating, in a fresh child process:
- PyAV: `letslive.media.remux.remux_to_mp4` (what the Lambda runs), in a Python child that
  imports it and remuxes; the child reports the remux's own wall time, without the interpreter
  start and `import av`;
- FFmpeg: `ffmpeg -i joined.ts -map 0 -c copy -movflags +faststart out.mp4`, the same work on
  the same input with the same output options.
Reported: the median wall time, the child's CPU time (user + sys, from `wait4`) and its peak RSS,
and that both MP4s hold the same packets (sizes and keyframe flags, per stream).

Left out: reading the segments from S3 and writing the MP4 back (network, not remux), the
Lambda's cold start and the layer's unpacking; the figures are this machine's (2 cores, shared
with whatever else runs), not Lambda's (1024 MB: a fraction of a vCPU).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CLIP_SECONDS = 60
RUNS = 5
SOURCE = (
    "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t+u",
    "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.2:sample_rate=48000",
    "-t", str(CLIP_SECONDS),
    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30",
    "-sc_threshold", "0", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M",
    "-c:a", "aac", "-b:a", "160k", "-ac", "2",
)  # fmt: skip


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    max_rss_mb: float
    remux_wall: float | None = None


def make_clip(directory: Path) -> Path:
    """The joined segments of a 60 s 1080p clip (encoded once, kept in `directory`)."""
    joined = directory / "joined.ts"
    if joined.exists():
        return joined
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *SOURCE, "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
         "-hls_segment_filename", str(directory / "seg%03d.ts"), str(directory / "index.m3u8")],
        check=True,
    )  # fmt: skip
    segments = sorted(directory.glob("seg*.ts"))
    with joined.open("wb") as out:
        for segment in segments:
            out.write(segment.read_bytes())
    return joined


def measured(command: list[str]) -> tuple[Run, str]:
    """Run `command` to its end: its wall time, CPU time and peak RSS (`wait4`), its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{command[0]} failed: {err.read().decode()[-2000:]}")
        return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024), out.read().decode()


def pyav_run(source: Path, output: Path) -> Run:
    run, out = measured([sys.executable, "-m", "bench.clip_download", "--child", str(source), str(output)])
    return Run(run.wall, run.cpu, run.max_rss_mb, remux_wall=float(out.strip()))


def ffmpeg_run(source: Path, output: Path) -> Run:
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-map", "0", "-c", "copy",
               "-movflags", "+faststart", str(output)]  # fmt: skip
    return measured(command)[0]


def packets(path: Path) -> list[str]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=stream_index,size,flags", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return sorted(",".join(line.split(",")[:3]) for line in result.stdout.split())


def child(source: Path, output: Path) -> None:
    """The PyAV side, as the consumer runs it; prints the remux's own wall seconds."""
    from letslive.media.remux import remux_to_mp4

    started = time.perf_counter()
    remux_to_mp4(source, output, CLIP_SECONDS, lambda _: None)
    print(f"{time.perf_counter() - started:.4f}")


def summary(name: str, runs: list[Run]) -> str:
    wall = statistics.median(r.wall for r in runs)
    cpu = statistics.median(r.cpu for r in runs)
    rss = statistics.median(r.max_rss_mb for r in runs)
    line = f"{name:<8} wall {wall * 1000:7.0f} ms   cpu {cpu * 1000:7.0f} ms   peak RSS {rss:6.1f} MB"
    remux = [r.remux_wall for r in runs if r.remux_wall is not None]
    if remux:
        line += f"   (the remux alone: {statistics.median(remux) * 1000:.0f} ms)"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help="keep the encoded clip here between runs")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="clip-bench-") as tmp:
        directory = args.workdir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        source = make_clip(directory)
        pyav, ffmpeg = [], []
        for _ in range(RUNS):
            pyav.append(pyav_run(source, directory / "pyav.mp4"))
            ffmpeg.append(ffmpeg_run(source, directory / "ffmpeg.mp4"))
        same = packets(directory / "pyav.mp4") == packets(directory / "ffmpeg.mp4")
        if not same:
            raise RuntimeError("PyAV's MP4 and FFmpeg's hold different packets")
        size = source.stat().st_size / 1e6
        print(f"a {CLIP_SECONDS} s 1080p30 clip, {size:.1f} MB of MPEG-TS, remuxed to MP4 (median of {RUNS}):")
        print(summary("PyAV", pyav))
        print(summary("ffmpeg", ffmpeg))
        print(f"MP4 {(directory / 'pyav.mp4').stat().st_size / 1e6:.1f} MB; the same packets in both: {same}")


if __name__ == "__main__":
    main()
