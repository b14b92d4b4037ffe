"""H.264: avcC, NAL units and SPS, against real x264/OpenH264 output and ffprobe's reading of it.

The fixtures (tests/fixtures/media, README there) are FLV files as the encoders wrote them; the
expected values below are what ffprobe printed for the same files. What no encoder on this
machine writes (SPS scaling matrices: x264 puts its CQM in the PPS; pic_order_cnt_type 1) comes
from `write_sps` here, a writer of the spec's syntax; one such SPS was checked once with
FFmpeg's own SPS reader (`-bsf:v trace_headers`), the rest is round-trip properties.
"""

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letslive.media.h264 import (
    NAL_IDR,
    NAL_PPS,
    NAL_SPS,
    AvcDecoderConfig,
    BitstreamError,
    Sps,
    iter_nal_units,
    nal_type,
    parse_avc_decoder_config,
    parse_sps,
    unescape_rbsp,
)
from tests.unit.test_media_flv import VIDEO, bodies

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- real encoder output against ffprobe -----------------------------------------------------


@dataclass(frozen=True)
class Probed:
    """ffprobe's fields for a fixture's video stream (on its Annex B copy, so r_frame_rate is the SPS's)."""

    profile: str
    level: int
    width: int
    height: int
    pix_fmt: str
    r_frame_rate: str | None  # None: the SPS has no timing (ffprobe then prints its 25/1 guess)
    sample_aspect_ratio: str | None  # None: ffprobe's N/A
    field_order: str


PROBED: dict[str, Probed] = {
    "h264_baseline_640x360.flv": Probed("Constrained Baseline", 30, 640, 360, "yuv420p", "30/1", "1:1", "progressive"),
    "h264_main_1280x720.flv": Probed("Main", 31, 1280, 720, "yuv420p", "25/1", "1:1", "progressive"),
    "h264_high_1920x1080.flv": Probed("High", 40, 1920, 1080, "yuv420p", "30/1", "1:1", "progressive"),
    "h264_high10_854x480.flv": Probed("High 10", 30, 854, 480, "yuv420p10le", "24000/1001", "1:1", "progressive"),
    "h264_high422_720x576.flv": Probed("High 4:2:2", 30, 720, 576, "yuv422p", "25/1", "12:11", "progressive"),
    "h264_high444_426x240.flv": Probed("High 4:4:4 Predictive", 30, 426, 240, "yuv444p", "60/1", "7:5", "progressive"),
    "h264_interlaced_1440x1080.flv": Probed("High", 40, 1440, 1080, "yuv420p", "25/1", "4:3", "tt"),
    "openh264_426x240.flv": Probed("Constrained Baseline", 21, 426, 240, "yuv420p", None, None, "progressive"),
}
# ffprobe's profile names: profile_idc, and the constraint flags byte the name implies.
PROFILES = {
    "Constrained Baseline": (66, 0x40),
    "Main": (77, 0),
    "High": (100, 0),
    "High 10": (110, 0),
    "High 4:2:2": (122, 0),
    "High 4:4:4 Predictive": (244, 0),
}
# pix_fmt: (chroma_format_idc, bit depth).
PIX_FMTS = {"yuv420p": (1, 8), "yuv420p10le": (1, 10), "yuv422p": (2, 8), "yuv444p": (3, 8)}
# From `ffmpeg -i F -c copy -bsf:v trace_headers -f null -`: what ffprobe does not print.
TIMING = {
    "h264_baseline_640x360.flv": (1, 60, False),
    "h264_main_1280x720.flv": (1, 50, False),
    "h264_high_1920x1080.flv": (1, 60, False),
    "h264_high10_854x480.flv": (1001, 48000, False),
    "h264_high422_720x576.flv": (1, 50, False),
    "h264_high444_426x240.flv": (1, 120, False),
    "h264_interlaced_1440x1080.flv": (1, 50, False),
    "openh264_426x240.flv": None,
}


def avcc_of(name: str) -> AvcDecoderConfig:
    first = bodies(name, VIDEO)[0]
    assert first[:2] == b"\x17\x00"  # legacy AVC sequence header: the avcC follows 5 header bytes
    return parse_avc_decoder_config(first[5:])


