"""The source detector and the planner on real encoder output: FLV files made by FFmpeg's x264
(and a few hand-made tags where no encoder here writes them), fed tag by tag as a publisher
would send them."""

import subprocess
from pathlib import Path

import pytest

from letslive.media.detect import CopyCadence, Detected, DetectionLimits, Refusal, SourceDetector
from letslive.media.ladder import Ladder
from letslive.media.planner import OBS_KEYFRAME_INTERVAL, PlanLimits, decide
from tests.flv_files import AUDIO, SCRIPT, VIDEO, Tag, encode_flv, metadata_of, read_tags
from workers.ingest.rtmp import amf0

X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("detect")


def detect(tags: list[Tag], limits: DetectionLimits | None = None) -> tuple[Detected | Refusal | None, int]:
    """Feed the tags in order; the answer and the index of the tag it came at."""
    detector = SourceDetector(limits)
    for index, tag in enumerate(tags):
        if tag.kind == SCRIPT:
            values = amf0.decode_all(tag.body)
            if len(values) >= 2 and isinstance(values[1], dict):
                detector.metadata(dict(values[1]))
        elif tag.kind == VIDEO:
            detector.video(tag.timestamp_ms, tag.body)
        elif tag.kind == AUDIO:
            detector.audio(tag.timestamp_ms, tag.body)
        result = detector.result()
        if result is not None:
            return result, index
    return detector.result(), len(tags)


def test_obs_like_1s_keyframes_are_copied_and_known_within_a_second(media: Path) -> None:
    tags = read_tags(encode_flv(media / "gop30.flv", video=(*X264, "-g", "30", "-sc_threshold", "0")))

    result, at = detect(tags)

    assert isinstance(result, Detected)
    source = result.source
    assert (source.width, source.height, source.fps) == (320, 180, 30.0)
    assert (source.video_codec, source.audio_codec, source.pix_fmt) == ("h264", "aac", "yuv420p")
    assert result.fps_from == "vui"
    assert result.keyframe_interval == 1.0
    assert result.cadence_ok
    assert tags[at].timestamp_ms <= 1100  # decided at the second keyframe
    decision = decide(Ladder(), source, cadence_ok=result.cadence_ok)
    assert decision.top_rung == "copied"
    assert decision.keyframes == "source"
    assert not decision.warnings


def test_obs_default_keyframe_interval_is_re_encoded_with_a_warning(media: Path) -> None:
    # OBS's "Keyframe Interval 0 (auto)": x264's default keyint 250, 8.3 s at 30 fps.
    tags = read_tags(encode_flv(media / "gop250.flv", seconds=4, video=(*X264, "-g", "250")))

    result, at = detect(tags)

    assert isinstance(result, Detected)
    assert not result.cadence_ok
    assert result.keyframe_interval is None  # no second keyframe: more than the limit apart
    assert 1000 < tags[at].timestamp_ms <= 1200  # decided as soon as the GOP outgrew 1 s
    decision = decide(Ladder(), result.source, cadence_ok=result.cadence_ok)
    assert decision.top_rung == "re-encoded"
    assert decision.keyframes == "time"
    assert [(r.name, r.copy) for r in decision.rungs] == [("180p", False)]
    assert [w.code for w in decision.warnings] == ["keyframe-interval"]
    assert decision.warnings[0].setting == OBS_KEYFRAME_INTERVAL
    assert "keyframes more than 1 s apart" in decision.reason


def test_gstreamer_style_publish_without_width_or_height_in_metadata(media: Path) -> None:
    tags = read_tags(encode_flv(media / "plain.flv", audio=None, video=(*X264, "-g", "30")))
    # What GStreamer's flvmux sends: no width, height or frame rate in onMetaData.
    bare = amf0.encode("onMetaData", amf0.EcmaArray({"videocodecid": 7.0, "duration": 0.0}))
    tags = [Tag(SCRIPT, 0, bare), *[tag for tag in tags if tag.kind != SCRIPT]]

    result, _ = detect(tags)

    assert isinstance(result, Detected)
    assert (result.source.width, result.source.height) == (320, 180)
    assert result.source.audio_codec is None  # metadata says video only: no wait for audio


