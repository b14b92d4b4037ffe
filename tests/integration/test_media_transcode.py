"""The ladder's FFmpeg command, run for real on generated sources, and its HLS checked with ffprobe.

Sources are a few seconds of lavfi `testsrc2` + `sine`, encoded once per session the way OBS is
told to (H.264 High, 1 s keyframe interval, AAC), so the whole module takes a few seconds.
"""

import asyncio
import json
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from letslive.media.ffmpeg import MASTER_PLAYLIST, TEMP_SUFFIX, build_transcode_args
from letslive.media.ladder import Ladder, PlannedRung
from letslive.media.playlists import MediaPlaylist, master_playlist, parse_master_playlist, parse_media_playlist
from letslive.media.probe import ProbeError, probe
from workers.ingest.uploader import jpeg_thumbnail

pytestmark = pytest.mark.tools("ffmpeg", "ffprobe")

SEGMENT_SECONDS = 1.0
SOURCE_SECONDS = 6
FFMPEG_TIMEOUT = 120


def generate(path: Path, width: int, height: int, seconds: int, *, level: str) -> Path:
    """An OBS-like source: H.264 High, keyframe every second, no scene-cut keyframes, AAC."""
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
            "-level",
            level,
            "-pix_fmt",
            "yuv420p",
            "-g",
            "30",
            "-keyint_min",
            "30",
            "-sc_threshold",
            "0",
            "-b:v",
            "4000k",
            "-c:a",
            "aac",
            "-b:a",
            "160k",
            "-ac",
            "2",
            str(path),
        ],
        check=True,
        timeout=FFMPEG_TIMEOUT,
    )
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def source_1080p(media_dir: Path) -> Path:
    return generate(media_dir / "source-1080p.mp4", 1920, 1080, SOURCE_SECONDS, level="4.1")


@pytest.fixture(scope="session")
def source_720p_flv(media_dir: Path) -> Path:
    """A 720p source as FLV, what an RTMP session hands to FFmpeg."""
    return generate(media_dir / "source-720p.flv", 1280, 720, 3, level="3.1")


@dataclass(frozen=True)
class Output:
    plan: list[PlannedRung]
    directory: Path
    playlists: dict[str, MediaPlaylist]