@pytest.mark.parametrize("name", sorted(PROBED))
def test_sps_matches_ffprobe(name: str) -> None:
    probed = PROBED[name]
    sps = parse_sps(avcc_of(name).sps[0])
    profile_idc, constraint_bit = PROFILES[probed.profile]
    chroma_format_idc, bit_depth = PIX_FMTS[probed.pix_fmt]
    assert (sps.profile_idc, sps.level_idc) == (profile_idc, probed.level)
    assert sps.constraint_flags & constraint_bit == constraint_bit
    assert (sps.width, sps.height) == (probed.width, probed.height)
    assert (sps.chroma_format_idc, sps.bit_depth_luma, sps.bit_depth_chroma) == (
        chroma_format_idc,
        bit_depth,
        bit_depth,
    )
    assert sps.frame_mbs_only == (probed.field_order == "progressive")
    expected_sar = (
        None if probed.sample_aspect_ratio is None else tuple(map(int, probed.sample_aspect_ratio.split(":")))
    )
    assert sps.sar == expected_sar
    assert sps.timing == TIMING[name]
    expected_fps = None if probed.r_frame_rate is None else round(float(Fraction(probed.r_frame_rate)), 3)
    assert sps.fps == expected_fps
    assert sps.sps_id == 0


def test_fixture_fps_values() -> None:
    fps = {name: parse_sps(avcc_of(name).sps[0]).fps for name in PROBED}
    assert fps["h264_high10_854x480.flv"] == 23.976
    assert fps["h264_interlaced_1440x1080.flv"] == 25.0  # 50 fields a second
    assert fps["openh264_426x240.flv"] is None


@pytest.mark.parametrize("name", sorted(PROBED))
def test_avcc_matches_its_sps(name: str) -> None:
    config = avcc_of(name)
    assert config.nal_length_size == 4
    assert len(config.sps) == len(config.pps) == 1
    assert (nal_type(config.sps[0]), nal_type(config.pps[0])) == (NAL_SPS, NAL_PPS)
    # The record repeats the SPS's profile, constraint flags and level (14496-15 5.3.3.1.2).
    assert (config.profile_idc, config.profile_compatibility, config.level_idc) == tuple(config.sps[0][1:4])


@pytest.mark.parametrize("name", sorted(PROBED))
def test_keyframes_hold_an_idr_and_inter_frames_do_not(name: str) -> None:
    config = avcc_of(name)
    frames = [body for body in bodies(name, VIDEO)[1:] if body[1] == 1]  # AVC NALU packets
    assert frames[0][0] >> 4 == 1
    key_types = [nal_type(unit) for unit in iter_nal_units(frames[0][5:], config.nal_length_size)]
    assert NAL_IDR in key_types
    for body in frames[1:]:
        assert body[0] >> 4 == 2
        assert NAL_IDR not in [nal_type(unit) for unit in iter_nal_units(body[5:], config.nal_length_size)]


def test_openh264_repeats_its_parameter_sets_in_band() -> None:
    config = avcc_of("openh264_426x240.flv")
    keyframe = bodies("openh264_426x240.flv", VIDEO)[1]
    units = list(iter_nal_units(keyframe[5:], config.nal_length_size))
    assert [nal_type(unit) for unit in units] == [NAL_SPS, NAL_PPS, NAL_IDR]
    assert units[0] == config.sps[0]
    assert parse_sps(units[0]) == parse_sps(config.sps[0])


def test_crop_in_chroma_units() -> None:
    # trace_headers: 4:4:4 crops 6 luma columns with frame_crop_right_offset 6 (unit 1); 4:2:0
    # 864 -> 854 is offset 5 (unit 2); MBAFF 1088 -> 1080 is bottom offset 2 (unit 2 x 2 fields).
    assert parse_sps(avcc_of("h264_high444_426x240.flv").sps[0]).width == 27 * 16 - 6
    assert parse_sps(avcc_of("h264_high10_854x480.flv").sps[0]).width == 54 * 16 - 2 * 5
    assert parse_sps(avcc_of("h264_interlaced_1440x1080.flv").sps[0]).height == 2 * 34 * 16 - 4 * 2


