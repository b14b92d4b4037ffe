"""AAC AudioSpecificConfig: FFmpeg's encoder output against ffprobe, and HE-AAC built from the spec.

This machine's ffmpeg has no libfdk_aac (its own encoder does LC, Main and LTP only), so the HE-AAC
configs are written here by `write_asc`, from ISO/IEC 14496-3 1.6.2.1. Each was checked once: put
in an FLV sequence header before LC frames from FFmpeg's encoder, and read by ffprobe, whose
sample_rate/channels are in the comments (it says profile "LC" for all of them: FFmpeg names
HE-AAC only once it meets SBR data in the frames). FFmpeg 5.1 reads neither escape sample rates
nor USAC, so those two rest on the spec alone.
"""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letslive.media.aac import AudioSpecificConfig, parse_audio_specific_config
from letslive.media.h264 import BitstreamError
from tests.unit.test_media_flv import AUDIO, bodies
from tests.unit.test_media_h264 import BitWriter

FUZZ = settings(max_examples=400, deadline=None)
RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def write_asc(
    object_type: int,
    sample_rate: int,
    channels: int,
    *,
    sbr_rate: int | None = None,
    core_type: int = 2,
    tail: BitWriter | None = None,
) -> bytes:
    """An AudioSpecificConfig; with `sbr_rate`, explicit hierarchical SBR signalling (object type 5/29)."""
    w = BitWriter()
    write_object_type(w, object_type)
    write_rate(w, sample_rate)
    w.u(4, channels)
    if sbr_rate is not None:
        write_rate(w, sbr_rate)
        write_object_type(w, core_type)
    w.u(3, 0)  # GASpecificConfig: frameLengthFlag, dependsOnCoreCoder, extensionFlag
    if tail is not None:
        w.bits += tail.bits
    return w.padded()


def write_object_type(w: BitWriter, object_type: int) -> None:
    if object_type >= 31:
        w.u(5, 31)
        w.u(6, object_type - 32)
    else:
        w.u(5, object_type)


def write_rate(w: BitWriter, rate: int) -> None:
    if rate in RATES:
        w.u(4, RATES.index(rate))
    else:
        w.u(4, 15)
        w.u(24, rate)


def sync_extension(sbr_rate: int | None, ps: bool | None = None) -> BitWriter:
    """Backward-compatible signalling: 0x2b7, object type 5, sbrPresentFlag (+ rate, 0x548, psPresentFlag)."""
    w = BitWriter()
    w.u(11, 0x2B7)
    w.u(5, 5)
    w.flag(sbr_rate is not None)
    if sbr_rate is not None:
        write_rate(w, sbr_rate)
        if ps is not None:
            w.u(11, 0x548)
            w.flag(ps)
    return w


# --- FFmpeg's encoder, against ffprobe -------------------------------------------------------

# ffprobe -show_streams: profile, sample_rate, channels of each file's audio stream.
PROBED = {
    "h264_baseline_640x360.flv": ("LC", 44100, 1),
    "h264_high_1920x1080.flv": ("LC", 48000, 2),
    "h264_interlaced_1440x1080.flv": ("Main", 32000, 6),
}
OBJECT_TYPES = {"Main": 1, "LC": 2}


@pytest.mark.parametrize("name", sorted(PROBED))
def test_real_configs_match_ffprobe(name: str) -> None:
    sequence_header = bodies(name, AUDIO)[0]
    assert sequence_header[:2] == b"\xaf\x00"
    config = parse_audio_specific_config(sequence_header[2:])
    profile, sample_rate, channels = PROBED[name]
    assert config == AudioSpecificConfig(OBJECT_TYPES[profile], sample_rate, channels, sbr=False, ps=False)
    assert config.codec_string == f"mp4a.40.{OBJECT_TYPES[profile]}"


def test_ffmpeg_signals_no_sbr_explicitly() -> None:
    # FFmpeg's encoder appends 0x2b7, object type 5, sbrPresentFlag 0 after the 2-byte LC config.
    asc = bodies("h264_high_1920x1080.flv", AUDIO)[0][2:]
    assert asc == bytes.fromhex("119056e500")
    assert asc[2:] == sync_extension(None).padded()
    assert parse_audio_specific_config(asc[:2]) == parse_audio_specific_config(asc)


# --- configs from the spec -------------------------------------------------------------------


def test_explicit_he_aac() -> None:
    # ffprobe: sample_rate 48000 (the SBR output rate), channels 2.
    asc = write_asc(5, 24000, 2, sbr_rate=48000)
    assert asc == bytes.fromhex("2b118800")
    config = parse_audio_specific_config(asc)
    assert config == AudioSpecificConfig(2, 24000, 2, sbr=True, ps=False, extension_sample_rate=48000)
    assert config.codec_string == "mp4a.40.5"


def test_explicit_he_aac_v2() -> None:
    # ffprobe: sample_rate 44100, channels 2 (parametric stereo from a mono core).
    asc = write_asc(29, 22050, 1, sbr_rate=44100)
    assert asc == bytes.fromhex("eb8a0800")
    config = parse_audio_specific_config(asc)
    assert config == AudioSpecificConfig(2, 22050, 1, sbr=True, ps=True, extension_sample_rate=44100)
    assert config.codec_string == "mp4a.40.29"


