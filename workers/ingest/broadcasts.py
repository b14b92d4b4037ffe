"""Broadcasts on this worker: from an authorized RTMP publish to live HLS, and on to the VOD.

- `BroadcastManager` is the RTMP server's `PublishAuthorizer`: it checks the key (hash lookup
  through the streams service) and hands back a session; `go_live` starts or resumes the
  broadcast once that session knows its source.
- `PublisherSession` receives one publish: it learns the source from the bitstream
  (`letslive.media.detect`), plans the ladder (`letslive.media.planner`), and feeds FLV into one
  FFmpeg process per part; it re-plans the top rung if the source's keyframes fall behind.
- `LiveBroadcast` outlives a dropped publisher for the reconnect grace: a publisher that
  comes back with the same key continues the same broadcast (a new part, a discontinuity);
  otherwise, or on a clean unpublish, it is finalized: VOD playlists, VOD record, live state
  cleared, events emitted.
Every broadcast is isolated: its failures end it alone.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Final

from letslive.constants import IngestMetric
from letslive.errors import ChannelBusy, InvalidStreamKey, LetsLiveError
from letslive.media.detect import CopyCadence, Detected, DetectionLimits, Refusal, SourceDetector
from letslive.media.ffmpeg import build_transcode_args
from letslive.media.ladder import Ladder, PlannedRung
from letslive.media.planner import LadderDecision, PlanLimits, decide
from letslive.media.playlists import Segment
from letslive.models.restream import ForwardTarget
from letslive.models.streams import Broadcast, PublishGrant, RungReport, StreamHealth
from letslive.models.vods import VodRung
from letslive.services.recordings import broadcast_prefix, recorded_segments
from letslive.services.restream import RestreamService
from letslive.services.storage import MediaStorage
from letslive.services.streams import StreamService
from letslive.services.vods import VodService
from workers.ingest.config import IngestSettings
from workers.ingest.metrics import MetricsEmitter, MetricValue, NoMetrics
from workers.ingest.restream import Restream, RestreamTuning, follow_targets
from workers.ingest.rtmp import EndReason, PublishRejected
from workers.ingest.rtmp.amf0 import AmfValue
from workers.ingest.rtmp.flv import FlvWriter, TagType
from workers.ingest.transcoder import SpeedMeter, Transcoder, TranscoderFailed
from workers.ingest.uploader import DiskBudget, HlsUploader, jpeg_thumbnail
from workers.ingest.worker import BroadcastRegistry

logger = logging.getLogger(__name__)

# FLV codec ids (video_file_format_spec_v10, E.4.3.1 / E.4.2.1).
FLV_VIDEO_AVC: Final = 7
FLV_AUDIO_AAC: Final = 10
# Media buffered while the source is learned (about a second of it, normally).
MAX_PENDING_BYTES: Final = 16 * 1024 * 1024
INPUT_PROBE_OPTIONS: Final = ("-probesize", "65536", "-analyzeduration", "250000")
# Media kept while the top rung is copied, for re-making the unfinished segment on a switch.
SWITCH_HISTORY_MS: Final = 4000
# Segments FFmpeg lists in its own playlists (the uploader's source; viewers get the worker's
# window): a segment leaves the listing unseen only if the event loop stalls this long.
FFMPEG_LISTED_SEGMENTS: Final = 120
# How often the uploader looks for new segments (a stat of each rung's playlist; it is read
# only when FFmpeg replaced it): a new segment waits half of this on average.
WATCH_SECONDS: Final = 0.05
# A pass runs as soon as something is spooled, and at least this often (thumbnails, retries).
PASS_SECONDS: Final = 0.5
# A loop that raised waits this long before going on, doubling up to the maximum.
LOOP_BACKOFF_SECONDS: Final = (0.1, 5.0)


async def run_forever(
    name: str, step: Callable[[], Awaitable[float]], metrics: MetricsEmitter, fields: Mapping[str, str]
) -> None:
    """Run `step` until cancelled; it returns the seconds to wait before its next run. An
    exception is logged with its traceback and counted (LoopErrors), and the loop goes on after
    a backoff: one bug or one unexpected error must not silently stop a broadcast's uploads or
    heartbeats for the rest of its life."""
    failures = 0
    while True:
        try:
            wait = await step()
            failures = 0
        except Exception:
            failures += 1
            logger.exception("%s failed; going on", name, extra={**fields, "failures": failures})
            metrics.emit({IngestMetric.LOOP_ERRORS: 1}, {**fields, "loop": name})
            base, ceiling = LOOP_BACKOFF_SECONDS
            wait = min(ceiling, base * 2.0 ** (failures - 1))
        await asyncio.sleep(wait)


class SessionRevoked(LetsLiveError):
    """The stream key was rotated (or the broadcast taken over): the publisher is cut off."""

    code = "session-revoked"


@dataclass(frozen=True, slots=True)
class BroadcastContext:
    """What a broadcast and its publisher sessions need from the worker, and no more: built once
    by `BroadcastManager` and shared by all of its broadcasts."""

    work_dir: Path
    segment_seconds: float
    window_segments: int
    rewind_seconds: float
    recording_chunk_segments: int
    thumbnail_seconds: float
    heartbeat_seconds: float
    finalize_timeout_seconds: float
    reconnect_grace_seconds: float
    ladder: Ladder
    plan_limits: PlanLimits
    storage: MediaStorage
    metrics: MetricsEmitter
    disk_budget: DiskBudget
    streams: StreamService
    vods: VodService
    # Restream: the channel's destinations (None: restream is not configured) and how to forward.
    restream: RestreamService | None
    restream_tuning: RestreamTuning
    # A blocking service call off the event loop; None when it failed (logged).
    call: Callable[..., Awaitable[object]]
    # The broadcast has ended on this worker (or was handed over): it leaves the worker.
    forget: Callable[["LiveBroadcast"], None]
    # Whether the worker is shutting down.
    draining: Callable[[], bool]


class LiveBroadcast:
    """One broadcast on this worker, across the publisher sessions (parts) that feed it."""

    def __init__(self, broadcast: Broadcast, context: BroadcastContext) -> None:
        self.broadcast = broadcast
        self.context = context
        self.uploader: HlsUploader | None = None
        self.parts = 0
        self.session: PublisherSession | None = None
        self._finalize_task: asyncio.Task[None] | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._thumbnail_key: str | None = None
        self._recorded: dict[str, list[Segment]] | None = None  # what a previous worker stored
        self._last_health: StreamHealth | None = None
        self.finished = asyncio.Event()

    @property
    def broadcast_id(self) -> str:
        return self.broadcast.broadcast_id

    @property
    def directory(self) -> Path:
        return self.context.work_dir / self.broadcast_id

    def attach(self, session: "PublisherSession", broadcast: Broadcast) -> None:
        """`session` carries the broadcast from now on, as part `broadcast.parts`."""
        if self._finalize_task is not None:
            self._finalize_task.cancel()
            self._finalize_task = None
        self.broadcast = broadcast
        self.session = session

    async def restore(self, plan_names: list[str]) -> None:
        """Continue from the recording a previous worker stored (this broadcast is resumed here
        for the first time). Without it the numbering could overwrite stored segments, so a
        store that cannot be read refuses the publish (the publisher retries)."""
        storage = self.context.storage
        prefix = broadcast_prefix(self.broadcast_id)
        try:
            recorded = await asyncio.to_thread(
                lambda: {name: recorded_segments(storage, prefix, name) for name in plan_names}
            )
        except LetsLiveError as exc:
            logger.warning("cannot read the recording to resume: %s", exc.detail, extra=self.log_fields())
            raise PublishRejected("The server could not resume the broadcast; try again.") from exc
        self._recorded = recorded
        logger.info(
            "resuming a broadcast another worker carried",
            extra={
                **self.log_fields(),
                "part": self.broadcast.parts,
                "segments": len(next(iter(recorded.values()), [])),
            },
        )

    async def start_part(self, decision: LadderDecision, first_frame_at: float) -> Transcoder:
        """A new FFmpeg run for the current publisher (whose first media arrived at
        `first_frame_at`, epoch seconds); the rungs are fixed by the broadcast's first part."""
        context = self.context
        plan = decision.rungs
        if self.uploader is None:
            self.uploader = HlsUploader(
                context.storage,
                self.broadcast_id,
                plan,
                window_segments=context.window_segments,
                rewind_seconds=context.rewind_seconds,
                chunk_segments=context.recording_chunk_segments,
                thumbnailer=jpeg_thumbnail,
                thumbnail_seconds=context.thumbnail_seconds,
                metrics=context.metrics,
                budget=context.disk_budget,
            )
            if self._recorded is not None:
                self.uploader.restore(self._recorded)
        elif [r.name for r in plan] == [r.name for r in self.uploader.renditions]:
            self.uploader.replan(plan)
        else:
            logger.warning("source changed across a reconnect; the ladder is kept", extra=self.log_fields())
            plan = self.uploader.plan
        self.parts += 1
        # Named by the broadcast's part too: a worker restarted on the same disk that resumes
        # the broadcast must not find a dead process's FFmpeg output in its part's directory.
        part_dir = self.directory / f"part-{self.broadcast.parts}-{self.parts}"
        start_number = self.uploader.start_part(part_dir, first_frame_at)
        args = build_transcode_args(
            plan,
            "pipe:0",
            part_dir,
            segment_seconds=context.segment_seconds,
            window_segments=FFMPEG_LISTED_SEGMENTS,
            input_format="flv",
            # The FLV is ours: header, metadata and both sequence headers come first, so FFmpeg
            # need not read seconds of input to learn the streams (its default analyzeduration
            # is 5 s, all of it latency at the start of a broadcast).
            input_options=INPUT_PROBE_OPTIONS,
            start_number=start_number,
            keyframes=decision.keyframes if plan is decision.rungs else "auto",
            source_fps=decision.source.fps or None,
        )
        transcoder = Transcoder(args, part_dir)
        await transcoder.start()
        if not self._loops:
            metrics = context.metrics
            fields = {"broadcast_id": self.broadcast_id, "channel": self.broadcast.username}
            self._loops = [
                asyncio.create_task(run_forever("segment watch", self._watch, metrics, fields)),
                asyncio.create_task(run_forever("upload", self._upload, metrics, fields)),
                asyncio.create_task(run_forever("heartbeat", self._heartbeat, metrics, fields)),
            ]
        logger.info(
            "transcoding",
            extra={**self.log_fields(), "part": self.parts, "rungs": [r.name for r in plan], "top": decision.top_rung},
        )
        return transcoder

    async def _watch(self) -> float:
        """Spool what FFmpeg listed: a file read, never waiting on storage."""
        assert self.uploader is not None
        self.uploader.discover()
        return WATCH_SECONDS

    async def _upload(self) -> float:
        uploader = self.uploader
        assert uploader is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(uploader.spooled.wait(), PASS_SECONDS)
        uploader.spooled.clear()
        await uploader.sync()
        thumbnail = uploader.thumbnail_key
        if thumbnail is not None and thumbnail != self._thumbnail_key:
            self._thumbnail_key = thumbnail
            await self.context.call(self.context.streams.set_thumbnail, self.broadcast_id, thumbnail)
        # While storage fails, back off; otherwise wait for the next segment at once.
        return uploader.retry.delay(uploader.failures) if uploader.failures else 0.0

    async def _heartbeat(self) -> float:
        """The broadcast's sign of life, waiting out a reconnect grace period too (a worker that
        stops heartbeating is dead: its channel leaves the directory, another worker may resume
        the broadcast, the sweeper ends it). False from the streams table cuts the publisher off."""
        session = self.session
        if session is not None:
            self._last_health = session.health()
            self.context.metrics.emit(
                health_metrics(self._last_health),
                {"broadcast_id": self.broadcast_id, "channel": self.broadcast.username},
            )
        health = self._last_health or StreamHealth()
        still_valid = await self.context.call(
            self.context.streams.heartbeat, self.broadcast_id, self.broadcast.key_hash, health, self.broadcast.parts
        )
        if still_valid is False and session is not None:
            logger.info(
                "stream key rotated or broadcast taken over: cutting the publisher off", extra=self.log_fields()
            )
            session.revoked = True
        return self.context.heartbeat_seconds

    async def part_ended(self, reason: str) -> None:
        """The publisher of the current part is gone: finalize now, or wait for a reconnect."""
        self.session = None
        clean = reason in (EndReason.UNPUBLISHED, EndReason.SERVER_CLOSED) or self.context.draining()
        if clean or self.uploader is None:
            await self.finalize()
            return
        await self.context.call(self.context.streams.mark_disconnected, self.broadcast_id, _now(), self.broadcast.parts)
        self._finalize_task = asyncio.create_task(self._finalize_after_grace())

    async def _finalize_after_grace(self) -> None:
        await asyncio.sleep(self.context.reconnect_grace_seconds)
        # The publisher may have resumed the broadcast on another worker meanwhile.
        await self.finalize(only_if_disconnected=True)

    async def finalize(self, *, only_if_disconnected: bool = False) -> None:
        """VOD playlists, VOD record, live state cleared; then the broadcast leaves the worker."""
        if self.finished.is_set():
            return
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if only_if_disconnected and await self._taken_over():
            await self._hand_over()
            return
        try:
            timeout = self.context.finalize_timeout_seconds
            vod = await self.uploader.finalize(timeout) if self.uploader is not None else None
            if vod is not None:
                if vod.gaps:
                    logger.error("the VOD has gaps: media was lost", extra={**self.log_fields(), "gaps": vod.gaps})
                rungs = [VodRung(name=r.name, height=r.height, bandwidth=r.bandwidth) for r in vod.rungs]
                await self.context.call(
                    self.context.vods.record_vod,
                    self.broadcast,
                    vod.duration_seconds,
                    rungs,
                    vod.playback_key,
                    vod.thumbnail_key,
                )
        except Exception:
            logger.exception("could not write the VOD", extra=self.log_fields())
        finally:
            await self.context.call(
                partial(self.context.streams.end_broadcast, only_if_disconnected=only_if_disconnected),
                self.broadcast_id,
                _now(),
            )
            self.context.forget(self)
            self.finished.set()
            logger.info("broadcast ended", extra=self.log_fields())

    async def _taken_over(self) -> bool:
        """Whether a later part resumed the broadcast (its publisher reconnected to another
        worker): that worker writes the VOD, whether or not it has ended the broadcast yet."""
        stored = await self.context.call(self.context.streams.broadcast, self.broadcast_id)
        return isinstance(stored, Broadcast) and stored.parts != self.broadcast.parts

    async def _hand_over(self) -> None:
        """Another worker carries the broadcast on: store what this one still spools (its part's
        segments, normally none: a part is stored before its publisher is marked gone), but no
        playlist (they are the other worker's now), no VOD, no end."""
        try:
            if self.uploader is not None:
                self.uploader.owns_playlists = False
                unlisted = self.uploader.unstored
                if not await self.uploader.flush(self.context.finalize_timeout_seconds):
                    logger.error("handing over with media not stored", extra=self.log_fields())
                elif unlisted:
                    logger.error(
                        "segments stored after another worker took the broadcast over are in no playlist",
                        extra={**self.log_fields(), "segments": unlisted},
                    )
                self.uploader.leave()
        except Exception:
            logger.exception("could not store the part before handing over", extra=self.log_fields())
        finally:
            self.context.forget(self)
            self.finished.set()
            logger.info("broadcast resumed on another worker; left it", extra=self.log_fields())

    def log_fields(self) -> dict[str, object]:
        return {"broadcast_id": self.broadcast_id, "channel": self.broadcast.username}


