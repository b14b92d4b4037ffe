"""HLS playlists: the master's attributes, parsing media playlists, VOD playlists."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from letslive.errors import InvalidInput
from letslive.media.ladder import Ladder
from letslive.media.playlists import (
    PlaylistError,
    Segment,
    join_parts,
    live_playlist,
    master_playlist,
    merge_segments,
    open_recording,
    parse_master_playlist,
    parse_media_playlist,
    recording_chunk,
    recording_index,
    sealed_chunks,
    target_duration,
    vod_playlist,
)
from letslive.media.source import SourceInfo

SOURCE = SourceInfo(1920, 1080, 30.0, "h264", "aac", video_profile="High", video_level=42, video_bitrate_kbps=6000)

# What FFmpeg 5.1's HLS muxer writes: PROGRAM-DATE-TIME between EXTINF and the URI.
FFMPEG_LIVE = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:14
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:1.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T06:57:00.471+0000
720p_000014.ts
#EXTINF:1.033333,
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T06:57:01.471+0000
720p_000015.ts
#EXTINF:0.966667,
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T06:57:02.504+0000
720p_000016.ts
"""

START = datetime(2026, 11, 25, 6, 57, 0, 471000, tzinfo=UTC)


def test_master_lists_every_rung_with_its_attributes() -> None:
    planned = Ladder.parse("1080,720,480,360").plan(SOURCE)

    text = master_playlist(planned)
    variants = parse_master_playlist(text)

    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n")
    assert [variant.uri for variant in variants] == ["1080p.m3u8", "720p.m3u8", "480p.m3u8", "360p.m3u8"]
    assert [variant.resolution for variant in variants] == [(1920, 1080), (1280, 720), (854, 480), (640, 360)]
    assert [variant.codecs for variant in variants] == [
        ("avc1.64002a", "mp4a.40.2"),  # the copied source's own profile and level (High 4.2)
        ("avc1.64001f", "mp4a.40.2"),
        ("avc1.4d401f", "mp4a.40.2"),
        ("avc1.4d401e", "mp4a.40.2"),
    ]
    assert [variant.frame_rate for variant in variants] == [30.0] * 4
    bandwidths = [variant.bandwidth for variant in variants]
    assert bandwidths == sorted(bandwidths, reverse=True)
    assert bandwidths[1] == round((3000 + 128) * 1000 * 1.1)  # max rate + audio + MPEG-TS overhead
    for variant in variants:
        assert int(variant.attributes["AVERAGE-BANDWIDTH"]) <= variant.bandwidth
    assert 'FRAME-RATE=30.000,CODECS="avc1.64001f,mp4a.40.2"' in text


def test_master_frame_rate_keeps_ntsc_precision() -> None:
    ntsc = SourceInfo(1280, 720, 29.97, "h264", "aac", video_profile="Main", video_level=31)

    variants = parse_master_playlist(master_playlist(Ladder().plan(ntsc)))

    assert [variant.frame_rate for variant in variants] == [29.97, 29.97]
    assert variants[0].codecs == ("avc1.4d401f", "mp4a.40.2")


def test_master_uri_can_be_chosen() -> None:
    text = master_playlist(Ladder().plan(SOURCE), uri=lambda rung: f"live/{rung.name}/index.m3u8")

    assert next(variant.uri for variant in parse_master_playlist(text)) == "live/1080p/index.m3u8"


def test_parse_ffmpeg_live_playlist() -> None:
    playlist = parse_media_playlist(FFMPEG_LIVE)

    assert (playlist.target_duration, playlist.media_sequence, playlist.version) == (1, 14, 6)
    assert playlist.independent_segments
    assert not playlist.ended
    assert [segment.uri for segment in playlist.segments] == ["720p_000014.ts", "720p_000015.ts", "720p_000016.ts"]
    assert [segment.sequence for segment in playlist.segments] == [14, 15, 16]
    assert [segment.duration for segment in playlist.segments] == [1.0, 1.033333, 0.966667]
    assert playlist.segments[0].program_date_time == START
    assert playlist.duration == pytest.approx(3.0)
    assert not any(segment.discontinuity for segment in playlist.segments)


