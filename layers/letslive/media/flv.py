"""FLV/RTMP audio and video message bodies: which codec, which packet, where the codec payload starts.

RTMP audio (type 8) and video (type 9) messages carry exactly an FLV tag body. Two layouts exist:
the legacy one (FLV spec v10.1, annex E.4.2/E.4.3: a codec id in the first byte) and Enhanced
RTMP (veovera/enhanced-rtmp v1 and v2: a flag bit, then a packet type and a FourCC), which OBS
uses for HEVC and AV1. Both parse to the same `VideoTag`/`AudioTag`, so the ingest asks one
question ("is this the H.264 sequence start?") whatever the publisher speaks.
"""

from dataclasses import dataclass
from typing import Final

from letslive.media.h264 import BitstreamError

# --- video -----------------------------------------------------------------------------------

FRAME_KEY: Final = 1
FRAME_INTER: Final = 2
FRAME_DISPOSABLE: Final = 3
FRAME_GENERATED_KEY: Final = 4
FRAME_COMMAND: Final = 5

# Legacy CodecID (E.4.3.1). 12 is not in the spec: it is the HEVC id of the pre-Enhanced-RTMP
# extension that Chinese CDNs and servers (SRS, nginx-rtmp forks) use; FFmpeg reads it too.
_LEGACY_VIDEO_CODECS: Final[dict[int, str]] = {
    2: "sorenson-h263",
    3: "screen",
    4: "vp6",
    5: "vp6a",
    6: "screen2",
    7: "h264",
    12: "hevc",
}
_LEGACY_AVC_IDS: Final = frozenset({7, 12})  # followed by AVCPacketType and CompositionTime
_AVC_PACKET_TYPES: Final[dict[int, str]] = {0: "sequence-start", 1: "coded-frames", 2: "sequence-end"}

_EX_HEADER_BIT: Final = 0x80
# Enhanced RTMP VideoPacketType.
_VIDEO_CODED_FRAMES: Final = 1
_VIDEO_METADATA: Final = 4
_VIDEO_MULTITRACK: Final = 6
_VIDEO_MOD_EX: Final = 7
_EX_VIDEO_PACKET_TYPES: Final[dict[int, str]] = {
    0: "sequence-start",
    1: "coded-frames",
    2: "sequence-end",
    3: "coded-frames",  # CodedFramesX: coded frames whose composition time is zero, not sent
    4: "metadata",
    5: "mpeg2ts-sequence-start",
    6: "multitrack",
}
_VIDEO_FOURCCS: Final[dict[str, str]] = {"avc1": "h264", "hvc1": "hevc", "av01": "av1", "vp09": "vp9"}
# The codecs whose CodedFrames carry an SI24 composition time offset (B-frames reorder).
_COMPOSITION_TIME_FOURCCS: Final = frozenset({"avc1", "hvc1", "vvc1"})
_MANY_TRACKS_MANY_CODECS: Final = 2  # AvMultitrackType: each track names its own FourCC

# --- audio -----------------------------------------------------------------------------------

# Legacy SoundFormat (E.4.2.1); 9 switches to Enhanced RTMP, 12 and 13 are reserved.
_LEGACY_AUDIO_CODECS: Final[dict[int, str]] = {
    0: "pcm",
    1: "adpcm",
    2: "mp3",
    3: "pcm-le",
    4: "nellymoser-16k",
    5: "nellymoser-8k",
    6: "nellymoser",
    7: "g711a",
    8: "g711u",
    10: "aac",
    11: "speex",
    14: "mp3-8k",
    15: "device-specific",
}
_SOUND_FORMAT_AAC: Final = 10
_SOUND_FORMAT_EX_HEADER: Final = 9
_SOUND_RATES_HZ: Final = (5512, 11025, 22050, 44100)
# Enhanced RTMP AudioPacketType.
_AUDIO_SEQUENCE_START: Final = 0
_AUDIO_CODED_FRAMES: Final = 1
_AUDIO_MULTITRACK: Final = 5
_AUDIO_MOD_EX: Final = 7
_EX_AUDIO_PACKET_TYPES: Final[dict[int, str]] = {
    0: "sequence-start",
    1: "coded-frames",
    2: "sequence-end",
    4: "multichannel-config",
    5: "multitrack",
}
_AUDIO_FOURCCS: Final[dict[str, str]] = {
    "Opus": "opus",
    "fLaC": "flac",
    "ac-3": "ac3",
    "ec-3": "eac3",
    "mp4a": "aac",
    ".mp3": "mp3",
}
_AAC_PACKET_TYPES: Final[dict[int, str]] = {0: "sequence-start", 1: "coded-frames"}


