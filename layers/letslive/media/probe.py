"""`probe()`: a source's `SourceInfo`, from ffprobe's JSON."""

import itertools
import json
import statistics
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from letslive.errors import LetsLiveError
from letslive.media.source import SourceInfo, parse_hexdump

DEFAULT_TIMEOUT_SECONDS: Final = 15.0
# ffprobe's stderr can be long (a whole failed demuxer log); keep what identifies the failure.
_MAX_DETAIL: Final = 500


class ProbeError(LetsLiveError):
    """ffprobe could not read the source, or found no video in it."""

    code = "probe-failed"


def probe(
    source: str | Path,
    *,
    ffprobe: str = "ffprobe",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    keyframe_seconds: float | None = None,
) -> SourceInfo:
    """What the ladder needs to know about `source` (a file path or a URL FFmpeg can read).

    With `keyframe_seconds`, also reads that much of the video's packets to measure the source's
    keyframe interval (the copied rung can only be cut at its keyframes).
    """
    document = _run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-show_data", str(source)],
        timeout,
    )
    streams: list[dict[str, Any]] = document.get("streams", [])
    video = next((stream for stream in streams if stream.get("codec_type") == "video"), None)
    audio = next((stream for stream in streams if stream.get("codec_type") == "audio"), None)
    if video is None:
        raise ProbeError(f"{source}: no video stream")
    try:
        fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
        if not fps:
            raise ProbeError(f"{source}: unknown frame rate")
        constraints = None
        if video.get("extradata"):
            extradata = parse_hexdump(video["extradata"])
            if len(extradata) >= 4 and extradata[0] == 1:  # avcC
                constraints = extradata[2]
        bit_rate = video.get("bit_rate")
        duration = document.get("format", {}).get("duration")
        level = video.get("level")
        interval = None
        if keyframe_seconds is not None:
            interval = _keyframe_interval(source, ffprobe=ffprobe, timeout=timeout, seconds=keyframe_seconds)
        return SourceInfo(
            width=int(video["width"]),
            height=int(video["height"]),
            fps=round(float(fps), 3),
            video_codec=str(video["codec_name"]),
            audio_codec=None if audio is None else str(audio.get("codec_name")),
            video_profile=video.get("profile"),
            video_level=int(level) if level is not None and int(level) > 0 else None,
            avc_constraints=constraints,
            pix_fmt=video.get("pix_fmt"),
            video_bitrate_kbps=round(int(bit_rate) / 1000) if bit_rate else None,
            keyframe_interval=interval,
            duration=float(duration) if duration else None,
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ProbeError(f"{source}: unexpected ffprobe output ({exc!r})") from exc


def _keyframe_interval(source: str | Path, *, ffprobe: str, timeout: float, seconds: float) -> float | None:
    """The median time between keyframes in the first `seconds` of video; None with < 2 keyframes."""
    document = _run(
        [
            ffprobe,
            "-v",
            "error",
            "-print_format",
            "json",
            "-select_streams",
            "v:0",
            "-read_intervals",
            f"%+{seconds}",
            "-show_entries",
            "packet=pts_time,flags",
            str(source),
        ],
        timeout,
    )
    times = sorted(
        float(packet["pts_time"])
        for packet in document.get("packets", [])
        if "K" in packet.get("flags", "") and packet.get("pts_time") not in (None, "N/A")
    )
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    return round(statistics.median(gaps), 3) if gaps else None


def _run(args: list[str], timeout: float) -> dict[str, Any]:
    try:
        result = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ProbeError(f"{args[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"ffprobe did not answer within {timeout} s") from exc
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip()[-_MAX_DETAIL:]
        raise ProbeError(f"ffprobe failed ({result.returncode}): {detail or 'no output'}")
    try:
        document: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ProbeError("ffprobe printed something that is not JSON") from exc
    return document


def _rate(value: object) -> Fraction | None:
    if not isinstance(value, str) or value in ("0/0", ""):
        return None
    rate = Fraction(value)
    return rate if rate > 0 else None
