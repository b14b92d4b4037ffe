"""Publishing domain events: `EventPublisher` is the seam, EventBridge the backend."""

from typing import Protocol

from letslive.constants import EVENT_SOURCE
from letslive.errors import DependencyUnavailable
from letslive.models.events import DomainEvent


class EventPublisher(Protocol):
    def publish(self, event: DomainEvent) -> None: ...


class EventBridgePublisher:
    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def publish(self, event: DomainEvent) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from letslive.data.aws import client

        entry = {
            "Source": EVENT_SOURCE,
            "DetailType": event.detail_type,
            "Detail": event.model_dump_json(),
            "EventBusName": self.bus_name,
        }
        try:
            response = client("events").put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable(f"could not publish {event.detail_type}: {exc}") from exc
        if response.get("FailedEntryCount"):
            raise DependencyUnavailable(f"could not publish {event.detail_type}: {response['Entries']}")


def event_publisher() -> EventPublisher:
    from letslive.settings import get_settings

    return EventBridgePublisher(get_settings().required("event_bus"))