@dataclass(frozen=True, slots=True)
class VideoTag:
    """One video message body.

    `codec` is "h264", "hevc", "av1", "vp9", "vp6", "vp6a", "sorenson-h263", "screen", "screen2" or
    "unknown:<codec id or FourCC>". `packet_type` is "sequence-start" (the avcC/hvcC/av1C record
    is in `data`), "coded-frames" (`data` holds the frames: AVCC length-prefixed NAL units for
    H.264/HEVC), "sequence-end", "metadata" (AMF), "mpeg2ts-sequence-start", "multitrack" (not
    parsed further; `data` starts at the first track) or "other" (command frames, reserved
    types). Legacy codecs other than H.264/HEVC have no packet type: always "coded-frames".
    """

    codec: str
    frame_type: int
    packet_type: str
    composition_time_ms: int
    data: bytes
    enhanced: bool
    fourcc: str | None

    @property
    def is_keyframe(self) -> bool:
        return self.frame_type in (FRAME_KEY, FRAME_GENERATED_KEY)


@dataclass(frozen=True, slots=True)
class AudioTag:
    """One audio message body.

    `sound_rate_hz`, `sound_size_bits` and `stereo` are the legacy header's fields as sent (for
    AAC they are always 44 kHz, 16-bit, stereo whatever the stream: read the AudioSpecificConfig);
    Enhanced RTMP does not carry them and they are 0, 0, False. `aac_packet_type` is 0 for the AAC
    sequence header (`data` is the AudioSpecificConfig) and 1 for raw frames, None for other
    codecs. `packet_type` ("sequence-start", "coded-frames", "sequence-end",
    "multichannel-config", "multitrack", "other") says the same for every codec; legacy codecs
    other than AAC have no configuration and are always "coded-frames".
    """

    codec: str
    sound_rate_hz: int
    sound_size_bits: int
    stereo: bool
    aac_packet_type: int | None
    data: bytes
    enhanced: bool
    packet_type: str
    fourcc: str | None


def parse_video_tag(payload: bytes) -> VideoTag:
    """Parse a video message body (an FLV VIDEODATA), legacy or Enhanced RTMP."""
    data = bytes(payload)
    if not data:
        raise BitstreamError("empty video message")
    if data[0] & _EX_HEADER_BIT:
        return _parse_ex_video(data)
    frame_type, codec_id = data[0] >> 4, data[0] & 0x0F
    codec = _LEGACY_VIDEO_CODECS.get(codec_id, f"unknown:{codec_id}")
    if frame_type == FRAME_COMMAND:
        # A UI8 command (start/end of client-side seeking), not video: FFmpeg drops these.
        return VideoTag(codec, frame_type, "other", 0, data[1:], False, None)
    if codec_id not in _LEGACY_AVC_IDS:
        return VideoTag(codec, frame_type, "coded-frames", 0, data[1:], False, None)
    if len(data) < 5:
        raise BitstreamError(f"AVC video message of {len(data)} bytes, the header alone is 5")
    packet_type = _AVC_PACKET_TYPES.get(data[1], "other")
    return VideoTag(codec, frame_type, packet_type, _si24(data[2:5]), data[5:], False, None)


def _parse_ex_video(data: bytes) -> VideoTag:
    """Enhanced RTMP: [1 ExHeader | 3 frame type | 4 packet type] (ModEx)* [FourCC] [SI24] body."""
    frame_type, packet_type = (data[0] >> 4) & 0x07, data[0] & 0x0F
    position, packet_type = _skip_mod_ex(data, 1, packet_type, _VIDEO_MOD_EX)
    if frame_type == FRAME_COMMAND and packet_type != _VIDEO_METADATA:
        # A command frame has a UI8 VideoCommand and neither FourCC nor body.
        _need(data, position + 1, "video command")
        return VideoTag("unknown:command", frame_type, "other", 0, data[position:], True, None)
    if packet_type == _VIDEO_MULTITRACK:
        _need(data, position + 1, "multitrack type")
        multitrack_type = data[position] >> 4
        position += 1
        if multitrack_type == _MANY_TRACKS_MANY_CODECS:
            return VideoTag("unknown:multitrack", frame_type, "multitrack", 0, data[position:], True, None)
        fourcc = _fourcc(data, position)
        codec = _VIDEO_FOURCCS.get(fourcc, f"unknown:{fourcc}")
        return VideoTag(codec, frame_type, "multitrack", 0, data[position + 4 :], True, fourcc)
    fourcc = _fourcc(data, position)
    position += 4
    composition_time = 0
    if packet_type == _VIDEO_CODED_FRAMES and fourcc in _COMPOSITION_TIME_FOURCCS:
        _need(data, position + 3, "composition time")
        composition_time = _si24(data[position : position + 3])
        position += 3
    codec = _VIDEO_FOURCCS.get(fourcc, f"unknown:{fourcc}")
    kind = _EX_VIDEO_PACKET_TYPES.get(packet_type, "other")
    return VideoTag(codec, frame_type, kind, composition_time, data[position:], True, fourcc)


