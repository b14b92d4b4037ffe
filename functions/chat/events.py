"""Lambda entry point: `StreamStarted` / `StreamEnded` from the EventBridge bus become a `system`
line in the channel's chat room."""

from functools import cache
from typing import Any

from pydantic import ValidationError

from functions.common.observability import EVENTBRIDGE_EVENT_ID, Observability
from letslive.constants import Service
from letslive.models.events import StreamEnded, StreamStarted
from letslive.services.chat import ChatService, chat_service

observability = Observability(Service.CHAT.value)
logger = observability.logger

EVENTS: dict[str, type[StreamStarted] | type[StreamEnded]] = {
    StreamStarted.detail_type: StreamStarted,
    StreamEnded.detail_type: StreamEnded,
}


@cache
def _chat() -> ChatService:
    return chat_service()


@observability.entry_point(EVENTBRIDGE_EVENT_ID)
def handler(event: dict[str, Any], context: Any) -> None:
    model = EVENTS.get(str(event.get("detail-type")))
    if model is None:
        logger.warning(
            "ignoring an event this function does not handle", extra={"detail_type": event.get("detail-type")}
        )
        return
    try:
        domain_event = model.model_validate(event.get("detail"))
    except ValidationError:
        logger.error("dropping a malformed event", extra={"detail_type": event.get("detail-type")})
        return
    # DependencyUnavailable propagates: EventBridge retries the asynchronous invocation.
    _chat().stream_changed(domain_event)
