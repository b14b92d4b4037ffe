"""Which ladder a detected source gets, and what the streamer is told about it.

The top rung is the source copied only when every rung can be cut at the same instants with
segments of the target length: the source's keyframes must land on the segment clock
(`letslive.media.detect.CopyCadence`; OBS's default "0 = auto" is 250 frames, 8.3 s at 30 fps).
Otherwise the top rung is re-encoded with keyframes forced on the segment clock, like every
other rung — at the source's size and rate when the worker can encode that in real time
(`encode_pixels_per_second`, measured by `bench/ladder.py` on a 2 vCPU task), else capped to a
720p at the source's rate or, failing that, a lower frame rate. Every compromise comes with a
plain warning naming the encoder setting that avoids it.
"""

from dataclasses import dataclass
from typing import Final

from letslive.media.ffmpeg import Keyframes
from letslive.media.ladder import MAX_PASSTHROUGH_HEIGHT, Ladder, PlannedRung, TopLimit, capped_fps
from letslive.media.source import SourceInfo
from letslive.models.streams import IngestWarning, TopRung

OBS_KEYFRAME_INTERVAL: Final = "OBS → Settings → Output → Keyframe Interval: 1 s"
OBS_COLOR_FORMAT: Final = "OBS → Settings → Advanced → Video → Color Format: NV12 (and Profile: high)"
OBS_RESOLUTION: Final = "OBS → Settings → Video → Output (Scaled) Resolution: 1920x1080"
OBS_FPS: Final = "OBS → Settings → Video → Common FPS Values: 30"
OBS_BITRATE: Final = "OBS → Settings → Output → Video Bitrate: 6000 Kbps"
# A re-encoded top rung at most 1080p30's pixel rate: what x264 veryfast sustains beside the
# lower rungs on 2 vCPU (bench/ladder.py).
DEFAULT_ENCODE_PIXELS_PER_SECOND: Final = 1920 * 1080 * 30
# Above this (as the publisher declares it) a copied top rung is too heavy for viewers; Twitch
# takes at most about this much.
DEFAULT_COPY_MAX_KBPS: Final = 8500
_CAP_HEIGHT: Final = 720


@dataclass(frozen=True, slots=True)
class PlanLimits:
    copy_max_kbps: int = DEFAULT_COPY_MAX_KBPS
    encode_pixels_per_second: float = DEFAULT_ENCODE_PIXELS_PER_SECOND
    segment_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class LadderDecision:
    """The planned rungs and, for the health report, how the top rung was made and why."""

    source: SourceInfo
    rungs: list[PlannedRung]
    top_rung: TopRung | None  # None: no video
    reason: str
    warnings: tuple[IngestWarning, ...] = ()

    @property
    def keyframes(self) -> Keyframes:
        """Where encoded rungs put keyframes: on the copied source's, or on the segment clock."""
        return "source" if self.top_rung == "copied" else "time"


def _cadence(interval: float | None, limits: PlanLimits) -> str:
    """The measured cadence in words, for a source whose keyframes miss the segment clock."""
    if interval is None:
        return f"more than {_seconds(limits.segment_seconds)} apart"
    if interval <= limits.segment_seconds * 1.05:
        return f"off the {_seconds(limits.segment_seconds)} clock (irregular, up to {_seconds(interval)} apart)"
    return f"{_seconds(interval)} apart"


def keyframe_warning(interval: float | None, limits: PlanLimits) -> IngestWarning:
    return IngestWarning(
        code="keyframe-interval",
        message=(
            f"Your keyframes are {_cadence(interval, limits)}, so your top quality is re-encoded to cut every "
            f"rung into {_seconds(limits.segment_seconds)} segments: viewers get slightly lower quality and the "
            f"server spends CPU. With a keyframe every {_seconds(limits.segment_seconds)} it is passed through "
            "untouched."
        ),
        setting=OBS_KEYFRAME_INTERVAL,
    )


