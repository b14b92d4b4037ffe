from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constants import OUTPUT_EVENT_BUS, OUTPUT_MEDIA_BUCKET, OUTPUT_RESTREAM_KEY, table_output
from infra.constructs.cdn import allow_distribution_reads
from infra.constructs.data import DataConstruct
from infra.constructs.events import EventsConstruct


class DataStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.data = DataConstruct(self, "Data", config=config)
        if not config.local:  # read by the CDN stack's distribution, which comes later
            allow_distribution_reads(self.data.media_bucket)
        self.events = EventsConstruct(self, "Events", config=config)
        CfnOutput(self, OUTPUT_EVENT_BUS, key=OUTPUT_EVENT_BUS, value=self.events.bus.event_bus_name)
        CfnOutput(self, OUTPUT_MEDIA_BUCKET, key=OUTPUT_MEDIA_BUCKET, value=self.data.media_bucket.bucket_name)
        CfnOutput(self, OUTPUT_RESTREAM_KEY, key=OUTPUT_RESTREAM_KEY, value=self.data.restream_key.key_arn)
        for table, resource in self.data.tables.items():
            CfnOutput(self, table_output(table), key=table_output(table), value=resource.table_name)
