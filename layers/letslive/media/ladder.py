"""The transcoding ladder: which renditions a broadcast gets, decided from its source.

`Ladder` is configuration (the rungs an operator allows); `Ladder.plan(source)` applies the
rules of the design card: the top rung is the source itself, copied, when browsers can play it
and it is at most 1080p (Twitch's "Source"); otherwise the top rung is re-encoded at the highest
configured height the source reaches. Lower rungs exist only strictly below the source height:
nothing is ever upscaled.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from letslive.errors import ConfigurationError, InvalidInput
from letslive.media.source import AAC_LC_CODEC, AVC_PROFILE_IDC, SourceInfo, avc1_codec_string

Profile = Literal["baseline", "main", "high"]

# The name of an audio-only source's one rendition (no video, so no height to name it by).
AUDIO_RUNG: Final = "audio"
# The tallest source passed through untouched; above it the top rung is re-encoded.
MAX_PASSTHROUGH_HEIGHT: Final = 1080
# Rung names become file names (`720p_000042.ts`) and playlist names.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# MPEG-TS and its PES headers add roughly this much to the elementary streams' bitrate.
TS_OVERHEAD_PERCENT: Final = 10

# H.264 levels (Table A-1): level_idc, max macroblocks/s, max frame size in macroblocks, max
# video bitrate in kbit/s for Baseline/Main (High allows 1.25x).
_LEVELS: Final[tuple[tuple[int, int, int, int], ...]] = (
    (10, 1485, 99, 64),
    (11, 3000, 396, 192),
    (12, 6000, 396, 384),
    (13, 11880, 396, 768),
    (20, 11880, 396, 2000),
    (21, 19800, 792, 4000),
    (22, 20250, 1620, 4000),
    (30, 40500, 1620, 10000),
    (31, 108000, 3600, 14000),
    (32, 216000, 5120, 20000),
    (40, 245760, 8192, 20000),
    (41, 245760, 8192, 50000),
    (42, 522240, 8704, 50000),
    (50, 589824, 22080, 135000),
    (51, 983040, 36864, 240000),
    (52, 2073600, 36864, 240000),
)


@dataclass(frozen=True, slots=True)
class Rung:
    """One configured rendition. Bitrates in kbit/s, `buffer_kbits` is the VBV buffer size.

    `level` is an H.264 level such as "3.1"; None picks the lowest level that fits the planned
    size, frame rate and max rate (so a 60 fps source does not break a 30 fps level).
    `max_fps` caps the frame rate at a whole divisor of the source's (Twitch serves 480p and below
    at 30 fps); None follows the source.
    """

    name: str
    height: int
    video_kbps: int
    max_kbps: int
    buffer_kbits: int
    audio_kbps: int
    profile: Profile = "high"
    level: str | None = None
    max_fps: float | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ConfigurationError(f"rung name {self.name!r} must match {_NAME.pattern}")
        if self.height < 16 or self.height % 2:
            raise ConfigurationError(f"rung {self.name}: height must be even and >= 16, got {self.height}")
        if min(self.video_kbps, self.audio_kbps, self.buffer_kbits) <= 0:
            raise ConfigurationError(f"rung {self.name}: bitrates and buffer must be positive")
        if self.max_kbps < self.video_kbps:
            raise ConfigurationError(f"rung {self.name}: max rate {self.max_kbps} is below {self.video_kbps}")
        if self.profile not in ("baseline", "main", "high"):
            raise ConfigurationError(f"rung {self.name}: unknown profile {self.profile!r}")
        if self.level is not None:
            _level_idc(self.level)  # validates
        if self.max_fps is not None and self.max_fps <= 0:
            raise ConfigurationError(f"rung {self.name}: max_fps must be positive")


# Twitch-like presets (Twitch's own ladder and Apple's HLS authoring figures): the heights that
# `Ladder.parse("1080,720,480,360")` knows.
PRESETS: Final[dict[int, Rung]] = {
    rung.height: rung
    for rung in (
        Rung("1080p", 1080, video_kbps=6000, max_kbps=6000, buffer_kbits=12000, audio_kbps=160, profile="high"),
        Rung("720p", 720, video_kbps=3000, max_kbps=3000, buffer_kbits=6000, audio_kbps=128, profile="high"),
        Rung("480p", 480, 1400, 1400, 2800, audio_kbps=96, profile="main", max_fps=30),
        Rung("360p", 360, 800, 800, 1600, audio_kbps=96, profile="main", max_fps=30),
        Rung("160p", 160, 250, 250, 500, audio_kbps=64, profile="main", max_fps=30),
    )
}
DEFAULT_HEIGHTS: Final = (1080, 720, 360)


@dataclass(frozen=True, slots=True)
class PlannedRung:
    """A rendition this broadcast gets: the rung's settings resolved against the source.

    `copy` is the source rung passed through (no decode, no encode); its bitrates are the
    source's (or the configured rung's, when the source does not say) and serve the master
    playlist only. `codecs` is the RFC 6381 CODECS value for the master playlist.
    """

    name: str
    width: int
    height: int
    fps: float
    copy: bool
    video_kbps: int
    max_kbps: int
    buffer_kbits: int
    audio_kbps: int
    profile: Profile | str
    level: str
    codecs: str
    scale: bool = True  # False when an encoded rung keeps the source's size

    @property
    def has_audio(self) -> bool:
        return AAC_LC_CODEC in self.codecs.split(",")

    @property
    def has_video(self) -> bool:
        return self.height > 0

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def bandwidth(self) -> int:
        """Peak bits/s for `BANDWIDTH`: max rates plus container overhead."""
        return _with_overhead(self.max_kbps + self.audio_kbps)

    @property
    def average_bandwidth(self) -> int:
        return _with_overhead(self.video_kbps + self.audio_kbps)


@dataclass(frozen=True, slots=True)
class Ladder:
    """The configured rungs, tallest first (sorted and checked on construction)."""

    rungs: tuple[Rung, ...] = field(default_factory=lambda: tuple(PRESETS[h] for h in DEFAULT_HEIGHTS))

    def __post_init__(self) -> None:
        if not self.rungs:
            raise ConfigurationError("the ladder needs at least one rung")
        ordered = tuple(sorted(self.rungs, key=lambda rung: rung.height, reverse=True))
        heights = [rung.height for rung in ordered]
        names = [rung.name for rung in ordered]
        if len(set(heights)) != len(heights):
            raise ConfigurationError(f"two rungs share a height: {heights}")
        if len(set(names)) != len(names):
            raise ConfigurationError(f"two rungs share a name: {names}")
        object.__setattr__(self, "rungs", ordered)

    @classmethod
    def parse(cls, spec: str | Iterable[int | str | Rung]) -> "Ladder":
        """A ladder from "1080,720,480,360" (or "1080p 720p"), or a list of heights and/or rungs."""
        items: Iterable[int | str | Rung] = re.split(r"[,\s]+", spec.strip()) if isinstance(spec, str) else spec
        rungs: list[Rung] = []
        for item in items:
            if isinstance(item, Rung):
                rungs.append(item)
                continue
            text = str(item).strip().lower().removesuffix("p")
            if not text:
                continue
            if not text.isdigit() or int(text) not in PRESETS:
                known = ", ".join(f"{height}" for height in PRESETS)
                raise ConfigurationError(f"unknown ladder height {item!r}; known heights: {known}")
            rungs.append(PRESETS[int(text)])
        return cls(tuple(rungs))

    def plan(self, source: SourceInfo, *, copy_top: bool = True, top: "TopLimit | None" = None) -> list[PlannedRung]:
        """The renditions for `source`, tallest first; the first one is the top rung.

        The top rung is the source copied when `copy_top` and browsers can play it at most
        1080p; otherwise it is re-encoded: at the source's own size up to 1080p (it stands in
        for the copy), else at the tallest configured rung the source reaches. `top` caps the
        re-encoded top rung's height and frame rate (what the worker's CPU can encode).
        """
        if source.audio_only:
            return [self._audio_rung()]
        if source.height < 16:
            raise InvalidInput(f"a {source.height} pixel high source is too small to stream")
        planned: list[PlannedRung] = []
        if copy_top and source.passthrough_ok and source.height <= MAX_PASSTHROUGH_HEIGHT:
            planned.append(self._source_rung(source))
            below = source.height
        else:
            height = min(source.height, MAX_PASSTHROUGH_HEIGHT, top.height if top else source.height)
            rung = self._top_rung(height - height % 2)
            encoded = _encoded(rung, source, max_fps=top.fps if top else None)
            planned.append(encoded)
            below = rung.height
        planned.extend(_encoded(rung, source) for rung in self.rungs if rung.height < below)
        if planned[0].copy and planned[0].name in {rung.name for rung in planned[1:]}:
            planned[0] = replace(planned[0], name="source")  # a custom rung took "<height>p"
        return planned

    def _audio_rung(self) -> PlannedRung:
        """The one rendition of an audio-only source: AAC at the top rung's audio bitrate."""
        audio_kbps = self.rungs[0].audio_kbps
        return PlannedRung(
            name=AUDIO_RUNG, width=0, height=0, fps=0.0, copy=False, video_kbps=0, max_kbps=0, buffer_kbits=0,
            audio_kbps=audio_kbps, profile="", level="", codecs=AAC_LC_CODEC, scale=False,
        )  # fmt: skip

    def _top_rung(self, height: int) -> Rung:
        """The rung to re-encode the top at `height`: the configured one of that height, or one
        of that height with the rates of the configured rung below it (never upscaled)."""
        exact = next((rung for rung in self.rungs if rung.height == height), None)
        if exact is not None:
            return exact
        if height > self.rungs[0].height:
            # Only the source itself (which the top stands in for) goes above the configured rungs.
            return replace(self.rungs[0], name=f"{height}p", height=height)
        like = next((rung for rung in self.rungs if rung.height < height), self.rungs[-1])
        return replace(like, name=f"{height}p", height=height)

    def _source_rung(self, source: SourceInfo) -> PlannedRung:
        # The configured rung at or below the source stands in for the bitrate the source does not state.
        like = next((rung for rung in self.rungs if rung.height <= source.height), self.rungs[-1])
        video = source.video_bitrate_kbps or like.video_kbps
        profile_idc = source.profile_idc or AVC_PROFILE_IDC["high"]
        level_idc = source.video_level or _auto_level(source.width, source.height, source.fps, video, "high")
        codec = source.video_codec_string or avc1_codec_string(profile_idc, level_idc, source.avc_constraints)
        return PlannedRung(
            name=f"{source.height}p",
            width=source.width,
            height=source.height,
            fps=source.fps,
            copy=True,
            video_kbps=video,
            max_kbps=max(video, like.max_kbps) if source.video_bitrate_kbps is None else video,
            buffer_kbits=like.buffer_kbits,
            audio_kbps=like.audio_kbps,
            profile=(source.video_profile or "high").lower(),
            level=f"{level_idc // 10}.{level_idc % 10}",
            codecs=_codecs(codec, source),
            scale=False,
        )


