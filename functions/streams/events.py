"""Lambda entry point: `ViewerCountChanged` from the chat (through EventBridge) becomes the live
channel's viewer count in the streams directory."""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import ValidationError

from letslive.constants import POWERTOOLS_NAMESPACE, Service
from letslive.errors import ChannelNotFound
from letslive.models.events import ViewerCountChanged
from letslive.services.streams import StreamService, stream_service

logger = Logger(service=Service.STREAMS.value)
tracer = Tracer(service=Service.STREAMS.value)
metrics = Metrics(namespace=POWERTOOLS_NAMESPACE, service=Service.STREAMS.value)


@cache
def _streams() -> StreamService:
    return stream_service()


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> None:
    if event.get("detail-type") != ViewerCountChanged.detail_type:
        logger.warning("ignoring an event of another type", extra={"detail_type": event.get("detail-type")})
        return
    try:
        counted = ViewerCountChanged.model_validate(event.get("detail"))
        # DependencyUnavailable propagates: EventBridge retries the asynchronous invocation.
        stored = _streams().record_viewers(counted)
    except (ValidationError, ChannelNotFound):
        logger.error("dropping a malformed ViewerCountChanged event")
        return
    logger.debug("viewer count", extra={"channel": counted.username, "viewers": counted.viewers, "stored": stored})