def test_truncated_vui_keeps_what_was_read_whole() -> None:
    nal = avcc_of("h264_high_1920x1080.flv").sps[0]
    whole = parse_sps(nal)
    results: list[Sps | None] = []
    for length in range(1, len(nal) + 1):
        try:
            results.append(parse_sps(nal[:length]))
        except BitstreamError:
            results.append(None)
    # Cut before the VUI: refused. Cut inside it: the picture as whole, SAR once read, no timing.
    first = next(index for index, result in enumerate(results) if result is not None)
    assert first > 4
    assert all(result is None for result in results[:first])
    parsed = [result for result in results[first:] if result is not None]
    assert len(parsed) == len(results) - first
    assert {replace(result, sar=None, timing=None) for result in parsed} == {replace(whole, sar=None, timing=None)}
    assert [result.sar for result in parsed] == sorted((result.sar for result in parsed), key=bool)
    assert any(result.sar == (1, 1) and result.timing is None for result in parsed)
    assert parsed[-1] == whole


def test_sps_of_an_other_nal_type_is_refused() -> None:
    sps = avcc_of("h264_main_1280x720.flv").sps[0]
    with pytest.raises(BitstreamError):
        parse_sps(bytes([sps[0] & 0xE0 | NAL_PPS]) + sps[1:])
    with pytest.raises(BitstreamError):
        parse_sps(bytes([sps[0] | 0x80]) + sps[1:])  # forbidden_zero_bit
    with pytest.raises(BitstreamError):
        parse_sps(b"")


# --- NAL units and the avcC ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("escaped", "rbsp"),
    [
        (b"", b""),
        (b"\x67\x64", b"\x67\x64"),
        (b"\x00\x00\x03\x01", b"\x00\x00\x01"),
        (b"\x00\x00\x03\x00\x00\x03\x00", b"\x00\x00\x00\x00\x00"),
        (b"\x11\x00\x00\x03", b"\x11\x00\x00"),  # cabac_zero_word padding at the end
        (b"\x00\x03\x00\x00\x03\x03", b"\x00\x03\x00\x00\x03"),
    ],
)
def test_unescape_rbsp(escaped: bytes, rbsp: bytes) -> None:
    assert unescape_rbsp(escaped) == rbsp


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_iter_nal_units(size: int) -> None:
    units = [b"\x65\x88", b"\x41" * 200, b"\x06\x05"]
    sample = b"".join(len(unit).to_bytes(size, "big") + unit for unit in units)
    assert list(iter_nal_units(sample, size)) == units
    assert list(iter_nal_units(b"\x00" * size + sample, size)) == units  # empty units are skipped
    with pytest.raises(BitstreamError):  # a length that runs past the end
        list(iter_nal_units(sample + (5).to_bytes(size, "big") + b"\x41", size))
    if size > 1:
        with pytest.raises(BitstreamError):  # a length field cut short
            list(iter_nal_units(sample + b"\x00" * (size - 1), size))


@pytest.mark.parametrize("size", [0, 5, -1])
def test_iter_nal_units_refuses_impossible_length_sizes(size: int) -> None:
    with pytest.raises(BitstreamError):
        list(iter_nal_units(b"\x00\x01\x65", size))


def test_nal_type() -> None:
    assert [nal_type(bytes([byte])) for byte in (0x67, 0x68, 0x65, 0x41, 0x06)] == [7, 8, 5, 1, 6]
    with pytest.raises(BitstreamError):
        nal_type(b"")


