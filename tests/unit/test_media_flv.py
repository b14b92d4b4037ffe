"""FLV/RTMP message bodies: real tags from FFmpeg/GStreamer FLV output, and Enhanced RTMP built by hand.

The fixtures (tests/fixtures/media, README there) are what the encoders wrote; the expected
values are ffprobe's for the same files. FFmpeg 5.1 on this machine cannot write Enhanced RTMP
(enhanced FLV), so those tags are built here byte by byte from the veovera spec (v1 and v2).
"""

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letslive.media.aac import parse_audio_specific_config
from letslive.media.flv import AudioTag, VideoTag, parse_audio_tag, parse_video_tag
from letslive.media.h264 import BitstreamError, parse_avc_decoder_config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "media"
VIDEO, AUDIO = 9, 8
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def flv_tags(name: str) -> list[tuple[int, int, bytes]]:
    """(tag type, timestamp ms, body) of every tag of a fixture file, checking the framing."""
    data = (FIXTURES / name).read_bytes()
    assert data[:3] == b"FLV"
    position = int.from_bytes(data[5:9], "big") + 4  # header, then PreviousTagSize0
    tags = []
    while position < len(data):
        size = int.from_bytes(data[position + 1 : position + 4], "big")
        timestamp = int.from_bytes(data[position + 4 : position + 7], "big") | data[position + 7] << 24
        tags.append((data[position], timestamp, data[position + 11 : position + 11 + size]))
        assert int.from_bytes(data[position + 11 + size : position + 15 + size], "big") == 11 + size
        position += 15 + size
    return tags


def bodies(name: str, tag_type: int) -> list[bytes]:
    return [body for kind, _, body in flv_tags(name) if kind == tag_type]


FIXTURE_FILES = sorted(path.name for path in FIXTURES.glob("*.flv"))

# --- real tags -------------------------------------------------------------------------------

# ffprobe's codec_name per file, as this parser names the FLV codec (flv1 is Sorenson H.263,
# flashsv/flashsv2 are screen video 1/2; ffprobe says nellymoser/pcm_mulaw, the FLV header says which).
FFPROBE_CODECS: dict[str, tuple[str, str | None]] = {
    "h264_baseline_640x360.flv": ("h264", "aac"),
    "h264_main_1280x720.flv": ("h264", "mp3"),
    "h264_high_1920x1080.flv": ("h264", "aac"),
    "h264_high10_854x480.flv": ("h264", "speex"),
    "h264_high422_720x576.flv": ("h264", "pcm_s16le"),
    "h264_high444_426x240.flv": ("h264", None),
    "h264_interlaced_1440x1080.flv": ("h264", "aac"),
    "openh264_426x240.flv": ("h264", None),
    "sorenson_adpcm.flv": ("flv1", "adpcm_swf"),
    "screen_nellymoser.flv": ("flashsv", "nellymoser"),
    "screen2_mulaw.flv": ("flashsv2", "pcm_mulaw"),
}
OUR_VIDEO = {"h264": "h264", "flv1": "sorenson-h263", "flashsv": "screen", "flashsv2": "screen2"}
# (codec, sound_rate_hz, sound_size_bits, stereo) of the legacy header, as FFmpeg's muxer wrote it:
# AAC always says 44 kHz stereo, Speex 11 kHz (its rate is fixed at 16 kHz), G.711 and
# Nellymoser 16k the reserved rate 0.
LEGACY_AUDIO: dict[str, tuple[str, int, int, bool]] = {
    "h264_baseline_640x360.flv": ("aac", 44100, 16, True),
    "h264_main_1280x720.flv": ("mp3", 44100, 16, True),
    "h264_high_1920x1080.flv": ("aac", 44100, 16, True),
    "h264_high10_854x480.flv": ("speex", 11025, 16, False),
    "h264_high422_720x576.flv": ("pcm-le", 11025, 16, False),
    "h264_interlaced_1440x1080.flv": ("aac", 44100, 16, True),
    "sorenson_adpcm.flv": ("adpcm", 22050, 16, False),
    "screen_nellymoser.flv": ("nellymoser-16k", 5512, 16, False),
    "screen2_mulaw.flv": ("g711u", 5512, 16, False),
}


