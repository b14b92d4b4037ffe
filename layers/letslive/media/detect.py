"""What a publish carries, learned from its bitstream as its first tags arrive.

`SourceDetector` is fed a publish's FLV audio/video bodies in order (and `onMetaData`, which is
only a hint) and answers, once it can, with a `Detected` source — size, profile, level, chroma
and bit depth from the SPS, frame rate from the VUI or else from the tags' timestamps, audio from
the AudioSpecificConfig, and the keyframe cadence measured from the first keyframes — or with a
`Refusal` saying why the publish can never be served and which encoder setting to change. A
publish with no video at all (after `video_wait_ms` of audio) is an audio-only source.
`CopyCadence` keeps checking the cadence for the rest of the publish.

Pure: no I/O and no clock; time is the tags' own timestamps (milliseconds).
"""

import itertools
import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from letslive.media.aac import AudioSpecificConfig, parse_audio_specific_config
from letslive.media.flv import VideoTag, parse_audio_tag, parse_video_tag
from letslive.media.h264 import BitstreamError, Sps, parse_avc_decoder_config, parse_sps
from letslive.media.ladder import MAX_PASSTHROUGH_HEIGHT
from letslive.media.source import AVC_PROFILE_IDC, H264, SourceInfo

# The encoder setting a streamer changes, in OBS's words (the encoder most of them use).
OBS_VIDEO_ENCODER: Final = "OBS → Settings → Output → Video Encoder: x264 (or a hardware H.264 encoder)"
OBS_AUDIO_ENCODER: Final = "OBS → Settings → Output → Audio Encoder: AAC"
OBS_KEYFRAME_INTERVAL: Final = "OBS → Settings → Output → Keyframe Interval: 1 s"

# Audio FFmpeg's FLV demuxer reads and decodes: served by transcoding to AAC like any audio.
_DECODABLE_AUDIO: Final = frozenset(
    {"aac", "mp3", "mp3-8k", "pcm", "pcm-le", "adpcm", "nellymoser", "nellymoser-8k", "nellymoser-16k",
     "g711a", "g711u", "speex"}
)  # fmt: skip
_VIDEO_NAMES: Final = {"hevc": "HEVC (H.265)", "av1": "AV1", "vp9": "VP9", "vp6": "VP6", "vp6a": "VP6"}
_PROFILE_NAMES: Final = {idc: name for name, idc in AVC_PROFILE_IDC.items() if name != "constrained baseline"}
# Frame rates encoders use; a rate measured from millisecond timestamps snaps to the nearest.
_COMMON_RATES: Final = (23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0, 120.0)
# Tags that fail to parse before the source is known: a few are tolerated (a publisher's odd
# first tag), a stream of them is not a stream we can serve.
_MAX_MALFORMED: Final = 8


@dataclass(frozen=True, slots=True)
class DetectionLimits:
    """How long the detector waits, in media milliseconds, and the segment length to copy at."""

    # The source is copied only if its keyframes cut it into segments of this length.
    segment_seconds: float = 1.0
    # Video this long without an audio sequence header: served as video only.
    audio_wait_ms: int = 2000
    # Audio this long without any video (and no metadata announcing some): served as audio only.
    video_wait_ms: int = 2000
    # A source still unknown after this much media is refused.
    max_wait_ms: int = 10_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """The publish can never be served as it is: why, and the setting that fixes it."""

    reason: str
    setting: str | None = None

    @property
    def description(self) -> str:
        """What the publisher's `onStatus` says."""
        return self.reason if self.setting is None else f"{self.reason} Change: {self.setting}."


@dataclass(frozen=True, slots=True)
class Detected:
    """The source, known well enough to plan the ladder.

    `cadence_ok`: the keyframes cut the copied source into segments of the target length.
    `fps_from` says where the frame rate came from ("vui", "timestamps", "metadata", "default";
    "none" without video). `contradictions` lists where `onMetaData` disagreed with the
    bitstream (the bitstream won).
    """

    source: SourceInfo
    cadence_ok: bool
    fps_from: str
    contradictions: tuple[str, ...] = ()

    @property
    def keyframe_interval(self) -> float | None:
        """The longest gap between the keyframes seen so far (seconds); None when no second
        keyframe came in time (the source's GOP is longer than a segment)."""
        return self.source.keyframe_interval


@dataclass
class _Video:
    sps: Sps | None = None
    codec: str | None = None
    first_ms: int | None = None
    last_ms: int | None = None
    frame_times: list[int] = field(default_factory=list)
    keyframes: list[int] = field(default_factory=list)
    cadence: "CopyCadence | None" = None