def parse_audio_tag(payload: bytes) -> AudioTag:
    """Parse an audio message body (an FLV AUDIODATA), legacy or Enhanced RTMP.

    An empty message is RTMP's "audio silence" signal, not a tag: it is refused like any other
    body too short to hold its header, and the caller decides what silence means.
    """
    data = bytes(payload)
    if not data:
        raise BitstreamError("empty audio message")
    sound_format = data[0] >> 4
    if sound_format == _SOUND_FORMAT_EX_HEADER:
        return _parse_ex_audio(data)
    codec = _LEGACY_AUDIO_CODECS.get(sound_format, f"unknown:{sound_format}")
    rate = _SOUND_RATES_HZ[(data[0] >> 2) & 0x03]
    size = 16 if data[0] & 0x02 else 8
    stereo = bool(data[0] & 0x01)
    if sound_format != _SOUND_FORMAT_AAC:
        return AudioTag(codec, rate, size, stereo, None, data[1:], False, "coded-frames", None)
    if len(data) < 2:
        raise BitstreamError("AAC audio message without its AACPacketType")
    kind = _AAC_PACKET_TYPES.get(data[1], "other")
    return AudioTag(codec, rate, size, stereo, data[1], data[2:], False, kind, None)


def _parse_ex_audio(data: bytes) -> AudioTag:
    """Enhanced RTMP v2: [4 SoundFormat=9 | 4 packet type] (ModEx)* [FourCC] body."""
    position, packet_type = _skip_mod_ex(data, 1, data[0] & 0x0F, _AUDIO_MOD_EX)
    if packet_type == _AUDIO_MULTITRACK:
        _need(data, position + 1, "multitrack type")
        multitrack_type = data[position] >> 4
        position += 1
        if multitrack_type == _MANY_TRACKS_MANY_CODECS:
            return AudioTag("unknown:multitrack", 0, 0, False, None, data[position:], True, "multitrack", None)
        fourcc = _fourcc(data, position)
        codec = _AUDIO_FOURCCS.get(fourcc, f"unknown:{fourcc}")
        return AudioTag(codec, 0, 0, False, None, data[position + 4 :], True, "multitrack", fourcc)
    fourcc = _fourcc(data, position)
    codec = _AUDIO_FOURCCS.get(fourcc, f"unknown:{fourcc}")
    aac_packet_type: int | None = None
    if codec == "aac" and packet_type in (_AUDIO_SEQUENCE_START, _AUDIO_CODED_FRAMES):
        aac_packet_type = packet_type  # same numbers as the legacy AACPacketType
    kind = _EX_AUDIO_PACKET_TYPES.get(packet_type, "other")
    return AudioTag(codec, 0, 0, False, aac_packet_type, data[position + 4 :], True, kind, fourcc)


def _skip_mod_ex(data: bytes, position: int, packet_type: int, mod_ex: int) -> tuple[int, int]:
    """Step over ModEx packets (Enhanced RTMP v2); return where the header goes on and the real packet type.

    Each is a UI8 size-1 (UI16 size-1 when the UI8 is 255), that many bytes, then a byte whose low
    nibble is the next packet type. Their only use so far is a sub-millisecond timestamp offset,
    which the ingest has no use for.
    """
    while packet_type == mod_ex:
        _need(data, position + 1, "ModEx size")
        size = data[position] + 1
        position += 1
        if size == 256:
            _need(data, position + 2, "ModEx size")
            size = int.from_bytes(data[position : position + 2], "big") + 1
            position += 2
        position += size
        _need(data, position + 1, "ModEx data")
        packet_type = data[position] & 0x0F
        position += 1
    return position, packet_type


def _fourcc(data: bytes, position: int) -> str:
    _need(data, position + 4, "FourCC")
    return data[position : position + 4].decode("latin-1")


def _need(data: bytes, end: int, what: str) -> None:
    if len(data) < end:
        raise BitstreamError(f"message of {len(data)} bytes ends before its {what}")


def _si24(three: bytes) -> int:
    value = int.from_bytes(three, "big")
    return value - (1 << 24) if value & 0x800000 else value
