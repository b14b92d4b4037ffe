"""The transcoding ladder on this machine: realtime factor and CPU of every plan the planner can choose.

Run from the repo root: `.venv/bin/python bench/ladder.py` (exit status 0 whatever the figures).
`--sweep-reencode` compares encoder tunings on the re-encoded plans (speed and quality),
`--sweep` the thread settings on the copied plan, `--rows 2,5` measures some rows only,
`--quality` adds the quality of each row's encoded rungs, `--tuning 8` runs the rows with a tuning
of the re-encode sweep (its index) instead of the default, `--content mandelbrot` uses a harder source.

Sources. 20 s of testsrc2 (mostly flat colour; `mandelbrot` zooms into the fractal, so every
pixel moves, closer to a game) + a 440 Hz sine, generated once per size and rate into a cache
under the temp directory, encoded the way OBS is told to: x264 veryfast, H.264 High, a keyframe
every second, no scene-cut keyframes, 6 Mbit/s at 1080p (4.5 Mbit/s at 720p), AAC 160 kbit/s.

Rows. One FFmpeg per row, the arguments of `letslive.media.build_transcode_args` (1 s segments,
HLS into a scratch directory), reading the file as fast as it can (no `-re`):
  1. 1080p30 source copied + 720p30 + 360p30 (today's default; keyframes at the source's);
  2. 1080p30 re-encoded + 720p30 + 360p30, keyframes every 1 s by time;
  3. 1080p60 copied + 720p60 + 360p30;
  4. 1080p60 re-encoded + 720p60 + 360p30 (what capping avoids);
  5. 1080p60 capped to 720p60 (+ 360p30), re-encoded;
  6. 1080p60 capped to 1080p30 (+ 720p30 + 360p30), re-encoded;
  7. 720p60 copied + 360p30, and 720p60 re-encoded + 360p30;
  and two naive designs, one FFmpeg per rung, run together, each reading the input itself:
  "naive-copy": row 1's rungs (the 1080p30 source copied by one process, 720p30 and 360p30 each
  decoding the whole source; keyframes at the source's), the like-for-like comparison for row 1;
  "naive-reencode": row 2's rungs (every rung re-encoded, each process decoding), what a naive
  "re-encode every rung, one FFmpeg each" setup costs. (`--rows naive` selects both.)
A plan is copied (keyframes "source") or re-encoded (keyframes "time"); `build_plan` is the one
place that builds them.

Figures. realtime = media seconds / wall seconds (the throughput: above 1x keeps up with a live
stream, the margin is the headroom); CPU = user + sys of the FFmpeg children (`os.wait4`);
cores = CPU / wall. This machine is shared: "load" is `os.getloadavg()[0]` when each run starts
(it counts runnable threads, FFmpeg's own among them, so it is a poor guide), "others" the CPU
the rest of the machine used during the run (from /proc/stat), in cores, per run. A run with
others >= `QUIET_CORES` is retried (up to `--attempts`, the quietest kept), and a figure whose
best run was not quiet is flagged `*`. Every row runs `--runs` times, interleaved with the other
rows (round after round, so that a burst of load hits all of them alike); reported: the best
realtime, the spread (worst..best), the median CPU seconds and cores. The comparisons with the
naive designs are ratios of CPU seconds, which load from other work disturbs much less than the
wall clock (realtime) figures.

Quality (`--sweep-reencode`, `--quality`): each encoded rung of one run against the source,
brought to the rung's rate and size (`fps`, bicubic `scale`, so resolution loss is not counted):
mean PSNR (dB, Y/U/V weighted) and SSIM (All) over the 20 s, with FFmpeg's `psnr`/`ssim` filters.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Final, Literal

from letslive.media import EncoderTuning, Ladder, PlannedRung, SourceInfo, build_transcode_args, probe
from letslive.media.ffmpeg import Keyframes

PlanKind = Literal["copy", "reencode", "cap-720p60", "cap-1080p30"]

MEDIA_SECONDS: Final = 20
RUNS: Final = 2
ATTEMPTS: Final = 3
QUIET_CORES: Final = 0.2
REALTIME_TARGET: Final = 1.5
CPU_RATIO_TARGET: Final = 0.5
CONTENT: Final = ("testsrc2", "mandelbrot")
# The naive designs (one FFmpeg per rung): row 1's rungs (like-for-like) and row 2's (all re-encoded).
NAIVE_ROWS: Final[dict[str, tuple[str, PlanKind]]] = {"naive-copy": ("1", "copy"), "naive-reencode": ("2", "reencode")}


@dataclass(frozen=True)
class SourceSpec:
    width: int
    height: int
    fps: int
    video_kbps: int
    level: str


SOURCES: Final[dict[str, SourceSpec]] = {
    "1080p30": SourceSpec(1920, 1080, 30, 6000, "4.1"),
    "1080p60": SourceSpec(1920, 1080, 60, 6000, "4.2"),
    "720p60": SourceSpec(1280, 720, 60, 4500, "3.2"),
}


@dataclass(frozen=True)
class Variant:
    """An encoder tuning: `EncoderTuning` (every encoded rung) plus what `build_transcode_args` cannot
    express yet, applied to its argv by `transcode_command`: a preset, x264 parameters and frame
    threads for the top rung only, the lower rungs scaled from the rung above (a chain, see
    `filter_graph`)."""

    label: str
    tuning: EncoderTuning = field(default_factory=EncoderTuning)
    top_preset: str | None = None
    top_x264_params: tuple[str, ...] = ()
    top_frame_threads: int | None = None
    chained_scaling: bool = False


DEFAULT_VARIANT: Final = Variant("default (veryfast, zerolatency, frame threads 2)")

# `--sweep-reencode`: tunings for the re-encoded plans. Note: veryfast already means ref=1,
# trellis=0 (and zerolatency rc-lookahead=0, no mbtree, no B-frames); superfast is veryfast with
# subme=1, me=dia, partitions i8x8,i4x4; ultrafast also drops deblocking, adaptive quantisation,
# 8x8 transforms and all partitions (subme=0).
REENCODE_SWEEP: Final[tuple[Variant, ...]] = (
    DEFAULT_VARIANT,
    Variant("frame threads 1", EncoderTuning(frame_threads=1)),
    Variant("frame threads 3", EncoderTuning(frame_threads=3)),
    Variant("frame threads 4", EncoderTuning(frame_threads=4)),
    Variant("decoder threads 1", EncoderTuning(decoder_threads=1)),
    Variant("decoder threads 2", EncoderTuning(decoder_threads=2)),
    Variant("chained scaling (360p from 720p)", chained_scaling=True),
    Variant("top x264-params subme=1:me=dia", top_x264_params=("subme=1", "me=dia")),
    Variant("top preset superfast", top_preset="superfast"),
    Variant("top preset ultrafast", top_preset="ultrafast"),
    Variant("top superfast + chained scaling", top_preset="superfast", chained_scaling=True),
    Variant("top superfast, frame threads 3", EncoderTuning(frame_threads=3), top_preset="superfast"),
    Variant("top superfast, top frame threads 3", top_preset="superfast", top_frame_threads=3),
    Variant("all rungs superfast", EncoderTuning(preset="superfast")),
)
# `--sweep`: thread settings on the copied 1080p30 plan (see EncoderTuning for what each knob does).
COPY_SWEEP: Final[tuple[Variant, ...]] = (
    Variant("x264 defaults (no tune, frame threads auto)", EncoderTuning(zerolatency=False, frame_threads=None)),
    Variant("zerolatency (sliced threads auto)", EncoderTuning(frame_threads=None)),
    Variant("zerolatency, sliced threads=2", EncoderTuning(frame_threads=None, x264_params=("threads=2",))),
    Variant("zerolatency, frame threads=2 (the default)"),
    Variant("zerolatency, frame threads=3", EncoderTuning(frame_threads=3)),
    Variant("zerolatency, filter_complex_threads=2", EncoderTuning(frame_threads=None, filter_threads=2)),
    Variant("default + filter_complex_threads=2", EncoderTuning(filter_threads=2)),
    Variant("default + decoder threads=2", EncoderTuning(decoder_threads=2)),
    Variant("default + bilinear scaling", EncoderTuning(scale_flags="bilinear")),
)


@dataclass(frozen=True)
class Row:
    key: str  # "1", "2", "7a", ...
    source: str  # a SOURCES key
    plan: PlanKind


ROWS: Final[tuple[Row, ...]] = (
    Row("1", "1080p30", "copy"),
    Row("2", "1080p30", "reencode"),
    Row("3", "1080p60", "copy"),
    Row("4", "1080p60", "reencode"),
    Row("5", "1080p60", "cap-720p60"),
    Row("6", "1080p60", "cap-1080p30"),
    Row("7a", "720p60", "copy"),
    Row("7b", "720p60", "reencode"),
)
SWEEP_ROWS: Final = ("2", "5", "6")


def build_plan(source: SourceInfo, kind: PlanKind) -> list[PlannedRung]:
    """The plan of one kind for `source`: the one function to switch to the new planner API.

    "copy" is `Ladder().plan(source)`. The others re-encode the top rung: at the source's size
    and rate ("reencode"), or capped at 720p at the source's rate or at 1080p30 (lower rungs
    never faster than the top). Each is the plan `Ladder().plan` makes for a source it cannot
    copy (HEVC) of the top rung's size and rate, with the top rung then scaled from the real
    source when the sizes differ: the same rungs as `Ladder.plan(source, copy_top=False,
    top=TopLimit(height, fps))`, except that this keeps the 720p rung of "cap-1080p30" at 30 fps
    (that call leaves it at the source's 60).
    """
    if kind == "copy":
        return Ladder().plan(source)
    height, fps = {
        "reencode": (source.height, source.fps),
        "cap-720p60": (720, source.fps),
        "cap-1080p30": (1080, 30.0),
    }[kind]
    width = 2 * round(source.width * height / source.height / 2)
    top, *lower = Ladder().plan(replace(source, video_codec="hevc", width=width, height=height, fps=fps))
    return [replace(top, scale=(top.width, top.height) != (source.width, source.height)), *lower]


def keyframes_for(plan: Sequence[PlannedRung]) -> Keyframes:
    """At the copied source's keyframes, else every segment by time."""
    return "source" if plan[0].copy else "time"


def describe(plan: Sequence[PlannedRung]) -> str:
    return " + ".join(f"{rung.height}p{rung.fps:g}" + (" copy" if rung.copy else "") for rung in plan)


def transcode_command(
    plan: list[PlannedRung],
    source: Path,
    info: SourceInfo,
    out: Path,
    variant: Variant,
    keyframes: Keyframes | None = None,
) -> list[str]:
    """The FFmpeg argv of `plan`; `keyframes` defaults to `keyframes_for(plan)` (a naive design's
    one-rung process passes its whole ladder's)."""
    args = build_transcode_args(
        plan,
        str(source),
        out,
        segment_seconds=1.0,
        window_segments=6,
        keyframes=keyframes or keyframes_for(plan),
        tuning=variant.tuning,
        source_fps=info.fps,
    )
    top = plan[0]
    if not top.copy:
        if variant.top_preset is not None:
            args[args.index("-preset:v:0") + 1] = variant.top_preset
        params = [*variant.top_x264_params]
        if variant.top_frame_threads is not None:
            params += ["sliced-threads=0", f"threads={variant.top_frame_threads}"]
        if params:
            if "-x264-params:v:0" in args:
                at = args.index("-x264-params:v:0") + 1
                args[at] = ":".join([*args[at].split(":"), *params])  # the last of a key wins
            else:
                at = args.index("-c:v:0")
                args[at:at] = ["-x264-params:v:0", ":".join(params)]
    if variant.chained_scaling and "-filter_complex" in args:
        graph = filter_graph(plan, info.fps, variant.tuning, chained=variant.chained_scaling)
        args[args.index("-filter_complex") + 1] = graph
    return args


def filter_graph(plan: Sequence[PlannedRung], source_fps: float, tuning: EncoderTuning, *, chained: bool) -> str:
    """`build_transcode_args`' graph; `chained`: each encoded rung made from the one above it
    (source -> 720p -> 360p) instead of all from the source."""
    encoded = [(index, rung) for index, rung in enumerate(plan) if not rung.copy]
    chains: list[str] = []
    if not chained and len(encoded) > 1:
        chains.append(f"[0:v:0]split={len(encoded)}" + "".join(f"[s{index}]" for index, _ in encoded))
    label, fps = "[0:v:0]", source_fps
    for position, (index, rung) in enumerate(encoded):
        if not chained:
            label = "[0:v:0]" if len(encoded) == 1 else f"[s{index}]"
        steps: list[str] = []
        if rung.fps < fps - 1e-6:
            steps.append(f"fps={Fraction(rung.fps).limit_denominator(1001)}")
        if rung.scale:
            steps += [f"scale={rung.width}:{rung.height}:flags={tuning.scale_flags}", "setsar=1"]
        steps.append("format=yuv420p")
        if chained and position < len(encoded) - 1:
            chains.append(f"{label}{','.join(steps)},split=2[v{index}][c{index}]")
            label, fps = f"[c{index}]", rung.fps
        else:
            chains.append(f"{label}{','.join(steps)}[v{index}]")
    return ";".join(chains)


# --- sources -------------------------------------------------------------------------------------


def cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "letslive-bench-sources"


def source_file(name: str, content: str) -> Path:
    """The 20 s source `name` (a SOURCES key), generated on first use only."""
    spec = SOURCES[name]
    path = cache_dir() / f"ladder-{name}-{content}-{MEDIA_SECONDS}s.mp4"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    print(f"generating {path} ...", flush=True)
    video = f"{content}=size={spec.width}x{spec.height}:rate={spec.fps}"
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
            *("-f", "lavfi", "-i", video, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
            *("-t", str(MEDIA_SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"),
            *("-level", spec.level, "-pix_fmt", "yuv420p", "-g", str(spec.fps), "-keyint_min", str(spec.fps)),
            *("-sc_threshold", "0", "-b:v", f"{spec.video_kbps}k", "-maxrate", f"{spec.video_kbps}k"),
            *("-bufsize", f"{2 * spec.video_kbps}k", "-c:a", "aac", "-b:a", "160k", "-ac", "2", str(partial)),
        ],
        check=True,
    )
    partial.rename(path)
    return path


# --- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    others: float  # cores used by other processes during the run
    load: float  # 1-minute load average when the run started
    ok: bool


@dataclass
class Case:
    """One thing measured: a list of FFmpeg commands run together (one, except the naive ones)."""

    label: str
    commands: Callable[[Path], list[list[str]]]  # scratch directory -> commands
    plan: list[PlannedRung]
    source: Path
    info: SourceInfo
    runs: list[Run] = field(default_factory=list)
    quality: dict[str, tuple[float, float]] = field(default_factory=dict)  # rung -> (PSNR, SSIM)
    kept: Path | None = None  # one run's output, for the quality

    @property
    def good(self) -> list[Run]:
        return [run for run in self.runs if run.ok]

    @property
    def failed(self) -> bool:
        return not self.good

    @property
    def best(self) -> Run:
        return min(self.good, key=lambda run: run.wall)

    @property
    def quiet(self) -> bool:
        """Whether the best run had the machine (nearly) to itself."""
        return self.best.others < QUIET_CORES

    @property
    def realtime(self) -> float:
        return MEDIA_SECONDS / self.best.wall

    @property
    def worst(self) -> float:
        return MEDIA_SECONDS / max(run.wall for run in self.good)

    @property
    def cpu(self) -> float:
        return statistics.median(run.cpu for run in self.good)

    @property
    def cores(self) -> float:
        return statistics.median(run.cpu / run.wall for run in self.good)

    @property
    def others(self) -> str:
        return "/".join(f"{run.others:.1f}" for run in self.good)

    @property
    def loads(self) -> str:
        return "/".join(f"{run.load:.1f}" for run in self.good)


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle since boot."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def run_once(commands: Sequence[Sequence[str]]) -> Run:
    """Start `commands` together, wait for all; wall time and their CPU time."""
    load = os.getloadavg()[0]
    busy_before = busy_seconds()
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for command in commands
    ]
    cpu = 0.0
    ok = True
    for process in processes:
        # wait4 gives this child's own rusage, however the children's exits interleave.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        if process.returncode != 0:
            ok = False
            assert process.stderr is not None
            print(process.stderr.read().decode(errors="replace")[-2000:], file=sys.stderr)
    wall = time.perf_counter() - started
    for process in processes:
        if process.stderr is not None:
            process.stderr.close()
    others = max(0.0, (busy_seconds() - busy_before - cpu) / wall)
    return Run(wall, cpu, others, load, ok)


def measure(cases: Sequence[Case], scratch: Path, runs: int, attempts: int, keep: Path | None) -> None:
    """`runs` rounds over all cases (interleaved); a noisy run is retried, the quietest kept.
    With `keep`, the first run's encoded rungs of each case are kept there for `assess`."""
    for round_number in range(runs):
        for number, case in enumerate(cases):
            if case.failed and round_number > 0:
                continue
            best: Run | None = None
            for attempt in range(attempts):
                out = scratch / "out"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir(parents=True)
                run = run_once(case.commands(out))
                if best is None or not run.ok or run.others < best.others:
                    best = run
                if not run.ok or run.others < QUIET_CORES:
                    break
                if attempt < attempts - 1:
                    time.sleep(3)  # let whatever else runs here finish its burst
            assert best is not None
            case.runs.append(best)
            status = "FAILED" if not best.ok else f"{MEDIA_SECONDS / best.wall:.2f}x"
            print(
                f"  [{round_number + 1}/{runs}] {number + 1}/{len(cases)} {case.label}: {status} "
                f"(load {best.load:.1f}, others {best.others:.2f})",
                file=sys.stderr,
                flush=True,
            )
            if keep is not None and case.kept is None and best.ok:
                keep.mkdir(parents=True, exist_ok=True)
                case.kept = Path(tempfile.mkdtemp(prefix="case-", dir=keep))
                for rung in case.plan:
                    if not rung.copy:
                        with open(case.kept / f"{rung.name}.ts", "wb") as joined:
                            for segment in sorted(out.glob(f"{rung.name}_*.ts")):
                                joined.write(segment.read_bytes())


_PSNR = re.compile(r"PSNR .*average:([0-9.inf]+)")
_SSIM = re.compile(r"SSIM .*All:([0-9.]+)")


def assess(case: Case, rungs: Sequence[str]) -> None:
    """PSNR and SSIM of the kept encoded rungs named in `rungs` (when encoded) against the source.

    A rung at a fraction 1/k of the source's rate is compared with every k-th source frame, from
    the phase that matches best over the first 2 s, skipping the rung's first frame or not:
    FFmpeg's `fps=` filter and the encoder's `-r` (which drops frames that land on the same
    timestamp) do not keep the same ones (from 60 fps, `-r 30` keeps frames 0, 1, 2, 4, 6...)."""
    if case.kept is None:
        return
    info = case.info
    for rung in case.plan:
        if rung.copy or rung.name not in rungs:
            continue
        distorted = case.kept / f"{rung.name}.ts"
        scale = [] if (rung.width, rung.height) == (info.width, info.height) else [f"scale={rung.width}:{rung.height}"]
        every = max(1, round(info.fps / rung.fps))
        skip, phase = 0, 0
        if every > 1:
            tried = {
                (skip, phase): compare(
                    distorted, case.source, [*phase_select(every, phase), *scale], skip=skip, seconds=2
                )
                for skip in range(2)
                for phase in range(every)
            }
            skip, phase = max(tried, key=lambda key: (tried[key] or (0.0, 0.0))[0])
        figures = compare(distorted, case.source, [*phase_select(every, phase), *scale], skip=skip)
        if figures is not None:
            case.quality[rung.name] = figures


def phase_select(every: int, phase: int) -> list[str]:
    return [] if every == 1 else [f"select=eq(mod(n\\,{every})\\,{phase})"]


def compare(
    distorted: Path, source: Path, reference: Sequence[str], *, skip: int = 0, seconds: float | None = None
) -> tuple[float, float] | None:
    """(mean PSNR, SSIM All) of `distorted` (less its first `skip` frames) against `source` passed
    through the filters `reference`."""
    trim = f"select=gte(n\\,{skip})," if skip else ""
    graph = (
        f"[0:v]{trim}setpts=PTS-STARTPTS,format=yuv420p,split[d1][d2];"
        f"[1:v]{','.join([*reference, 'setpts=PTS-STARTPTS'])},format=yuv420p,split[r1][r2];"
        "[d1][r1]psnr[p];[d2][r2]ssim[s]"
    )
    limit = [] if seconds is None else ["-t", str(seconds)]
    result = subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-nostdin", "-nostats", *limit, "-i", str(distorted), *limit),
            *("-i", str(source), "-filter_complex", graph, "-map", "[p]", "-f", "null", "-"),
            *("-map", "[s]", "-f", "null", "-"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    psnr, ssim = _PSNR.search(result.stderr), _SSIM.search(result.stderr)
    if result.returncode != 0 or psnr is None or ssim is None:
        print(f"quality of {distorted.name} failed:\n{result.stderr[-1500:]}", file=sys.stderr)
        return None
    return float(psnr[1]), float(ssim[1])


# --- printing ------------------------------------------------------------------------------------


def print_table(title: str, cases: Sequence[Case], quality: bool) -> bool:
    """The table; whether a figure is flagged (its best run had no quiet machine)."""
    width = max(len(case.label) for case in cases)
    header = (
        f"{title:{width}} {'realtime':>9} {'spread':>11} {'CPU s':>6} {'cores':>5} {'load at start':>13} {'others':>6}"
    )
    if quality:
        header += f" {'top PSNR':>8} {'top SSIM':>8} {'360p PSNR':>9}"
    print(header)
    print("-" * len(header))
    for case in cases:
        if case.failed:
            print(f"{case.label:{width}} FAILED")
            continue
        flag = "" if case.quiet else " *"
        line = (
            f"{case.label:{width}} {case.realtime:8.2f}x {case.worst:5.2f}-{case.realtime:4.2f}x "
            f"{case.cpu:6.1f} {case.cores:5.2f} {case.loads:>13} {case.others:>13}"
        )
        if quality:
            top = case.quality.get(case.plan[0].name)
            low = case.quality.get("360p")
            line += f" {top[0]:8.2f} {top[1]:8.4f}" if top else f" {'copy' if case.plan[0].copy else '-':>8} {'':8}"
            line += f" {low[0]:9.2f}" if low else f" {'-':>9}"
        print(line + flag)
    return not all(case.quiet for case in cases if not case.failed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--content", choices=CONTENT, default="testsrc2")
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per figure (at least 2 for a spread)")
    parser.add_argument("--attempts", type=int, default=ATTEMPTS, help="tries per run to get a quiet machine")
    parser.add_argument("--rows", default=",".join(row.key for row in ROWS) + ",naive", help="rows to measure")
    parser.add_argument("--tuning", type=int, default=0, help="the rows' tuning: an index into the re-encode sweep")
    parser.add_argument("--quality", action="store_true", help="PSNR/SSIM of each row's encoded rungs")
    parser.add_argument("--sweep-reencode", action="store_true", help="compare tunings on the re-encoded plans")
    parser.add_argument("--sweep-rows", default=",".join(SWEEP_ROWS), help="rows `--sweep-reencode` measures")
    parser.add_argument("--variants", help="comma-separated indexes into the re-encode sweep (default: all)")
    parser.add_argument("--sweep", action="store_true", help="compare thread settings on the copied 1080p30 plan")
    options = parser.parse_args(argv)

    selected = {key.strip() for key in options.rows.split(",") if key.strip()}
    sweep_rows = (
        {key.strip() for key in options.sweep_rows.split(",") if key.strip()} if options.sweep_reencode else set()
    )
    if "naive" in selected:
        selected = (selected - {"naive"}) | set(NAIVE_ROWS)
    rows = {row.key: row for row in ROWS}
    needed = {rows[key].source for key in (selected | sweep_rows) - set(NAIVE_ROWS)}
    if selected & set(NAIVE_ROWS) or options.sweep:
        needed.add("1080p30")
    sources = {name: source_file(name, options.content) for name in SOURCES if name in needed}
    infos = {name: probe(path) for name, path in sources.items()}
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; ffmpeg: {ffmpeg_version()}")
    for name, info in infos.items():
        print(f"source {name}: {sources[name].name}, {info.width}x{info.height} {info.fps:g} fps {info.duration} s")
    print(f"default tuning: {EncoderTuning()}")

    def case(row: Row, variant: Variant, label: str) -> Case:
        plan = build_plan(infos[row.source], row.plan)
        path, info = sources[row.source], infos[row.source]
        return Case(label, lambda out: [transcode_command(plan, path, info, out, variant)], plan, path, info)

    def row_label(row: Row) -> str:
        plan = build_plan(infos[row.source], row.plan)
        return f"{row.key:>2}. {row.source} -> {describe(plan)} (kf {keyframes_for(plan)})"

    with tempfile.TemporaryDirectory(prefix="letslive-bench-") as scratch_name:
        scratch = Path(scratch_name)
        keep = scratch / "keep"
        flagged = False
        tuned = REENCODE_SWEEP[options.tuning]
        cases = [case(row, tuned, row_label(row)) for row in ROWS if row.key in selected]
        for key, (row_key, kind) in NAIVE_ROWS.items():
            if key in selected:
                cases.append(naive_case(key, row_key, build_plan(infos["1080p30"], kind), sources["1080p30"], tuned))
        if cases:
            print(f"\nrows, tuning {tuned.label} ({options.runs} runs each, interleaved):", flush=True)
            measure(cases, scratch, options.runs, options.attempts, keep if options.quality else None)
            for each in cases:
                assess(each, [rung.name for rung in each.plan])
            flagged |= print_table("source -> plan", cases, options.quality)
            print_verdict(cases)

        if options.sweep_reencode:
            chosen = REENCODE_SWEEP
            if options.variants:
                chosen = tuple(REENCODE_SWEEP[int(index)] for index in options.variants.split(","))
            for key in sorted(sweep_rows):
                row = rows[key]
                sweep = distinct(
                    [
                        case(row, variant, f"{index:>2}. {variant.label}")
                        for index, variant in enumerate(REENCODE_SWEEP)
                        if variant in chosen
                    ],
                    scratch,
                )
                print(f"\ntunings on {row_label(row)} ({options.runs} runs each, interleaved):", flush=True)
                measure(sweep, scratch, options.runs, options.attempts, keep)
                plan = sweep[0].plan
                for each in sweep:
                    assess(each, [plan[0].name, "360p"])
                flagged |= print_table("tuning", sweep, quality=True)

        if options.sweep:
            row = rows["1"]
            sweep = [case(row, variant, variant.label) for variant in COPY_SWEEP]
            print(f"\nthread settings on {row_label(row)}:", flush=True)
            measure(sweep, scratch, options.runs, options.attempts, None)
            flagged |= print_table("thread settings", sweep, quality=False)
    if flagged:
        print(f"\n* the best run had no quiet machine (others >= {QUIET_CORES} cores): the figure is pessimistic")
    return 0


def naive_case(key: str, row_key: str, plan: list[PlannedRung], source: Path, variant: Variant) -> Case:
    """Row `row_key`'s rungs, one FFmpeg per rung, all started together: each process reads the
    input, and each encoding one decodes it; the rungs' keyframes are those of the one-process
    plan (at the source's when the top rung is copied), and the top-only tuning goes to the top
    rung's process only."""
    info = probe(source)
    keyframes = keyframes_for(plan)
    lower_variant = replace(variant, top_preset=None, top_x264_params=(), top_frame_threads=None)

    def commands(out: Path) -> list[list[str]]:
        # Rung names differ, so the processes can share the directory.
        return [
            transcode_command([rung], source, info, out, variant if index == 0 else lower_variant, keyframes)
            for index, rung in enumerate(plan)
        ]

    label = f"{key}: row {row_key}'s rungs ({describe(plan)}), 1 FFmpeg per rung"
    return Case(label, commands, plan, source, info)


def distinct(cases: Sequence[Case], scratch: Path) -> list[Case]:
    """`cases` without those whose FFmpeg arguments equal an earlier one's (a no-op tuning)."""
    seen: dict[str, str] = {}
    kept: list[Case] = []
    for each in cases:
        key = repr(each.commands(scratch / "out"))
        if key in seen:
            print(f"  ({each.label.strip()}: the same arguments as {seen[key].strip()}, not measured)")
            continue
        seen[key] = each.label
        kept.append(each)
    return kept


def print_verdict(cases: Sequence[Case]) -> None:
    print(f"\ntarget >= {REALTIME_TARGET}x realtime:")
    for each in cases:
        if not each.failed and not each.label.startswith("naive"):
            verdict = "met" if each.realtime >= REALTIME_TARGET else "NOT met"
            print(f"  {each.label.split(' (kf')[0]}: {each.realtime:.2f}x {verdict}")

    def found(prefix: str) -> Case | None:
        return next((each for each in cases if each.label.startswith(prefix) and not each.failed), None)

    row1, row2 = found(" 1."), found(" 2.")
    naive_copy, naive_reencode = found("naive-copy"), found("naive-reencode")
    print("\nCPU against the naive designs (median CPU s of the FFmpeg processes, user + sys):")
    if row1 and naive_copy:
        ratio = row1.cpu / naive_copy.cpu
        frugal = "met" if ratio <= CPU_RATIO_TARGET else "NOT met"
        print(
            f"  (a) like-for-like, {describe(row1.plan)}: 1 FFmpeg {row1.cpu:.1f} CPU s vs 1 FFmpeg per rung "
            f"{naive_copy.cpu:.1f} CPU s = {ratio:.2f}x (target <= {CPU_RATIO_TARGET}: {frugal})"
        )
        print(
            "      the same rungs and encoder settings, the source rung copied on both sides; the saving is "
            "the source decoded once instead of once per encoded rung (and one demux of the input)"
        )
    if naive_reencode:
        print(
            f"  (b) naive, every rung re-encoded, 1 FFmpeg each ({describe(naive_reencode.plan)}): "
            f"{naive_reencode.cpu:.1f} CPU s"
        )
        if row1:
            print(
                f"      row 1 (copy + one process) {row1.cpu:.1f} CPU s = {row1.cpu / naive_reencode.cpu:.2f}x of it: "
                "two changes at once (not re-encoding the source rung, and decoding once)"
            )
        if row2:
            print(
                f"      row 2 (the same rungs re-encoded, one process) {row2.cpu:.1f} CPU s = "
                f"{row2.cpu / naive_reencode.cpu:.2f}x of it: decoding once alone"
            )
    print(
        "  left out: the naive processes read the input from a file, each on its own; a live naive setup "
        "also needs the RTMP feed relayed to each process (not counted); memory is not measured; the "
        "figures are this machine's cores on this content (a camera picture costs x264 more than "
        "testsrc2), not a Fargate vCPU"
    )


def ffmpeg_version() -> str:
    result = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    return result.stdout.split("\n", 1)[0].removeprefix("ffmpeg version ").split(" ", 1)[0]


if __name__ == "__main__":
    sys.exit(main())