def test_parse_discontinuity_endlist_and_tags_before_extinf() -> None:
    text = """#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:3
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T06:57:00.471Z
#EXTINF:2.0,title
a.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T07:00:00.000+00:00
#EXTINF:1.5,
b.ts
#EXT-X-ENDLIST
"""
    playlist = parse_media_playlist(text)

    assert playlist.ended
    assert playlist.playlist_type == "EVENT"
    assert playlist.discontinuity_sequence == 1
    assert [(segment.uri, segment.discontinuity) for segment in playlist.segments] == [("a.ts", False), ("b.ts", True)]
    assert playlist.segments[0].program_date_time == START
    assert playlist.segments[1].program_date_time == datetime(2026, 11, 25, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "720p_000014.ts\n",
        "#EXTM3U\n#EXTINF:1.0,\na.ts\n",  # no target duration
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\na.ts\n",  # no EXTINF
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n",  # EXTINF without URI
        "#EXTM3U\n#EXT-X-TARGETDURATION:x\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:1,\na.ts\n",
    ],
)
def test_parse_rejects_what_is_not_a_media_playlist(text: str) -> None:
    with pytest.raises(PlaylistError):
        parse_media_playlist(text)


def test_parse_master_rejects_variant_without_uri() -> None:
    with pytest.raises(PlaylistError):
        parse_master_playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n")


def segments(prefix: str, count: int, first: int = 0, start: datetime = START) -> list[Segment]:
    return [Segment(f"{prefix}_{first + i:06d}.ts", 1.0, first + i, start + timedelta(seconds=i)) for i in range(count)]


