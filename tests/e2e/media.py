"""Publishing real media, for the e2e suites and the benchmarks: a source encoded like OBS's, a
publisher that sends it at real time, and a live publisher that burns its wall clock into every
frame (for measuring glass-to-glass latency from what is on screen)."""

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll `check` until it returns something truthy (bounded; never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# OBS's recommended x264 settings for streaming: 1 s keyframe interval (its "keyframe interval
# 1"), fixed GOP, High profile, 4:2:0, AAC at 48 kHz.
OBS_VIDEO = ("-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30",
             "-sc_threshold", "0")  # fmt: skip
OBS_AUDIO = ("-c:a", "aac", "-b:a", "128k")
SINE = ("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")

# The burned-in clock: milliseconds since an epoch the caller picks, as CLOCK_BITS black/white
# blocks along the top edge, least significant first, each 1/32 of the frame wide and 1/15 of
# it high (large enough to survive every rung's scaling and compression).
CLOCK_BITS = 24
CLOCK_BLOCK_WIDTH = 1 / 32
CLOCK_STRIP_HEIGHT = 1 / 15


# OBS's default output settings: keyframe interval "0 = auto", which x264 makes 250 frames
# (8.3 s at 30 fps), scene-cut keyframes on.
OBS_DEFAULT_VIDEO = ("-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p")


def make_source(directory: Path, height: int, seconds: int, video: tuple[str, ...] = OBS_VIDEO, name: str = "") -> Path:
    """An H.264 High + AAC FLV with OBS's recommended settings (or `video`), encoded once."""
    width = height * 16 // 9
    path = directory / f"source_{height}p_{seconds}s{name}.flv"
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30", *SINE,
            "-t", str(seconds), *video, "-preset", "ultrafast", *OBS_AUDIO, "-f", "flv", str(path),
        ],
        check=True,
        timeout=300,
    )  # fmt: skip
    return path


# Shot lengths (seconds) of `make_scene_cut_source`: keyframes at every cut, none on a 1 s clock.
SHOTS = (0.8, 0.5, 0.9, 2.6, 0.6, 1.6, 1.3, 0.7, 2.2, 0.8)
_PATTERNS = ("testsrc2", "smptebars", "rgbtestsrc", "mandelbrot", "testsrc", "smptehdbars")


def make_scene_cut_source(directory: Path, height: int) -> Path:
    """A source with irregular scene cuts (different test patterns) encoded by x264 with scene-cut
    detection on and keyint 120, as OBS's x264 does: its keyframes land at the cuts."""
    width = height * 16 // 9
    path = directory / f"scene_cuts_{height}p.flv"
    inputs = [
        arg
        for index, length in enumerate(SHOTS)
        for arg in (
            "-f",
            "lavfi",
            "-t",
            str(length),
            "-i",
            f"{_PATTERNS[index % len(_PATTERNS)]}=size={width}x{height}:rate=30",
        )
    ]
    graph = "".join(f"[{i}:v]" for i in range(len(SHOTS))) + f"concat=n={len(SHOTS)}:v=1:a=0[v]"
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs, *SINE, "-filter_complex", graph,
            "-map", "[v]", "-map", f"{len(SHOTS)}:a", "-t", str(sum(SHOTS)), *OBS_DEFAULT_VIDEO, "-preset", "ultrafast",
            "-x264-params", "keyint=120:scenecut=40", *OBS_AUDIO, "-f", "flv", str(path),
        ],
        check=True,
        timeout=300,
    )  # fmt: skip
    return path


def gstreamer_command(sink: str, url: str, seconds: int, keyint: int = 30, height: int = 720) -> list[str]:
    """A GStreamer publisher with its own encoder and muxer at their defaults, as the issue tried
    them: `sink` is `rtmpsink` (librtmp, the library family OBS grew from) or `rtmp2sink`. Both
    sinks sync on the clock, so the test sources are sent in real time; they are not "live"
    sources, which drop frames when the encoder falls behind on a busy machine."""
    width = height * 16 // 9
    return [
        "gst-launch-1.0", "-q",
        "videotestsrc", f"num-buffers={seconds * 30}", "!",
        f"video/x-raw,width={width},height={height},framerate=30/1", "!",
        "x264enc", "tune=zerolatency", "speed-preset=ultrafast", f"key-int-max={keyint}", "!",
        "h264parse", "!", "flvmux", "streamable=true", "name=mux", "!", sink, f"location={url}",
        "audiotestsrc", f"num-buffers={seconds * 47}", "samplesperbuffer=1024", "!",
        "audio/x-raw,rate=48000,channels=2", "!", "voaacenc", "!", "aacparse", "!", "mux.",
    ]  # fmt: skip


def publish(source: Path, url: str) -> "subprocess.Popen[bytes]":
    """Publish at real time without re-encoding, as OBS would send an already encoded stream."""
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", str(source), "-c", "copy", "-f", "flv", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def publish_clock(url: str, height: int, seconds: int, epoch: float) -> "subprocess.Popen[bytes]":
    """Encode and publish live, as OBS does (x264 `veryfast`, `zerolatency`), with the wall clock
    at capture burned into each frame: `setpts` stamps a frame with the real-time clock as it
    leaves the (real-time paced) source, the strip shows that stamp in ms since `epoch`, and
    the timestamps are then renumbered at a steady 30 fps for the encoder."""
    width = height * 16 // 9
    block = round(width * CLOCK_BLOCK_WIDTH)
    strip = round(height * CLOCK_STRIP_HEIGHT)
    bit = f"mod(floor(T*1000/pow(2,floor(X/{block}))),2)"
    graph = (
        f"[0:v]setpts=(RTCTIME-{round(epoch * 1e6)})/1000000/TB,split[frame][top];"
        f"[top]crop=iw:{strip}:0:0,geq=lum='if(lt(X,{CLOCK_BITS * block}),if({bit},235,16),16)':cb=128:cr=128[clock];"
        "[frame][clock]overlay=0:0,setpts=N/30/TB[v]"
    )
    return subprocess.Popen(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error",
            "-re", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30", "-re", *SINE,
            "-t", str(seconds), "-filter_complex", graph, "-map", "[v]", "-map", "1:a",
            *OBS_VIDEO, "-preset", "veryfast", "-tune", "zerolatency", "-b:v", "3000k", "-maxrate", "3000k",
            "-bufsize", "3000k", *OBS_AUDIO, "-f", "flv", url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def read_clocks(segment: bytes, height: int) -> list[int]:
    """The clock (ms since the publisher's epoch) burned into each frame of a segment of the
    rung `height` by `publish_clock`, in decode order: each block's centre, luma > 128 is a 1."""
    width = height * 16 // 9
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"],
        input=segment,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    block = width * CLOCK_BLOCK_WIDTH
    row = int(height * CLOCK_STRIP_HEIGHT / 2) * width
    columns = [int(bit * block + block / 2) for bit in range(CLOCK_BITS)]
    frames = [raw[start : start + width * height] for start in range(0, len(raw), width * height)]
    return [sum(1 << bit for bit, x in enumerate(columns) if frame[row + x] > 128) for frame in frames]
