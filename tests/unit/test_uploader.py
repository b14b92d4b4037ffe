"""HlsUploader: mirrors FFmpeg's HLS output into the media store, in order, losing nothing."""

import asyncio
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from letslive.constants import IngestMetric
from letslive.errors import DependencyUnavailable, MediaNotFound
from letslive.media.ladder import Ladder, PlannedRung
from letslive.media.playlists import (
    MediaPlaylist,
    Segment,
    parse_master_playlist,
    parse_media_playlist,
    recording_index,
)
from letslive.media.source import SourceInfo
from letslive.services.recordings import PLAYLIST_TYPE, VOD_PLAYLIST_CACHE, broadcast_prefix, recorded_segments
from tests.unit.test_ingest_metrics import RecordingMetrics
from workers.ingest.uploader import (
    CHUNK_CACHE,
    EVENT_CACHE,
    LIVE_PLAYLIST_CACHE,
    MASTER_CACHE,
    SEGMENT_CACHE,
    SEGMENT_TYPE,
    THUMBNAIL_CACHE,
    DiskBudget,
    HlsUploader,
    RetryPolicy,
)

BROADCAST = "b-123"
PREFIX = broadcast_prefix(BROADCAST)
SOURCE = SourceInfo(
    width=1280, height=720, fps=30, video_codec="h264", audio_codec="aac", video_profile="High", video_level=31
)
PLAN: list[PlannedRung] = Ladder.parse("720,360").plan(SOURCE)
RUNGS = [rung.name for rung in PLAN]  # ["720p", "360p"], the top rung first
TOP, LOW = RUNGS
NO_WAIT = RetryPolicy(attempts=2, base_seconds=0, max_seconds=0)
START = datetime(2026, 11, 25, 6, 57, 0, tzinfo=UTC)
JPEG = b"\xff\xd8jpeg"


@dataclass(frozen=True)
class Put:
    key: str
    body: bytes
    content_type: str
    cache_control: str
    order: int


class FakeStorage:
    """An in-memory `MediaStorage` that records every stored object and can be taken down."""

    def __init__(self) -> None:
        self.puts: list[Put] = []
        self.down = False
        self.fail_next = 0  # transient failures before the next put succeeds
        self.attempts = 0
        self.error: Exception | None = None  # raised by every put while set (not only DependencyUnavailable)
        self.open = threading.Event()  # cleared: every put hangs (a stalled endpoint) until it is set
        self.open.set()

    def put(self, key: str, body: bytes, content_type: str, cache_control: str) -> None:
        self.attempts += 1
        self.open.wait()
        if self.error is not None:
            raise self.error
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            raise DependencyUnavailable("s3: connection refused")
        self.puts.append(Put(key, body, content_type, cache_control, len(self.puts)))

    def get(self, key: str) -> bytes:
        for put in reversed(self.puts):
            if put.key == key:
                return put.body
        raise MediaNotFound(key)

    def ping(self) -> None:
        if self.down:
            raise DependencyUnavailable("s3: connection refused")

    # --- views for the assertions ---
    def keys(self) -> list[str]:
        return [put.key for put in self.puts]

    def named(self, name: str) -> list[Put]:
        return [put for put in self.puts if put.key == f"{PREFIX}/{name}"]

    def segment_names(self, rung: str) -> list[str]:
        """Every segment put, sorted (a backlog is uploaded a few at a time, in any order)."""
        return sorted(
            put.key.removeprefix(PREFIX + "/")
            for put in self.puts
            if put.key.startswith(f"{PREFIX}/{rung}_") and put.key.endswith(".ts")
        )

    def playlist(self, name: str) -> MediaPlaylist:
        return parse_media_playlist(self.get(f"{PREFIX}/{name}").decode())


def segment_name(rung: str, sequence: int) -> str:
    return f"{rung}_{sequence:06d}.ts"