def test_avcc_with_several_parameter_sets_and_trailing_extension() -> None:
    sps, pps = avcc_of("h264_high_1920x1080.flv").sps[0], avcc_of("h264_high_1920x1080.flv").pps[0]
    record = (
        bytes([1, 100, 0, 40, 0xFC | 1, 0xE0 | 2])
        + len(sps).to_bytes(2, "big")
        + sps
        + len(sps).to_bytes(2, "big")
        + sps
        + bytes([1])
        + len(pps).to_bytes(2, "big")
        + pps
        + bytes([0xFD, 0xF8, 0xF8, 0])  # chroma_format, bit depths, numOfSequenceParameterSetExt
    )
    config = parse_avc_decoder_config(record)
    assert config == AvcDecoderConfig(100, 0, 40, 2, (sps, sps), (pps,))


@pytest.mark.parametrize(
    "record",
    [
        b"",
        bytes([1, 100, 0, 40, 0xFF, 0xE0]),  # too short for the PPS count
        bytes([0, 100, 0, 40, 0xFF, 0xE0, 0]),  # configurationVersion 0
        bytes([1, 100, 0, 40, 0xFF, 0xE1, 0, 4, 0x67, 0x64]),  # SPS cut short
        bytes([1, 100, 0, 40, 0xFF, 0xE1, 0, 0, 0]),  # an empty SPS
        bytes([1, 100, 0, 40, 0xFF, 0xE1, 0, 1, 0x68, 1, 0, 1, 0x68]),  # a PPS where the SPS belongs
        bytes([1, 100, 0, 40, 0xFF, 0xE1, 0, 1, 0x67]),  # no numOfPictureParameterSets
        bytes([1, 100, 0, 40, 0xFF, 0xE1, 0, 1, 0x67, 2, 0, 1, 0x68]),  # 2 PPS announced, 1 present
    ],
)
def test_malformed_avcc_is_refused(record: bytes) -> None:
    with pytest.raises(BitstreamError):
        parse_avc_decoder_config(record)


# --- a writer of the SPS syntax, for what no encoder here produces -------------------------------


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, bits: int, value: int) -> None:
        assert 0 <= value < 1 << bits or bits == value == 0
        self.bits += [(value >> (bits - 1 - i)) & 1 for i in range(bits)]

    def flag(self, value: bool) -> None:
        self.u(1, int(value))

    def ue(self, value: int) -> None:
        code = value + 1
        self.u(code.bit_length() - 1, 0)
        self.u(code.bit_length(), code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def padded(self) -> bytes:
        """The bits, then zeros to a byte boundary."""
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))

    def rbsp(self) -> bytes:
        """The bits, then rbsp_stop_one_bit and alignment zeros."""
        self.bits.append(1)
        return self.padded()


def escape(rbsp: bytes) -> bytes:
    """Insert emulation prevention bytes (7.4.1): a 0x03 before any 0x00-0x03 after two zeros."""
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def scaling_list_deltas(scales: Sequence[int], stop_at: int | None = None) -> list[int]:
    """delta_scale values coding `scales` (1-255 each); at `stop_at` a delta to 0 (the rest repeat)."""
    deltas, last = [], 8
    for index, scale in enumerate(scales):
        if index == stop_at:
            deltas.append((-last + 128) % 256 - 128)
            break
        deltas.append((scale - last + 128) % 256 - 128)
        last = scale
    return deltas


@dataclass
class SpsFields:
    profile_idc: int = 100
    constraint_flags: int = 0
    level_idc: int = 40
    sps_id: int = 0
    chroma_format_idc: int = 1
    separate_colour_plane: bool = False
    bit_depth_luma: int = 8
    bit_depth_chroma: int = 8
    scaling_lists: list[list[int] | None] | None = None  # per list: its delta_scale values, or absent
    poc_type: int = 0
    poc_cycle: list[int] = field(default_factory=list)
    width_mbs: int = 120
    height_map_units: int = 68
    frame_mbs_only: bool = True
    crop: tuple[int, int, int, int] | None = None
    aspect_ratio_idc: int | None = None
    extended_sar: tuple[int, int] = (0, 0)
    overscan: bool | None = None
    colour_description: tuple[int, int, int] | None = None
    video_signal: bool = False
    chroma_loc: tuple[int, int] | None = None
    timing: tuple[int, int, bool] | None = None
    vui: bool = True


