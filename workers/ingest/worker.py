"""The ingest worker process: the health server, the live broadcasts, and the drain on SIGTERM.

Beside them: the ActiveBroadcasts metric every heartbeat (the service scales on it) and, on ECS,
the task's scale-in protection while a broadcast is live.
"""

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from letslive.constants import IngestMetric
from letslive.errors import LetsLiveError
from letslive.services.health import Probe
from workers.ingest.config import IngestSettings
from workers.ingest.health import HealthServer, default_probes
from workers.ingest.looplag import LoopLag
from workers.ingest.metrics import MetricsEmitter, NoMetrics
from workers.ingest.protection import EcsAgentProtection, ProtectionAgent, ScaleInProtection

if TYPE_CHECKING:
    from workers.ingest.rtmp import PublishAuthorizer, RtmpServer

# Builds the RTMP publish authorizer (the broadcast manager) around the worker's registry;
# returns it and what to run at shutdown once RTMP is closed.
AuthorizerFactory = Callable[["BroadcastRegistry"], tuple["PublishAuthorizer", Callable[[], Awaitable[None]]]]

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class WorkerDraining(LetsLiveError):
    """The worker is shutting down and takes no new broadcast (the streamer should reconnect)."""

    code = "draining"


class BroadcastRegistry:
    """The broadcasts live on this task; RTMP sessions register here so the drain can wait for them.

    Used from the event loop thread only.
    """

    def __init__(self) -> None:
        self._active: set[str] = set()
        self._listeners: list[Callable[[], None]] = []
        self._draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def active_broadcasts(self) -> int:
        return len(self._active)

    def start_draining(self) -> None:
        self._draining = True

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever the number of live broadcasts changes."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def started(self, broadcast_id: str) -> None:
        """Count `broadcast_id` as live; refused while draining or when it is already live."""
        if self._draining:
            raise WorkerDraining("the ingest worker is draining")
        if broadcast_id in self._active:
            raise ValueError(f"broadcast {broadcast_id} is already live on this worker")
        self._active.add(broadcast_id)
        self._idle.clear()
        self._changed()

    def ended(self, broadcast_id: str) -> None:
        """Stop counting `broadcast_id`; ending one that is not live is a no-op (cleanup paths)."""
        if broadcast_id not in self._active:
            return
        self._active.discard(broadcast_id)
        if not self._active:
            self._idle.set()
        self._changed()

    @contextmanager
    def track(self, broadcast_id: str) -> Iterator[None]:
        """`started` on entry, `ended` on exit, however the session ends."""
        self.started(broadcast_id)
        try:
            yield
        finally:
            self.ended(broadcast_id)

    async def wait_idle(self) -> None:
        """Return once no broadcast is live."""
        await self._idle.wait()