def test_metadata_that_contradicts_the_bitstream_loses(media: Path) -> None:
    tags = read_tags(encode_flv(media / "gop30.flv", video=(*X264, "-g", "30", "-sc_threshold", "0")))
    lying = {**metadata_of(tags), "width": 1920.0, "height": 1080.0, "framerate": 60.0}
    tags = [Tag(SCRIPT, 0, amf0.encode("onMetaData", amf0.EcmaArray(lying))), *tags[1:]]

    result, _ = detect(tags)

    assert isinstance(result, Detected)
    assert (result.source.width, result.source.height, result.source.fps) == (320, 180, 30.0)
    assert len(result.contradictions) == 2


def test_no_metadata_at_all_waits_for_audio_then_goes_on(media: Path) -> None:
    tags = [tag for tag in read_tags(encode_flv(media / "gop30.flv")) if tag.kind != SCRIPT]

    result, _ = detect(tags)

    assert isinstance(result, Detected)
    assert result.source.audio_codec == "aac"


def test_mp3_audio_is_served_by_transcoding(media: Path) -> None:
    tags = read_tags(encode_flv(media / "mp3.flv", audio=("-c:a", "libmp3lame", "-ar", "44100")))

    result, _ = detect(tags)

    assert isinstance(result, Detected)
    assert result.source.audio_codec == "mp3"


