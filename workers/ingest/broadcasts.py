"""Broadcasts on this worker: from an authorized RTMP publish to live HLS, and on to the VOD.

- `BroadcastManager` is the RTMP server's `PublishAuthorizer`: it checks the key (hash lookup
  through the streams service), starts or resumes the broadcast, and hands back a session.
- `PublisherSession` receives one publish: it learns the source from `onMetaData` and the AVC
  sequence header, plans the ladder, and feeds FLV into one FFmpeg process per part.
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
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from letslive.constants import IngestMetric
from letslive.errors import LetsLiveError
from letslive.media.ffmpeg import build_transcode_args
from letslive.media.ladder import Ladder, PlannedRung
from letslive.media.source import AVC_PROFILE_IDC, H264, SourceInfo
from letslive.models.streams import Broadcast, PublishGrant, StreamHealth
from letslive.models.vods import VodRung
from letslive.services.streams import StreamService
from letslive.services.vods import VodService
from letslive.storage import MediaStorage
from workers.ingest.config import IngestSettings
from workers.ingest.metrics import MetricsEmitter, MetricValue, NoMetrics
from workers.ingest.rtmp import EndReason
from workers.ingest.rtmp.amf0 import AmfValue
from workers.ingest.rtmp.flv import FlvWriter
from workers.ingest.transcoder import SpeedMeter, Transcoder, TranscoderFailed
from workers.ingest.uploader import HlsUploader, jpeg_thumbnail
from workers.ingest.worker import BroadcastRegistry

logger = logging.getLogger(__name__)

# FLV codec ids (video_file_format_spec_v10, E.4.3.1 / E.4.2.1).
FLV_VIDEO_AVC = 7
FLV_VIDEO_HEVC = 12
FLV_AUDIO_AAC = 10
_PROFILE_NAMES = {idc: name for name, idc in AVC_PROFILE_IDC.items() if name != "constrained baseline"}
# Media buffered while waiting for the sequence headers that tell us what the source is.
MAX_PENDING_BYTES = 16 * 1024 * 1024
INPUT_PROBE_OPTIONS = ("-probesize", "65536", "-analyzeduration", "250000")
# A publisher whose audio header has not come by this much video is taken as video-only.
AUDIO_WAIT_MS = 2000


class SessionRevoked(LetsLiveError):
    """The stream key was rotated (or the broadcast taken over): the publisher is cut off."""

    code = "session-revoked"


class MalformedSource(LetsLiveError):
    code = "malformed-source"


def source_from_rtmp(metadata: dict[str, AmfValue], avc_config: bytes | None, has_audio: bool) -> SourceInfo:
    """What the ladder needs, from `onMetaData` and the AVC decoder configuration record."""

    def number(*names: str) -> float | None:
        for name in names:
            value = metadata.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                return float(value)
        return None

    width, height = number("width"), number("height")
    if width is None or height is None:
        raise MalformedSource("the publisher sent no width/height in onMetaData")
    codec_id = number("videocodecid")
    video_codec = H264 if avc_config is not None or codec_id == FLV_VIDEO_AVC else "hevc"
    profile = level = constraints = None
    if avc_config is not None and len(avc_config) >= 4 and avc_config[0] == 1:
        profile, constraints, level = _PROFILE_NAMES.get(avc_config[1]), avc_config[2], avc_config[3]
    return SourceInfo(
        width=int(width),
        height=int(height),
        fps=number("framerate", "videoframerate") or 30.0,
        video_codec=video_codec,
        audio_codec="aac" if has_audio else None,
        video_profile=profile,
        video_level=level,
        avc_constraints=constraints,
        video_bitrate_kbps=int(number("videodatarate") or 0) or None,
    )


class LiveBroadcast:
    """One broadcast on this worker, across the publisher sessions (parts) that feed it."""

    def __init__(self, broadcast: Broadcast, manager: "BroadcastManager") -> None:
        self.broadcast = broadcast
        self.manager = manager
        self.uploader: HlsUploader | None = None
        self.plan: list[PlannedRung] | None = None
        self.source: SourceInfo | None = None
        self.parts = 0
        self.session: PublisherSession | None = None
        self._finalize_task: asyncio.Task[None] | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._thumbnail_key: str | None = None
        self.finished = asyncio.Event()

    @property
    def broadcast_id(self) -> str:
        return self.broadcast.broadcast_id

    @property
    def directory(self) -> Path:
        return self.manager.settings.work_dir / self.broadcast_id

    def attach(self, session: "PublisherSession") -> None:
        if self._finalize_task is not None:
            self._finalize_task.cancel()
            self._finalize_task = None
        self.session = session

    async def start_part(self, source: SourceInfo, first_frame_at: float) -> Transcoder:
        """A new FFmpeg run for the current publisher (whose first media arrived at
        `first_frame_at`, epoch seconds); the ladder is planned on the first."""
        settings = self.manager.settings
        plan = self.manager.ladder.plan(source)
        if self.plan is None or [r.name for r in plan] != [r.name for r in self.plan]:
            if self.uploader is not None:
                logger.warning("source changed across a reconnect; the ladder is kept", extra=self._log())
            else:
                self.plan = plan
                self.uploader = HlsUploader(
                    self.manager.storage,
                    self.broadcast_id,
                    plan,
                    window_segments=settings.window_segments,
                    thumbnailer=jpeg_thumbnail,
                    thumbnail_seconds=settings.thumbnail_seconds,
                    metrics=self.manager.metrics,
                )
        assert self.plan is not None
        assert self.uploader is not None
        self.source = source
        self.parts += 1
        part_dir = self.directory / f"part-{self.parts}"
        start_number = self.uploader.start_part(part_dir, first_frame_at)
        args = build_transcode_args(
            self.plan,
            "pipe:0",
            part_dir,
            segment_seconds=settings.segment_seconds,
            window_segments=settings.window_segments,
            input_format="flv",
            # The FLV is ours: header, metadata and both sequence headers come first, so FFmpeg
            # need not read seconds of input to learn the streams (its default analyzeduration
            # is 5 s, all of it latency at the start of a broadcast).
            input_options=INPUT_PROBE_OPTIONS,
            start_number=start_number,
        )
        transcoder = Transcoder(args, part_dir)
        await transcoder.start()
        if self._sync_task is None:
            self._sync_task = asyncio.create_task(self._sync_loop())
            self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())
        logger.info("transcoding", extra={**self._log(), "part": self.parts, "rungs": [r.name for r in self.plan]})
        return transcoder

    async def _sync_loop(self) -> None:
        assert self.uploader is not None
        while True:
            await self.uploader.sync()
            thumbnail = self.uploader.thumbnail_key
            if thumbnail is not None and thumbnail != self._thumbnail_key:
                self._thumbnail_key = thumbnail
                await self.manager.call(self.manager.streams.set_thumbnail, self.broadcast_id, thumbnail)
            # Every pass reads a few small playlists; a new segment waits 50 ms for it on average.
            await asyncio.sleep(0.1)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.manager.settings.heartbeat_seconds)
            session = self.session
            if session is None:
                continue
            health = session.health()
            self.manager.metrics.emit(
                health_metrics(health), {"broadcast_id": self.broadcast_id, "channel": self.broadcast.username}
            )
            still_valid = await self.manager.call(
                self.manager.streams.heartbeat, self.broadcast_id, self.broadcast.key_hash, health
            )
            if still_valid is False:
                logger.info("stream key rotated or broadcast taken over: cutting the publisher off", extra=self._log())
                session.revoked = True

    async def part_ended(self, reason: str) -> None:
        """The publisher of the current part is gone: finalize now, or wait for a reconnect."""
        self.session = None
        clean = reason in (EndReason.UNPUBLISHED, EndReason.SERVER_CLOSED) or self.manager.registry.draining
        if clean or self.uploader is None:
            await self.finalize()
            return
        await self.manager.call(self.manager.streams.mark_disconnected, self.broadcast_id, _now())
        self._finalize_task = asyncio.create_task(self._finalize_after_grace())

    async def _finalize_after_grace(self) -> None:
        await asyncio.sleep(self.manager.reconnect_grace_seconds)
        # The publisher may have resumed the broadcast on another worker meanwhile.
        await self.finalize(only_if_disconnected=True)

    async def finalize(self, *, only_if_disconnected: bool = False) -> None:
        """VOD playlists, VOD record, live state cleared; then the broadcast leaves the worker."""
        if self.finished.is_set():
            return
        for task in (self._sync_task, self._heartbeat_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            vod = await self.uploader.finalize() if self.uploader is not None else None
            if vod is not None and self.plan is not None:
                rungs = [VodRung(name=r.name, height=r.height, bandwidth=r.bandwidth) for r in self.plan]
                await self.manager.call(
                    self.manager.vods.record_vod,
                    self.broadcast,
                    vod.duration_seconds,
                    rungs,
                    vod.playback_key,
                    vod.thumbnail_key,
                )
        except LetsLiveError as exc:
            logger.error("could not write the VOD", extra={**self._log(), "error": exc.detail})
        finally:
            await self.manager.call(
                partial(self.manager.streams.end_broadcast, only_if_disconnected=only_if_disconnected),
                self.broadcast_id,
                _now(),
            )
            self.manager.forget(self)
            self.finished.set()
            logger.info("broadcast ended", extra=self._log())

    def _log(self) -> dict[str, object]:
        return {"broadcast_id": self.broadcast_id, "channel": self.broadcast.username}


class PublisherSession:
    """One accepted RTMP publish feeding a `LiveBroadcast` (the RTMP server's `PublishSession`)."""

    def __init__(self, live: LiveBroadcast, grant: PublishGrant) -> None:
        self.live = live
        self.grant = grant
        self.revoked = False
        self.metadata: dict[str, AmfValue] = {}
        self._avc_config: bytes | None = None
        self._audio_seen = False
        self._pending: list[tuple[str, int, bytes]] = []
        self._pending_bytes = 0
        self._transcoder: Transcoder | None = None
        self._writer: FlvWriter | None = None
        self._bytes = 0
        self._started = time.monotonic()
        self._frames = 0
        self._first_video_ms: int | None = None
        self._first_media_at: float | None = None  # wall clock, the part's media time 0
        self._media_ms: tuple[int, int] | None = None  # first and latest media timestamp
        self._speed = SpeedMeter()

    # --- PublishSession ----------------------------------------------------------------------
    async def on_metadata(self, metadata: dict[str, AmfValue]) -> None:
        self.metadata = dict(metadata)
        if self._writer is not None:
            await self._writer.write_metadata(self.metadata)

    async def on_audio(self, timestamp_ms: int, payload: bytes) -> None:
        if payload and payload[0] >> 4 == FLV_AUDIO_AAC:
            self._audio_seen = True
        await self._media("audio", timestamp_ms, payload)

    async def on_video(self, timestamp_ms: int, payload: bytes) -> None:
        if self.revoked:
            raise SessionRevoked("the stream key is no longer valid")
        if len(payload) >= 5 and payload[0] & 0x0F == FLV_VIDEO_AVC and payload[1] == 0:
            self._avc_config = payload[5:]
        if self._first_video_ms is None:
            self._first_video_ms = timestamp_ms
        self._frames += 1
        await self._media("video", timestamp_ms, payload)

    async def on_end(self, reason: str) -> None:
        if self._transcoder is not None:
            await self._transcoder.finish()
            if self.live.uploader is not None:
                # The part's last segments, before a reconnect's new part resets what is listed.
                await self.live.uploader.sync()
        await self.live.part_ended(reason)

    # --- feeding FFmpeg ----------------------------------------------------------------------
    async def _media(self, kind: str, timestamp_ms: int, payload: bytes) -> None:
        self._bytes += len(payload)
        if self._first_media_at is None:
            self._first_media_at = time.time()
        first, latest = self._media_ms or (timestamp_ms, timestamp_ms)
        self._media_ms = (first, max(latest, timestamp_ms))  # audio and video interleave a little
        if self._writer is None:
            self._pending.append((kind, timestamp_ms, payload))
            self._pending_bytes += len(payload)
            if self._pending_bytes > MAX_PENDING_BYTES:
                raise MalformedSource("no usable sequence headers in the first 16 MiB of media")
            if self._ready(timestamp_ms):
                await self._start()
            return
        await self._write(kind, timestamp_ms, payload)

    def _ready(self, timestamp_ms: int) -> bool:
        if not self.metadata or (self._avc_config is None and self._first_video_ms is None):
            return False
        wants_audio = self.metadata.get("audiocodecid") is not None or self._audio_seen
        waited = timestamp_ms - (self._first_video_ms or timestamp_ms)
        return self._avc_config is not None and (self._audio_seen or not wants_audio or waited > AUDIO_WAIT_MS)

    async def _start(self) -> None:
        source = source_from_rtmp(self.metadata, self._avc_config, self._audio_seen)
        assert self._first_media_at is not None
        self._transcoder = await self.live.start_part(source, self._first_media_at)
        self._writer = FlvWriter(self._transcoder.write, audio=self._audio_seen, video=True)
        await self._writer.write_header()
        await self._writer.write_metadata(self.metadata)
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        for kind, timestamp_ms, payload in pending:
            await self._write(kind, timestamp_ms, payload)

    async def _write(self, kind: str, timestamp_ms: int, payload: bytes) -> None:
        assert self._writer is not None
        try:
            if kind == "video":
                await self._writer.write_video(timestamp_ms, payload)
            else:
                await self._writer.write_audio(timestamp_ms, payload)
        except TranscoderFailed:
            logger.error("ffmpeg failed; ending the publish", extra=self.live._log())
            raise

    def health(self) -> StreamHealth:
        elapsed = max(time.monotonic() - self._started, 1e-3)
        source = self.live.source
        progress = self._transcoder.progress if self._transcoder is not None else None
        uploader = self.live.uploader
        last = uploader.last_segment_at if uploader is not None else None
        return StreamHealth(
            input_bitrate_kbps=round(self._bytes * 8 / 1000 / elapsed, 1),
            fps=round(self._frames / elapsed, 2),
            width=source.width if source else None,
            height=source.height if source else None,
            transcode_speed=self._speed.read(
                (self._media_ms[1] - self._media_ms[0]) / 1000 if self._media_ms else 0.0,
                progress.out_time_seconds if progress else None,
            ),
            last_segment_at=datetime.fromtimestamp(last, UTC) if last else None,
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
    ) -> None:
        self.settings = settings
        self.metrics: MetricsEmitter = metrics or NoMetrics()
        self.registry = registry
        self.streams = streams
        self.vods = vods
        self.storage = storage
        self.reconnect_grace_seconds = reconnect_grace_seconds
        self.ladder = Ladder.parse(settings.ladder)
        self._live: dict[str, LiveBroadcast] = {}

    @property
    def live(self) -> dict[str, LiveBroadcast]:
        return dict(self._live)

    async def call(self, fn: Callable[..., object], *args: object) -> object:
        """A blocking domain call (DynamoDB, EventBridge) off the event loop; failures logged."""
        try:
            return await asyncio.to_thread(fn, *args)
        except LetsLiveError as exc:
            logger.warning("%s failed: %s", getattr(fn, "__name__", fn), exc.detail)
            return None

    async def authorize(self, app: str, stream_key: str, client: str) -> PublisherSession | None:
        if app != "live" or self.registry.draining:
            return None
        try:
            grant = await asyncio.to_thread(self.streams.authorize_publish, stream_key)
            if grant is None:
                return None
            broadcast = await asyncio.to_thread(self.streams.start_broadcast, grant, _now())
        except LetsLiveError as exc:
            logger.info("publish refused", extra={"client": client, "reason": exc.detail})
            return None
        live = self._live.get(broadcast.broadcast_id)
        if live is None:
            live = LiveBroadcast(broadcast, self)
            self._live[broadcast.broadcast_id] = live
            self.registry.started(broadcast.broadcast_id)
        session = PublisherSession(live, grant)
        live.attach(session)
        logger.info(
            "publish accepted",
            extra={**live._log(), "client": client, "resumed": getattr(broadcast, "resumed", False)},
        )
        return session

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
