"""AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1): what an FLV/RTMP AAC sequence header carries.

The ingest reads the sample rate, channel count and object type from here rather than from the
legacy FLV audio header, whose rate and channel bits are fixed at 44 kHz stereo for AAC.
"""

from dataclasses import dataclass
from typing import Final

from letslive.media.h264 import BitReader, BitstreamError

# Table 1.18: samplingFrequencyIndex 0-12; 13 and 14 are reserved, 15 escapes to a 24-bit value.
_SAMPLE_RATES: Final = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
_ESCAPE_RATE_INDEX: Final = 15
_ESCAPE_OBJECT_TYPE: Final = 31  # then 6 more bits: 32 + value
_SBR: Final = 5
_PS: Final = 29
_ER_BSAC: Final = 22
# Object types whose GASpecificConfig is simple enough to read past (no layerNr, no ER fields), so
# that backward-compatible SBR/PS signalling after it can be found (1.6.5.1, 1.6.6.1).
_SIMPLE_GA_TYPES: Final = frozenset({1, 2, 3, 4})
_SYNC_SBR: Final = 0x2B7
_SYNC_PS: Final = 0x548


@dataclass(frozen=True, slots=True)
class AudioSpecificConfig:
    """The decoder configuration of an AAC stream.

    `object_type` is the core audio object type (2 for AAC-LC, also under HE-AAC); `channels` is
    channelConfiguration (0: the layout is in a program config element in-band). `sbr`/`ps` are
    True only when signalled explicitly (object type 5/29, or the backward-compatible extension),
    and then `extension_sample_rate` is the SBR output rate. Implicit SBR (plain LC config, SBR
    found only in the frames) is not detected.
    """

    object_type: int
    sample_rate: int
    channels: int
    sbr: bool = False
    ps: bool = False
    extension_sample_rate: int | None = None

    @property
    def codec_string(self) -> str:
        """RFC 6381 codecs value. HE-AAC is named by its signalled type (5, or 29 with PS), as HLS expects."""
        if self.ps:
            return f"mp4a.40.{_PS}"
        if self.sbr:
            return f"mp4a.40.{_SBR}"
        return f"mp4a.40.{self.object_type}"


def parse_audio_specific_config(data: bytes) -> AudioSpecificConfig:
    """Parse an AudioSpecificConfig: object type, rates, channels and explicit SBR/PS signalling."""
    r = BitReader(data)
    object_type = _object_type(r)
    sample_rate = _sample_rate(r)
    channels = r.u(4)
    sbr = ps = False
    extension_sample_rate: int | None = None
    if object_type in (_SBR, _PS):
        # Explicit hierarchical signalling: the SBR rate, then the core object type.
        sbr, ps = True, object_type == _PS
        extension_sample_rate = _sample_rate(r)
        object_type = _object_type(r)
        if object_type == _ER_BSAC:
            r.u(4)  # extensionChannelConfiguration
    elif object_type in _SIMPLE_GA_TYPES and channels != 0:
        # Backward-compatible signalling: a sync word after the GASpecificConfig (FFmpeg's encoder
        # writes one saying "no SBR"). channels == 0 would need the program config element read.
        r.u(1)  # frameLengthFlag
        if r.flag():  # dependsOnCoreCoder
            r.u(14)  # coreCoderDelay
        if r.flag():  # extensionFlag
            r.u(1)  # extensionFlag3
        if r.bits_left >= 16 and r.u(11) == _SYNC_SBR and _object_type(r) == _SBR:
            sbr = r.flag()  # sbrPresentFlag
            if sbr:
                extension_sample_rate = _sample_rate(r)
                if r.bits_left >= 12 and r.u(11) == _SYNC_PS:
                    ps = r.flag()  # psPresentFlag
    return AudioSpecificConfig(object_type, sample_rate, channels, sbr, ps, extension_sample_rate)


def _object_type(r: BitReader) -> int:
    object_type = r.u(5)
    if object_type == _ESCAPE_OBJECT_TYPE:
        object_type = 32 + r.u(6)
    if object_type == 0:
        raise BitstreamError("AAC audio object type 0 (null)")
    return object_type


def _sample_rate(r: BitReader) -> int:
    index = r.u(4)
    if index == _ESCAPE_RATE_INDEX:
        rate = r.u(24)
        if rate == 0:
            raise BitstreamError("AAC explicit sampling frequency 0")
        return rate
    if index >= len(_SAMPLE_RATES):
        raise BitstreamError(f"AAC samplingFrequencyIndex {index} is reserved")
    return _SAMPLE_RATES[index]