def test_every_fixture_is_covered() -> None:
    assert sorted(FFPROBE_CODECS) == FIXTURE_FILES


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_real_video_tags(name: str) -> None:
    tags = [parse_video_tag(body) for body in bodies(name, VIDEO)]
    expected_codec = OUR_VIDEO[FFPROBE_CODECS[name][0]]
    assert {tag.codec for tag in tags} == {expected_codec}
    assert not any(tag.enhanced or tag.fourcc for tag in tags)
    if expected_codec == "h264":
        # FFmpeg's and GStreamer's FLV muxers: the avcC first, frames, then an end of sequence.
        first, last = tags[0], tags[-1]
        assert (first.packet_type, first.frame_type, first.composition_time_ms) == ("sequence-start", 1, 0)
        assert parse_avc_decoder_config(first.data).nal_length_size == 4
        assert (last.packet_type, last.data) == ("sequence-end", b"")
        frames = tags[1:-1]
        assert {tag.packet_type for tag in frames} == {"coded-frames"}
    else:
        frames = tags
        assert {tag.packet_type for tag in frames} == {"coded-frames"}
    assert frames[0].is_keyframe
    assert {tag.frame_type for tag in frames[1:]} == {2}
    assert not any(tag.is_keyframe for tag in frames[1:])


def test_composition_times_are_ffprobes_pts_minus_dts() -> None:
    # ffprobe -show_packets -select_streams v -show_entries packet=pts,dts h264_high_1920x1080.flv
    pts = [67, 200, 134, 100, 167, 334, 267, 234, 300, 467, 400, 367, 434, 534, 500]
    dts = [0, 34, 67, 100, 134, 167, 200, 234, 267, 300, 334, 367, 400, 434, 467]
    tags = [
        (timestamp, parse_video_tag(body))
        for kind, timestamp, body in flv_tags("h264_high_1920x1080.flv")
        if kind == VIDEO
    ]
    frames = [(timestamp, tag) for timestamp, tag in tags if tag.packet_type == "coded-frames"]
    assert [timestamp for timestamp, _ in frames] == dts
    assert [tag.composition_time_ms for _, tag in frames] == [p - d for p, d in zip(pts, dts, strict=True)]


@pytest.mark.parametrize("name", sorted(LEGACY_AUDIO))
def test_real_audio_tags(name: str) -> None:
    tags = [parse_audio_tag(body) for body in bodies(name, AUDIO)]
    assert {(tag.codec, tag.sound_rate_hz, tag.sound_size_bits, tag.stereo) for tag in tags} == {LEGACY_AUDIO[name]}
    assert not any(tag.enhanced or tag.fourcc for tag in tags)
    if LEGACY_AUDIO[name][0] == "aac":
        assert (tags[0].aac_packet_type, tags[0].packet_type) == (0, "sequence-start")
        parse_audio_specific_config(tags[0].data)
        assert {(tag.aac_packet_type, tag.packet_type) for tag in tags[1:]} == {(1, "coded-frames")}
    else:
        assert {(tag.aac_packet_type, tag.packet_type) for tag in tags} == {(None, "coded-frames")}


def test_real_tag_payload_is_the_body_after_the_headers() -> None:
    raw = bodies("h264_high_1920x1080.flv", AUDIO)[0]
    assert raw.hex() == "af00119056e500"
    assert parse_audio_tag(raw).data == bytes.fromhex("119056e500")
    video = bodies("h264_baseline_640x360.flv", VIDEO)
    assert parse_video_tag(video[0]).data == video[0][5:]
    assert parse_video_tag(video[1]).data == video[1][5:]
    sorenson = bodies("sorenson_adpcm.flv", VIDEO)[0]
    assert parse_video_tag(sorenson).data == sorenson[1:]
    mp3 = bodies("h264_main_1280x720.flv", AUDIO)[0]
    assert parse_audio_tag(mp3).data[:2] == b"\xff\xfb"  # an MPEG audio frame sync


# --- legacy tags built by hand -------------------------------------------------------------------