def write_sps(f: SpsFields) -> bytes:
    """The SPS NAL unit (nal_ref_idc 3) of `f`, emulation prevention included."""
    w = BitWriter()
    w.u(8, f.profile_idc)
    w.u(8, f.constraint_flags)
    w.u(8, f.level_idc)
    w.ue(f.sps_id)
    if f.profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        w.ue(f.chroma_format_idc)
        if f.chroma_format_idc == 3:
            w.flag(f.separate_colour_plane)
        w.ue(f.bit_depth_luma - 8)
        w.ue(f.bit_depth_chroma - 8)
        w.flag(False)  # qpprime_y_zero_transform_bypass_flag
        w.flag(f.scaling_lists is not None)
        if f.scaling_lists is not None:
            assert len(f.scaling_lists) == (12 if f.chroma_format_idc == 3 else 8)
            for deltas in f.scaling_lists:
                w.flag(deltas is not None)
                for delta in deltas or []:
                    w.se(delta)
    w.ue(0)  # log2_max_frame_num_minus4
    w.ue(f.poc_type)
    if f.poc_type == 0:
        w.ue(2)  # log2_max_pic_order_cnt_lsb_minus4
    elif f.poc_type == 1:
        w.flag(False)  # delta_pic_order_always_zero_flag
        w.se(-1)  # offset_for_non_ref_pic
        w.se(1)  # offset_for_top_to_bottom_field
        w.ue(len(f.poc_cycle))
        for offset in f.poc_cycle:
            w.se(offset)
    w.ue(4)  # max_num_ref_frames
    w.flag(False)  # gaps_in_frame_num_value_allowed_flag
    w.ue(f.width_mbs - 1)
    w.ue(f.height_map_units - 1)
    w.flag(f.frame_mbs_only)
    if not f.frame_mbs_only:
        w.flag(True)  # mb_adaptive_frame_field_flag
    w.flag(True)  # direct_8x8_inference_flag
    w.flag(f.crop is not None)
    for offset in f.crop or ():
        w.ue(offset)
    w.flag(f.vui)
    if f.vui:
        w.flag(f.aspect_ratio_idc is not None)
        if f.aspect_ratio_idc is not None:
            w.u(8, f.aspect_ratio_idc)
            if f.aspect_ratio_idc == 255:
                w.u(16, f.extended_sar[0])
                w.u(16, f.extended_sar[1])
        w.flag(f.overscan is not None)
        if f.overscan is not None:
            w.flag(f.overscan)
        w.flag(f.video_signal)
        if f.video_signal:
            w.u(3, 5)  # video_format: unspecified
            w.flag(True)  # video_full_range_flag
            w.flag(f.colour_description is not None)
            for value in f.colour_description or ():
                w.u(8, value)
        w.flag(f.chroma_loc is not None)
        for value in f.chroma_loc or ():
            w.ue(value)
        w.flag(f.timing is not None)
        if f.timing is not None:
            w.u(32, f.timing[0])
            w.u(32, f.timing[1])
            w.flag(f.timing[2])
        w.u(4, 0)  # nal_hrd, vcl_hrd, pic_struct, bitstream_restriction flags: none
    return b"\x67" + escape(w.rbsp())


