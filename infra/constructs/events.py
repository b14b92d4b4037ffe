from aws_cdk import aws_events as events
from constructs import Construct

from infra.config import InfraConfig


class EventsConstruct(Construct):
    """The bus services talk through (`StreamStarted`, `StreamEnded`, `VodReady`, `UserFollowed`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"letslive-{config.stage}")