def test_legacy_avc_composition_time_is_signed() -> None:
    tag = parse_video_tag(bytes([0x27, 0x01, 0xFF, 0xFF, 0xFE]) + b"\x00\x00\x00\x01\x41")
    assert (tag.codec, tag.frame_type, tag.packet_type, tag.composition_time_ms) == ("h264", 2, "coded-frames", -2)
    assert tag.data == b"\x00\x00\x00\x01\x41"
    assert parse_video_tag(bytes([0x27, 0x01, 0x7F, 0xFF, 0xFF])).composition_time_ms == 0x7FFFFF
    assert parse_video_tag(bytes([0x27, 0x01, 0x80, 0x00, 0x00])).composition_time_ms == -0x800000


def test_legacy_hevc_id_12_has_the_avc_layout() -> None:
    hvcc = bytes([1, 1, 0x60, 0, 0, 0])
    tag = parse_video_tag(bytes([0x1C, 0x00, 0, 0, 0]) + hvcc)
    assert (tag.codec, tag.packet_type, tag.data, tag.enhanced) == ("hevc", "sequence-start", hvcc, False)
    assert parse_video_tag(bytes([0x2C, 0x01, 0, 0, 40])).composition_time_ms == 40


@pytest.mark.parametrize(
    ("first_byte", "codec", "frame_type"),
    [
        (0x34, "vp6", 3),  # a disposable inter frame
        (0x15, "vp6a", 1),
        (0x48, "unknown:8", 4),  # a generated key frame of a reserved codec id
        (0x10, "unknown:0", 1),
    ],
)
def test_legacy_codec_ids(first_byte: int, codec: str, frame_type: int) -> None:
    tag = parse_video_tag(bytes([first_byte, 0x21, 0xAB]))
    assert (tag.codec, tag.frame_type, tag.packet_type, tag.data) == (codec, frame_type, "coded-frames", b"\x21\xab")
    assert tag.is_keyframe == (frame_type in (1, 4))


def test_legacy_command_frame_is_not_video() -> None:
    tag = parse_video_tag(bytes([0x57, 0x00]))  # frame type 5: start of client-side seeking
    assert (tag.codec, tag.frame_type, tag.packet_type, tag.data) == ("h264", 5, "other", b"\x00")
    assert not tag.is_keyframe


def test_legacy_avc_packet_types() -> None:
    assert parse_video_tag(bytes([0x17, 0x02, 0, 0, 0])).packet_type == "sequence-end"
    assert parse_video_tag(bytes([0x17, 0x09, 0, 0, 0])).packet_type == "other"


@pytest.mark.parametrize(
    ("first_byte", "expected"),
    [
        (0x00, ("pcm", 5512, 8, False)),
        (0x0F, ("pcm", 44100, 16, True)),
        (0x7C, ("g711a", 44100, 8, False)),
        (0x5A, ("nellymoser-8k", 22050, 16, False)),
        (0x6E, ("nellymoser", 44100, 16, False)),
        (0xE6, ("mp3-8k", 11025, 16, False)),
        (0xF2, ("device-specific", 5512, 16, False)),
        (0xC2, ("unknown:12", 5512, 16, False)),
        (0xD3, ("unknown:13", 5512, 16, True)),
    ],
)
def test_legacy_audio_header_fields(first_byte: int, expected: tuple[str, int, int, bool]) -> None:
    tag = parse_audio_tag(bytes([first_byte, 0x55]))
    assert (tag.codec, tag.sound_rate_hz, tag.sound_size_bits, tag.stereo) == expected
    assert (tag.aac_packet_type, tag.data, tag.enhanced, tag.packet_type) == (None, b"\x55", False, "coded-frames")


def test_legacy_aac_other_packet_type() -> None:
    tag = parse_audio_tag(bytes([0xAF, 0x02]))
    assert (tag.aac_packet_type, tag.packet_type, tag.data) == (2, "other", b"")


@pytest.mark.parametrize(
    "payload", [b"", b"\x17", b"\x17\x01\x00\x00", b"\x1c\x00\x00", b"\x90hvc", b"\x91hvc1\x00\x00"]
)
def test_short_video_messages_are_refused(payload: bytes) -> None:
    with pytest.raises(BitstreamError):
        parse_video_tag(payload)


@pytest.mark.parametrize("payload", [b"", b"\xaf", b"\x90Opu", b"\x95\x00Op", b"\x97", b"\x97\x02\x00\x00\x00"])
def test_short_audio_messages_are_refused(payload: bytes) -> None:
    with pytest.raises(BitstreamError):
        parse_audio_tag(payload)