def test_444_source_is_not_copyable_and_needs_no_cadence(media: Path) -> None:
    flv = encode_flv(media / "444.flv", video=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"))

    result, _ = detect(read_tags(flv))

    assert isinstance(result, Detected)
    assert result.source.pix_fmt == "yuv444p"
    assert not result.source.passthrough_ok
    decision = decide(Ladder(), result.source, cadence_ok=result.cadence_ok)
    assert decision.top_rung == "re-encoded"
    assert "codec-converted" in [w.code for w in decision.warnings]


def test_1080p60_with_long_keyframes_is_capped_to_720p60(media: Path) -> None:
    flv = encode_flv(
        media / "1080p60.flv", size="1920x1080", rate="60", seconds=1.5, video=(*X264, "-g", "600"), audio=None
    )

    result, _ = detect(read_tags(flv))

    assert isinstance(result, Detected)
    assert (result.source.height, result.source.fps) == (1080, 60.0)
    decision = decide(Ladder(), result.source, cadence_ok=result.cadence_ok, limits=PlanLimits())
    assert [(r.name, r.height, r.fps, r.copy) for r in decision.rungs] == [
        ("720p", 720, 60.0, False),
        ("360p", 360, 30.0, False),
    ]
    assert {w.code for w in decision.warnings} == {"keyframe-interval", "resolution-capped"}


def test_audio_only_publisher_is_an_audio_only_source(media: Path) -> None:
    flv = encode_flv(media / "audio.flv", video=("-vn",))
    tags = [tag for tag in read_tags(flv) if tag.kind != VIDEO]

    result, at = detect(tags)

    assert isinstance(result, Detected)
    assert result.source.audio_only
    assert result.source.audio_codec == "aac"
    assert 2000 < tags[at].timestamp_ms < 2200  # two seconds of audio without a video tag
    decision = decide(Ladder(), result.source, cadence_ok=result.cadence_ok)
    assert decision.top_rung is None
    assert [(r.name, r.height, r.codecs, r.audio_kbps) for r in decision.rungs] == [("audio", 0, "mp4a.40.2", 160)]


def test_hevc_over_enhanced_rtmp_is_refused_naming_the_setting() -> None:
    # Enhanced RTMP: IsExHeader, frame type 1, PacketTypeSequenceStart, FourCC "hvc1". FFmpeg 5.1
    # on this machine cannot write it, so the header is built by hand from the spec.
    sequence_start = bytes([0x80 | 0x10 | 0]) + b"hvc1" + bytes(23)

    result, _ = detect([Tag(VIDEO, 0, sequence_start)])

    assert isinstance(result, Refusal)
    assert "HEVC" in result.description
    assert "x264" in result.description


def test_opus_audio_is_refused() -> None:
    # Enhanced RTMP v2 audio: SoundFormat 9 (ExHeader), AudioPacketType SequenceStart, "Opus".
    opus = bytes([0x90]) + b"Opus" + bytes(19)

    result, _ = detect([Tag(AUDIO, 0, opus)])

    assert isinstance(result, Refusal)
    assert "AAC" in result.description


def test_video_without_a_sequence_header_times_out_with_a_reason(media: Path) -> None:
    tags = [
        t
        for t in read_tags(encode_flv(media / "gop30_12s.flv", seconds=12))
        if not (t.kind == VIDEO and t.body[1] == 0)
    ]

    result, _ = detect(tags)

    assert isinstance(result, Refusal)
    assert "sequence header" in result.description


def frames(start: int, end: int, keyframes: set[int], step: int = 50) -> list[tuple[int, bool]]:
    return [(ms, ms in keyframes) for ms in range(start, end, step)]


def test_copy_cadence_takes_keyframes_on_the_segment_clock() -> None:
    every_second = CopyCadence(1.0, 20.0, 0)
    assert not any(every_second.frame(ms, key) for ms, key in frames(0, 6000, set(range(0, 6000, 1000))))
    assert every_second.cuts == 5
    assert every_second.longest_seconds == 1.0
    every_half_second = CopyCadence(1.0, 20.0, 0)
    assert not any(every_half_second.frame(ms, key) for ms, key in frames(0, 6000, set(range(0, 6000, 500))))
    assert every_half_second.cuts == 5


def test_copy_cadence_breaks_once_when_a_segment_would_run_long() -> None:
    # A scene cut at 2.5 s restarts the encoder's keyframe count: the next keyframe is at 3.5 s,
    # so the segment from 2 s cannot be cut at 3 s.
    cadence = CopyCadence(1.0, 20.0, 0)
    broken = [ms for ms, key in frames(0, 6000, {0, 1000, 2000, 2500, 3500, 4500, 5500}) if cadence.frame(ms, key)]

    assert broken == [3100]  # the first frame more than a segment and a frame after 2 s
    assert cadence.broken
    assert cadence.longest_seconds == 1.0


def test_irregular_scene_cut_keyframes_are_not_copied(media: Path) -> None:
    # Scene cuts at irregular instants with x264's scene-cut detection on (keyint 120): keyframes
    # at the cuts, off any 1 s clock.
    cuts = [0.8, 0.5, 0.9, 2.6, 0.6, 1.6]
    patterns = ["testsrc2", "smptebars", "rgbtestsrc", "mandelbrot", "testsrc", "smptehdbars"]
    inputs = [arg for pattern, length in zip(patterns, cuts, strict=True)
              for arg in ("-f", "lavfi", "-t", str(length), "-i", f"{pattern}=size=320x180:rate=30")]  # fmt: skip
    graph = "".join(f"[{i}:v]" for i in range(len(cuts))) + f"concat=n={len(cuts)}:v=1:a=0[v]"
    path = media / "cuts.flv"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]",
         *X264, "-x264-params", "keyint=120:scenecut=40", "-f", "flv", str(path)],
        check=True, timeout=120,
    )  # fmt: skip

    result, _ = detect(read_tags(path.read_bytes()))

    assert isinstance(result, Detected)
    assert not result.cadence_ok
    decision = decide(Ladder(), result.source, cadence_ok=result.cadence_ok)
    assert decision.top_rung == "re-encoded"
    assert "off the 1 s clock" in decision.warnings[0].message