def _with_overhead(kbps: int) -> int:
    return -(-kbps * 1000 * (100 + TS_OVERHEAD_PERCENT) // 100)  # bits/s, rounded up, in integers


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


@dataclass(frozen=True, slots=True)
class TopLimit:
    """The tallest, fastest re-encoded top rung the worker affords."""

    height: int
    fps: float | None = None


def capped_fps(fps: float, max_fps: float | None) -> float:
    """`fps` divided by the smallest whole number that brings it to `max_fps` or below: a whole
    divisor (60 -> 30, 59.94 -> 29.97, 50 -> 25) keeps every kept frame on the source's
    timestamps, the source's keyframes among them."""
    if max_fps is None or fps <= max_fps:
        return fps
    return round(fps / math.ceil(fps / max_fps - 1e-9), 3)


def _encoded(rung: Rung, source: SourceInfo, max_fps: float | None = None) -> PlannedRung:
    width = _even(source.width * rung.height / source.height)
    caps = [cap for cap in (rung.max_fps, max_fps) if cap is not None]
    fps = capped_fps(source.fps, min(caps) if caps else None)
    level_idc = (
        _level_idc(rung.level)
        if rung.level is not None
        else _auto_level(width, rung.height, fps, rung.max_kbps, rung.profile)
    )
    codec = avc1_codec_string(AVC_PROFILE_IDC[rung.profile], level_idc)
    return PlannedRung(
        name=rung.name,
        width=width,
        height=rung.height,
        fps=fps,
        copy=False,
        video_kbps=rung.video_kbps,
        max_kbps=rung.max_kbps,
        buffer_kbits=rung.buffer_kbits,
        audio_kbps=rung.audio_kbps,
        profile=rung.profile,
        level=f"{level_idc // 10}.{level_idc % 10}",
        codecs=_codecs(codec, source),
        scale=(width, rung.height) != (source.width, source.height),
    )


def _codecs(video: str, source: SourceInfo) -> str:
    # Every rung's audio is encoded to AAC-LC whatever the source carries.
    return video if source.audio_codec is None else f"{video},{AAC_LC_CODEC}"


def _level_idc(level: str) -> int:
    match = re.fullmatch(r"([1-5])(?:\.([0-2]))?", level.strip())
    idc = None if match is None else int(match[1]) * 10 + int(match[2] or 0)
    if idc is None or idc not in {row[0] for row in _LEVELS}:
        raise ConfigurationError(f"unknown H.264 level {level!r}")
    return idc


def _auto_level(width: int, height: int, fps: float, max_kbps: int, profile: str) -> int:
    """The lowest H.264 level whose frame size, macroblock rate and bitrate limits fit."""
    frame_mbs = math.ceil(width / 16) * math.ceil(height / 16)
    rate_factor = 1.25 if profile.lower().startswith("high") else 1.0
    for idc, max_mbps, max_fs, max_br in _LEVELS:
        # x264 rejects a level whose frame size limit is exceeded in either dimension.
        side_ok = max(math.ceil(width / 16), math.ceil(height / 16)) ** 2 <= 8 * max_fs
        if frame_mbs <= max_fs and side_ok and frame_mbs * fps <= max_mbps and max_kbps <= max_br * rate_factor:
            return idc
    return _LEVELS[-1][0]


def plan(source: SourceInfo, ladder: Ladder | None = None) -> list[PlannedRung]:
    """`ladder.plan(source)` with the default ladder when none is given."""
    return (ladder or Ladder()).plan(source)