# --- Enhanced RTMP video (v1, v2) ------------------------------------------------------------


def ex_video(frame_type: int, packet_type: int, fourcc: bytes = b"", rest: bytes = b"") -> bytes:
    """[IsExHeader=1 | frame type (3 bits) | packet type (4 bits)] FourCC rest."""
    return bytes([0x80 | frame_type << 4 | packet_type]) + fourcc + rest


HVCC = bytes([1, 1, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5D, 0xF0, 0, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0, 0x0F, 0])


def test_enhanced_sequence_start_carries_the_record() -> None:
    tag = parse_video_tag(ex_video(1, 0, b"hvc1", HVCC))
    assert tag == VideoTag("hevc", 1, "sequence-start", 0, HVCC, enhanced=True, fourcc="hvc1")
    avcc = parse_video_tag(bodies("h264_high_1920x1080.flv", VIDEO)[0]).data
    tag = parse_video_tag(ex_video(1, 0, b"avc1", avcc))
    assert (tag.codec, tag.fourcc) == ("h264", "avc1")
    assert parse_avc_decoder_config(tag.data).profile_idc == 100


def test_enhanced_coded_frames_have_a_composition_time_for_avc_and_hevc_only() -> None:
    nalus = b"\x00\x00\x00\x02\x26\x01"
    tag = parse_video_tag(ex_video(2, 1, b"hvc1", b"\xff\xff\xdf" + nalus))
    assert (tag.codec, tag.frame_type, tag.packet_type, tag.composition_time_ms) == ("hevc", 2, "coded-frames", -33)
    assert tag.data == nalus
    assert parse_video_tag(ex_video(1, 1, b"avc1", b"\x00\x00\x42" + nalus)).composition_time_ms == 66
    vvc = parse_video_tag(ex_video(1, 1, b"vvc1", b"\x00\x00\x10" + nalus))
    assert (vvc.codec, vvc.composition_time_ms, vvc.data) == ("unknown:vvc1", 16, nalus)
    # AV1 and VP9 frames have no composition time: the body starts right after the FourCC.
    av1 = parse_video_tag(ex_video(1, 1, b"av01", b"\x12\x00\x0a"))
    assert (av1.codec, av1.composition_time_ms, av1.data, av1.is_keyframe) == ("av1", 0, b"\x12\x00\x0a", True)
    vp9 = parse_video_tag(ex_video(2, 1, b"vp09", b"\x86"))
    assert (vp9.codec, vp9.frame_type, vp9.data) == ("vp9", 2, b"\x86")


def test_enhanced_coded_frames_x_imply_a_zero_composition_time() -> None:
    tag = parse_video_tag(ex_video(1, 3, b"hvc1", b"\x00\x00\x00\x02\x26\x01"))
    assert (tag.packet_type, tag.composition_time_ms, tag.data) == ("coded-frames", 0, b"\x00\x00\x00\x02\x26\x01")


@pytest.mark.parametrize(
    ("packet_type", "fourcc", "expected_kind", "codec"),
    [
        (2, b"av01", "sequence-end", "av1"),
        (4, b"hvc1", "metadata", "hevc"),
        (5, b"av01", "mpeg2ts-sequence-start", "av1"),
        (8, b"hvc1", "other", "hevc"),
        (15, b"vp08", "other", "unknown:vp08"),
    ],
)
def test_enhanced_other_packet_types(packet_type: int, fourcc: bytes, expected_kind: str, codec: str) -> None:
    tag = parse_video_tag(ex_video(1, packet_type, fourcc, b"\x02\x00\x0acolorInfo"))
    assert (tag.packet_type, tag.codec, tag.fourcc, tag.data) == (
        expected_kind,
        codec,
        fourcc.decode(),
        b"\x02\x00\x0acolorInfo",
    )


def test_enhanced_metadata_ignores_the_command_frame_type() -> None:
    tag = parse_video_tag(ex_video(5, 4, b"hvc1", b"\x02"))
    assert (tag.packet_type, tag.codec, tag.frame_type) == ("metadata", "hevc", 5)