def test_vod_playlist_has_every_segment_and_endlist() -> None:
    text = vod_playlist(segments("720p", 3))

    lines = text.splitlines()
    assert lines[:5] == [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T06:57:00.471+00:00" in lines
    parsed = parse_media_playlist(text)
    assert parsed.ended
    assert parsed.playlist_type == "VOD"
    assert [segment.uri for segment in parsed.segments] == ["720p_000000.ts", "720p_000001.ts", "720p_000002.ts"]
    assert [segment.program_date_time for segment in parsed.segments] == [
        segment.program_date_time for segment in segments("720p", 3)
    ]


def test_vod_playlist_marks_a_discontinuity_between_parts() -> None:
    later = START + timedelta(minutes=5)
    parts = [segments("720p", 2), segments("720p", 2, first=2, start=later)]

    text = vod_playlist(join_parts(parts))

    lines = text.splitlines()
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    gap = lines.index("#EXT-X-DISCONTINUITY")
    assert lines[gap + 1 : gap + 4] == [
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T07:02:00.471+00:00",
        "#EXTINF:1.000000,",
        "720p_000002.ts",
    ]
    parsed = parse_media_playlist(text)
    assert [segment.discontinuity for segment in parsed.segments] == [False, False, True, False]


def test_vod_playlist_never_starts_with_a_discontinuity() -> None:
    joined = join_parts([[], segments("360p", 1)])

    assert "#EXT-X-DISCONTINUITY" not in vod_playlist(joined)


def test_vod_target_duration_rounds_to_nearest() -> None:
    assert target_duration([Segment("a.ts", 1.49), Segment("b.ts", 0.9)]) == 1
    assert target_duration([Segment("a.ts", 1.5)]) == 2
    assert "#EXT-X-TARGETDURATION:3" in vod_playlist([Segment("a.ts", 2.6)])
    with pytest.raises(InvalidInput):
        vod_playlist([])


def test_merge_segments_accumulates_live_revisions() -> None:
    first = parse_media_playlist(FFMPEG_LIVE)
    newer = parse_media_playlist(FFMPEG_LIVE.replace("#EXT-X-MEDIA-SEQUENCE:14", "#EXT-X-MEDIA-SEQUENCE:15"))

    known = merge_segments(merge_segments([], first), newer)

    assert [segment.sequence for segment in known] == [14, 15, 16, 17]
    assert merge_segments(known, first) == known


def test_live_playlist_is_the_last_window_numbered_from_the_broadcast_start() -> None:
    later = START + timedelta(minutes=5)
    broadcast = join_parts([segments("720p", 3), segments("720p", 4, first=3, start=later)])

    playlist = parse_media_playlist(live_playlist(broadcast, window=5))
    assert (playlist.media_sequence, playlist.discontinuity_sequence) == (2, 0)
    assert [segment.uri for segment in playlist.segments] == [f"720p_{i:06d}.ts" for i in range(2, 7)]
    assert [segment.discontinuity for segment in playlist.segments] == [False, True, False, False, False]
    assert not playlist.ended
    assert all(segment.program_date_time is not None for segment in playlist.segments)

    # Once the part boundary has left the window, the discontinuity sequence counts it.
    moved_on = parse_media_playlist(live_playlist(broadcast, window=3))
    assert (moved_on.media_sequence, moved_on.discontinuity_sequence) == (4, 1)
    assert not any(segment.discontinuity for segment in moved_on.segments)
    with pytest.raises(InvalidInput):
        live_playlist([], window=3)
    with pytest.raises(InvalidInput):
        live_playlist(broadcast, window=0)


# --- the recording in chunks (rewind, resume) ----------------------------------------------------
def broadcast(count: int) -> list[Segment]:
    """A broadcast of `count` segments: a reconnect at 7 (a discontinuity), a lost segment at 9."""
    made = segments("720p", count)
    return [replace(segment, discontinuity=segment.sequence == 7, gap=segment.sequence == 9) for segment in made]


def test_a_full_chunk_is_its_segments_numbered_in_the_broadcast() -> None:
    chunk = parse_media_playlist(recording_chunk(broadcast(12), 1, 5))
    assert chunk.media_sequence == 5
    assert chunk.discontinuity_sequence == 0
    assert [s.uri for s in chunk.segments] == [f"720p_{n:06d}.ts" for n in range(5, 10)]
    assert [(s.sequence, s.discontinuity, s.gap) for s in chunk.segments][2:] == [
        (7, True, False),
        (8, False, False),
        (9, False, True),
    ]
    assert not chunk.ended
    with pytest.raises(InvalidInput):
        recording_chunk(broadcast(10), 1, 5)  # 5-9 would be full, but the open recording is never empty


@pytest.mark.parametrize(("count", "full"), [(1, 0), (5, 0), (6, 1), (10, 1), (11, 2), (300, 0)])
def test_every_chunk_is_full_and_the_open_recording_never_empty(count: int, full: int) -> None:
    assert sealed_chunks(count, 5 if count < 300 else 300) == full


def test_chunks_open_recording_and_live_window_merge_back_into_the_broadcast() -> None:
    made = broadcast(23)
    texts = [recording_chunk(made, n, 5) for n in range(4)]
    opened = open_recording(made[:21], 5, 3600)  # a little behind, as it is written every few segments
    index = recording_index(opened)
    assert index is not None
    assert (index.chunks, index.chunk_segments, index.rewind_from) == (4, 5, 0)
    merged: list[Segment] = []
    for text in [*texts, opened, live_playlist(made, 6)]:
        merged = merge_segments(merged, parse_media_playlist(text))
    assert merged == made


@pytest.mark.parametrize(("rewind_seconds", "first"), [(0, 4), (3, 4), (4, 3), (8, 3), (9, 2), (23, 0), (1e9, 0)])
def test_the_rewind_window_reaches_at_least_as_far_back_as_asked(rewind_seconds: float, first: int) -> None:
    """23 one-second segments in chunks of 5: four full chunks (0-19), the open recording 20-22."""
    index = recording_index(open_recording(broadcast(23), 5, rewind_seconds))
    assert index is not None
    assert index.rewind_from == first


def test_a_playlist_written_whole_has_no_recording_index() -> None:
    assert recording_index(live_playlist(broadcast(3), 6)) is None
    with pytest.raises(PlaylistError):
        recording_index("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#X-LETSLIVE-RECORDING:CHUNKS=x\n")