# Checked once with FFmpeg: `printf '\0\0\0\1'` + this SPS piped to
# `ffmpeg -f h264 -i - -c copy -bsf:v trace_headers -f null -` reads 4:4:4 High 4:4:4, 12 scaling
# lists (two "use default", one full 8x8), poc type 1 with a 3-entry cycle, 1280x720 cropped from
# 1280x736 (bottom offset 16), Extended_SAR 40:33, video signal with colour description, chroma
# location 1/1 and timing 1001/60000, exactly as written here.
CHECKED_FIELDS = SpsFields(
    profile_idc=244,
    level_idc=31,
    chroma_format_idc=3,
    bit_depth_luma=9,
    bit_depth_chroma=10,
    scaling_lists=[
        scaling_list_deltas(range(6, 22)),
        None,
        scaling_list_deltas([16] * 16, stop_at=0),
        None,
        None,
        scaling_list_deltas([20, 20, 30, 30] * 4, stop_at=9),
        scaling_list_deltas([(7 * i) % 255 + 1 for i in range(64)]),
        None,
        scaling_list_deltas([16] * 64, stop_at=0),
        None,
        scaling_list_deltas([200] * 64, stop_at=1),
        None,
    ],
    poc_type=1,
    poc_cycle=[3, -7, 0],
    width_mbs=80,
    height_map_units=46,
    crop=(0, 0, 0, 16),
    aspect_ratio_idc=255,
    extended_sar=(40, 33),
    overscan=False,
    video_signal=True,
    colour_description=(1, 1, 1),
    chroma_loc=(1, 1),
    timing=(1001, 60000, True),
)
CHECKED_SPS = bytes.fromhex(
    "67f4001f909b2a492492492490890c4290ac290a8298f1c3870e1c3870e1c3870e1c3870e1c3870e1c3870e1c3870e1c"
    "3870e1c3870e080e1c3870e1c3870e1c3870e1c3870e1c3870e1c3870e1c845010207051a2187ca02802efc23ff80140"
    "010db808080d2800001f480007530420"
)


def test_hand_built_sps_checked_with_ffmpeg() -> None:
    assert write_sps(CHECKED_FIELDS) == CHECKED_SPS
    sps = parse_sps(CHECKED_SPS)
    assert sps == Sps(
        profile_idc=244,
        constraint_flags=0,
        level_idc=31,
        sps_id=0,
        chroma_format_idc=3,
        bit_depth_luma=9,
        bit_depth_chroma=10,
        width=1280,
        height=720,
        frame_mbs_only=True,
        sar=(40, 33),
        timing=(1001, 60000, True),
    )
    assert sps.fps == 29.97


@pytest.mark.parametrize(
    ("idc", "sar"), [(0, None), (1, (1, 1)), (2, (12, 11)), (13, (160, 99)), (16, (2, 1)), (17, None), (254, None)]
)
def test_sar_presets(idc: int, sar: tuple[int, int] | None) -> None:
    assert parse_sps(write_sps(SpsFields(aspect_ratio_idc=idc))).sar == sar


def test_extended_sar_with_a_zero_is_unspecified() -> None:
    assert parse_sps(write_sps(SpsFields(aspect_ratio_idc=255, extended_sar=(0, 1)))).sar is None
    assert parse_sps(write_sps(SpsFields(aspect_ratio_idc=255, extended_sar=(64, 45)))).sar == (64, 45)


@pytest.mark.parametrize(
    ("timing", "fps"),
    [
        ((1, 60, True), 30.0),
        ((1001, 60000, False), 29.97),
        ((1, 48, False), 24.0),
        ((0, 60, False), None),
        ((1, 0, False), None),
        ((1, 2001, False), None),  # 1000.5 fps
        ((1, 2000, False), 1000.0),
        ((2**32 - 1, 1, False), None),  # rounds to 0
    ],
)
def test_fps(timing: tuple[int, int, bool], fps: float | None) -> None:
    sps = parse_sps(write_sps(SpsFields(timing=timing)))
    assert (sps.timing, sps.fps) == (timing, fps)


def test_no_vui_and_baseline_defaults() -> None:
    sps = parse_sps(write_sps(SpsFields(profile_idc=66, vui=False, poc_type=2)))
    assert (sps.chroma_format_idc, sps.bit_depth_luma, sps.sar, sps.timing, sps.fps) == (1, 8, None, None, None)


def test_monochrome_and_separate_planes_crop_in_luma_units() -> None:
    mono = parse_sps(write_sps(SpsFields(chroma_format_idc=0, crop=(1, 2, 3, 4))))
    assert (mono.width, mono.height) == (1920 - 3, 1088 - 7)
    planes = parse_sps(write_sps(SpsFields(chroma_format_idc=3, separate_colour_plane=True, crop=(1, 2, 3, 4))))
    assert (planes.width, planes.height) == (1920 - 3, 1088 - 7)
    fields = parse_sps(
        write_sps(SpsFields(chroma_format_idc=0, frame_mbs_only=False, height_map_units=34, crop=(0, 0, 0, 4)))
    )
    assert fields.height == 1088 - 8


