"""`python -m workers.ingest`: configure from the environment, serve, drain on SIGTERM, exit."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from letslive.errors import ConfigurationError
from letslive.settings import get_settings
from workers.ingest.broadcasts import BroadcastManager
from workers.ingest.config import IngestSettings, get_ingest_settings
from workers.ingest.logs import configure_logging
from workers.ingest.metrics import EmfMetrics, MetricsEmitter
from workers.ingest.worker import AuthorizerFactory, BroadcastRegistry, IngestWorker

logger = logging.getLogger("workers.ingest")

EXIT_OK = 0
EXIT_CANNOT_LISTEN = 1
EXIT_BAD_CONFIGURATION = 2


def broadcast_manager_factory(settings: IngestSettings, metrics: MetricsEmitter | None = None) -> AuthorizerFactory:
    """The production wiring: the streams and VOD services on DynamoDB, media in S3."""

    def build(registry: BroadcastRegistry) -> tuple[BroadcastManager, Callable[[], Awaitable[None]]]:
        from letslive.services.restream import restream_service
        from letslive.services.storage import media_storage
        from letslive.services.streams import stream_service
        from letslive.services.vods import vod_service

        shared = get_settings()
        if shared.restream_key is None:
            logger.warning("restream is off: LETSLIVE_RESTREAM_KEY is not set")
        manager = BroadcastManager(
            settings,
            registry,
            stream_service(),
            vod_service(),
            media_storage(),
            shared.reconnect_grace_seconds,
            metrics,
            restream=restream_service() if shared.restream_key else None,
            allow_private_restream_hosts=shared.restream_allow_private_hosts,
        )
        return manager, manager.finalize_all

    return build


def main() -> int:
    """0 after a drain (clean or timed out: either way the stop was asked for), else non-zero."""
    configure_logging()
    try:
        settings = get_ingest_settings()
    except ConfigurationError as exc:
        logger.error("invalid configuration", extra={"detail": exc.detail})
        return EXIT_BAD_CONFIGURATION
    configure_logging(settings.log_level)
    try:
        # The deployment's stage is a metric dimension: two stages in one account stay apart.
        stage = get_settings().stage
    except ConfigurationError as exc:
        logger.error("invalid configuration", extra={"detail": exc.detail})
        return EXIT_BAD_CONFIGURATION
    metrics = EmfMetrics(stage)
    worker = IngestWorker(settings, authorizer_factory=broadcast_manager_factory(settings, metrics), metrics=metrics)
    try:
        asyncio.run(worker.run(handle_signals=True))
    except ConfigurationError as exc:
        # Raised while wiring the broadcast services (a table or the bus not configured).
        logger.error("invalid configuration", extra={"detail": exc.detail})
        return EXIT_BAD_CONFIGURATION
    except OSError as exc:
        where = {"host": settings.health_host, "port": settings.health_port}
        logger.error("cannot listen", extra={**where, "error": str(exc)})
        return EXIT_CANNOT_LISTEN
    return EXIT_OK
