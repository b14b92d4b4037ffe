"""The broadcast sweeper: a Lambda on a one-minute schedule that ends the broadcasts of ingest
workers that stopped heartbeating and writes their VODs from what reached the media bucket."""

from collections.abc import Mapping
from typing import Final

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import InfraConfig
from infra.constants import OUTPUT_SWEEPER_FUNCTION
from infra.constructs.data import media_bucket_arn_export
from infra.constructs.functions import grant_tables, python_function
from infra.nag import acknowledge
from letslive.constants import ENV_EVENT_BUS, ENV_MEDIA_BUCKET, MEDIA_PREFIX, Service, Table
from letslive.models.streams import BROADCASTS_MEDIA_DIR

# EventBridge's finest schedule. A dead worker's channel leaves the directory as soon as its
# heartbeat is stale (`live_stale_seconds`); this is how soon after that its VOD is written.
SWEEP_SCHEDULE: Final = Duration.minutes(1)
SWEEPER_HANDLER: Final = "functions.streams.sweeper.handler"


class SweeperConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        tables: Mapping[Table, dynamodb.ITable],
        media_bucket: s3.IBucket,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = python_function(
            self,
            "",
            config=config,
            runtime=runtime,
            layer=layer,
            service=Service.STREAMS,
            handler=SWEEPER_HANDLER,
            timeout_seconds=60,
            description="Ends broadcasts whose ingest worker stopped heartbeating and writes their VODs",
        )
        fn = self.function
        grant_tables(fn, Service.STREAMS, tables)
        grant_tables(fn, Service.VODS, tables, reads=False)  # it writes VODs, it replays no chat
        bucket_arn, bucket_export = media_bucket_arn_export(self, media_bucket)
        objects = f"{MEDIA_PREFIX}/{BROADCASTS_MEDIA_DIR}/*"
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[f"{bucket_arn}/{objects}"])
        )
        # A missing recording must read as NoSuchKey (not AccessDenied): ListBucket on the bucket.
        fn.add_to_role_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket_arn]))
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::{bucket_export}/{objects}]",
            "The sweeper reads a dead broadcast's playlists and writes its VOD playlists, under keys made at "
            "run time below the broadcasts prefix; nothing else.",
        )
        fn.add_environment(ENV_MEDIA_BUCKET, media_bucket.bucket_name)
        bus.grant_put_events_to(fn)
        fn.add_environment(ENV_EVENT_BUS, bus.event_bus_name)
        self.rule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.rate(SWEEP_SCHEDULE),
            description="Sweeps broadcasts whose ingest worker died",
        )
        # No retry: the next run sweeps again.
        self.rule.add_target(targets.LambdaFunction(fn, retry_attempts=0))
        CfnOutput(self, OUTPUT_SWEEPER_FUNCTION, key=OUTPUT_SWEEPER_FUNCTION, value=fn.function_name)