class FakeFfmpeg:
    """What FFmpeg's HLS muxer leaves in a part's directory: per rung, each `.ts` segment (written
    once, before any playlist names it) and a live media playlist over its window."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written: set[str] = set()
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, first: int, count: int, *, rungs: list[str] = RUNGS, durations: list[float] | None = None) -> None:
        """The playlists now list `count` segments from media sequence `first`."""
        for rung in rungs:
            lines = [
                "#EXTM3U",
                "#EXT-X-VERSION:6",
                "#EXT-X-TARGETDURATION:1",
                f"#EXT-X-MEDIA-SEQUENCE:{first}",
                "#EXT-X-INDEPENDENT-SEGMENTS",
            ]
            for index, sequence in enumerate(range(first, first + count)):
                duration = 1.0 if durations is None else durations[index]
                pdt = (START + timedelta(seconds=sequence)).strftime("%Y-%m-%dT%H:%M:%S.000%z")
                name = segment_name(rung, sequence)
                lines += [f"#EXTINF:{duration:.6f},", f"#EXT-X-PROGRAM-DATE-TIME:{pdt}", name]
                if name not in self.written:
                    (self.directory / name).write_bytes(b"G" + f"{rung}:{sequence}".encode())
                    self.written.add(name)
            # As FFmpeg does: a new file renamed over the old one.
            temporary = self.directory / f"{rung}.m3u8.tmp"
            temporary.write_text("\n".join(lines) + "\n")
            temporary.replace(self.directory / f"{rung}.m3u8")


def make_uploader(storage: FakeStorage, **kwargs: object) -> HlsUploader:
    return HlsUploader(storage, BROADCAST, PLAN, retry=NO_WAIT, **kwargs)  # type: ignore[arg-type]


# --- (1) order, headers, master, local clean-up ------------------------------------------------
def test_segments_are_stored_before_the_playlist_that_names_them(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    assert uploader.start_part(part) == 0
    ffmpeg.write(0, 3)

    assert asyncio.run(uploader.sync()) == 6

    for rung in RUNGS:
        segments = [storage.named(segment_name(rung, n))[0] for n in range(3)]
        [live] = storage.named(f"{rung}.m3u8")
        assert max(s.order for s in segments) < live.order
        for segment in segments:
            assert (segment.content_type, segment.cache_control) == (SEGMENT_TYPE, SEGMENT_CACHE)
            assert "immutable" in segment.cache_control
        assert (live.content_type, live.cache_control) == (PLAYLIST_TYPE, LIVE_PLAYLIST_CACHE)
        assert {"max-age=0", "s-maxage=1"} <= set(live.cache_control.split(", "))
        named = [s.uri for s in storage.playlist(f"{rung}.m3u8").segments]
        assert named == [segment_name(rung, n) for n in range(3)]
        assert storage.get(f"{PREFIX}/{segment_name(rung, 1)}") == f"G{rung}:1".encode()
        assert not list(part.glob(f"{rung}_*.ts")), "stored segments are deleted locally"


def test_master_is_stored_once_every_rung_has_a_segment(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)

    ffmpeg.write(0, 1, rungs=[TOP])
    asyncio.run(uploader.sync())
    assert storage.named(segment_name(TOP, 0))
    assert not storage.named("master.m3u8"), "no master while a rung has no segment"

    ffmpeg.write(0, 2)
    asyncio.run(uploader.sync())
    [master] = storage.named("master.m3u8")
    assert (master.content_type, master.cache_control) == (PLAYLIST_TYPE, MASTER_CACHE)
    assert master.order > max(p.order for p in storage.puts if p.key.endswith(".ts"))
    variants = parse_master_playlist(master.body.decode())
    assert [v.uri for v in variants] == [f"{TOP}.m3u8", f"{LOW}.m3u8"]
    assert [v.resolution for v in variants] == [(1280, 720), (640, 360)]

    ffmpeg.write(0, 3)
    asyncio.run(uploader.sync())
    assert storage.named(segment_name(LOW, 2))
    assert len(storage.named("master.m3u8")) == 1, "the master is stored once"


def test_a_transient_failure_is_retried_within_the_pass(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    ffmpeg.write(0, 1)
    storage.fail_next = 1

    assert asyncio.run(uploader.sync()) == 2
    assert uploader.failures == 0
    assert storage.segment_names(TOP) == [segment_name(TOP, 0)]


# --- (2) storage down: nothing lost ------------------------------------------------------------
def test_storage_outage_loses_no_segment_even_beyond_ffmpegs_window(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    ffmpeg.write(0, 3)
    storage.down = True

    assert asyncio.run(uploader.sync()) == 0  # raises nothing
    assert storage.puts == []
    assert storage.attempts > 0
    assert uploader.failures == 1
    for rung in RUNGS:
        assert sorted(p.name for p in part.glob(f"{rung}_*.ts")) == [segment_name(rung, n) for n in range(3)]

    # FFmpeg rolls on: 0-2 leave its 3-segment window, 3-5 arrive.
    ffmpeg.write(3, 3)
    assert asyncio.run(uploader.sync()) == 0
    assert storage.puts == []

    storage.down = False
    assert asyncio.run(uploader.sync()) == 12

    for rung in RUNGS:
        assert storage.segment_names(rung) == [segment_name(rung, n) for n in range(6)], rung
        [live] = storage.named(f"{rung}.m3u8")
        assert live.order > max(storage.named(segment_name(rung, n))[0].order for n in range(6))
        assert [s.sequence for s in storage.playlist(f"{rung}.m3u8").segments] == list(range(6))
        assert not list(part.glob(f"{rung}_*.ts"))
    assert len(storage.named("master.m3u8")) == 1


# --- (3) reconnects -----------------------------------------------------------------------------
def test_a_reconnect_continues_the_sequence_with_a_discontinuity(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    assert uploader.start_part(tmp_path / "part-1") == 0
    FakeFfmpeg(tmp_path / "part-1").write(0, 3)
    asyncio.run(uploader.sync())

    part2 = tmp_path / "part-2"
    assert uploader.start_part(part2) == 3
    FakeFfmpeg(part2).write(3, 2)  # FFmpeg started with -start_number 3
    assert asyncio.run(uploader.sync()) == 4

    for rung in RUNGS:
        assert storage.segment_names(rung) == [segment_name(rung, n) for n in range(5)], "none uploaded twice"
        live = storage.playlist(f"{rung}.m3u8")
        assert [(s.uri, s.discontinuity) for s in live.segments] == [(segment_name(rung, n), n == 3) for n in range(5)]
        assert "#EXT-X-DISCONTINUITY\n" in storage.get(f"{PREFIX}/{rung}.m3u8").decode()

    vod = asyncio.run(uploader.finalize())
    assert vod is not None
    for rung in RUNGS:
        playlist = storage.playlist(f"vod_{rung}.m3u8")
        assert [(s.uri, s.discontinuity) for s in playlist.segments] == [
            (segment_name(rung, n), n == 3) for n in range(5)
        ]


# --- (4) the VOD ----------------------------------------------------------------------------------
def test_finalize_writes_the_vod_from_every_segment(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage, window_segments=2)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    ffmpeg.write(0, 3, rungs=[TOP], durations=[1.0, 1.033333, 0.966667])
    ffmpeg.write(0, 3, rungs=[LOW])  # lower rungs' durations differ a little: the top rung's count
    asyncio.run(uploader.sync())
    ffmpeg.write(2, 3, rungs=[TOP], durations=[0.966667, 1.0, 0.5])  # the last segment is short
    ffmpeg.write(2, 3, rungs=[LOW])

    vod = asyncio.run(uploader.finalize())

    assert vod is not None
    assert vod.playback_key == f"{PREFIX}/vod.m3u8"
    assert vod.duration_seconds == pytest.approx(1.0 + 1.033333 + 0.966667 + 1.0 + 0.5)
    assert vod.rungs == PLAN
    for rung in RUNGS:
        [put] = storage.named(f"vod_{rung}.m3u8")
        assert (put.content_type, put.cache_control) == (PLAYLIST_TYPE, VOD_PLAYLIST_CACHE)
        playlist = parse_media_playlist(put.body.decode())
        assert playlist.ended
        assert playlist.playlist_type == "VOD"
        assert [s.uri for s in playlist.segments] == [segment_name(rung, n) for n in range(5)]
        # the live window (2) is not the VOD
        assert len(storage.playlist(f"{rung}.m3u8").segments) == 2
    [master] = storage.named("vod.m3u8")
    assert master.order > max(p.order for p in storage.named(f"vod_{TOP}.m3u8") + storage.named(f"vod_{LOW}.m3u8"))
    assert [v.uri for v in parse_master_playlist(master.body.decode())] == [f"vod_{TOP}.m3u8", f"vod_{LOW}.m3u8"]


def test_finalize_without_any_segment_returns_none(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    uploader.start_part(tmp_path / "part-1")  # FFmpeg never wrote anything

    assert asyncio.run(uploader.finalize()) is None
    assert storage.puts == []


# --- (5) thumbnails -------------------------------------------------------------------------------
def sync_and_thumbnail(uploader: HlsUploader) -> None:
    async def run() -> None:
        await uploader.sync()
        await uploader.thumbnailed()

    asyncio.run(run())


def test_thumbnails_follow_the_top_rung_at_most_every_thumbnail_seconds(tmp_path: Path) -> None:
    storage = FakeStorage()
    now = [100.0]
    grabbed: list[bytes] = []

    async def thumbnailer(segment: bytes) -> bytes | None:
        grabbed.append(segment)
        return JPEG

    uploader = make_uploader(storage, thumbnailer=thumbnailer, thumbnail_seconds=15.0, clock=lambda: now[0])
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    assert uploader.thumbnail_key is None

    ffmpeg.write(0, 2)
    sync_and_thumbnail(uploader)
    assert grabbed == [f"G{TOP}:1".encode()], "the newest segment of the pass"
    [thumbnail] = storage.named("thumbnail.jpg")
    [playlist] = storage.named(f"{TOP}.m3u8")
    assert playlist.order < thumbnail.order, "the live edge first"
    assert (thumbnail.body, thumbnail.content_type, thumbnail.cache_control) == (JPEG, "image/jpeg", THUMBNAIL_CACHE)
    assert uploader.thumbnail_key == f"{PREFIX}/thumbnail.jpg"

    now[0] += 14.9
    ffmpeg.write(0, 4)
    sync_and_thumbnail(uploader)
    assert len(grabbed) == 1
    assert len(storage.named("thumbnail.jpg")) == 1

    now[0] += 0.1  # 15 s since the last one
    ffmpeg.write(0, 5)
    sync_and_thumbnail(uploader)
    assert grabbed == [f"G{TOP}:1".encode(), f"G{TOP}:4".encode()]
    assert len(storage.named("thumbnail.jpg")) == 2


def test_passes_that_overlap_store_each_segment_once(tmp_path: Path) -> None:
    """The periodic pass and a publisher's end may sync at the same moment (seen in CI: the
    second pass read a segment the first had just stored and deleted, and the broadcast was
    never finalized)."""
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    ffmpeg.write(0, 4)

    async def both() -> list[int]:
        return list(await asyncio.gather(uploader.sync(), uploader.sync(), uploader.sync()))

    assert sorted(asyncio.run(both())) == [0, 0, 8]
    for rung in RUNGS:
        assert [len(storage.named(segment_name(rung, n))) for n in range(4)] == [1, 1, 1, 1]
    vod = asyncio.run(uploader.finalize())
    assert vod is not None
    assert vod.duration_seconds == pytest.approx(4.0)


# --- (6) metrics ---------------------------------------------------------------------------------
def test_a_pass_reports_how_many_segments_it_stored_and_how_long_each_waited(tmp_path: Path) -> None:
    storage = FakeStorage()
    metrics = RecordingMetrics()
    uploader = make_uploader(storage, metrics=metrics)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    ffmpeg.write(0, 2)
    closed = time.time() - 1.5  # FFmpeg closed these segments 1.5 s before the pass
    for segment in part.glob("*.ts"):
        os.utime(segment, (closed, closed))

    assert asyncio.run(uploader.sync()) == 4

    ((values, properties),) = metrics.emitted
    assert values[IngestMetric.SEGMENTS_UPLOADED] == 4
    latencies = values[IngestMetric.SEGMENT_UPLOAD_LATENCY]
    assert isinstance(latencies, list)
    assert len(latencies) == 4
    assert all(1500 <= latency < 1500 + 10_000 for latency in latencies)
    assert properties == {"broadcast_id": BROADCAST}

    asyncio.run(uploader.sync())  # nothing new: nothing reported
    assert len(metrics.emitted) == 1


def test_an_upload_whose_retries_run_out_is_reported_as_a_failure(tmp_path: Path) -> None:
    storage = FakeStorage()
    metrics = RecordingMetrics()
    uploader = make_uploader(storage, metrics=metrics)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    ffmpeg.write(0, 1)

    storage.fail_next = 1  # retried within the pass: not a failure
    asyncio.run(uploader.sync())
    assert metrics.values(IngestMetric.UPLOAD_FAILURES) == []
    assert metrics.values(IngestMetric.SEGMENTS_UPLOADED) == [2]

    ffmpeg.write(0, 2)
    storage.down = True
    asyncio.run(uploader.sync())
    # The pass stops at the first object that stays down; the segment waits for the next pass.
    assert metrics.values(IngestMetric.UPLOAD_FAILURES) == [1]
    assert metrics.values(IngestMetric.SEGMENTS_UPLOADED) == [2]


# --- (6) program date-times ---------------------------------------------------------------------
def program_dates(storage: FakeStorage, rung: str) -> list[datetime | None]:
    return [segment.program_date_time for segment in storage.playlist(f"{rung}.m3u8").segments]


def test_program_dates_count_from_the_parts_first_frame_reaching_the_server(tmp_path: Path) -> None:
    """FFmpeg stamps from its own start-up; viewers' latency is measured from the frame's arrival."""
    storage = FakeStorage()
    uploader = make_uploader(storage)
    arrived = START - timedelta(seconds=0.45)
    uploader.start_part(tmp_path / "part-1", first_frame_at=arrived.timestamp())
    FakeFfmpeg(tmp_path / "part-1").write(0, 3)
    asyncio.run(uploader.sync())
    for rung in RUNGS:
        assert program_dates(storage, rung) == [arrived + timedelta(seconds=n) for n in range(3)]

    # A reconnect is its own FFmpeg run with its own start-up delay: corrected on its own.
    again = START + timedelta(seconds=2.9)  # FFmpeg stamps segment 3 at START + 3 s
    uploader.start_part(tmp_path / "part-2", first_frame_at=again.timestamp())
    FakeFfmpeg(tmp_path / "part-2").write(3, 2)
    asyncio.run(uploader.sync())
    assert program_dates(storage, TOP) == [
        *(arrived + timedelta(seconds=n) for n in range(3)),
        again,
        again + timedelta(seconds=1),
    ]


def test_segments_that_left_ffmpegs_listing_unseen_are_gaps_not_silence(tmp_path: Path) -> None:
    """Only an event loop stalled longer than FFmpeg's listing gets here: never silently."""
    storage = FakeStorage()
    metrics = RecordingMetrics()
    uploader = make_uploader(storage, metrics=metrics)
    uploader.start_part(tmp_path / "part-1", first_frame_at=(START - timedelta(seconds=1)).timestamp())
    FakeFfmpeg(tmp_path / "part-1").write(2, 3)  # segments 0 and 1 already left FFmpeg's listing
    asyncio.run(uploader.sync())

    live = storage.playlist(f"{TOP}.m3u8")
    assert [(s.uri, s.gap) for s in live.segments] == [(segment_name(TOP, n), n < 2) for n in range(5)]
    assert storage.segment_names(TOP) == [segment_name(TOP, n) for n in range(2, 5)], "a gap is never fetched"
    # The part's first segment went unseen: FFmpeg's own program date-times stay.
    assert [s.program_date_time for s in live.segments][2:] == [START + timedelta(seconds=n) for n in range(2, 5)]
    assert uploader.dropped == 4
    assert sum(metrics.values(IngestMetric.SEGMENTS_DROPPED)) == 4  # type: ignore[arg-type]
    vod = asyncio.run(uploader.finalize())
    assert vod is not None
    assert vod.gaps == 2
    assert "#EXT-X-GAP" in storage.get(f"{PREFIX}/vod_{TOP}.m3u8").decode()