class IngestWorker:
    """Runs until `stop()` (or SIGTERM/SIGINT), then drains: health turns 503, live broadcasts
    get up to `drain_timeout_seconds` to end, and the health server closes.

    A second `stop()` during the drain cuts it short (a second Ctrl-C).
    """

    def __init__(
        self,
        settings: IngestSettings,
        probes: Mapping[str, Probe] | None = None,
        authorizer_factory: AuthorizerFactory | None = None,
        metrics: MetricsEmitter | None = None,
        protection_agent: ProtectionAgent | None = None,
    ) -> None:
        self.settings = settings
        self.broadcasts = BroadcastRegistry()
        self.metrics: MetricsEmitter = metrics or NoMetrics()
        # On ECS (the agent's URI is set) the task is protected from scale-in while broadcasting.
        if protection_agent is None and settings.ecs_agent_uri:
            protection_agent = EcsAgentProtection(settings.ecs_agent_uri)
        self.protection: ScaleInProtection | None = None
        if protection_agent is not None:
            self.protection = ScaleInProtection(
                protection_agent, self.broadcasts, expires_in_minutes=settings.scale_in_protection_minutes
            )
            self.broadcasts.on_change(self.protection.changed)
        self.broadcasts.on_change(self._tune_gc)
        self._background: list[asyncio.Task[None]] = []
        self.loop_lag = LoopLag()
        self._authorizer_factory = authorizer_factory
        self.rtmp: RtmpServer | None = None
        self._on_rtmp_closed: Callable[[], Awaitable[None]] | None = None
        self.health = HealthServer(
            default_probes() if probes is None else probes,
            self.broadcasts,
            host=settings.health_host,
            port=settings.health_port,
            cache_seconds=settings.check_cache_seconds,
            max_header_bytes=settings.max_header_bytes,
            read_timeout_seconds=settings.read_timeout_seconds,
            loop_lag=self.loop_lag,
        )
        self._stop_requested = asyncio.Event()
        self._abort_drain = asyncio.Event()

    def _tune_gc(self) -> None:
        """While broadcasts run, the objects that exist then are frozen out of the collector's
        full passes: a pass over the worker's ~300k long-lived objects (the modules, botocore's
        service models) takes 0.2-0.4 s on 2 vCPU, with every broadcast's loop stopped meanwhile
        (bench/ingest_abuse.py). Once idle they are handed back, so nothing stays uncollected."""
        if self.broadcasts.active_broadcasts:
            gc.freeze()
        else:
            gc.unfreeze()

    async def start(self) -> None:
        """Start listening; `run()` calls it, tests call it first to learn the bound port."""
        if self.health.listening:
            return
        await self.health.start()
        logger.info("ingest worker health at %s", self.health.url, extra={"health_url": self.health.url})
        self._background.append(asyncio.create_task(self._report_active_broadcasts()))
        self._background.append(asyncio.create_task(self.loop_lag.run()))
        if self.protection is not None:
            self._background.append(asyncio.create_task(self.protection.run()))
        if self._authorizer_factory is not None:
            from workers.ingest.rtmp import RtmpLimits, RtmpServer

            authorizer, self._on_rtmp_closed = self._authorizer_factory(self.broadcasts)
            self.rtmp = RtmpServer(authorizer, RtmpLimits.from_settings(self.settings))
            port = await self.rtmp.start(self.settings.rtmp_host, self.settings.rtmp_port)
            url = f"rtmp://{self.settings.rtmp_host}:{port}/live"
            logger.info("RTMP ingest at %s", url, extra={"rtmp_url": url})

    def stop(self) -> None:
        """Begin the drain (health answers 503 from now on); a second call ends it at once."""
        if self._stop_requested.is_set():
            logger.warning("stop requested again: ending the drain now")
            self._abort_drain.set()
            return
        self.broadcasts.start_draining()
        self._stop_requested.set()

    async def run(self, *, handle_signals: bool = False) -> bool:
        """Serve until stopped, then drain; True when no broadcast was cut off."""
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, self.stop)
        try:
            await self.start()
            await self._stop_requested.wait()
            return await self._drain()
        finally:
            if handle_signals:
                for sig in STOP_SIGNALS:
                    loop.remove_signal_handler(sig)
            for task in self._background:
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            self._background.clear()
            await self.health.close()

    async def _report_active_broadcasts(self) -> None:
        """Every heartbeat, idle or not: autoscaling averages it over the tasks, and a task that
        reported nothing would not count as idle. With it, the event loop's worst lag since."""
        while True:
            self.metrics.emit(
                {
                    IngestMetric.ACTIVE_BROADCASTS: self.broadcasts.active_broadcasts,
                    IngestMetric.EVENT_LOOP_LAG: self.loop_lag.take_max(),
                }
            )
            await asyncio.sleep(self.settings.heartbeat_seconds)

    async def _drain(self) -> bool:
        timeout = self.settings.drain_timeout_seconds
        if self.rtmp is not None:
            # Publishers are told to go (OBS reconnects, to another task behind the load
            # balancer); their broadcasts are finalized as VODs within the drain timeout.
            await self.rtmp.close()
            if self._on_rtmp_closed is not None:
                await self._on_rtmp_closed()
        logger.info(
            "draining",
            extra={"active_broadcasts": self.broadcasts.active_broadcasts, "drain_timeout_seconds": timeout},
        )
        idle = asyncio.ensure_future(self.broadcasts.wait_idle())
        aborted = asyncio.ensure_future(self._abort_drain.wait())
        try:
            await asyncio.wait({idle, aborted}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()
            aborted.cancel()
        remaining = self.broadcasts.active_broadcasts
        if remaining:
            logger.warning("drain cut short", extra={"abandoned_broadcasts": remaining})
            return False
        logger.info("drained")
        return True