@dataclass(frozen=True, slots=True)
class _Tag:
    kind: str  # "audio" or "video"
    timestamp_ms: int
    payload: bytes
    arrived_at: float  # epoch seconds
    keyframe: bool = False
    header: bool = False  # a sequence header (AVC or AAC configuration)


class PublisherSession:
    """One accepted RTMP publish (the RTMP server's `PublishSession`).

    It buffers the first tags until `SourceDetector` knows the source from the bitstream; only
    then does the channel go live (`BroadcastManager.go_live`) and the ladder get planned. A
    source that can never be served is refused (`PublishRejected`) before anything is written.
    While the top rung is copied, the source's keyframes are checked against the segment clock
    (`CopyCadence`): when a segment can no longer be cut on time, the part ends where its
    unfinished segment began and a new part re-encodes the top rung from that keyframe on, so
    no media is lost or repeated.
    """

    def __init__(
        self,
        context: BroadcastContext,
        go_live: Callable[["PublisherSession"], Awaitable[LiveBroadcast]],
        grant: PublishGrant,
        client: str,
    ) -> None:
        self.context = context
        self._start_broadcast = go_live
        self.grant = grant
        self.client = client
        self.live: LiveBroadcast | None = None
        self.revoked = False
        self.metadata: dict[str, AmfValue] = {}
        self.decision: LadderDecision | None = None
        self.detected: Detected | None = None
        self._detector = SourceDetector(DetectionLimits(segment_seconds=context.segment_seconds))
        self._cadence: CopyCadence | None = None
        self._pending: list[_Tag] = []
        self._pending_bytes = 0
        # Since a little before the last segment boundary: where a switched part restarts.
        self._recent: deque[_Tag] = deque()
        self._headers: dict[str, _Tag] = {}  # the latest sequence header of each kind
        self._transcoder: Transcoder | None = None
        self._writer: FlvWriter | None = None
        self._part_first_ms: int | None = None
        # The current part's first tag: its media timestamp (ms) and wall-clock time (epoch s).
        self._part_anchor: tuple[int, float] | None = None
        self._bytes = 0
        self._started = time.monotonic()
        self._frames = 0
        self._media_ms: tuple[int, int] | None = None  # first and latest media timestamp
        self._speed = SpeedMeter()
        self._restream: Restream | None = None
        self._restream_follower: asyncio.Task[None] | None = None

    @property
    def planned_rungs(self) -> list[PlannedRung]:
        return self.decision.rungs if self.decision is not None else []

    # --- PublishSession ----------------------------------------------------------------------
    async def on_metadata(self, metadata: dict[str, AmfValue]) -> None:
        self.metadata = dict(metadata)
        self._detector.metadata(self.metadata)
        if self._restream is not None:
            self._restream.metadata(self.metadata)
        if self._writer is not None:
            await self._writer.write_metadata(self.metadata)

    async def on_audio(self, timestamp_ms: int, payload: bytes) -> None:
        header = len(payload) >= 2 and payload[0] >> 4 == FLV_AUDIO_AAC and payload[1] == 0
        tag = _Tag("audio", timestamp_ms, payload, time.time(), header=header)
        if header:
            self._headers["audio"] = tag
        await self._media(tag)

    async def on_video(self, timestamp_ms: int, payload: bytes) -> None:
        if self.revoked:
            raise SessionRevoked("the stream key is no longer valid")
        keyframe = bool(payload) and payload[0] & 0x70 == 0x10  # frame type 1 (legacy and enhanced)
        tag = _Tag("video", timestamp_ms, payload, time.time(), keyframe)
        if len(payload) >= 2 and payload[0] & 0x0F == FLV_VIDEO_AVC and payload[1] == 0:
            self._headers["video"] = tag
            tag = replace(tag, keyframe=False, header=True)  # the sequence header is no frame
        else:
            self._frames += 1
        await self._media(tag)

    async def on_end(self, reason: str) -> None:
        live = self.live
        if live is None:
            return  # never went live: nothing was started, nothing to end
        # The destinations get the end of the stream while the ladder finishes.
        restream_closed = asyncio.create_task(self._close_restream())
        try:
            if self._transcoder is not None:
                await self._transcoder.finish()
                if live.uploader is not None:
                    # The part's last segments spooled (and stored if storage answers) before a
                    # reconnect's new part begins.
                    await live.uploader.sync()
        finally:
            try:
                await live.part_ended(reason)
            finally:
                await restream_closed

    async def _close_restream(self) -> None:
        if self._restream_follower is not None:
            self._restream_follower.cancel()
        if self._restream is not None:
            await self._restream.close()

    # --- before going live ---------------------------------------------------------------------
    async def _media(self, tag: _Tag) -> None:
        self._bytes += len(tag.payload)
        first, latest = self._media_ms or (tag.timestamp_ms, tag.timestamp_ms)
        self._media_ms = (first, max(latest, tag.timestamp_ms))  # audio and video interleave a little
        if self._writer is not None:
            self._forward(tag)
            await self._live_tag(tag)
            return
        self._pending.append(tag)
        self._pending_bytes += len(tag.payload)
        if tag.kind == "video":
            self._detector.video(tag.timestamp_ms, tag.payload)
        else:
            self._detector.audio(tag.timestamp_ms, tag.payload)
        result = self._detector.result()
        if result is None and self._pending_bytes > MAX_PENDING_BYTES:
            result = Refusal("The encoder sent 16 MiB without a usable H.264 sequence header and keyframe.")
        if isinstance(result, Refusal):
            logger.info(
                "publish refused: %s", result.reason, extra={"client": self.client, "channel": self.grant.username}
            )
            raise PublishRejected(result.description)
        if isinstance(result, Detected):
            await self._go_live(result)

    async def _go_live(self, detected: Detected) -> None:
        self.detected = detected
        self.decision = decide(
            self.context.ladder, detected.source, cadence_ok=detected.cadence_ok, limits=self.context.plan_limits
        )
        self.live = await self._start_broadcast(self)
        if detected.contradictions:
            logger.info(
                "onMetaData disagrees with the bitstream; the bitstream wins",
                extra={**self.live.log_fields(), "contradictions": list(detected.contradictions)},
            )
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        self._start_restream(detected, pending)
        await self._start_part(self.decision, pending)

    def _start_restream(self, detected: Detected, pending: list[_Tag]) -> None:
        """Forward the source to the channel's destinations, from the publish's first tag, and
        follow the streamer's changes to them while live."""
        context, live = self.context, self.live
        if context.restream is None or live is None:
            return
        source = detected.source
        self._restream = Restream(
            audio=source.audio_codec is not None, video=not source.audio_only, tuning=context.restream_tuning
        )
        self._restream.metadata(self.metadata)
        for tag in pending:
            self._forward(tag)
        service, username = context.restream, self.grant.username

        async def targets() -> list[ForwardTarget] | None:
            loaded = await context.call(service.forward_targets, username)
            return loaded if isinstance(loaded, list) else None

        self._restream_follower = asyncio.create_task(
            follow_targets(self._restream, targets, live.log_fields(), context.restream_tuning.refresh_seconds)
        )

    def _forward(self, tag: _Tag) -> None:
        if self._restream is not None:
            kind = TagType.VIDEO if tag.kind == "video" else TagType.AUDIO
            self._restream.tag(kind, tag.timestamp_ms, tag.payload, keyframe=tag.keyframe, header=tag.header)

    async def _start_part(self, decision: LadderDecision, tags: list[_Tag], *, replay: bool = False) -> None:
        """A new FFmpeg run fed `tags`: the publish's first tags, or (`replay`) tags already
        given to the previous part, from a keyframe on."""
        assert self.live is not None
        assert self.detected is not None
        # A replayed part continues the media clock of the part before it: anchored on its own
        # arrival times it would jump by however late the event loop handled those tags.
        first_at = tags[0].arrived_at
        if replay and self._part_anchor is not None:
            anchor_ms, anchor_at = self._part_anchor
            first_at = anchor_at + (tags[0].timestamp_ms - anchor_ms) / 1000
        self._part_anchor = (tags[0].timestamp_ms, first_at)
        self._transcoder = await self.live.start_part(decision, first_at)
        source = self.detected.source
        self._writer = FlvWriter(
            self._transcoder.write, audio=source.audio_codec is not None, video=not source.audio_only
        )
        await self._writer.write_header()
        if self.metadata:
            await self._writer.write_metadata(self.metadata)
        self._part_first_ms = min(tag.timestamp_ms for tag in tags)
        self._recent.clear()
        # How this part's muxer would cut a copy (from its first timestamp on); it measures the
        # keyframe interval for the health report whether or not the top rung is copied.
        self._cadence = None
        if not source.audio_only:
            self._cadence = CopyCadence(self.context.segment_seconds, source.fps, self._part_first_ms)
        if replay:
            # A part cut from the middle of the publish: its FFmpeg needs the sequence headers first.
            for header in self._headers.values():
                await self._write(replace(header, timestamp_ms=tags[0].timestamp_ms))
        for tag in tags:
            if replay:
                await self._write(tag)
            else:
                await self._live_tag(tag)

    # --- live ------------------------------------------------------------------------------------
    async def _live_tag(self, tag: _Tag) -> None:
        overdue = (
            tag.kind == "video" and self._cadence is not None and self._cadence.frame(tag.timestamp_ms, tag.keyframe)
        )
        if overdue and self._copying:
            await self._switch_to_reencode()
        if self._copying:
            self._remember(tag)
        await self._write(tag)

    @property
    def _copying(self) -> bool:
        return self.decision is not None and self.decision.top_rung == "copied"

    def _remember(self, tag: _Tag) -> None:
        """Keep the last few seconds, whole GOPs: the unfinished segment a switch re-makes
        starts in them (a copied segment is cut within a segment and a frame of its start)."""
        self._recent.append(tag)
        if not tag.keyframe:
            return
        horizon = tag.timestamp_ms - SWITCH_HISTORY_MS
        while True:
            second = next((i for i, t in enumerate(self._recent) if i and t.keyframe), None)
            if second is None or self._recent[second].timestamp_ms > horizon:
                return
            for _ in range(second):
                self._recent.popleft()

    async def _switch_to_reencode(self) -> None:
        """The copied top rung can no longer be cut on time: end this part where its unfinished
        segment starts and re-make that segment and all that follows with the top re-encoded."""
        live, old, detected = self.live, self._transcoder, self.detected
        assert live is not None
        assert live.uploader is not None
        assert old is not None
        assert detected is not None
        assert self._cadence is not None
        assert self._part_first_ms is not None
        interval = self._cadence.longest_seconds
        source = replace(detected.source, keyframe_interval=interval)
        decision = decide(self.context.ladder, source, cadence_ok=False, limits=self.context.plan_limits)
        if [r.name for r in decision.rungs] != [r.name for r in live.uploader.renditions]:
            logger.warning(
                "cannot re-encode the top rung under the same names; keeping the copy", extra=live.log_fields()
            )
            return
        async with live.uploader.paused():
            await old.finish()
            cut = live.uploader.drop_final_segments()
        restart = self._restart_point(cut)
        logger.info(
            "keyframes off the segment clock: re-encoding the top rung from here on",
            extra={**live.log_fields(), "keyframe_interval": interval, "cut_seconds": cut},
        )
        self.decision = decision
        self.detected = replace(detected, source=source)
        tags = list(self._recent)[restart:]
        await self._start_part(decision, tags, replay=True)

    def _restart_point(self, cut_seconds: float | None) -> int:
        """Index in `_recent` of the keyframe the dropped segment started at (the last keyframe
        when the cut is unknown, so at most the open GOP is repeated)."""
        keyframes = [i for i, tag in enumerate(self._recent) if tag.keyframe]
        if not keyframes:
            return 0
        if cut_seconds is None or self._part_first_ms is None:
            return keyframes[-1]
        target = self._part_first_ms + cut_seconds * 1000
        return min(keyframes, key=lambda i: abs(self._recent[i].timestamp_ms - target))

    async def _write(self, tag: _Tag) -> None:
        assert self._writer is not None
        try:
            if tag.kind == "video":
                await self._writer.write_video(tag.timestamp_ms, tag.payload)
            else:
                await self._writer.write_audio(tag.timestamp_ms, tag.payload)
        except TranscoderFailed:
            logger.error("ffmpeg failed; ending the publish", extra=self.live.log_fields() if self.live else {})
            raise

    def health(self) -> StreamHealth:
        elapsed = max(time.monotonic() - self._started, 1e-3)
        source = self.detected.source if self.detected else None
        decision = self.decision
        progress = self._transcoder.progress if self._transcoder is not None else None
        uploader = self.live.uploader if self.live is not None else None
        last = uploader.last_segment_at if uploader is not None else None
        cadence = self._cadence.longest_seconds if self._cadence is not None else None
        interval = cadence if cadence is not None else (source.keyframe_interval if source else None)
        return StreamHealth(
            input_bitrate_kbps=round(self._bytes * 8 / 1000 / elapsed, 1),
            fps=round(self._frames / elapsed, 2),
            width=source.width if source and not source.audio_only else None,
            height=source.height if source and not source.audio_only else None,
            transcode_speed=self._speed.read(
                (self._media_ms[1] - self._media_ms[0]) / 1000 if self._media_ms else 0.0,
                progress.out_time_seconds if progress else None,
            ),
            last_segment_at=datetime.fromtimestamp(last, UTC) if last else None,
            video_codec=source.video_codec if source else None,
            audio_codec=source.audio_codec if source else None,
            keyframe_interval_seconds=round(interval, 3) if interval is not None else None,
            top_rung=decision.top_rung if decision else None,
            top_rung_reason=decision.reason if decision else None,
            rungs=[
                RungReport(name=r.name, width=r.width, height=r.height, fps=round(r.fps, 3), copied=r.copy)
                for r in (decision.rungs if decision else [])
            ],
            warnings=list(decision.warnings) if decision else [],
            destinations=self._restream.statuses() if self._restream is not None else [],
        )