def test_enhanced_command_frame_has_no_fourcc() -> None:
    tag = parse_video_tag(ex_video(5, 1, rest=b"\x01"))  # VideoCommand.EndSeek
    assert tag == VideoTag("unknown:command", 5, "other", 0, b"\x01", enhanced=True, fourcc=None)


def test_enhanced_multitrack() -> None:
    one_track = ex_video(1, 6, rest=bytes([0 << 4 | 3]) + b"avc1" + b"\x00" + b"\x00\x00\x00\x01\x65")
    tag = parse_video_tag(one_track)
    assert (tag.packet_type, tag.codec, tag.fourcc, tag.data) == (
        "multitrack",
        "h264",
        "avc1",
        b"\x00\x00\x00\x00\x01e",
    )
    many_codecs = ex_video(1, 6, rest=bytes([2 << 4 | 1]) + b"\x00hvc1")
    tag = parse_video_tag(many_codecs)
    assert (tag.packet_type, tag.codec, tag.fourcc, tag.data) == ("multitrack", "unknown:multitrack", None, b"\x00hvc1")


def test_enhanced_mod_ex_is_stepped_over() -> None:
    # ModEx: UI8 size-1 = 2 (3 bytes of TimestampOffsetNano), then [ModExType 0 | CodedFrames].
    short = ex_video(2, 7, rest=b"\x02\x01\x86\xa0" + bytes([0x01]) + b"hvc1" + b"\x00\x00\x21" + b"data")
    tag = parse_video_tag(short)
    assert (tag.codec, tag.packet_type, tag.composition_time_ms, tag.data) == ("hevc", "coded-frames", 33, b"data")
    # A UI8 of 255 means the size is in the next UI16 (here 299 + 1 bytes); ModEx can repeat.
    long = ex_video(1, 7, rest=b"\xff\x01\x2b" + bytes(300) + bytes([0x07]) + b"\x00\xaa" + bytes([0x00]) + b"av01")
    tag = parse_video_tag(long + b"cfg")
    assert (tag.codec, tag.packet_type, tag.data) == ("av1", "sequence-start", b"cfg")
    with pytest.raises(BitstreamError):
        parse_video_tag(long[:-6])


# --- Enhanced RTMP audio (v2) ----------------------------------------------------------------


def ex_audio(packet_type: int, fourcc: bytes = b"", rest: bytes = b"") -> bytes:
    """[SoundFormat 9 (ExHeader) | packet type] FourCC rest."""
    return bytes([0x90 | packet_type]) + fourcc + rest


OPUS_HEAD = b"OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("fourcc", "codec"),
    [
        (b"Opus", "opus"),
        (b"fLaC", "flac"),
        (b"ac-3", "ac3"),
        (b"ec-3", "eac3"),
        (b".mp3", "mp3"),
        (b"mha1", "unknown:mha1"),
    ],
)
def test_enhanced_audio_codecs(fourcc: bytes, codec: str) -> None:
    start = parse_audio_tag(ex_audio(0, fourcc, OPUS_HEAD))
    assert start == AudioTag(codec, 0, 0, False, None, OPUS_HEAD, True, "sequence-start", fourcc.decode())
    frames = parse_audio_tag(ex_audio(1, fourcc, b"\xfc\xff"))
    assert (frames.packet_type, frames.data, frames.aac_packet_type) == ("coded-frames", b"\xfc\xff", None)


def test_enhanced_mp4a_is_aac_with_the_legacy_packet_numbers() -> None:
    asc = bodies("h264_high_1920x1080.flv", AUDIO)[0][2:]
    start = parse_audio_tag(ex_audio(0, b"mp4a", asc))
    assert (start.codec, start.aac_packet_type, start.packet_type, start.enhanced) == ("aac", 0, "sequence-start", True)
    assert parse_audio_specific_config(start.data).sample_rate == 48000
    frames = parse_audio_tag(ex_audio(1, b"mp4a", b"\x21\x10"))
    assert (frames.aac_packet_type, frames.data) == (1, b"\x21\x10")
    end = parse_audio_tag(ex_audio(2, b"mp4a"))
    assert (end.aac_packet_type, end.packet_type, end.data) == (None, "sequence-end", b"")


