"""Ladder planning: which rungs a source gets, copied or encoded, never upscaled."""

import pytest

from letslive.errors import ConfigurationError, InvalidInput
from letslive.media.ffmpeg import EncoderTuning, build_transcode_args
from letslive.media.ladder import PRESETS, Ladder, PlannedRung, Rung
from letslive.media.planner import PlanLimits, decide
from letslive.media.playlists import master_playlist
from letslive.media.source import SourceInfo, avc1_codec_string, avc_codec_string_from_config, parse_hexdump


def source(
    width: int = 1920,
    height: int = 1080,
    fps: float = 30.0,
    codec: str = "h264",
    profile: str | None = "High",
    level: int | None = 41,
    audio: str | None = "aac",
    pix_fmt: str | None = "yuv420p",
) -> SourceInfo:
    return SourceInfo(width, height, fps, codec, audio, video_profile=profile, video_level=level, pix_fmt=pix_fmt)


def shape(planned: list[PlannedRung]) -> list[tuple[str, int, int, bool]]:
    return [(rung.name, rung.width, rung.height, rung.copy) for rung in planned]


def test_1080p_h264_source_is_copied_on_top_of_720p_and_360p() -> None:
    planned = Ladder().plan(source())

    assert shape(planned) == [("1080p", 1920, 1080, True), ("720p", 1280, 720, False), ("360p", 640, 360, False)]
    top = planned[0]
    assert top.codecs == "avc1.640029,mp4a.40.2"  # from the source's profile and level
    assert (top.fps, top.scale) == (30.0, False)


def test_720p_source_has_no_1080p_rung() -> None:
    planned = Ladder().plan(source(1280, 720, level=31))

    assert shape(planned) == [("720p", 1280, 720, True), ("360p", 640, 360, False)]


def test_4k_source_is_re_encoded_at_1080p() -> None:
    planned = Ladder().plan(source(3840, 2160, level=51))

    assert shape(planned) == [("1080p", 1920, 1080, False), ("720p", 1280, 720, False), ("360p", 640, 360, False)]
    assert planned[0].codecs == "avc1.640028,mp4a.40.2"  # High 4.0 fits 1080p30 at 6 Mbit/s


@pytest.mark.parametrize(
    ("codec", "profile", "pix_fmt"),
    [("hevc", "Main", "yuv420p"), ("h264", "High 10", "yuv420p10le"), ("h264", "High 4:4:4 Predictive", "yuv444p")],
)
def test_source_browsers_cannot_play_is_re_encoded(codec: str, profile: str, pix_fmt: str) -> None:
    planned = Ladder().plan(source(codec=codec, profile=profile, pix_fmt=pix_fmt))

    assert shape(planned) == [("1080p", 1920, 1080, False), ("720p", 1280, 720, False), ("360p", 640, 360, False)]
    assert not planned[0].scale  # same size as the source: no scale filter


def test_non_h264_source_between_rungs_is_re_encoded_at_its_own_size() -> None:
    # The re-encoded top rung stands in for the copy: the source's size, with the rates of the
    # configured rung below it; the configured rungs below follow.
    planned = Ladder.parse("1080,720,480,360").plan(source(1600, 900, codec="vp8", profile=None))

    assert [rung.name for rung in planned] == ["900p", "720p", "480p", "360p"]
    assert [rung.width for rung in planned] == [1600, 1280, 854, 640]
    assert planned[0].video_kbps == planned[1].video_kbps
    assert not planned[0].copy


def test_480p_rung_from_configuration() -> None:
    ladder = Ladder.parse("1080, 720, 480p 360")

    assert [rung.height for rung in ladder.rungs] == [1080, 720, 480, 360]
    assert shape(ladder.plan(source())) == [
        ("1080p", 1920, 1080, True),
        ("720p", 1280, 720, False),
        ("480p", 854, 480, False),
        ("360p", 640, 360, False),
    ]


def test_ladder_from_a_list_is_sorted() -> None:
    custom = Rung("540p", 540, 2000, 2000, 4000, 128)

    ladder = Ladder.parse([360, custom, "1080p"])

    assert [rung.name for rung in ladder.rungs] == ["1080p", "540p", "360p"]


@pytest.mark.parametrize(("height", "width"), [(1080, 1920), (720, 1280), (480, 854), (360, 640), (240, 426)])
def test_never_upscales(height: int, width: int) -> None:
    planned = Ladder.parse("1080,720,480,360").plan(source(width, height, level=30))

    assert planned[0].height == height
    assert planned[0].copy
    assert all(rung.height < height for rung in planned[1:])


