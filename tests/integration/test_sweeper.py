"""The broadcast sweeper against moto: a worker that died (no finalize, no more heartbeats)
leaves a live channel and a recording in S3; the sweeper ends the broadcast once its heartbeat
is `live_stale` old and writes its VOD from the recording."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from letslive.data.streams import StreamRepository
from letslive.media.playlists import parse_master_playlist, parse_media_playlist
from letslive.services.recordings import broadcast_prefix
from letslive.services.storage import media_storage
from letslive.services.sweeper import BroadcastSweeper
from letslive.services.vods import vod_service
from tests.integration.conftest import EventBus
from tests.integration.test_streams_api import STALE, Worker, health, kinds, worker_service
from tests.support.clocks import DateClock
from tests.unit.test_uploader import NO_WAIT, PLAN, RUNGS, FakeFfmpeg, segment_name
from workers.ingest.uploader import HlsUploader


@pytest.fixture
def worker(tables: object, media_bucket: str, event_bus: EventBus) -> Worker:
    clock = DateClock(datetime.now(UTC))
    return Worker(worker_service(clock), clock)


def new_key(worker: Worker, username: str) -> str:
    return worker.service.create_key(username).stream_key


def record(broadcast_id: str, directory: Path, segments: int, window: int = 4) -> None:
    """What a worker stores before it dies: `segments` per rung, in two passes (so that the live
    window holds segments the recording does not), never finalized."""
    uploader = HlsUploader(media_storage(), broadcast_id, PLAN, window_segments=window, retry=NO_WAIT)
    uploader.start_part(directory)
    ffmpeg = FakeFfmpeg(directory)
    ffmpeg.write(0, segments - 2)
    asyncio.run(uploader.sync())
    ffmpeg.write(0, segments)
    asyncio.run(uploader.sync())


def sweeper(worker: Worker) -> BroadcastSweeper:
    return BroadcastSweeper(worker.service, vod_service(), media_storage(), clock=worker.clock)


def test_a_dead_workers_broadcast_is_ended_and_its_vod_written_from_the_recording(
    worker: Worker, event_bus: EventBus, tmp_path: Path
) -> None:
    _, broadcast = worker.go_live(new_key(worker, "alice"))
    record(broadcast.broadcast_id, tmp_path / "part-1", segments=10)
    prefix = broadcast_prefix(broadcast.broadcast_id)
    recording = parse_media_playlist(media_storage().get(f"{prefix}/event_{RUNGS[0]}.m3u8").decode())
    assert len(recording.segments) == 8, "the last two are only in the live window"

    worker.clock.advance(STALE)
    assert sweeper(worker).sweep().ended == [], "heard from recently enough"
    assert [c.username for c in worker.service.live().items] == ["alice"]

    worker.clock.advance(1)
    assert worker.service.live().items == [], "a silent worker's channel leaves the directory at once"
    report = sweeper(worker).sweep()

    assert report.ended == [broadcast.broadcast_id]
    assert report.vods == [broadcast.broadcast_id]
    assert worker.service.channel("alice").live is False
    assert kinds(event_bus.received()) == ["StreamStarted", "StreamEnded", "VodReady"]
    vod = vod_service().get(broadcast.broadcast_id)
    assert vod.duration_seconds == pytest.approx(10.0)
    master = media_storage().get(f"{prefix}/vod.m3u8").decode()
    assert [v.uri for v in parse_master_playlist(master)] == [f"vod_{rung}.m3u8" for rung in RUNGS]
    for rung in RUNGS:
        playlist = parse_media_playlist(media_storage().get(f"{prefix}/vod_{rung}.m3u8").decode())
        assert playlist.ended
        assert [s.uri for s in playlist.segments] == [segment_name(rung, n) for n in range(10)]
    # The streamer can go live again at once, as a new broadcast.
    _, again = worker.go_live(new_key(worker, "alice"))
    assert again.broadcast_id != broadcast.broadcast_id
    assert sweeper(worker).sweep().ended == []


def test_a_worker_that_heartbeats_keeps_its_broadcast(worker: Worker, tmp_path: Path) -> None:
    grant, broadcast = worker.go_live(new_key(worker, "alice"))
    for _ in range(4):
        worker.clock.advance(STALE - 5)
        assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, health()) is True
        assert sweeper(worker).sweep().ended == []
    assert worker.service.channel("alice").live is True


def test_a_heartbeat_racing_the_sweeper_wins(worker: Worker) -> None:
    """The end is conditional on the heartbeat still being stale: read stale, heartbeat, end."""
    grant, broadcast = worker.go_live(new_key(worker, "alice"))
    worker.clock.advance(STALE + 1)
    cutoff = worker.clock() - timedelta(seconds=STALE)  # what the sweeper read: stale
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, health()) is True
    result = StreamRepository().end(broadcast.broadcast_id, worker.clock(), False, stale_before=cutoff)
    assert result is not None
    assert result[1] is False
    assert worker.service.channel("alice").live is True


def test_a_broadcast_that_never_stored_a_segment_ends_without_a_vod(worker: Worker, event_bus: EventBus) -> None:
    _, broadcast = worker.go_live(new_key(worker, "alice"))
    worker.clock.advance(STALE + 1)
    report = sweeper(worker).sweep()
    assert (report.ended, report.vods, report.failed) == ([broadcast.broadcast_id], [], [])
    assert kinds(event_bus.received()) == ["StreamStarted", "StreamEnded"]