# --- (7) storage faults as production brings them ------------------------------------------------
def test_a_stalled_store_loses_nothing_while_ffmpeg_rolls_on(tmp_path: Path) -> None:
    """A put that hangs (the endpoint accepted the connection and went silent) holds the pass;
    the broadcast's watcher keeps spooling what FFmpeg lists meanwhile."""
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)

    async def scenario() -> None:
        uploader.start_part(part)
        ffmpeg.write(0, 3)
        storage.open.clear()
        stalled = asyncio.create_task(uploader.sync())
        await asyncio.sleep(0.05)
        for first in range(3, 30, 3):  # 27 more segments; FFmpeg lists 3 at a time
            ffmpeg.write(first, 3)
            assert uploader.discover() == 3 * len(RUNGS)
        assert not stalled.done()
        storage.open.set()
        await stalled
        await uploader.sync()

    asyncio.run(scenario())
    for rung in RUNGS:
        assert storage.segment_names(rung) == [segment_name(rung, n) for n in range(30)]
        assert [s.sequence for s in storage.playlist(f"{rung}.m3u8").segments] == list(range(24, 30))
        assert not list(part.glob(f"{rung}_*.ts"))
    assert uploader.unstored == 0


@pytest.mark.parametrize(
    "error",
    [RuntimeError("a bug in a dependency"), OSError("disk trouble"), DependencyUnavailable("s3: 503 Slow Down")],
)
def test_any_storage_error_leaves_the_pass_standing_and_the_media_spooled(tmp_path: Path, error: Exception) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    ffmpeg.write(0, 2)
    storage.error = error

    assert asyncio.run(uploader.sync()) == 0
    assert asyncio.run(uploader.sync()) == 0
    assert uploader.failures == 2
    assert uploader.unstored == 2 * len(RUNGS)

    storage.error = None
    ffmpeg.write(2, 2)
    assert asyncio.run(uploader.sync()) == 4 * len(RUNGS)
    assert uploader.failures == 0
    vod = asyncio.run(uploader.finalize())
    assert vod is not None
    assert vod.gaps == 0
    for rung in RUNGS:
        assert [s.uri for s in storage.playlist(f"vod_{rung}.m3u8").segments] == [
            segment_name(rung, n) for n in range(4)
        ]


