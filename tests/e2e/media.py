"""Helpers of the e2e suites that publish real media: a source encoded like OBS's, a publisher."""

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


def make_source(directory: Path, height: int, seconds: int) -> Path:
    """An H.264 High + AAC FLV with a 1 s GOP (OBS's "keyframe interval 1"), encoded once."""
    width = height * 16 // 9
    path = directory / f"source_{height}p_{seconds}s.flv"
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high",
            "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "128k", "-f", "flv", str(path),
        ],
        check=True,
        timeout=300,
    )  # fmt: skip
    return path


def publish(source: Path, url: str) -> "subprocess.Popen[bytes]":
    """Publish at real time without re-encoding, as OBS would send an already encoded stream."""
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", str(source), "-c", "copy", "-f", "flv", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
