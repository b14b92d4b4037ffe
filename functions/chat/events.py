"""Lambda entry point for the EventBridge bus: `StreamStarted` / `StreamEnded` become a `system`
line in the channel's chat room; `VodReady` keeps the broadcast's chat as long as its VOD,
`ClipCreated` a clip's part of it as long as the clip, and `ClipDeleted` lets that part go."""

from functools import cache
from typing import Any

from pydantic import ValidationError

from functions.common.observability import EVENTBRIDGE_EVENT_ID, Observability
from letslive.constants import Service
from letslive.models.events import ClipCreated, ClipDeleted, DomainEvent, StreamEnded, StreamStarted, VodReady
from letslive.services.chat import ChatService, chat_service
from letslive.services.chat.replay import ChatKeeper, chat_keeper

observability = Observability(Service.CHAT.value)
logger = observability.logger

EVENTS: dict[str, type[DomainEvent]] = {
    model.detail_type: model for model in (StreamStarted, StreamEnded, VodReady, ClipCreated, ClipDeleted)
}


@cache
def _chat() -> ChatService:
    return chat_service()


@cache
def _keeper() -> ChatKeeper:
    return chat_keeper()


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
        kept = _keeper().keep(domain_event)
        logger.info("kept the broadcast's chat for its VOD", extra={"vod_id": domain_event.vod_id, "messages": kept})
    elif isinstance(domain_event, ClipCreated):
        held = _keeper().hold(domain_event)
        logger.info("kept the clip's chat", extra={"clip_id": domain_event.clip_id, "messages": held})
    elif isinstance(domain_event, ClipDeleted):
        released = _keeper().release(domain_event)
        logger.info("let a deleted clip's chat go", extra={"clip_id": domain_event.clip_id, "messages": released})
    elif isinstance(domain_event, StreamStarted | StreamEnded):
        _chat().stream_changed(domain_event)
