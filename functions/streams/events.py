"""Lambda entry point: `ViewerCountChanged` from the chat (through EventBridge) becomes the live
channel's viewer count in the streams directory."""

from functools import cache
from typing import Any

from pydantic import ValidationError

from functions.common.observability import EVENTBRIDGE_EVENT_ID, Observability
from letslive.constants import Service
from letslive.errors import ChannelNotFound
from letslive.models.events import ViewerCountChanged
from letslive.services.streams import StreamService, stream_service

observability = Observability(Service.STREAMS.value)
logger = observability.logger


@cache
def _streams() -> StreamService:
    return stream_service()


@observability.entry_point(EVENTBRIDGE_EVENT_ID)
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