def test_a_reconnect_during_an_outage_keeps_every_parts_segments(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    storage.down = True
    assert uploader.start_part(tmp_path / "part-1") == 0
    FakeFfmpeg(tmp_path / "part-1").write(0, 3)
    asyncio.run(uploader.sync())

    # The publisher reconnects while storage is still down: the new part must not reuse 0-2.
    assert uploader.start_part(tmp_path / "part-2") == 3
    FakeFfmpeg(tmp_path / "part-2").write(3, 2)
    asyncio.run(uploader.sync())
    assert uploader.unstored == 5 * len(RUNGS)

    storage.down = False
    assert asyncio.run(uploader.sync()) == 5 * len(RUNGS)
    for rung in RUNGS:
        live = storage.playlist(f"{rung}.m3u8")
        assert [(s.uri, s.discontinuity) for s in live.segments] == [(segment_name(rung, n), n == 3) for n in range(5)]
        assert not list((tmp_path / "part-1").glob(f"{rung}_*.ts")), "the old part's spool is stored and cleaned"


def test_over_the_disk_budget_the_oldest_unstored_media_becomes_a_marked_gap(tmp_path: Path) -> None:
    storage = FakeStorage()
    metrics = RecordingMetrics()
    segment_bytes = len(f"G{TOP}:0".encode())  # every fake segment of a rung has this size
    budget = DiskBudget(limit_bytes=len(RUNGS) * segment_bytes * 4)  # four segments of every rung
    uploader = make_uploader(storage, metrics=metrics, budget=budget)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    storage.down = True
    for first in range(0, 6, 2):
        ffmpeg.write(first, 2)
        asyncio.run(uploader.sync())
    assert budget.spooled_bytes <= budget.limit_bytes
    assert uploader.dropped == 2 * len(RUNGS), "segments 0 and 1 of every rung"
    assert sum(metrics.values(IngestMetric.SEGMENTS_DROPPED)) == 2 * len(RUNGS)  # type: ignore[arg-type]
    assert not (part / segment_name(TOP, 0)).exists()

    storage.down = False
    vod = asyncio.run(uploader.finalize())
    assert vod is not None
    assert vod.gaps == 2
    for rung in RUNGS:
        playlist = storage.playlist(f"vod_{rung}.m3u8")
        assert [(s.uri, s.gap) for s in playlist.segments] == [(segment_name(rung, n), n < 2) for n in range(6)]
        assert storage.segment_names(rung) == [segment_name(rung, n) for n in range(2, 6)]
    assert budget.spooled_bytes == 0


def test_finalize_waits_for_storage_and_gives_up_only_at_its_deadline(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    FakeFfmpeg(part).write(0, 0)
    uploader.start_part(part)
    FakeFfmpeg(part).write(0, 3)
    asyncio.run(uploader.sync())
    FakeFfmpeg(part).write(0, 5)
    storage.down = True

    async def comes_back() -> None:
        await asyncio.sleep(0.3)
        storage.down = False

    async def scenario() -> object:
        restore = asyncio.create_task(comes_back())
        vod = await uploader.finalize(timeout_seconds=30)
        await restore
        return vod

    assert asyncio.run(scenario()) is not None
    for rung in RUNGS:
        assert [s.uri for s in storage.playlist(f"vod_{rung}.m3u8").segments] == [
            segment_name(rung, n) for n in range(5)
        ]

    # Down for good: the VOD cannot even be written; nothing raises.
    stuck = make_uploader(FakeStorage())
    stuck.start_part(tmp_path / "part-x")
    FakeFfmpeg(tmp_path / "part-x").write(0, 2)
    stuck.storage.down = True  # type: ignore[attr-defined]
    assert asyncio.run(stuck.finalize(timeout_seconds=0.2)) is None


def test_a_handed_over_uploader_stores_its_segments_but_no_playlist(tmp_path: Path) -> None:
    """Another worker resumed the broadcast: its playlists must not be overwritten by this one's."""
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    uploader.start_part(part)
    FakeFfmpeg(part).write(0, 3)
    uploader.owns_playlists = False
    assert asyncio.run(uploader.flush(1.0)) is True
    assert sorted(put.key.rsplit("/", 1)[1] for put in storage.puts) == sorted(
        segment_name(rung, n) for rung in RUNGS for n in range(3)
    )


def test_a_listed_segment_whose_file_is_gone_becomes_a_gap_not_a_stuck_pass(tmp_path: Path) -> None:
    storage = FakeStorage()
    uploader = make_uploader(storage)
    part = tmp_path / "part-1"
    uploader.start_part(part)
    FakeFfmpeg(part).write(0, 3)
    (part / segment_name(TOP, 1)).unlink()
    assert asyncio.run(uploader.sync()) == 3 * len(RUNGS)
    assert uploader.unstored == 0
    live = storage.playlist(f"{TOP}.m3u8")
    assert [(s.uri, s.gap) for s in live.segments] == [(segment_name(TOP, n), n == 1) for n in range(3)]


def test_a_part_ignores_what_its_directory_lists_from_before_its_start(tmp_path: Path) -> None:
    """A dead process's FFmpeg playlist left in the directory lists segments numbered before the part."""
    storage = FakeStorage()
    uploader = make_uploader(storage)
    recorded = {rung: [Segment(segment_name(rung, n), 1.0, n) for n in range(5)] for rung in RUNGS}
    uploader.restore(recorded)
    part = tmp_path / "part-2-1"
    FakeFfmpeg(part).write(0, 5)  # what a killed worker's FFmpeg left, its files long stored
    assert uploader.start_part(part) == 5
    assert asyncio.run(uploader.sync()) == 0
    assert uploader.unstored == 0
    FakeFfmpeg(part).write(5, 2)  # this part's FFmpeg, from -start_number 5
    assert asyncio.run(uploader.sync()) == 2 * len(RUNGS)
    assert [s.uri for s in storage.playlist(f"{TOP}.m3u8").segments][-2:] == [segment_name(TOP, n) for n in (5, 6)]


# --- (5) the recording in chunks: rewind and resume ------------------------------------------------
def test_the_recording_is_full_chunks_stored_once_and_a_small_open_recording(tmp_path: Path) -> None:
    """Chunks of 5 segments, a live window of 4: the recording is written every 3 segments; a
    full chunk once, immutable, before the open recording that lists it; what is rewritten
    never holds more than a chunk and a few segments, however long the broadcast."""
    storage = FakeStorage()
    uploader = make_uploader(storage, window_segments=4, chunk_segments=5, rewind_seconds=7)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    uploader.start_part(part)
    for first in range(0, 30, 3):  # FFmpeg lists its last 4; three new ones per pass
        ffmpeg.write(max(0, first - 1), min(4, first + 3))
        asyncio.run(uploader.sync())

    for rung in RUNGS:
        chunks = [storage.named(f"event_{rung}_{n:05d}.m3u8") for n in range(6)]
        assert [len(puts) for puts in chunks] == [1, 1, 1, 1, 1, 0]  # 0-24 full; 25-29 open
        opened = storage.named(f"event_{rung}.m3u8")
        assert all(put.cache_control == CHUNK_CACHE for puts in chunks for put in puts)
        assert "immutable" in CHUNK_CACHE
        assert {put.cache_control for put in opened} == {EVENT_CACHE}
        assert chunks[4][0].order < opened[-1].order
        index = recording_index(opened[-1].body.decode())
        assert index is not None
        assert (index.chunks, index.chunk_segments) == (5, 5)
        assert index.rewind_from == 4  # 7 s back: the open recording (3 s here) and one chunk
        assert max(len(parse_media_playlist(put.body.decode()).segments) for put in opened) <= 5
        assert recorded_segments(storage, PREFIX, rung) == uploader.renditions[RUNGS.index(rung)].stored
        assert [s.uri for s in recorded_segments(storage, PREFIX, rung)] == [segment_name(rung, n) for n in range(30)]


def test_a_resumed_recording_writes_its_chunks_again(tmp_path: Path) -> None:
    """The worker that carried the broadcast may have died before it stored a chunk the segments
    it stored had filled; the one that resumes it stores every chunk again (the same bytes)."""
    storage = FakeStorage()
    first = make_uploader(storage, window_segments=4, chunk_segments=5)
    part = tmp_path / "part-1"
    ffmpeg = FakeFfmpeg(part)
    first.start_part(part)
    for start in range(0, 12, 3):
        ffmpeg.write(max(0, start - 1), min(4, start + 3))
        asyncio.run(first.sync())
    before = {put.key: put.body for put in storage.puts if "event_" in put.key and put.key[-10:-5].isdigit()}

    resumed = make_uploader(storage, window_segments=4, chunk_segments=5)
    resumed.restore({rung: recorded_segments(storage, PREFIX, rung) for rung in RUNGS})
    part2 = tmp_path / "part-2"
    assert resumed.start_part(part2) == 12
    FakeFfmpeg(part2).write(12, 3)
    asyncio.run(resumed.sync())

    for rung in RUNGS:
        for n in range(2):
            key = f"{PREFIX}/event_{rung}_{n:05d}.m3u8"
            assert len(storage.named(f"event_{rung}_{n:05d}.m3u8")) == 2
            assert storage.get(key) == before[key]
        stored = recorded_segments(storage, PREFIX, rung)
        assert [s.uri for s in stored] == [segment_name(rung, n) for n in range(15)]
        assert [s.sequence for s in stored if s.discontinuity] == [12]
