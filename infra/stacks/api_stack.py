from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_events as events
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.data import DataConstruct
from infra.constructs.http_api import HttpServicesConstruct
from infra.constructs.signing_key import SigningKeyConstruct
from letslive.constants import ENV_EVENT_BUS, ENV_JWKS, ENV_SIGNING_KEY_SECRET, Service

# Services that publish domain events on the bus.
EVENT_PUBLISHERS = (Service.USERS, Service.STREAMS, Service.VODS)


class ApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        data: DataConstruct,
        bus: events.IEventBus,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.http = HttpServicesConstruct(self, "Http", config=config, tables=data.tables)
        self.signing_key = SigningKeyConstruct(
            self, "SigningKey", config=config, runtime=self.http.runtime, layer=self.http.layer
        )
        for fn in self.http.functions.values():
            fn.add_environment(ENV_JWKS, self.signing_key.jwks)
        auth = self.http.functions[Service.AUTH]
        self.signing_key.secret.grant_read(auth)
        auth.add_environment(ENV_SIGNING_KEY_SECRET, self.signing_key.secret.secret_arn)
        for service in EVENT_PUBLISHERS:
            bus.grant_put_events_to(self.http.functions[service])
            self.http.functions[service].add_environment(ENV_EVENT_BUS, bus.event_bus_name)