def test_enhanced_audio_multichannel_config_and_multitrack() -> None:
    config = parse_audio_tag(ex_audio(4, b"Opus", b"\x01\x06\x00\x00\x00\x3f"))
    assert (config.packet_type, config.codec, config.data) == (
        "multichannel-config",
        "opus",
        b"\x01\x06\x00\x00\x00\x3f",
    )
    one_codec = parse_audio_tag(ex_audio(5, rest=bytes([1 << 4 | 1]) + b"Opus" + b"\x00\x00\x00\x02\xfc\xff"))
    assert (one_codec.packet_type, one_codec.codec, one_codec.fourcc) == ("multitrack", "opus", "Opus")
    assert one_codec.data == b"\x00\x00\x00\x02\xfc\xff"
    many = parse_audio_tag(ex_audio(5, rest=bytes([2 << 4 | 0]) + b"\x00mp4a"))
    assert (many.packet_type, many.codec, many.fourcc, many.data) == (
        "multitrack",
        "unknown:multitrack",
        None,
        b"\x00mp4a",
    )
    reserved = parse_audio_tag(ex_audio(3, b"Opus"))
    assert reserved.packet_type == "other"


def test_enhanced_audio_mod_ex() -> None:
    tag = parse_audio_tag(ex_audio(7, rest=b"\x02\x00\x03\xe8" + bytes([0x01]) + b"Opus" + b"\xfc"))
    assert (tag.codec, tag.packet_type, tag.data) == ("opus", "coded-frames", b"\xfc")


# --- properties ------------------------------------------------------------------------------


def parse_or_refuse(payload: bytes) -> None:
    """Any body parses, or raises BitstreamError; nothing else escapes, and `data` is the body's tail."""
    with contextlib.suppress(BitstreamError):
        video = parse_video_tag(payload)
        assert payload.endswith(video.data)
        assert len(video.data) < len(payload)
    with contextlib.suppress(BitstreamError):
        audio = parse_audio_tag(payload)
        assert payload.endswith(audio.data)
        assert len(audio.data) < len(payload)


@FUZZ
@given(st.binary(max_size=64))
def test_arbitrary_bytes_parse_or_raise_bitstream_error(payload: bytes) -> None:
    parse_or_refuse(payload)


@FUZZ
@given(st.sampled_from([0x80, 0x90]), st.integers(0, 15), st.binary(max_size=40))
def test_arbitrary_enhanced_headers_parse_or_raise_bitstream_error(flag: int, packet_type: int, rest: bytes) -> None:
    parse_or_refuse(bytes([flag | packet_type]) + rest)


REAL_BODIES = [body for name in FIXTURE_FILES for kind, _, body in flv_tags(name)[:6] if kind in (AUDIO, VIDEO)]


@FUZZ
@given(st.sampled_from(REAL_BODIES), st.integers(0, 10_000), st.integers(0, 7), st.integers(0, 200))
def test_mutated_real_tags_parse_or_raise_bitstream_error(body: bytes, flip_at: int, bit: int, cut: int) -> None:
    mutated = bytearray(body)
    mutated[flip_at % len(mutated)] ^= 1 << bit
    parse_or_refuse(bytes(mutated))
    parse_or_refuse(body[: cut % (len(body) + 1)])


@FUZZ
@given(
    frame_type=st.integers(1, 4),
    fourcc=st.sampled_from([b"avc1", b"hvc1", b"av01", b"vp09"]),
    packet_type=st.sampled_from([0, 1, 2, 3, 5]),
    composition_time=st.integers(-(2**23), 2**23 - 1),
    body=st.binary(max_size=32),
)
def test_enhanced_video_round_trip(
    frame_type: int, fourcc: bytes, packet_type: int, composition_time: int, body: bytes
) -> None:
    has_time = packet_type == 1 and fourcc in (b"avc1", b"hvc1")
    rest = (composition_time % 2**24).to_bytes(3, "big") + body if has_time else body
    tag = parse_video_tag(ex_video(frame_type, packet_type, fourcc, rest))
    assert tag.frame_type == frame_type
    assert tag.fourcc == fourcc.decode()
    assert tag.composition_time_ms == (composition_time if has_time else 0)
    assert tag.data == body
    assert tag.enhanced
