"""`source_from_rtmp`: the source an RTMP publisher describes in onMetaData and its AVC header."""

import pytest

from letslive.media.source import H264, SourceInfo
from workers.ingest.broadcasts import MalformedSource, source_from_rtmp
from workers.ingest.rtmp.amf0 import AmfValue

# avcC as x264 (OBS) writes it: version 1, High (0x64), constraint flags 0, level 3.1 (0x1f),
# then lengthSizeMinusOne and the SPS/PPS counts.
AVCC_HIGH_31 = bytes([0x01, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1F])


def obs_metadata(**overrides: AmfValue) -> dict[str, AmfValue]:
    """onMetaData as OBS sends it (AMF numbers are doubles)."""
    metadata: dict[str, AmfValue] = {
        "duration": 0.0,
        "fileSize": 0.0,
        "width": 1280.0,
        "height": 720.0,
        "videocodecid": 7.0,
        "videodatarate": 2500.0,
        "framerate": 30.0,
        "audiocodecid": 10.0,
        "audiodatarate": 160.0,
        "audiosamplerate": 48000.0,
        "audiosamplesize": 16.0,
        "audiochannels": 2.0,
        "stereo": True,
        "2.1": False,
        "encoder": "obs-output module (libobs version 30.0.2)",
    }
    metadata.update(overrides)
    return metadata


def test_obs_metadata_and_avcc_give_the_source() -> None:
    source = source_from_rtmp(obs_metadata(), AVCC_HIGH_31, has_audio=True)

    assert source == SourceInfo(
        width=1280,
        height=720,
        fps=30.0,
        video_codec=H264,
        audio_codec="aac",
        video_profile="high",
        video_level=31,
        avc_constraints=0,
        video_bitrate_kbps=2500,
    )
    assert isinstance(source.width, int)
    assert source.profile_idc == 100
    assert source.video_codec_string == "avc1.64001f"
    assert source.passthrough_ok


@pytest.mark.parametrize("missing", ["width", "height"])
def test_missing_size_is_malformed(missing: str) -> None:
    metadata = obs_metadata()
    del metadata[missing]
    with pytest.raises(MalformedSource):
        source_from_rtmp(metadata, AVCC_HIGH_31, has_audio=True)


def test_videoframerate_is_read_when_framerate_is_absent() -> None:
    metadata = obs_metadata(videoframerate=59.94)
    del metadata["framerate"]

    assert source_from_rtmp(metadata, AVCC_HIGH_31, has_audio=True).fps == 59.94


@pytest.mark.parametrize("bad", [True, False, -30.0, 0.0, "60"])
def test_nonsense_numbers_are_ignored(bad: AmfValue) -> None:
    source = source_from_rtmp(obs_metadata(framerate=bad, videodatarate=bad), AVCC_HIGH_31, has_audio=True)
    assert source.fps == 30.0  # the default, not 1.0 (True) nor -30
    assert source.video_bitrate_kbps is None

    fallback = obs_metadata(framerate=bad, videoframerate=25.0)
    assert source_from_rtmp(fallback, AVCC_HIGH_31, has_audio=True).fps == 25.0


@pytest.mark.parametrize("bad", [True, -720.0, 0.0])
def test_a_nonsense_size_is_malformed(bad: AmfValue) -> None:
    with pytest.raises(MalformedSource):
        source_from_rtmp(obs_metadata(height=bad), AVCC_HIGH_31, has_audio=True)


def test_no_audio_means_no_audio_codec() -> None:
    metadata = obs_metadata()
    for name in ("audiocodecid", "audiodatarate", "audiosamplerate", "audiosamplesize", "audiochannels", "stereo"):
        del metadata[name]

    source = source_from_rtmp(metadata, AVCC_HIGH_31, has_audio=False)

    assert source.audio_codec is None
    assert source.video_codec == H264


def test_without_avcc_the_codec_id_decides() -> None:
    avc = source_from_rtmp(obs_metadata(), None, has_audio=True)
    assert (avc.video_codec, avc.video_profile, avc.video_level, avc.avc_constraints) == (H264, None, None, None)

    hevc = source_from_rtmp(obs_metadata(videocodecid=12.0), None, has_audio=True)
    assert hevc.video_codec == "hevc"
    assert not hevc.passthrough_ok
