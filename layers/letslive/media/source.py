"""What the ladder needs to know about a broadcast's input, and H.264 codec strings for HLS.

`SourceInfo` is plain data: `probe()` fills it from ffprobe, and an RTMP session can fill it from
the stream's metadata and AVC sequence header (`avc_codec_string_from_config`) without probing.
"""

import re
from dataclasses import dataclass
from typing import Final

from letslive.errors import InvalidInput

H264: Final = "h264"
AAC_LC_CODEC: Final = "mp4a.40.2"

# profile_idc by the names ffprobe prints (libavcodec's profile names).
AVC_PROFILE_IDC: Final[dict[str, int]] = {
    "baseline": 66,
    "constrained baseline": 66,
    "main": 77,
    "extended": 88,
    "high": 100,
    "high 10": 110,
    "high 4:2:2": 122,
    "high 4:4:4 predictive": 244,
}
# Constraint flags as x264 writes them (what OBS sends): set0+set1 for baseline, set1 for main.
_X264_CONSTRAINTS: Final[dict[int, int]] = {66: 0xC0, 77: 0x40}
# Browsers (MSE) decode only 8-bit 4:2:0 H.264: anything else cannot be passed through.
_BROWSER_PROFILES: Final = frozenset({66, 77, 100})
_BROWSER_PIX_FMTS: Final = frozenset({"yuv420p", "yuvj420p"})


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A broadcast's input as the ladder planner sees it.

    `video_codec`/`audio_codec` use FFmpeg's codec names ("h264", "hevc", "aac"); `audio_codec`
    is None when the input has no audio, `video_codec` (with a 0x0 size and 0 fps) when it has
    no video: an audio-only source (`SourceInfo.audio_only`). `video_profile` is ffprobe's
    profile name ("High"), `video_level` the level_idc (41 for 4.1); with `avc_constraints` (the constraint-flags byte
    of the SPS) they give the copied rung's exact `avc1.PPCCLL`. `keyframe_interval` is the
    source's measured GOP in seconds, when known (see `probe(..., keyframe_seconds=...)`).
    """

    width: int
    height: int
    fps: float
    video_codec: str | None
    audio_codec: str | None
    video_profile: str | None = None
    video_level: int | None = None
    avc_constraints: int | None = None
    pix_fmt: str | None = None
    video_bitrate_kbps: int | None = None
    keyframe_interval: float | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        if self.video_codec is None:
            if self.audio_codec is None:
                raise InvalidInput("a source needs video or audio")
            return
        if self.width <= 0 or self.height <= 0:
            raise InvalidInput(f"source size must be positive, got {self.width}x{self.height}")
        if not self.fps > 0:
            raise InvalidInput(f"source frame rate must be positive, got {self.fps}")

    @classmethod
    def audio(cls, codec: str) -> "SourceInfo":
        """A source with audio only (a radio show, a podcast)."""
        return cls(width=0, height=0, fps=0.0, video_codec=None, audio_codec=codec)

    @property
    def audio_only(self) -> bool:
        return self.video_codec is None

    @property
    def profile_idc(self) -> int | None:
        return None if self.video_profile is None else AVC_PROFILE_IDC.get(self.video_profile.lower())

    @property
    def passthrough_ok(self) -> bool:
        """Whether browsers can play the video as it is: H.264, 8-bit 4:2:0, a known profile.

        A missing profile or pixel format (not probed) is given the benefit of the doubt.
        """
        if self.video_codec != H264:
            return False
        if self.pix_fmt is not None and self.pix_fmt not in _BROWSER_PIX_FMTS:
            return False
        return self.video_profile is None or self.profile_idc in _BROWSER_PROFILES

    @property
    def video_codec_string(self) -> str | None:
        """`avc1.PPCCLL` of the source's video, or None when it is not H.264 or not known enough."""
        if self.video_codec != H264 or self.profile_idc is None or self.video_level is None:
            return None
        return avc1_codec_string(self.profile_idc, self.video_level, self.avc_constraints)


def avc1_codec_string(profile_idc: int, level_idc: int, constraints: int | None = None) -> str:
    """RFC 6381 `avc1.PPCCLL`; without `constraints`, the flags x264 would write for the profile."""
    flags = _X264_CONSTRAINTS.get(profile_idc, 0) if constraints is None else constraints
    for name, value in (("profile", profile_idc), ("constraints", flags), ("level", level_idc)):
        if not 0 <= value <= 0xFF:
            raise InvalidInput(f"H.264 {name} {value} is not a byte")
    return f"avc1.{profile_idc:02x}{flags:02x}{level_idc:02x}"


def avc_codec_string_from_config(extradata: bytes) -> str:
    """`avc1.PPCCLL` from H.264 extradata: an avcC record (MP4, FLV/RTMP) or Annex B SPS (MPEG-TS)."""
    sps = _sps_header(extradata)
    if sps is None:
        raise InvalidInput("no H.264 sequence parameter set in the extradata")
    profile_idc, constraints, level_idc = sps
    return avc1_codec_string(profile_idc, level_idc, constraints)


def _sps_header(extradata: bytes) -> tuple[int, int, int] | None:
    """(profile_idc, constraint flags, level_idc) from the first SPS."""
    if len(extradata) >= 4 and extradata[0] == 1:  # avcC: configurationVersion 1, then the three bytes
        return extradata[1], extradata[2], extradata[3]
    for match in re.finditer(rb"\x00\x00\x01", extradata):
        start = match.end()
        if len(extradata) >= start + 4 and extradata[start] & 0x1F == 7:
            return extradata[start + 1], extradata[start + 2], extradata[start + 3]
    return None


def parse_hexdump(text: str) -> bytes:
    """Bytes from ffprobe's `-show_data` hexdump (`00000000: 0164 0029 ...  .d.)`)."""
    data = bytearray()
    for line in text.splitlines():
        _, sep, rest = line.partition(": ")
        if not sep:
            continue
        # Hex groups end at the double space before the ASCII column.
        for token in rest.split(" "):
            if not token or not re.fullmatch(r"[0-9a-fA-F]{2}(?:[0-9a-fA-F]{2})?", token):
                break
            data += bytes.fromhex(token)
    return bytes(data)
