"""The source detector and the planner fed what real publishers sent: the recorded byte streams
of ffmpeg and GStreamer `rtmpsink` and `rtmp2sink` (1 s keyframes) and OBS 29 with its
default output settings (x264's 250-frame keyframe interval), replayed through the RTMP session."""

import pytest

from letslive.media.detect import Detected, SourceDetector
from letslive.media.ladder import Ladder
from letslive.media.planner import OBS_KEYFRAME_INTERVAL, decide
from tests.unit.test_rtmp_session import RECORDINGS, replay
from workers.ingest.rtmp.session import Audio, Metadata, Video


def detected(name: str) -> tuple[Detected, int]:
    """What the detector says, and at which media timestamp it said it."""
    detector = SourceDetector()
    for event in replay(name, (65536,)).events:
        if isinstance(event, Metadata):
            detector.metadata(event.values)
            continue
        if isinstance(event, Video):
            detector.video(event.timestamp_ms, event.payload)
        elif isinstance(event, Audio):
            detector.audio(event.timestamp_ms, event.payload)
        else:
            continue
        result = detector.result()
        if result is not None:
            assert isinstance(result, Detected), result
            return result, event.timestamp_ms
    raise AssertionError("the source was never known")


def test_one_second_keyframes_are_known_at_the_second_keyframe_and_copied() -> None:
    result, at = detected("ffmpeg")

    source = result.source
    assert (source.width, source.height) == RECORDINGS["ffmpeg"].size
    assert (source.video_codec, source.audio_codec, source.fps, source.pix_fmt) == ("h264", "aac", 30.0, "yuv420p")
    assert result.cadence_ok
    assert at <= 1050  # the keyframe at 1 s cut the first segment
    assert decide(Ladder(), source, cadence_ok=result.cadence_ok).top_rung == "copied"


@pytest.mark.parametrize("name", ["gst-rtmpsink", "gst-rtmp2sink"])
def test_gstreamer_defaults_are_high_444_10_bit_and_re_encoded_at_once(name: str) -> None:
    # `videotestsrc ! x264enc` with no caps between them negotiates x264's first format, 10-bit
    # 4:4:4 (High 4:4:4 Predictive), which no browser decodes: known from the SPS at the first
    # keyframe, with no need to wait for the keyframe cadence.
    result, at = detected(name)

    source = result.source
    assert (source.width, source.height, source.fps) == (160, 90, 30.0)
    assert (source.pix_fmt, source.profile_idc) == ("yuv444p10le", 244)
    assert not source.passthrough_ok
    assert at < 100
    decision = decide(Ladder(), source, cadence_ok=result.cadence_ok)
    assert decision.top_rung == "re-encoded"
    assert decision.warnings[0].code == "codec-converted"


def test_obs_defaults_are_known_within_a_segment_and_re_encoded() -> None:
    result, at = detected("obs")

    source = result.source
    assert (source.width, source.height, source.fps) == (320, 180, 30.0)
    assert (source.video_profile, source.video_level) == ("high", 13)
    assert not result.cadence_ok
    assert result.keyframe_interval is None  # no second keyframe: x264 waits 250 frames
    assert 1000 < at <= 1200  # one segment and a frame after the first keyframe
    decision = decide(Ladder(), source, cadence_ok=result.cadence_ok)
    assert decision.top_rung == "re-encoded"
    assert [w.setting for w in decision.warnings] == [OBS_KEYFRAME_INTERVAL]