def test_source_smaller_than_every_rung_and_not_copyable_keeps_its_size() -> None:
    planned = Ladder().plan(source(320, 180, codec="hevc", profile=None))

    assert shape(planned) == [("180p", 320, 180, False)]


def test_widths_keep_the_aspect_ratio_and_are_even() -> None:
    planned = Ladder.parse("720,480,360").plan(source(1440, 1080, codec="hevc"))  # 4:3

    assert [(rung.width, rung.height) for rung in planned] == [(1440, 1080), (960, 720), (640, 480), (480, 360)]
    ultrawide = Ladder().plan(source(2560, 1080))
    assert all(rung.width % 2 == 0 for rung in ultrawide)
    assert [rung.width for rung in ultrawide] == [2560, 1706, 854]


def test_60fps_source_keeps_60_up_to_720p_and_is_halved_below() -> None:
    planned = Ladder.parse("1080,720,480,360").plan(source(fps=60.0, level=42))

    assert [rung.fps for rung in planned] == [60.0, 60.0, 30.0, 30.0]
    assert planned[1].level == "3.2"  # 720p60 exceeds level 3.1's macroblock rate
    ntsc = Ladder.parse("720,360").plan(source(1280, 720, fps=59.94))
    assert ntsc[1].fps == pytest.approx(29.97)


def test_encoded_rung_codec_strings_are_those_x264_writes() -> None:
    planned = Ladder.parse("1080,720,480,360").plan(source())

    assert [rung.codecs.split(",")[0] for rung in planned[1:]] == ["avc1.64001f", "avc1.4d401f", "avc1.4d401e"]


def test_source_without_audio_has_video_only_codecs() -> None:
    planned = Ladder().plan(source(audio=None))

    assert all("mp4a" not in rung.codecs for rung in planned)


@pytest.mark.parametrize(
    "spec",
    ["", "1080,1080", "1081", "900", "abc"],
)
def test_invalid_ladder_configuration(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        Ladder.parse(spec)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "Bad Name"},
        {"height": 721},
        {"max_kbps": 100},
        {"level": "3.3"},
        {"profile": "high10"},
        {"audio_kbps": 0},
    ],
)
def test_invalid_rung(fields: dict[str, object]) -> None:
    base: dict[str, object] = {
        "name": "720p",
        "height": 720,
        "video_kbps": 3000,
        "max_kbps": 3000,
        "buffer_kbits": 6000,
        "audio_kbps": 128,
    }
    with pytest.raises(ConfigurationError):
        Rung(**(base | fields))  # type: ignore[arg-type]


def test_invalid_source() -> None:
    with pytest.raises(InvalidInput):
        SourceInfo(0, 1080, 30, "h264", "aac")


def test_presets_cover_the_design_heights() -> None:
    assert {1080, 720, 480, 360} <= set(PRESETS)


def test_codec_strings() -> None:
    assert avc1_codec_string(100, 41) == "avc1.640029"
    assert avc1_codec_string(77, 31) == "avc1.4d401f"
    assert avc1_codec_string(66, 30) == "avc1.42c01e"
    avcc = parse_hexdump("\n00000000: 0164 0029 ffe1 001b 6764 0029 acd9 4078  .d.)....gd.)..@x\n")
    assert avc_codec_string_from_config(avcc) == "avc1.640029"
    annex_b = bytes.fromhex("0000000167640028acd9") + bytes.fromhex("0000000168ee3cb0")
    assert avc_codec_string_from_config(annex_b) == "avc1.640028"
    with pytest.raises(InvalidInput):
        avc_codec_string_from_config(b"\x00\x00\x00\x01\x68")


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_transcode_args_decode_once_copy_the_source_and_align_keyframes() -> None:
    planned = Ladder().plan(source())

    args = build_transcode_args(planned, "pipe:0", "/out", segment_seconds=2.0, window_segments=4, input_format="flv")

    assert args.count("-i") == 1
    assert option(args, "-f") == "flv"
    assert option(args, "-c:v:0") == "copy"
    assert option(args, "-c:v:1") == option(args, "-c:v:2") == "libx264"
    graph = option(args, "-filter_complex")
    assert graph.startswith("[0:v:0]split=2")
    assert "scale=1280:720" in graph
    assert "scale=640:360" in graph
    # Copying the source: the encoded rungs take their keyframes where the source has them.
    assert option(args, "-force_key_frames:v:1") == "source"
    assert option(args, "-sc_threshold:v:2") == "0"
    # Input timestamps kept (no frame repeated back to the audio's start), at the rung's rate.
    assert option(args, "-fps_mode:v:1") == "vfr"
    assert option(args, "-r:v:2") == "30"
    assert "-fps_mode:v:0" not in args
    assert option(args, "-hls_time") == "2"
    assert option(args, "-hls_list_size") == "4"
    assert option(args, "-hls_flags") == "program_date_time+independent_segments+temp_file"
    assert option(args, "-var_stream_map") == "v:0,a:0,name:1080p v:1,a:1,name:720p v:2,a:2,name:360p"
    assert option(args, "-hls_segment_filename") == "/out/%v_%06d.ts"
    assert args[-1] == "/out/%v.m3u8"