def test_backward_compatible_sbr_and_ps() -> None:
    # ffprobe: sample_rate 48000, channels 2; and for the PS one too (from a mono core).
    sbr = write_asc(2, 24000, 2, tail=sync_extension(48000))
    assert sbr == bytes.fromhex("131056e598")
    config = parse_audio_specific_config(sbr)
    assert config == AudioSpecificConfig(2, 24000, 2, sbr=True, ps=False, extension_sample_rate=48000)
    assert config.codec_string == "mp4a.40.5"
    ps = write_asc(2, 24000, 1, tail=sync_extension(48000, ps=True))
    assert ps == bytes.fromhex("130856e59d4880")
    config = parse_audio_specific_config(ps)
    assert config == AudioSpecificConfig(2, 24000, 1, sbr=True, ps=True, extension_sample_rate=48000)
    assert config.codec_string == "mp4a.40.29"
    assert parse_audio_specific_config(write_asc(2, 24000, 1, tail=sync_extension(48000, ps=False))).ps is False


def test_backward_compatible_signalling_after_a_core_coder_delay() -> None:
    w = BitWriter()
    w.u(5, 2)  # AAC-LC
    w.u(4, 6)  # 24000
    w.u(4, 1)  # mono
    w.u(1, 0)  # frameLengthFlag
    w.u(1, 1)  # dependsOnCoreCoder
    w.u(14, 1234)  # coreCoderDelay
    w.u(1, 1)  # extensionFlag
    w.u(1, 0)  # extensionFlag3
    w.bits += sync_extension(48000, ps=True).bits
    assert len(w.bits) == 64  # the PS sync word and flag are the last 12 bits: no padding to lean on
    config = parse_audio_specific_config(w.padded())
    assert config == AudioSpecificConfig(2, 24000, 1, sbr=True, ps=True, extension_sample_rate=48000)


def test_escape_sample_rate() -> None:
    # Index 15, then the rate in 24 bits (FFmpeg's decoder refuses these: "invalid sampling rate index").
    asc = write_asc(2, 50000, 2)
    assert asc == bytes.fromhex("178061a810")
    assert parse_audio_specific_config(asc) == AudioSpecificConfig(2, 50000, 2)


def test_escape_object_type() -> None:
    # Object type 42 (USAC) is 31, then 6 bits of 10.
    asc = write_asc(42, 48000, 2)
    assert asc == bytes.fromhex("f94640")
    config = parse_audio_specific_config(asc)
    assert (config.object_type, config.sample_rate, config.channels) == (42, 48000, 2)
    assert config.codec_string == "mp4a.40.42"


def test_program_config_channels_stay_zero() -> None:
    config = parse_audio_specific_config(bytes.fromhex("1180"))  # LC 48 kHz, channelConfiguration 0
    assert (config.channels, config.sbr) == (0, False)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x12",  # cut inside the rate index
        bytes.fromhex("0010"),  # object type 0
        bytes.fromhex("1690"),  # samplingFrequencyIndex 13: reserved
        bytes.fromhex("1710"),  # index 14: reserved
        bytes.fromhex("17800000"),  # index 15, explicit rate cut short
        bytes.fromhex("1780000010"),  # index 15, explicit rate 0
        bytes.fromhex("f8"),  # object type escape cut short
        bytes.fromhex("2b11"),  # explicit SBR cut inside the SBR rate
        bytes.fromhex("2b118000"),  # explicit SBR with core object type 0
        bytes.fromhex("131056e5"),  # sync word and object type 5, then no sbrPresentFlag
    ],
)
def test_malformed_configs_are_refused(data: bytes) -> None:
    with pytest.raises(BitstreamError):
        parse_audio_specific_config(data)


# --- properties ------------------------------------------------------------------------------


@FUZZ
@given(
    object_type=st.integers(1, 94).filter(lambda value: value not in (5, 29, 31)),
    sample_rate=st.sampled_from(RATES) | st.integers(1, 2**24 - 1),
    channels=st.integers(0, 15),
    sbr=st.sampled_from([None, 5, 29]),
    sbr_rate=st.sampled_from(RATES) | st.integers(1, 2**24 - 1),
)
def test_written_configs_parse_back(
    object_type: int, sample_rate: int, channels: int, sbr: int | None, sbr_rate: int
) -> None:
    if sbr is None:
        config = parse_audio_specific_config(write_asc(object_type, sample_rate, channels))
        assert config.sbr is False
        assert config.extension_sample_rate is None
    else:
        written = write_asc(sbr, sample_rate, channels, sbr_rate=sbr_rate, core_type=object_type)
        config = parse_audio_specific_config(written)
        assert (config.sbr, config.ps, config.extension_sample_rate) == (True, sbr == 29, sbr_rate)
        assert config.codec_string == f"mp4a.40.{sbr}"
    assert (config.object_type, config.sample_rate, config.channels) == (object_type, sample_rate, channels)


def parse_or_refuse(data: bytes) -> None:
    with contextlib.suppress(BitstreamError):
        config = parse_audio_specific_config(data)
        assert config.object_type > 0
        assert config.sample_rate > 0
        assert 0 <= config.channels <= 15
        assert config.codec_string.startswith("mp4a.40.")
        assert config.sbr or not config.ps
        assert (config.extension_sample_rate is not None) == config.sbr


@FUZZ
@given(st.binary(max_size=40))
def test_arbitrary_bytes(data: bytes) -> None:
    parse_or_refuse(data)


REAL = [bodies(name, AUDIO)[0][2:] for name in sorted(PROBED)] + [
    bytes.fromhex("2b118800"),
    bytes.fromhex("eb8a0800"),
    bytes.fromhex("130856e59d4880"),
]


@FUZZ
@given(st.sampled_from(REAL), st.integers(0, 1000), st.integers(0, 7), st.integers(0, 10))
def test_mutated_real_configs(asc: bytes, flip_at: int, bit: int, cut: int) -> None:
    mutated = bytearray(asc)
    mutated[flip_at % len(mutated)] ^= 1 << bit
    parse_or_refuse(bytes(mutated))
    parse_or_refuse(asc[: cut % (len(asc) + 1)])
