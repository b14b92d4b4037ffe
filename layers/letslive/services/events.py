"""Publishing domain events: `EventPublisher` is the seam the services consume,
`letslive.data.events.EventBridgePublisher` its backend."""

import logging
from typing import Protocol

from letslive.errors import DependencyUnavailable
from letslive.models.events import DomainEvent

logger = logging.getLogger(__name__)


class EventPublisher(Protocol):
    def publish(self, event: DomainEvent) -> None: ...


def event_publisher() -> EventPublisher:
    """The configured bus (EventBridge)."""
    from letslive.data.events import EventBridgePublisher
    from letslive.settings import get_settings

    return EventBridgePublisher(get_settings().event_bus)


def publish_after_commit(publisher: EventPublisher, event: DomainEvent) -> None:
    """Publish an event whose state change is already committed. Failing the caller would make it
    retry a change that happened (and then publish nothing), so a failure is logged for the
    operators instead of raised."""
    try:
        publisher.publish(event)
    except DependencyUnavailable:
        logger.exception("could not publish %s", event.detail_type)