def test_transcode_args_without_a_copied_rung_force_keyframes_by_time() -> None:
    planned = Ladder().plan(source(3840, 2160, codec="hevc", audio=None))

    args = build_transcode_args(planned, "in.mkv", "/out", tuning=EncoderTuning(frame_threads=None))

    assert "copy" not in args
    assert option(args, "-force_key_frames:v:0") == "expr:gte(t,n_forced*1)"
    assert option(args, "-g:v:0") == option(args, "-keyint_min:v:0") == "30"
    assert "-x264-params:v:0" not in args
    assert "-map" in args
    assert "0:a:0" not in args
    assert option(args, "-var_stream_map") == "v:0,name:1080p v:1,name:720p v:2,name:360p"


def test_transcode_args_for_a_lone_copied_rung_have_no_filter() -> None:
    planned = Ladder.parse("360").plan(source(640, 360, level=30))

    args = build_transcode_args(planned, "rtmp://x", "/out")

    assert "-filter_complex" not in args
    assert "-filter_complex_threads" not in args
    assert option(args, "-c:v:0") == "copy"


def test_transcode_args_reject_bad_input() -> None:
    planned = Ladder().plan(source())
    with pytest.raises(InvalidInput):
        build_transcode_args([], "in", "/out")
    with pytest.raises(InvalidInput):
        build_transcode_args([planned[1], planned[0]], "in", "/out")
    with pytest.raises(InvalidInput):
        build_transcode_args(planned, "in", "/out", segment_seconds=0)


def test_odd_sized_source_is_not_upscaled_by_rounding() -> None:
    planned = Ladder().plan(source(321, 181, codec="hevc", profile=None))

    assert shape(planned) == [("180p", 320, 180, False)]


def test_copied_rung_is_renamed_when_a_custom_rung_has_its_name() -> None:
    odd = Rung("720p", 540, 2000, 2000, 4000, 128)

    planned = Ladder.parse([odd]).plan(source(1280, 720, level=31))

    assert [rung.name for rung in planned] == ["source", "720p"]


def test_tiny_source_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Ladder().plan(source(8, 8))


def test_an_audio_only_source_gets_one_aac_rendition_without_video() -> None:
    planned = Ladder().plan(SourceInfo.audio("mp3"))

    assert [(r.name, r.has_video, r.has_audio, r.codecs) for r in planned] == [("audio", False, True, "mp4a.40.2")]
    args = build_transcode_args(planned, "in.flv", "/out")
    assert "-filter_complex" not in args
    assert [args[i + 1] for i, arg in enumerate(args) if arg == "-map"] == ["0:a:0"]
    assert option(args, "-var_stream_map") == "a:0,name:audio"
    assert not any(arg.startswith("-c:v") for arg in args)
    master = master_playlist(planned)
    assert 'CODECS="mp4a.40.2"' in master
    assert "RESOLUTION" not in master
    assert "FRAME-RATE" not in master


def test_a_source_needs_video_or_audio() -> None:
    with pytest.raises(InvalidInput):
        SourceInfo(0, 0, 0.0, None, None)


def test_a_top_rung_capped_below_the_source_rate_drops_frames_before_scaling() -> None:
    # A 720p60 source whose keyframes miss the clock, on a task that encodes only 720p30: the
    # top rung is 720p30, and every rung drops every other frame before any scaling.
    source = SourceInfo(1280, 720, 60.0, "h264", "aac", video_profile="high", video_level=32)
    decision = decide(Ladder(), source, cadence_ok=False, limits=PlanLimits(encode_pixels_per_second=1280 * 720 * 30))

    assert [(r.name, r.fps, r.copy) for r in decision.rungs] == [("720p", 30.0, False), ("360p", 30.0, False)]
    assert [w.code for w in decision.warnings] == ["keyframe-interval", "frame-rate-capped"]
    graph = option(build_transcode_args(decision.rungs, "in.flv", "/out", source_fps=60.0), "-filter_complex")
    assert graph == (
        "[0:v:0]split=2[s0][s1];[s0]fps=30,format=yuv420p[v0];"
        "[s1]fps=30,scale=640:360:flags=bicubic,setsar=1,format=yuv420p[v1]"
    )