def decide(ladder: Ladder, source: SourceInfo, *, cadence_ok: bool, limits: PlanLimits | None = None) -> LadderDecision:
    """The ladder for `source`, whose first keyframes came `source.keyframe_interval` apart
    (`cadence_ok`: they cut the copied source into segments of the target length)."""
    limits = limits or PlanLimits()
    if source.audio_only:
        return LadderDecision(source, ladder.plan(source), None, "audio only: one AAC rendition")
    warnings: list[IngestWarning] = []
    reasons: list[str] = []
    if not source.passthrough_ok:
        reasons.append(
            f"browsers cannot play {source.video_profile or source.video_codec} {source.pix_fmt or ''}".strip()
        )
        warnings.append(
            IngestWarning(
                code="codec-converted",
                message="Browsers play only 8-bit 4:2:0 H.264, so your video is re-encoded to it.",
                setting=OBS_COLOR_FORMAT,
            )
        )
    if source.height > MAX_PASSTHROUGH_HEIGHT:
        reasons.append(f"the source is {source.height}p, above 1080p")
        warnings.append(
            IngestWarning(
                code="resolution-capped",
                message=f"Your {source.width}x{source.height} is served at most at 1080p.",
                setting=OBS_RESOLUTION,
            )
        )
    if not cadence_ok:
        reasons.append(f"keyframes {_cadence(source.keyframe_interval, limits)}")
        warnings.append(keyframe_warning(source.keyframe_interval, limits))
    declared = source.video_bitrate_kbps
    if declared is not None and declared > limits.copy_max_kbps:
        reasons.append(f"{declared} kbps is above the {limits.copy_max_kbps} kbps a copied source may have")
        warnings.append(
            IngestWarning(
                code="bitrate-capped",
                message=f"Your encoder sends {declared} kbps; viewers get the top rung re-encoded at a lower bitrate.",
                setting=OBS_BITRATE,
            )
        )
    if not reasons:
        rungs = ladder.plan(source, copy_top=True)
        interval = source.keyframe_interval
        cadence = f"keyframes every {_seconds(interval)}" if interval is not None else "keyframes on time"
        return LadderDecision(source, rungs, "copied", f"{cadence}: the source is passed through as the top rung")
    top, capped = _affordable_top(source, limits)
    warnings.extend(capped)
    rungs = ladder.plan(source, copy_top=False, top=top)
    reason = "re-encoded: " + "; ".join(reasons)
    return LadderDecision(source, rungs, "re-encoded", reason[:300], tuple(warnings))


def _affordable_top(source: SourceInfo, limits: PlanLimits) -> tuple[TopLimit, list[IngestWarning]]:
    """The largest top rung (height, frame rate) the worker re-encodes in real time."""
    height = min(source.height, MAX_PASSTHROUGH_HEIGHT)
    width = source.width * height / source.height
    budget = limits.encode_pixels_per_second
    if width * height * source.fps <= budget:
        return TopLimit(height), []
    small_width = source.width * _CAP_HEIGHT / source.height
    if height > _CAP_HEIGHT and small_width * _CAP_HEIGHT * source.fps <= budget:
        message = (
            f"Re-encoding {height}p{_rate(source.fps)} is more than the server can do in real time, "
            f"so your top quality is {_CAP_HEIGHT}p{_rate(source.fps)}."
        )
        return TopLimit(_CAP_HEIGHT), [IngestWarning(code="resolution-capped", message=message, setting=OBS_RESOLUTION)]
    max_fps = budget / (width * height)
    fps = capped_fps(source.fps, max_fps)
    message = (
        f"Re-encoding {height}p{_rate(source.fps)} is more than the server can do in real time, "
        f"so your top quality is {height}p{_rate(fps)}."
    )
    return TopLimit(height, max_fps), [IngestWarning(code="frame-rate-capped", message=message, setting=OBS_FPS)]


def _seconds(value: float) -> str:
    return f"{value:.3g} s"


def _rate(fps: float) -> str:
    return f"{fps:.2f}".rstrip("0").rstrip(".")
