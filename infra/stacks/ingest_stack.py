from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_events as events
from constructs import Construct

from infra.config import InfraConfig
from infra.constants import OUTPUT_INGEST_LOAD_BALANCER, OUTPUT_INGEST_RTMP_URL, OUTPUT_INGEST_RTMPS_URL
from infra.constructs.data import DataConstruct
from infra.constructs.ingest import IngestConstruct


class IngestStack(Stack):
    """AWS only (locally the worker runs as a process beside the emulator): the RTMP ingest tier.

    Depends on the data stack (tables, media bucket, bus); the API stack takes `ingest_url`.
    """

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
        self.ingest = IngestConstruct(
            self,
            "Ingest",
            config=config,
            tables=data.tables,
            media_bucket=data.media_bucket,
            bus=bus,
            restream_key=data.restream_key,
        )
        CfnOutput(self, OUTPUT_INGEST_RTMP_URL, key=OUTPUT_INGEST_RTMP_URL, value=self.ingest.rtmp_url)
        lb_dns = self.ingest.load_balancer.load_balancer_dns_name
        CfnOutput(self, OUTPUT_INGEST_LOAD_BALANCER, key=OUTPUT_INGEST_LOAD_BALANCER, value=lb_dns)
        if self.ingest.rtmps_url is not None:
            CfnOutput(self, OUTPUT_INGEST_RTMPS_URL, key=OUTPUT_INGEST_RTMPS_URL, value=self.ingest.rtmps_url)

    @property
    def ingest_url(self) -> str:
        """What streamers are shown: RTMPS when there is a certificate (the stream key travels
        encrypted), else plain RTMP."""
        return self.ingest.rtmps_url or self.ingest.rtmp_url
