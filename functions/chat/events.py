"""Lambda entry point for the EventBridge bus: `StreamStarted` / `StreamEnded` become a `system`
line in the channel's chat room; `VodReady` keeps the broadcast's chat as long as its VOD."""

from functools import cache
from typing import Any

from pydantic import ValidationError

from functions.common.observability import EVENTBRIDGE_EVENT_ID, Observability
from letslive.constants import Service
from letslive.models.events import StreamEnded, StreamStarted, VodReady
from letslive.services.chat import ChatService, chat_service
from letslive.services.chat.replay import ChatReplay, chat_replay

observability = Observability(Service.CHAT.value)
logger = observability.logger

EVENTS: dict[str, type[StreamStarted] | type[StreamEnded] | type[VodReady]] = {
    StreamStarted.detail_type: StreamStarted,
    StreamEnded.detail_type: StreamEnded,
    VodReady.detail_type: VodReady,
}


@cache
def _chat() -> ChatService:
    return chat_service()


@cache
def _replay() -> ChatReplay:
    return chat_replay()


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
    if isinstance(domain_event, VodReady):
        kept = _replay().keep(domain_event)
        logger.info("kept the broadcast's chat for its VOD", extra={"vod_id": domain_event.vod_id, "messages": kept})
        return
    _chat().stream_changed(domain_event)
