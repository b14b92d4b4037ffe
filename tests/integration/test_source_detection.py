"""The source detector and the planner on real encoder output: FLV files made by FFmpeg's x264
(and a few hand-made tags where no encoder here writes them), fed tag by tag as a publisher
would send them."""

from pathlib import Path

import pytest

from letslive.media.detect import Detected, DetectionLimits, KeyframeCadence, Refusal, SourceDetector
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


def test_audio_only_publisher_is_refused(media: Path) -> None:
    flv = encode_flv(media / "audio.flv", video=("-vn",))
    tags = [tag for tag in read_tags(flv) if tag.kind != VIDEO]

    result, _ = detect(tags)

    assert isinstance(result, Refusal)
    assert "audio only" in result.description


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


def test_cadence_reports_a_gop_outgrowing_the_limit_once() -> None:
    cadence = KeyframeCadence(1.0, 30.0)
    frames = [(ms, ms % 1000 == 0) for ms in range(0, 3000, 50)]  # keyframes every second
    assert not any(cadence.frame(ms, key) for ms, key in frames)
    assert cadence.longest_seconds == 1.0
    overdue = [ms for ms in range(3000, 6000, 50) if cadence.frame(ms, ms == 3000)]
    assert overdue == [4050]  # the first frame more than 1 s + one frame after the keyframe
    assert cadence.longest_seconds is not None
    assert cadence.longest_seconds > 1.0