def run_ladder(plan: list[PlannedRung], args: Sequence[str], directory: Path, stdin: Path | None = None) -> Output:
    if stdin is None:
        result = subprocess.run(args, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False)
    else:
        with stdin.open("rb") as feed:
            result = subprocess.run(args, stdin=feed, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    # The caller (the ingest worker) writes the master; the media playlists are FFmpeg's.
    (directory / MASTER_PLAYLIST).write_text(master_playlist(plan))
    playlists = {rung.name: parse_media_playlist((directory / f"{rung.name}.m3u8").read_text()) for rung in plan}
    return Output(plan, directory, playlists)


@pytest.fixture(scope="session")
def ladder_1080p(source_1080p: Path, media_dir: Path) -> Output:
    plan = Ladder().plan(probe(source_1080p))
    out = media_dir / "hls-1080p"
    out.mkdir()
    # A window longer than the source, so that the playlists list every segment.
    args = build_transcode_args(plan, str(source_1080p), out, segment_seconds=SEGMENT_SECONDS, window_segments=20)
    return run_ladder(plan, args, out)


def ffprobe_json(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args], capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert not result.stderr, result.stderr.decode(errors="replace")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def decoded_video_frames(segment: Path) -> list[dict[str, Any]]:
    """Every frame of `segment` decoded (ffprobe fails or complains on a broken one); video only."""
    frames = ffprobe_json("-show_entries", "frame=media_type,pts_time,key_frame,pict_type", str(segment))["frames"]
    assert any(frame["media_type"] == "audio" for frame in frames), f"{segment.name} has no audio"
    return [frame for frame in frames if frame["media_type"] == "video"]


def test_probe_reads_what_the_ladder_needs(source_1080p: Path) -> None:
    info = probe(source_1080p, keyframe_seconds=3)

    assert (info.width, info.height, info.fps) == (1920, 1080, 30.0)
    assert (info.video_codec, info.audio_codec, info.pix_fmt) == ("h264", "aac", "yuv420p")
    assert (info.video_profile, info.video_level, info.avc_constraints) == ("High", 41, 0)
    assert info.video_codec_string == "avc1.640029"
    assert info.keyframe_interval == pytest.approx(1.0)
    assert info.duration == pytest.approx(SOURCE_SECONDS, abs=0.1)


def test_probe_failure_is_a_probe_error(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="ffprobe failed"):
        probe(tmp_path / "missing.mp4")
    (tmp_path / "noise.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(ProbeError):
        probe(tmp_path / "noise.mp4")
    with pytest.raises(ProbeError, match="not installed"):
        probe(tmp_path / "missing.mp4", ffprobe=str(tmp_path / "no-ffprobe"))


def test_master_lists_source_720p_and_360p_with_their_attributes(ladder_1080p: Output) -> None:
    variants = parse_master_playlist((ladder_1080p.directory / MASTER_PLAYLIST).read_text())

    assert [variant.uri for variant in variants] == ["1080p.m3u8", "720p.m3u8", "360p.m3u8"]
    assert [variant.resolution for variant in variants] == [(1920, 1080), (1280, 720), (640, 360)]
    assert [variant.frame_rate for variant in variants] == [30.0, 30.0, 30.0]
    assert [variant.codecs for variant in variants] == [
        ("avc1.640029", "mp4a.40.2"),
        ("avc1.64001f", "mp4a.40.2"),
        ("avc1.4d401e", "mp4a.40.2"),
    ]
    assert all(variant.bandwidth > 0 and "AVERAGE-BANDWIDTH" in variant.attributes for variant in variants)
    assert ladder_1080p.plan[0].copy
    assert not any(rung.copy for rung in ladder_1080p.plan[1:])


def test_codecs_in_the_master_are_those_of_the_segments(ladder_1080p: Output) -> None:
    names = {"High": "64", "Main": "4d"}
    for rung in ladder_1080p.plan:
        segment = ladder_1080p.directory / ladder_1080p.playlists[rung.name].segments[0].uri
        streams = ffprobe_json("-show_streams", str(segment))["streams"]
        video = next(stream for stream in streams if stream["codec_type"] == "video")
        audio = next(stream for stream in streams if stream["codec_type"] == "audio")
        codec = rung.codecs.split(",")[0]
        assert codec[5:7] == names[video["profile"]], rung.name
        assert int(codec[9:11], 16) == video["level"], rung.name
        assert (video["width"], video["height"]) == (rung.width, rung.height)
        assert (audio["codec_name"], audio["profile"]) == ("aac", "LC")


def test_every_media_playlist_parses_with_short_dated_segments(ladder_1080p: Output) -> None:
    for name, playlist in ladder_1080p.playlists.items():
        assert playlist.independent_segments, name
        assert playlist.ended, name
        assert len(playlist.segments) == pytest.approx(SOURCE_SECONDS / SEGMENT_SECONDS, abs=1), name
        assert playlist.duration == pytest.approx(SOURCE_SECONDS, abs=0.2), name
        for segment in playlist.segments:
            assert segment.duration <= SEGMENT_SECONDS + 0.5, (name, segment)
            assert segment.program_date_time is not None, (name, segment)
            assert segment.uri.startswith(f"{name}_"), segment
        dates = [segment.program_date_time for segment in playlist.segments]
        assert dates == sorted(dates)  # type: ignore[type-var]


def test_segments_are_complete_files(ladder_1080p: Output) -> None:
    on_disk = {path.name for path in ladder_1080p.directory.glob("*.ts")}
    listed = {segment.uri for playlist in ladder_1080p.playlists.values() for segment in playlist.segments}

    assert on_disk == listed
    assert not list(ladder_1080p.directory.glob(f"*{TEMP_SUFFIX}"))


def test_every_segment_decodes_and_starts_on_a_keyframe_aligned_across_rungs(ladder_1080p: Output) -> None:
    names = [rung.name for rung in ladder_1080p.plan]
    segments = [
        (name, ladder_1080p.directory / segment.uri)
        for name in names
        for segment in ladder_1080p.playlists[name].segments
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        frames = dict(zip(segments, pool.map(lambda item: decoded_video_frames(item[1]), segments), strict=True))

    starts: dict[str, list[float]] = {name: [] for name in names}
    for (name, path), video in frames.items():
        assert video, f"{path.name} has no video frame"
        first = video[0]
        assert first["key_frame"] == 1, f"{path.name} starts on {first}"
        assert first["pict_type"] == "I", f"{path.name} starts on {first}"
        starts[name].append(float(first["pts_time"]))
    counts = {len(times) for times in starts.values()}
    assert len(counts) == 1, starts
    for times in zip(*starts.values(), strict=True):
        assert max(times) - min(times) < 0.001, starts


def test_720p_flv_on_stdin_gets_no_1080p_rung(source_720p_flv: Path, media_dir: Path) -> None:
    info = probe(source_720p_flv)
    plan = Ladder.parse("1080,720,480,360").plan(info)
    out = media_dir / "hls-720p"
    out.mkdir()
    args = build_transcode_args(plan, "pipe:0", out, input_format="flv", window_segments=10)

    output = run_ladder(plan, args, out, stdin=source_720p_flv)

    variants = parse_master_playlist((out / MASTER_PLAYLIST).read_text())
    assert [variant.uri for variant in variants] == ["720p.m3u8", "480p.m3u8", "360p.m3u8"]
    assert variants[0].codecs == ("avc1.64001f", "mp4a.40.2")  # the source's High 3.1, copied
    assert not list(out.glob("1080p*"))
    for playlist in output.playlists.values():
        assert len(playlist.segments) == 3
        first = decoded_video_frames(out / playlist.segments[-1].uri)[0]
        assert first["key_frame"] == 1


def test_video_starting_after_audio_does_not_lengthen_the_encoded_rungs(source_720p_flv: Path, media_dir: Path) -> None:
    """OBS often sends audio before the first keyframe. FFmpeg's default for HLS (constant frame
    rate) used to repeat the first frame back to the audio's start in every encoded rung only, so
    their VOD was longer than the copied source's by the gap (16.03 s for a 15 s broadcast)."""
    late = media_dir / "late-video.flv"
    subprocess.run(
        # Video shifted 0.9 s after audio; the FLV keeps no frame rate, as after a bare RTMP publish.
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(source_720p_flv)),
            *("-itsoffset", "0.9", "-i", str(source_720p_flv), "-map", "1:v", "-map", "0:a", "-c", "copy", str(late)),
        ],
        check=True,
        timeout=FFMPEG_TIMEOUT,
    )
    plan = Ladder.parse("720,360").plan(probe(source_720p_flv))
    out = media_dir / "hls-late-video"
    out.mkdir()
    # The worker's small input probe, which cannot measure the frame rate of this input.
    args = build_transcode_args(
        plan, "pipe:0", out, input_format="flv", window_segments=10, input_options=("-analyzeduration", "250000")
    )

    output = run_ladder(plan, args, out, stdin=late)

    copied, encoded = (output.playlists[rung.name] for rung in plan)
    assert encoded.duration == pytest.approx(copied.duration, abs=0.05)
    segment = out / encoded.segments[1].uri
    video = ffprobe_json("-select_streams", "v", "-show_entries", "stream=r_frame_rate", str(segment))["streams"]
    assert video[0]["r_frame_rate"] == "30/1"


def test_a_thumbnail_is_the_first_frame_of_a_segment_as_a_small_jpeg(ladder_1080p: Output, tmp_path: Path) -> None:
    segment = (ladder_1080p.directory / ladder_1080p.playlists["1080p"].segments[0].uri).read_bytes()
    image = asyncio.run(jpeg_thumbnail(segment, height=360))
    assert image is not None
    (tmp_path / "thumbnail.jpg").write_bytes(image)
    [stream] = ffprobe_json("-show_streams", str(tmp_path / "thumbnail.jpg"))["streams"]
    assert (stream["codec_name"], stream["height"]) == ("mjpeg", 360)
    assert asyncio.run(jpeg_thumbnail(b"not a transport stream" * 100)) is None