class BroadcastManager:
    """The worker's broadcasts, and the RTMP server's authorizer."""

    def __init__(
        self,
        settings: IngestSettings,
        registry: BroadcastRegistry,
        streams: StreamService,
        vods: VodService,
        storage: MediaStorage,
        reconnect_grace_seconds: float,
        metrics: MetricsEmitter | None = None,
        restream: RestreamService | None = None,
        allow_private_restream_hosts: bool = False,
    ) -> None:
        self.settings = settings
        self.metrics: MetricsEmitter = metrics or NoMetrics()
        self.registry = registry
        self.streams = streams
        self.vods = vods
        self.storage = storage
        self.reconnect_grace_seconds = reconnect_grace_seconds
        self.ladder = Ladder.parse(settings.ladder)
        self.plan_limits = PlanLimits(
            copy_max_kbps=settings.copy_max_kbps,
            encode_pixels_per_second=settings.encode_pixels_per_second,
            segment_seconds=settings.segment_seconds,
        )
        self.disk_budget = DiskBudget(settings.disk_budget_mb * 1024 * 1024)
        self._live: dict[str, LiveBroadcast] = {}
        self.context = BroadcastContext(
            work_dir=settings.work_dir,
            segment_seconds=settings.segment_seconds,
            window_segments=settings.window_segments,
            rewind_seconds=settings.rewind_seconds,
            recording_chunk_segments=settings.recording_chunk_segments,
            thumbnail_seconds=settings.thumbnail_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            finalize_timeout_seconds=settings.finalize_timeout_seconds,
            reconnect_grace_seconds=reconnect_grace_seconds,
            ladder=self.ladder,
            plan_limits=self.plan_limits,
            storage=storage,
            metrics=self.metrics,
            disk_budget=self.disk_budget,
            streams=streams,
            vods=vods,
            restream=restream,
            restream_tuning=RestreamTuning(
                buffer_seconds=settings.restream_buffer_seconds,
                backoff_seconds=settings.restream_backoff_seconds,
                backoff_max_seconds=settings.restream_backoff_max_seconds,
                give_up_attempts=settings.restream_give_up_attempts,
                allow_private_hosts=allow_private_restream_hosts,
                verify_tls=settings.restream_verify_tls,
                refresh_seconds=settings.restream_refresh_seconds,
            ),
            call=self.call,
            forget=self.forget,
            draining=lambda: registry.draining,
        )

    @property
    def live(self) -> dict[str, LiveBroadcast]:
        return dict(self._live)

    async def call(self, fn: Callable[..., object], *args: object) -> object:
        """A blocking domain call (DynamoDB, EventBridge) off the event loop; None when it failed
        (logged: a dependency's failure as a warning, anything else with its traceback)."""
        name = getattr(fn, "__name__", str(fn))
        try:
            return await asyncio.to_thread(fn, *args)
        except LetsLiveError as exc:
            logger.warning("%s failed: %s", name, exc.detail)
        except Exception:
            logger.exception("%s failed", name)
            self.metrics.emit({IngestMetric.LOOP_ERRORS: 1}, {"call": name})
        return None

    async def authorize(self, app: str, stream_key: str, client: str) -> PublisherSession | None:
        """Check the key (nothing is written): the channel goes live only once the session knows
        its source (`go_live`)."""
        if app != "live" or self.registry.draining:
            return None
        try:
            grant = await asyncio.to_thread(self.streams.authorize_publish, stream_key)
        except LetsLiveError as exc:
            logger.info("publish refused", extra={"client": client, "reason": exc.detail})
            return None
        if grant is None:
            return None
        logger.info("publish accepted; learning the source", extra={"client": client, "channel": grant.username})
        return PublisherSession(self.context, self.go_live, grant, client)

    async def go_live(self, session: PublisherSession) -> "LiveBroadcast":
        """Start (or resume) the session's broadcast: the channel is live from here on."""
        if self.registry.draining:
            raise PublishRejected("This server is shutting down; publish again to reach another.")
        try:
            broadcast = await asyncio.to_thread(self.streams.start_broadcast, session.grant, _now())
        except (ChannelBusy, InvalidStreamKey) as exc:
            raise PublishRejected(f"{exc.detail[:1].upper()}{exc.detail[1:]}.", "NetStream.Publish.BadName") from exc
        except LetsLiveError as exc:
            logger.warning("could not start the broadcast: %s", exc.detail, extra={"channel": session.grant.username})
            raise PublishRejected("The server could not start the broadcast; try again.") from exc
        live = self._live.get(broadcast.broadcast_id)
        if live is None:
            live = LiveBroadcast(broadcast, self.context)
            if broadcast.parts > 1:  # resumed here after another worker carried it
                try:
                    await live.restore([rung.name for rung in session.planned_rungs])
                except PublishRejected:
                    await self.call(self.streams.mark_disconnected, broadcast.broadcast_id, _now(), broadcast.parts)
                    raise
            self._live[broadcast.broadcast_id] = live
            self.registry.started(broadcast.broadcast_id)
        live.attach(session, broadcast)
        logger.info(
            "live",
            extra={**live.log_fields(), "client": session.client, "resumed": getattr(broadcast, "resumed", False)},
        )
        return live

    def forget(self, live: LiveBroadcast) -> None:
        self._live.pop(live.broadcast_id, None)
        self.registry.ended(live.broadcast_id)

    async def finalize_all(self) -> None:
        """On shutdown: broadcasts waiting for a reconnect are finalized now."""
        await asyncio.gather(*(live.finalize() for live in list(self._live.values()) if live.session is None))


def health_metrics(health: StreamHealth) -> dict[IngestMetric, MetricValue]:
    """A broadcast's heartbeat as metrics: what the streamer's health page shows, per broadcast."""
    measured = {
        IngestMetric.INPUT_BITRATE: health.input_bitrate_kbps,
        IngestMetric.TRANSCODE_SPEED: health.transcode_speed,
    }
    return {metric: value for metric, value in measured.items() if value is not None}


def _now() -> datetime:
    return datetime.now(UTC)
