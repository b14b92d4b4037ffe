"""`python -m workers.ingest`: configure from the environment, serve, drain on SIGTERM, exit."""

import asyncio
import logging

from letslive.errors import ConfigurationError
from workers.ingest.config import get_ingest_settings
from workers.ingest.logs import configure_logging
from workers.ingest.worker import IngestWorker

logger = logging.getLogger("workers.ingest")

EXIT_OK = 0
EXIT_CANNOT_LISTEN = 1
EXIT_BAD_CONFIGURATION = 2


def main() -> int:
    """0 after a drain (clean or timed out: either way the stop was asked for), else non-zero."""
    configure_logging()
    try:
        settings = get_ingest_settings()
    except ConfigurationError as exc:
        logger.error("invalid configuration", extra={"detail": exc.detail})
        return EXIT_BAD_CONFIGURATION
    configure_logging(settings.log_level)
    worker = IngestWorker(settings)
    try:
        asyncio.run(worker.run(handle_signals=True))
    except OSError as exc:
        where = {"host": settings.health_host, "port": settings.health_port}
        logger.error("cannot listen", extra={**where, "error": str(exc)})
        return EXIT_CANNOT_LISTEN
    return EXIT_OK
