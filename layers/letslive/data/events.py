"""EventBridge: the backend of `letslive.services.events.EventPublisher`."""

from letslive.constants import EVENT_SOURCE
from letslive.errors import DependencyUnavailable
from letslive.models.events import DomainEvent


class EventBridgePublisher:
    """`bus_name` None: the configured bus, read at the first publish, so that a function which
    never publishes (e.g. an event consumer that only stores) needs no bus configured."""

    def __init__(self, bus_name: str | None = None) -> None:
        self.bus_name = bus_name

    def publish(self, event: DomainEvent) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from letslive.data.aws import client
        from letslive.settings import get_settings

        if self.bus_name is None:
            self.bus_name = get_settings().required("event_bus")
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