@dataclass
class _Audio:
    codec: str | None = None
    config: AudioSpecificConfig | None = None
    first_ms: int | None = None
    last_ms: int | None = None


class SourceDetector:
    """Feed `metadata`, `video` and `audio` in arrival order; read `result()` after each."""

    def __init__(self, limits: DetectionLimits | None = None) -> None:
        self.limits = limits or DetectionLimits()
        self._metadata: dict[str, object] = {}
        self._video = _Video()
        self._audio = _Audio()
        self._malformed = 0
        self._refusal: Refusal | None = None

    # --- input -----------------------------------------------------------------------------
    def metadata(self, values: Mapping[str, object]) -> None:
        self._metadata = dict(values)

    def video(self, timestamp_ms: int, payload: bytes) -> None:
        if self._refusal is not None:
            return
        try:
            tag = parse_video_tag(payload)
        except BitstreamError:
            self._malformed_tag("video")
            return
        video = self._video
        if tag.codec != H264:
            self._refuse_video(tag)
            return
        video.codec = H264
        if tag.packet_type == "sequence-start":
            self._sequence_header(tag)
            return
        if tag.packet_type != "coded-frames" or video.sps is None:
            return  # frames before the sequence header cannot be decoded: FFmpeg drops them too
        if video.first_ms is None:
            if not tag.is_keyframe:
                return  # a decodable stream starts at a keyframe
            video.first_ms = timestamp_ms
        video.last_ms = max(video.last_ms or timestamp_ms, timestamp_ms)
        if len(video.frame_times) < 300:
            video.frame_times.append(timestamp_ms)
        if tag.is_keyframe and (not video.keyframes or timestamp_ms > video.keyframes[-1]):
            video.keyframes.append(timestamp_ms)
        if video.cadence is None:
            video.cadence = CopyCadence(self.limits.segment_seconds, self._fps()[0] or 30.0, video.first_ms)
        video.cadence.frame(timestamp_ms, tag.is_keyframe)

    def audio(self, timestamp_ms: int, payload: bytes) -> None:
        if self._refusal is not None:
            return
        try:
            tag = parse_audio_tag(payload)
        except BitstreamError:
            self._malformed_tag("audio")
            return
        audio = self._audio
        if tag.codec not in _DECODABLE_AUDIO:
            name = tag.codec.split(":")[0].upper() if tag.codec.startswith("unknown") else tag.codec.upper()
            self._refusal = Refusal(f"This server takes AAC or MP3 audio; the encoder sends {name}.", OBS_AUDIO_ENCODER)
            return
        audio.codec = tag.codec
        if audio.first_ms is None:
            audio.first_ms = timestamp_ms
        audio.last_ms = max(audio.last_ms or timestamp_ms, timestamp_ms)
        if tag.codec == "aac" and tag.aac_packet_type == 0 and audio.config is None:
            try:
                audio.config = parse_audio_specific_config(tag.data)
            except BitstreamError:
                self._malformed_tag("audio")

    # --- the answer ------------------------------------------------------------------------
    def result(self) -> Detected | Refusal | None:
        """None while it needs more media; then a `Detected` or a `Refusal`, for good."""
        if self._refusal is not None:
            return self._refusal
        video, audio = self._video, self._audio
        waited = self._waited_ms()
        video_ready = video.sps is not None and video.first_ms is not None and self._cadence_known()
        audio_ready = audio.config is not None or (audio.codec is not None and audio.codec != "aac")
        if video_ready:
            assert video.first_ms is not None
            assert video.last_ms is not None
            audio_late = not audio_ready and (
                video.last_ms - video.first_ms > self.limits.audio_wait_ms or not self._expects_audio()
            )
            if audio_ready or audio_late:
                return self._detected(with_audio=audio_ready)
        elif audio_ready and video.codec is None and not self._expects_video():
            assert audio.first_ms is not None
            assert audio.last_ms is not None
            if audio.last_ms - audio.first_ms > self.limits.video_wait_ms:
                assert audio.codec is not None
                return Detected(SourceInfo.audio(audio.codec), cadence_ok=False, fps_from="none")
        if waited > self.limits.max_wait_ms:
            self._refusal = self._timed_out()
            return self._refusal
        return None

    # --- details ---------------------------------------------------------------------------
    def _sequence_header(self, tag: VideoTag) -> None:
        try:
            config = parse_avc_decoder_config(tag.data)
            if not config.sps:
                raise BitstreamError("the AVC decoder configuration has no SPS")
            self._video.sps = parse_sps(config.sps[0])
        except BitstreamError:
            self._malformed_tag("video")

    def _refuse_video(self, tag: VideoTag) -> None:
        name = _VIDEO_NAMES.get(tag.codec, tag.fourcc or tag.codec)
        self._refusal = Refusal(f"This server takes H.264 video; the encoder sends {name}.", OBS_VIDEO_ENCODER)

    def _malformed_tag(self, kind: str) -> None:
        self._malformed += 1
        if self._malformed > _MAX_MALFORMED:
            self._refusal = Refusal(f"The {kind} the encoder sends could not be read (malformed tags).")

    def _cadence_known(self) -> bool:
        """The first segment was cut on time, or cannot be any more (or copying is out anyway)."""
        video = self._video
        if video.sps is not None and not copyable(video.sps):
            return True
        return video.cadence is not None and (video.cadence.broken or video.cadence.cuts > 0)

    def _expects_audio(self) -> bool:
        """Whether to wait for audio: metadata says so, or says nothing either way."""
        meta = self._metadata
        if any(key in meta for key in ("audiocodecid", "audiosamplerate", "audiodatarate")):
            return True
        return not any(key in meta for key in ("videocodecid", "width", "height"))

    def _expects_video(self) -> bool:
        meta = self._metadata
        if any(key in meta for key in ("videocodecid", "width", "height", "framerate")):
            return True
        return not any(key in meta for key in ("audiocodecid", "audiosamplerate"))

    def _waited_ms(self) -> int:
        firsts = [t for t in (self._video.first_ms, self._audio.first_ms) if t is not None]
        lasts = [t for t in (self._video.last_ms, self._audio.last_ms) if t is not None]
        return max(lasts) - min(firsts) if firsts and lasts else 0

    def _fps(self) -> tuple[float | None, str]:
        video = self._video
        if video.sps is not None and video.sps.fps is not None and 1 <= video.sps.fps <= 240:
            return video.sps.fps, "vui"
        fps = fps_from_timestamps(video.frame_times)
        if fps is not None:
            return fps, "timestamps"
        hint = _number(self._metadata, "framerate", "videoframerate")
        if hint is not None and 1 <= hint <= 240:
            return hint, "metadata"
        return None, "default"

    def _detected(self, *, with_audio: bool) -> Detected:
        video, audio = self._video, self._audio
        fps, fps_from = self._fps()
        gaps = [later - earlier for earlier, later in itertools.pairwise(video.keyframes)]
        interval = max(gaps) / 1000 if gaps else None
        cadence_ok = video.cadence is not None and video.cadence.cuts > 0 and not video.cadence.broken
        audio_codec = audio.codec if with_audio else None
        sps = video.sps
        assert sps is not None  # `result()` answers only once the SPS is known
        source = _sps_source(
            sps,
            fps or 30.0,
            audio_codec=audio_codec,
            video_bitrate_kbps=_int(_number(self._metadata, "videodatarate")),
            keyframe_interval=interval,
        )
        return Detected(
            source=source,
            cadence_ok=cadence_ok,
            fps_from=fps_from,
            contradictions=self._contradictions(sps, fps),
        )

    def _contradictions(self, sps: Sps, fps: float | None) -> tuple[str, ...]:
        found: list[str] = []
        width, height = _number(self._metadata, "width"), _number(self._metadata, "height")
        if width is not None and height is not None and (int(width), int(height)) != (sps.width, sps.height):
            found.append(f"onMetaData says {int(width)}x{int(height)}, the SPS {sps.width}x{sps.height}")
        hint = _number(self._metadata, "framerate", "videoframerate")
        if hint is not None and fps is not None and not math.isclose(hint, fps, rel_tol=0.05):
            found.append(f"onMetaData says {hint:g} fps, the stream {fps:g}")
        return tuple(found)

    def _timed_out(self) -> Refusal:
        video, audio = self._video, self._audio
        if video.codec is not None and video.sps is None:
            return Refusal("The encoder sent H.264 without a sequence header (SPS/PPS).", OBS_VIDEO_ENCODER)
        if video.sps is not None and video.first_ms is None:
            return Refusal("The encoder sent no keyframe.", OBS_KEYFRAME_INTERVAL)
        if audio.codec == "aac" and audio.config is None and video.codec is None:
            return Refusal("The encoder sent AAC without an AudioSpecificConfig.", OBS_AUDIO_ENCODER)
        return Refusal("The encoder sent no media this server can read.", OBS_VIDEO_ENCODER)