@pytest.mark.parametrize(
    "fields",
    [
        SpsFields(sps_id=32),
        SpsFields(chroma_format_idc=4),
        SpsFields(bit_depth_luma=15),
        SpsFields(poc_type=3),
        SpsFields(width_mbs=1056),
        SpsFields(frame_mbs_only=False, height_map_units=528),
        SpsFields(crop=(480, 480, 0, 0)),  # nothing left of 1920 columns
        SpsFields(crop=(0, 0, 0, 2**31)),
        SpsFields(scaling_lists=[[200], *([None] * 7)]),  # delta_scale 200 is out of range
        SpsFields(poc_type=1, poc_cycle=[0] * 256),
    ],
)
def test_impossible_sps_is_refused(fields: SpsFields) -> None:
    with pytest.raises(BitstreamError):
        parse_sps(write_sps(fields))


def test_chroma_location_out_of_range_drops_the_rest_of_the_vui() -> None:
    sps = parse_sps(write_sps(SpsFields(aspect_ratio_idc=1, chroma_loc=(6, 0), timing=(1, 50, True))))
    assert (sps.sar, sps.timing) == ((1, 1), None)


# --- properties ------------------------------------------------------------------------------

CROP_UNITS = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}  # Table 6-1, per chroma_format_idc


@st.composite
def sps_fields(draw: st.DrawFn) -> tuple[SpsFields, int, int]:
    """Fields as an encoder sets them for a display size, and that size."""
    chroma = draw(st.integers(0, 3))
    frame_mbs_only = draw(st.booleans())
    unit_x, unit_y = CROP_UNITS[chroma]
    unit_y *= 1 if frame_mbs_only else 2
    width = draw(st.integers(1, 1055 * 16 // unit_x)) * unit_x
    height = draw(st.integers(1, (1055 if frame_mbs_only else 1054) * 16 // unit_y)) * unit_y
    width_mbs = -(-width // 16)
    height_map_units = -(-height // (16 if frame_mbs_only else 32))
    spare_x = (width_mbs * 16 - width) // unit_x
    spare_y = (height_map_units * (16 if frame_mbs_only else 32) - height) // unit_y
    left, top = draw(st.integers(0, spare_x)), draw(st.integers(0, spare_y))
    crop = (left, spare_x - left, top, spare_y - top)
    lists = 12 if chroma == 3 else 8
    scaling = draw(
        st.none()
        | st.lists(
            st.none()
            | st.builds(
                scaling_list_deltas,
                st.binary(min_size=64, max_size=64).map(lambda raw: [byte or 1 for byte in raw]),
                st.none() | st.integers(0, 63),
            ),
            min_size=lists,
            max_size=lists,
        )
    )
    if scaling is not None:  # the first six lists are 4x4: 16 entries
        scaling = [None if deltas is None else deltas[:16] for deltas in scaling[:6]] + scaling[6:]
    fields = SpsFields(
        profile_idc=draw(st.sampled_from([100, 110, 122, 244])),
        constraint_flags=draw(st.integers(0, 255)),
        level_idc=draw(st.integers(0, 255)),
        sps_id=draw(st.integers(0, 31)),
        chroma_format_idc=chroma,
        bit_depth_luma=draw(st.integers(8, 14)),
        bit_depth_chroma=draw(st.integers(8, 14)),
        scaling_lists=scaling,
        poc_type=draw(st.integers(0, 2)),
        poc_cycle=draw(st.lists(st.integers(-(2**20), 2**20), max_size=8)),
        width_mbs=width_mbs,
        height_map_units=height_map_units,
        frame_mbs_only=frame_mbs_only,
        crop=crop if any(crop) or draw(st.booleans()) else None,
        aspect_ratio_idc=draw(st.none() | st.sampled_from([0, 1, 14, 255])),
        extended_sar=(draw(st.integers(1, 2**16 - 1)), draw(st.integers(1, 2**16 - 1))),
        overscan=draw(st.none() | st.booleans()),
        video_signal=draw(st.booleans()),
        colour_description=draw(st.none() | st.tuples(*[st.integers(0, 255)] * 3)),
        chroma_loc=draw(st.none() | st.tuples(st.integers(0, 5), st.integers(0, 5))),
        timing=draw(st.none() | st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.booleans())),
    )
    return fields, width, height


@FUZZ
@given(sps_fields())
def test_written_sps_parses_back(case: tuple[SpsFields, int, int]) -> None:
    fields, width, height = case
    sps = parse_sps(write_sps(fields))
    assert (sps.width, sps.height) == (width, height)
    assert (sps.profile_idc, sps.constraint_flags, sps.level_idc, sps.sps_id) == (
        fields.profile_idc,
        fields.constraint_flags,
        fields.level_idc,
        fields.sps_id,
    )
    assert (sps.chroma_format_idc, sps.bit_depth_luma, sps.bit_depth_chroma) == (
        fields.chroma_format_idc,
        fields.bit_depth_luma,
        fields.bit_depth_chroma,
    )
    assert sps.frame_mbs_only == fields.frame_mbs_only
    assert sps.timing == fields.timing
    if fields.aspect_ratio_idc == 255:
        assert sps.sar == fields.extended_sar
    else:
        assert sps.sar == {None: None, 0: None, 1: (1, 1), 14: (4, 3)}[fields.aspect_ratio_idc]


@FUZZ
@given(st.binary(max_size=300))
def test_escape_then_unescape_is_identity(rbsp: bytes) -> None:
    escaped = escape(rbsp)
    for start_code_like in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
        assert start_code_like not in escaped
    assert unescape_rbsp(escaped) == rbsp


def parse_all_or_refuse(data: bytes) -> None:
    """Every parser returns or raises BitstreamError on `data`: nothing else escapes."""
    assert len(unescape_rbsp(data)) <= len(data)
    with contextlib.suppress(BitstreamError):
        sps = parse_sps(data)
        assert 0 < sps.width <= 1055 * 16
        assert 0 < sps.height <= 1055 * 16
        assert sps.fps is None or 0 < sps.fps <= 1000
    with contextlib.suppress(BitstreamError):
        config = parse_avc_decoder_config(data)
        assert all(nal_type(unit) == NAL_SPS for unit in config.sps)
        assert all(nal_type(unit) == NAL_PPS for unit in config.pps)
    for size in (1, 2, 4):
        with contextlib.suppress(BitstreamError):
            assert sum(len(unit) for unit in iter_nal_units(data, size)) <= len(data)
    with contextlib.suppress(BitstreamError):
        assert 0 <= nal_type(data) < 32


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data: bytes) -> None:
    parse_all_or_refuse(data)
    parse_all_or_refuse(b"\x67" + data)


@FUZZ
@given(st.binary(min_size=3, max_size=120))
def test_arbitrary_sps_bodies_of_high_profile(data: bytes) -> None:
    parse_all_or_refuse(b"\x67\x64\x00\x28" + data)  # the branch with scaling matrices


REAL = [avcc_of(name) for name in sorted(PROBED)]
REAL_BLOBS = [unit for config in REAL for unit in config.sps] + [bodies(name, VIDEO)[0][5:] for name in sorted(PROBED)]


@FUZZ
@given(
    st.sampled_from(REAL_BLOBS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 7)), max_size=4),
    st.integers(0, 200),
)
def test_mutated_real_sps_and_avcc(blob: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    mutated = bytearray(blob)
    for position, bit in flips:
        mutated[position % len(mutated)] ^= 1 << bit
    parse_all_or_refuse(bytes(mutated))
    parse_all_or_refuse(blob[: cut % (len(blob) + 1)])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sps_fields(), st.integers(1, 40))
def test_truncated_written_sps_parses_or_refuses(case: tuple[SpsFields, int, int], keep: int) -> None:
    nal = write_sps(case[0])
    parse_all_or_refuse(nal[: max(1, len(nal) - keep)])
