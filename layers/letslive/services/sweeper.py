"""Ends the broadcasts of ingest workers that died, and writes their VODs from what was stored.

A worker heartbeats every few seconds while it carries a broadcast; one that stops (OOM, host
failure, SIGKILL, a partition) leaves its channels live with a dead player. The sweeper, run
on a schedule (an EventBridge rule in AWS, the platform's timer locally), ends each such
broadcast once its heartbeat is `live_stale_seconds` old (`StreamService.end_abandoned`:
channel offline, `StreamEnded`), then finalizes its VOD from the recording in the media store
(`letslive.services.recordings`) and records it (`VodReady`).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from letslive.errors import LetsLiveError
from letslive.services.recordings import RecordingStore, finalize_recording
from letslive.services.streams import StreamService
from letslive.services.vods import VodService

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    ended: list[str] = field(default_factory=list)  # broadcast ids
    vods: list[str] = field(default_factory=list)  # broadcast ids whose VOD was written
    failed: list[str] = field(default_factory=list)  # ended, but the VOD could not be written


class BroadcastSweeper:
    def __init__(
        self,
        streams: StreamService,
        vods: VodService,
        store: RecordingStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.streams = streams
        self.vods = vods
        self.store = store
        self._clock = clock

    def sweep(self) -> SweepReport:
        report = SweepReport()
        for broadcast in self.streams.end_abandoned(self._clock()):
            report.ended.append(broadcast.broadcast_id)
            try:
                recording = finalize_recording(self.store, broadcast.broadcast_id)
                if recording is None:
                    logger.info("no segment of %s was stored: no VOD", broadcast.broadcast_id)
                    continue
                self.vods.record_vod(
                    broadcast,
                    recording.duration_seconds,
                    recording.rungs,
                    recording.playback_key,
                    recording.thumbnail_key,
                )
                report.vods.append(broadcast.broadcast_id)
            except LetsLiveError as exc:
                logger.error("the VOD of %s could not be written: %s", broadcast.broadcast_id, exc.detail)
                report.failed.append(broadcast.broadcast_id)
        return report


def broadcast_sweeper() -> BroadcastSweeper:
    """The sweeper on its configured backends."""
    from letslive.services.storage import media_storage
    from letslive.services.streams import stream_service
    from letslive.services.vods import vod_service

    return BroadcastSweeper(stream_service(), vod_service(), media_storage())