def fps_from_timestamps(times_ms: list[int]) -> float | None:
    """The frame rate of millisecond timestamps (FLV rounds 33.37 ms to 33 or 34): the median
    gap over the distinct frames seen, snapped to a common rate when within 1.5 %."""
    distinct = sorted(set(times_ms))
    if len(distinct) < 3:
        return None
    span = distinct[-1] - distinct[0]
    gaps = [b - a for a, b in itertools.pairwise(distinct)]
    typical = statistics.median(gaps)
    if typical <= 0 or span <= 0:
        return None
    # The mean over the span is exact for a steady rate; the median guards against gaps (drops).
    mean_gap = span / (len(distinct) - 1)
    gap = mean_gap if abs(mean_gap - typical) <= 1.5 else typical
    fps = 1000 / gap
    nearest = min(_COMMON_RATES, key=lambda rate: abs(rate - fps))
    return nearest if abs(nearest - fps) / nearest <= 0.015 else round(fps, 3)


class CopyCadence:
    """Whether the source's keyframes cut it into segments of the target length, the way FFmpeg's
    HLS muxer cuts a copied rung: at the first keyframe at or after each multiple of the target,
    counted from the part's first timestamp. Keyframes every second (or every half second) do;
    OBS's default of 250 frames, or extra keyframes at scene cuts, do not.

    `frame()` is fed every video frame's timestamp; it returns True once, on the first frame that
    proves a segment will come out longer than the target by more than a frame.
    """

    def __init__(self, segment_seconds: float, fps: float, start_ms: int) -> None:
        self._segment_ms = segment_seconds * 1000
        self._slack_ms = 1000 / max(fps, 1.0) + 1  # one frame, and FLV's millisecond rounding
        self._start = start_ms
        self.cuts = 0
        self.broken = False
        self._segment_start: int | None = None
        self._last_key: int | None = None
        self._open_ms = 0
        self._gaps: deque[int] = deque(maxlen=10)

    @property
    def longest_seconds(self) -> float | None:
        """The longest of the last few gaps between keyframes (the open one included)."""
        longest = max([*self._gaps, self._open_ms])
        return longest / 1000 if longest else None

    def frame(self, timestamp_ms: int, keyframe: bool) -> bool:
        if keyframe:
            if self._last_key is not None and timestamp_ms > self._last_key:
                self._gaps.append(timestamp_ms - self._last_key)
            self._last_key, self._open_ms = timestamp_ms, 0
            if self._segment_start is None:
                self._segment_start = timestamp_ms
            elif timestamp_ms >= self._start + (self.cuts + 1) * self._segment_ms:
                self.cuts += 1
                self._segment_start = timestamp_ms
        if self._segment_start is None or self._last_key is None:
            return False
        self._open_ms = max(self._open_ms, timestamp_ms - self._last_key)
        if not self.broken and timestamp_ms - self._segment_start > self._segment_ms + self._slack_ms:
            self.broken = True
            return True
        return False


