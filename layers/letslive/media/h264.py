"""H.264 bitstream parsing: the AVC decoder configuration record, NAL units and the SPS.

The ingest learns a publisher's video from the bitstream (the avcC in the first video message
and the SPS inside it), not from RTMP `onMetaData`, which encoders fill in loosely or not at all.

Why this is hand-written: no small, maintained pure-Python SPS parser exists (the one on PyPI,
h26x-extractor, says itself that it is unmaintained and not robust to bad input, and depends on
`bitstring`); PyAV or ffprobe would mean a large binary dependency or a process per publish, on
bytes a stranger sent. This is the small subset the ingest needs (ITU-T H.264 7.3.2.1.1 and
E.1.1 up to the VUI timing info; ISO/IEC 14496-15 5.3.3.1), and it raises nothing but
`BitstreamError` on arbitrary bytes.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from letslive.errors import InvalidInput

NAL_IDR: Final = 5
NAL_SPS: Final = 7
NAL_PPS: Final = 8

# profile_idc values whose SPS carries chroma_format_idc, bit depths and scaling matrices (7.3.2.1.1).
_HIGH_PROFILES: Final = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
# Table E-1: sample aspect ratios by aspect_ratio_idc; 255 is Extended_SAR (explicit width:height).
_SAR_PRESETS: Final[dict[int, tuple[int, int]]] = {
    1: (1, 1),
    2: (12, 11),
    3: (10, 11),
    4: (16, 11),
    5: (40, 33),
    6: (24, 11),
    7: (20, 11),
    8: (32, 11),
    9: (80, 33),
    10: (18, 11),
    11: (15, 11),
    12: (64, 33),
    13: (160, 99),
    14: (4, 3),
    15: (3, 2),
    16: (2, 1),
}
_EXTENDED_SAR: Final = 255
# (SubWidthC, SubHeightC) by chroma_format_idc (Table 6-1): the crop unit of 4:2:0, 4:2:2, 4:4:4.
_CHROMA_SUBSAMPLING: Final[dict[int, tuple[int, int]]] = {1: (2, 2), 2: (2, 1), 3: (1, 1)}
# A.3.1: PicWidthInMbs and FrameHeightInMbs are at most sqrt(8 * MaxFS); level 6.2's MaxFS is 139264.
_MAX_MBS: Final = 1055
_MAX_FPS: Final = 1000.0


class BitstreamError(InvalidInput):
    """Media bytes that are not what they claim to be: truncated, or a field out of its range."""

    code = "malformed-bitstream"


class BitReader:
    """MSB-first bit reader over RBSP bytes, with the exp-Golomb codes of H.264 9.1.

    Every read past the end raises `BitstreamError`, so parsers built on it need no bounds checks.
    """

    __slots__ = ("_data", "_end", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._pos = 0
        self._end = len(self._data) * 8

    @property
    def bits_left(self) -> int:
        return self._end - self._pos

    def u(self, bits: int) -> int:
        """The next `bits` bits as an unsigned integer (u(n) in the specs)."""
        if bits > self._end - self._pos:
            raise BitstreamError(f"needs {bits} more bits at bit {self._pos}, has {self._end - self._pos}")
        first, stop = self._pos >> 3, (self._pos + bits + 7) >> 3
        chunk = int.from_bytes(self._data[first:stop], "big")
        self._pos += bits
        return (chunk >> (stop * 8 - self._pos)) & ((1 << bits) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def ue(self) -> int:
        """ue(v): unsigned exp-Golomb. Codes past 32 bits cannot be a valid field, so they are refused."""
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise BitstreamError("exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """se(v): signed exp-Golomb (1, -1, 2, -2, ... for codes 1, 2, 3, 4, ...)."""
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


@dataclass(frozen=True, slots=True)
class Sps:
    """What the ingest needs from a sequence parameter set.

    `width`/`height` are the displayed size, after frame cropping. `sar` is the VUI sample aspect
    ratio (None when absent or unspecified); `timing` is (num_units_in_tick, time_scale,
    fixed_frame_rate_flag) from the VUI, None when the encoder did not write it.
    """

    profile_idc: int
    constraint_flags: int
    level_idc: int
    sps_id: int
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    width: int
    height: int
    frame_mbs_only: bool
    sar: tuple[int, int] | None
    timing: tuple[int, int, bool] | None

    @property
    def fps(self) -> float | None:
        """Frames per second from the VUI timing (a frame is two ticks), None when unknown or absurd."""
        if self.timing is None:
            return None
        num_units_in_tick, time_scale, _ = self.timing
        if num_units_in_tick <= 0 or time_scale <= 0:
            return None
        fps = round(time_scale / (2 * num_units_in_tick), 3)
        return fps if 0 < fps <= _MAX_FPS else None


@dataclass(frozen=True, slots=True)
class AvcDecoderConfig:
    """An AVCDecoderConfigurationRecord (avcC): what an FLV/RTMP AVC sequence header carries.

    `sps`/`pps` are whole NAL units (header byte included, emulation prevention kept).
    """

    profile_idc: int
    profile_compatibility: int
    level_idc: int
    nal_length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]


def unescape_rbsp(nal: bytes) -> bytes:
    """`nal` without its emulation-prevention bytes (the 0x03 of every 0x000003, 7.4.1)."""
    data = bytes(nal)
    out = bytearray()
    start = 0
    while (found := data.find(b"\x00\x00\x03", start)) >= 0:
        out += data[start : found + 2]
        start = found + 3
    out += data[start:]
    return bytes(out)


def nal_type(nal: bytes) -> int:
    """nal_unit_type: the low 5 bits of the NAL header byte."""
    if not nal:
        raise BitstreamError("empty NAL unit")
    return nal[0] & 0x1F


def iter_nal_units(sample: bytes, nal_length_size: int) -> Iterator[bytes]:
    """The NAL units of one AVCC sample: each prefixed by a big-endian length of `nal_length_size` bytes.

    Zero-length units (padding some muxers write) are skipped. The error for a length that runs
    past the end comes when iteration reaches it.
    """
    if not 1 <= nal_length_size <= 4:
        raise BitstreamError(f"NAL length size {nal_length_size}, not 1 to 4")
    data = bytes(sample)
    position = 0
    while position < len(data):
        if position + nal_length_size > len(data):
            raise BitstreamError(f"NAL length field cut short at byte {position}")
        length = int.from_bytes(data[position : position + nal_length_size], "big")
        position += nal_length_size
        if length > len(data) - position:
            raise BitstreamError(f"NAL unit of {length} bytes at byte {position}, {len(data) - position} left")
        if length:
            yield data[position : position + length]
        position += length


def parse_avc_decoder_config(record: bytes) -> AvcDecoderConfig:
    """Parse an avcC (ISO/IEC 14496-15 5.3.3.1); the high-profile extension after the PPS is ignored."""
    data = bytes(record)
    if len(data) < 7:
        raise BitstreamError(f"avcC of {len(data)} bytes, needs at least 7")
    if data[0] != 1:
        raise BitstreamError(f"avcC configurationVersion {data[0]}, not 1")
    # lengthSizeMinusOne is 0, 1 or 3 by the spec; FFmpeg takes 2 too, and so does the ingest.
    nal_length_size = (data[4] & 0x03) + 1
    sps, position = _parameter_sets(data, 6, data[5] & 0x1F, NAL_SPS)
    if position >= len(data):
        raise BitstreamError("avcC ends before numOfPictureParameterSets")
    pps, _ = _parameter_sets(data, position + 1, data[position], NAL_PPS)
    return AvcDecoderConfig(data[1], data[2], data[3], nal_length_size, sps, pps)


def _parameter_sets(data: bytes, position: int, count: int, expected_type: int) -> tuple[tuple[bytes, ...], int]:
    """`count` 16-bit-length-prefixed NAL units of `expected_type` from `position`; and where they end."""
    units = []
    for _ in range(count):
        if position + 2 > len(data):
            raise BitstreamError("avcC parameter set length cut short")
        length = int.from_bytes(data[position : position + 2], "big")
        unit = data[position + 2 : position + 2 + length]
        if len(unit) != length or not length:
            raise BitstreamError(f"avcC parameter set of {length} bytes, {len(unit)} present")
        if nal_type(unit) != expected_type:
            raise BitstreamError(f"avcC holds a NAL unit of type {nal_type(unit)} where {expected_type} belongs")
        units.append(unit)
        position += 2 + length
    return tuple(units), position


def parse_sps(nal: bytes) -> Sps:
    """Parse one SPS NAL unit (header byte first, emulation prevention still in) up to its VUI timing."""
    if not nal or nal[0] & 0x80 or nal_type(nal) != NAL_SPS:
        raise BitstreamError("not a sequence parameter set NAL unit")
    r = BitReader(unescape_rbsp(nal[1:]))
    profile_idc, constraint_flags, level_idc = r.u(8), r.u(8), r.u(8)
    sps_id = _ue_at_most(r, 31, "seq_parameter_set_id")
    chroma_format_idc, separate_colour_plane, bit_depth_luma, bit_depth_chroma = 1, False, 8, 8
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = _ue_at_most(r, 3, "chroma_format_idc")
        if chroma_format_idc == 3:
            separate_colour_plane = r.flag()
        bit_depth_luma = 8 + _ue_at_most(r, 6, "bit_depth_luma_minus8")
        bit_depth_chroma = 8 + _ue_at_most(r, 6, "bit_depth_chroma_minus8")
        r.u(1)  # qpprime_y_zero_transform_bypass_flag
        if r.flag():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format_idc != 3 else 12):
                if r.flag():  # seq_scaling_list_present_flag[index]
                    _skip_scaling_list(r, 16 if index < 6 else 64)
    _ue_at_most(r, 12, "log2_max_frame_num_minus4")
    pic_order_cnt_type = _ue_at_most(r, 2, "pic_order_cnt_type")
    if pic_order_cnt_type == 0:
        _ue_at_most(r, 12, "log2_max_pic_order_cnt_lsb_minus4")
    elif pic_order_cnt_type == 1:
        r.u(1)  # delta_pic_order_always_zero_flag
        r.se()  # offset_for_non_ref_pic
        r.se()  # offset_for_top_to_bottom_field
        for _ in range(_ue_at_most(r, 255, "num_ref_frames_in_pic_order_cnt_cycle")):
            r.se()  # offset_for_ref_frame[i]
    _ue_at_most(r, 16, "max_num_ref_frames")
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_in_mbs = _ue_at_most(r, _MAX_MBS - 1, "pic_width_in_mbs_minus1") + 1
    height_in_map_units = _ue_at_most(r, _MAX_MBS - 1, "pic_height_in_map_units_minus1") + 1
    frame_mbs_only = r.flag()
    if not frame_mbs_only:
        r.u(1)  # mb_adaptive_frame_field_flag
    r.u(1)  # direct_8x8_inference_flag
    left = right = top = bottom = 0
    if r.flag():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
    # Crop offsets count in chroma samples (7.4.2.1.1), and in field rows when fields are coded.
    field_factor = 1 if frame_mbs_only else 2
    if separate_colour_plane or chroma_format_idc == 0:
        crop_unit_x, crop_unit_y = 1, field_factor
    else:
        sub_width, sub_height = _CHROMA_SUBSAMPLING[chroma_format_idc]
        crop_unit_x, crop_unit_y = sub_width, sub_height * field_factor
    width = width_in_mbs * 16 - crop_unit_x * (left + right)
    height = field_factor * height_in_map_units * 16 - crop_unit_y * (top + bottom)
    if field_factor * height_in_map_units > _MAX_MBS or width <= 0 or height <= 0:
        raise BitstreamError(f"SPS picture size {width}x{height} is impossible")
    sar, timing = _parse_vui(r) if r.flag() else (None, None)  # vui_parameters_present_flag
    return Sps(
        profile_idc=profile_idc,
        constraint_flags=constraint_flags,
        level_idc=level_idc,
        sps_id=sps_id,
        chroma_format_idc=chroma_format_idc,
        bit_depth_luma=bit_depth_luma,
        bit_depth_chroma=bit_depth_chroma,
        width=width,
        height=height,
        frame_mbs_only=frame_mbs_only,
        sar=sar,
        timing=timing,
    )


def _ue_at_most(r: BitReader, maximum: int, name: str) -> int:
    value = r.ue()
    if value > maximum:
        raise BitstreamError(f"SPS {name} is {value}, at most {maximum}")
    return value


def _skip_scaling_list(r: BitReader, size: int) -> None:
    """Read past a scaling_list() (7.3.2.1.1.1): `size` delta-coded scales, or fewer when one is 0.

    A scale of 0 means the rest of the list repeats the last one (or, first, the default list),
    so nothing more is coded; the values themselves do not matter to the ingest.
    """
    scale = 8
    for _ in range(size):
        delta_scale = r.se()
        if not -128 <= delta_scale <= 127:
            raise BitstreamError(f"SPS delta_scale {delta_scale} out of range")
        scale = (scale + delta_scale + 256) % 256
        if scale == 0:
            return


def _parse_vui(r: BitReader) -> tuple[tuple[int, int] | None, tuple[int, int, bool] | None]:
    """(sar, timing) from vui_parameters() (E.1.1), reading no further than the timing info.

    A VUI cut short or out of range keeps what was read whole before it, as FFmpeg does: some
    encoders write broken VUI, and the pictures still decode, so the stream is not refused.
    """
    sar: tuple[int, int] | None = None
    try:
        if r.flag():  # aspect_ratio_info_present_flag
            aspect_ratio_idc = r.u(8)
            if aspect_ratio_idc == _EXTENDED_SAR:
                sar_width, sar_height = r.u(16), r.u(16)
                sar = (sar_width, sar_height) if sar_width and sar_height else None
            else:
                sar = _SAR_PRESETS.get(aspect_ratio_idc)
        if r.flag():  # overscan_info_present_flag
            r.u(1)  # overscan_appropriate_flag
        if r.flag():  # video_signal_type_present_flag
            r.u(4)  # video_format, video_full_range_flag
            if r.flag():  # colour_description_present_flag
                r.u(24)  # colour_primaries, transfer_characteristics, matrix_coefficients
        if r.flag():  # chroma_loc_info_present_flag
            _ue_at_most(r, 5, "chroma_sample_loc_type_top_field")
            _ue_at_most(r, 5, "chroma_sample_loc_type_bottom_field")
        if r.flag():  # timing_info_present_flag
            num_units_in_tick, time_scale = r.u(32), r.u(32)
            return sar, (num_units_in_tick, time_scale, r.flag())
    except BitstreamError:
        pass
    return sar, None