def copyable(sps: Sps) -> bool:
    """Whether the ladder would pass this H.264 through as it is (browsers play it, ≤ 1080p)."""
    return _sps_source(sps).passthrough_ok and sps.height <= MAX_PASSTHROUGH_HEIGHT


def _sps_source(sps: Sps, fps: float = 30.0, audio_codec: str | None = None, **rest: Any) -> SourceInfo:
    """The video source an SPS describes (`rest`: what the SPS does not say)."""
    return SourceInfo(
        width=sps.width,
        height=sps.height,
        fps=fps,
        video_codec=H264,
        video_profile=_PROFILE_NAMES.get(sps.profile_idc, f"profile {sps.profile_idc}"),
        video_level=sps.level_idc,
        avc_constraints=sps.constraint_flags,
        pix_fmt=_pix_fmt(sps),
        audio_codec=audio_codec,
        **rest,
    )


def _pix_fmt(sps: Sps) -> str:
    chroma = {0: "gray", 1: "yuv420p", 2: "yuv422p", 3: "yuv444p"}.get(sps.chroma_format_idc, "unknown")
    depth = max(sps.bit_depth_luma, sps.bit_depth_chroma)
    return chroma if depth == 8 else f"{chroma}{depth}le"


def _number(values: Mapping[str, object], *names: str) -> float | None:
    for name in names:
        value = values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            return float(value)
    return None


def _int(value: float | None) -> int | None:
    return None if value is None else int(value) or None
