"""Lambdas fed by rules on the event bus, and the encrypted SQS queues (work, dead letters) the stacks use."""

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import LAYER_SOURCE, LayerBundler, bundled_code, media_layer_requirements
from infra.config import InfraConfig
from infra.constructs.cdn import distribution_id_parameter
from infra.constructs.data import media_bucket_arn_export
from infra.constructs.functions import python_function
from infra.nag import LOCAL_PLAIN_HTTP, acknowledge
from letslive.constants import (
    ENV_CDN_DISTRIBUTION_PARAMETER,
    ENV_MEDIA_BUCKET,
    EVENT_SOURCE,
    MEDIA_PREFIX,
    Service,
    Table,
    table_env_var,
)
from letslive.models.clips import CLIPS_MEDIA_DIR
from letslive.models.events import ClipCreated, ClipDeleted, VodDeleted
from letslive.models.streams import BROADCASTS_MEDIA_DIR

# How often a failed delivery or invocation is retried before it goes to the dead-letter queue.
EVENT_RETRY_ATTEMPTS = 2


def encrypted_queue(
    scope: Construct,
    construct_id: str,
    *,
    config: InfraConfig,
    retention: Duration | None = None,
    visibility_timeout: Duration | None = None,
    dead_letter: sqs.DeadLetterQueue | None = None,
) -> sqs.Queue:
    """An SQS queue encrypted at rest (SQS-managed keys, so EventBridge may send to it) and,
    in AWS, refusing plain HTTP (the emulator is plain HTTP on loopback)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=not config.local,
        retention_period=retention,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter,
    )
    if config.local:
        acknowledge(queue, "AwsSolutions-SQS4", LOCAL_PLAIN_HTTP)
    return queue


def dead_letter_queue(scope: Construct, construct_id: str, *, config: InfraConfig) -> sqs.Queue:
    """Kept for SQS's longest retention: time enough to look at what failed and redrive it."""
    queue = encrypted_queue(scope, construct_id, config=config, retention=Duration.days(14))
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself a dead-letter queue (of a redrive policy, an EventBridge target or a Lambda "
        "on-failure destination, the last two invisible to the rule); a DLQ behind it would only move "
        "the same failed messages again.",
    )
    return queue


class EventConsumer(Construct):
    """A Lambda fed by one rule on the bus: events from `letslive` of the given detail types.

    EventBridge invokes it asynchronously: a delivery that fails is retried by EventBridge, an
    invocation that fails is retried by Lambda, and what still fails lands in the dead-letter
    queue instead of vanishing.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        bus: events.IEventBus,
        service: Service,
        handler: str,
        detail_types: Sequence[str],
        timeout_seconds: int = 30,
        description: str | None = None,
        extra_layers: Sequence[lambda_.ILayerVersion] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", config=config)
        self.function = python_function(
            self,
            "",
            config=config,
            runtime=runtime,
            layer=layer,
            service=service,
            handler=handler,
            timeout_seconds=timeout_seconds,
            description=description,
            extra_layers=extra_layers,
        )
        self.function.configure_async_invoke(
            retry_attempts=EVENT_RETRY_ATTEMPTS,
            max_event_age=Duration.hours(1),
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        self.rule = events.Rule(
            self,
            "Rule",
            event_bus=bus,
            event_pattern=events.EventPattern(source=[EVENT_SOURCE], detail_type=list(detail_types)),
            description=description,
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=EVENT_RETRY_ATTEMPTS,
                max_event_age=Duration.hours(1),
            )
        )


# A 4-hour broadcast of 1 s segments in 4 rungs is ~58,000 objects: 58 list pages and as many
# DeleteObjects calls. A run cut short is retried and goes on where it stopped (idempotent).
VOD_MEDIA_TIMEOUT_SECONDS = 300


class VodMediaConsumer(Construct):
    """Removes a deleted VOD's media (`VodDeleted`): it may list and delete objects below the
    broadcasts prefix of the media bucket and nothing else; in AWS it reads the distribution id
    from its SSM parameter, and the CDN stack lets its role invalidate that distribution only
    (`infra.constructs.cdn.MediaInvalidation`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        bus: events.IEventBus,
        media_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.consumer = EventConsumer(
            self,
            "Consumer",
            config=config,
            runtime=runtime,
            layer=layer,
            bus=bus,
            service=Service.VODS,
            handler="functions.vods.media.handler",
            detail_types=(VodDeleted.detail_type, ClipDeleted.detail_type),
            timeout_seconds=VOD_MEDIA_TIMEOUT_SECONDS,
            description="Deletes a deleted VOD's or clip's media and invalidates it in the CDN",
        )
        self.function = self.consumer.function
        self.dead_letter_queue = self.consumer.dead_letter_queue
        fn = self.function
        bucket_arn, bucket_export = media_bucket_arn_export(self, media_bucket)
        prefixes = [f"{MEDIA_PREFIX}/{BROADCASTS_MEDIA_DIR}/*", f"{MEDIA_PREFIX}/{CLIPS_MEDIA_DIR}/*"]
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
                conditions={"StringLike": {"s3:prefix": prefixes}},
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:DeleteObject"], resources=[f"{bucket_arn}/{p}" for p in prefixes])
        )
        for prefix in prefixes:
            acknowledge(
                self,
                f"AwsSolutions-IAM5[Resource::{bucket_export}/{prefix}]",
                "A deleted VOD's (or clip's) objects are listed at run time below its broadcast's prefix (or "
                "its own), which the function checks against its id; it may delete nothing outside the "
                "broadcasts and clips prefixes.",
            )
        fn.add_environment(ENV_MEDIA_BUCKET, media_bucket.bucket_name)
        self.distribution_parameter: str | None = None
        if not config.local:  # locally no CDN: the edge caches no media, nothing to invalidate
            self.distribution_parameter = distribution_id_parameter(config.stage)
            stack = Stack.of(self)
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ssm:GetParameter"],
                    resources=[
                        stack.format_arn(
                            service="ssm", resource="parameter", resource_name=self.distribution_parameter[1:]
                        )
                    ],
                )
            )
            fn.add_environment(ENV_CDN_DISTRIBUTION_PARAMETER, self.distribution_parameter)


# Reading a 60 s clip's segments and remuxing them takes seconds; the margin is for a slow S3
# read (each has its own 10 s timeout). A run cut short is retried from the start.
CLIP_DOWNLOAD_TIMEOUT_SECONDS = 120


class ClipDownloadConsumer(Construct):
    """Remuxes a new clip's MP4 (`ClipCreated`) with PyAV, from its own layer (`MediaLayer`,
    about 100 MB unpacked, so only this function carries it). It may read, write and delete
    objects below the clips prefix of the media bucket (the delete: the MP4 of a clip deleted
    while it was made) and update the vods table, nothing else."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        bus: events.IEventBus,
        media_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.media_layer = lambda_.LayerVersion(
            self,
            "MediaLayer",
            code=bundled_code(
                LAYER_SOURCE,
                LayerBundler(
                    config.lambda_python, name="media-layer", requirements=media_layer_requirements, domain=False
                ),
            ),
            compatible_runtimes=[runtime],
            description="PyAV (FFmpeg's libraries) for remuxing clips",
        )
        self.consumer = EventConsumer(
            self,
            "Consumer",
            config=config,
            runtime=runtime,
            layer=layer,
            bus=bus,
            service=Service.VODS,
            handler="functions.vods.downloads.handler",
            detail_types=(ClipCreated.detail_type,),
            timeout_seconds=CLIP_DOWNLOAD_TIMEOUT_SECONDS,
            description="Remuxes a new clip's MP4 download",
            extra_layers=[self.media_layer],
        )
        self.function = self.consumer.function
        self.dead_letter_queue = self.consumer.dead_letter_queue
        bucket_arn, bucket_export = media_bucket_arn_export(self, media_bucket)
        clips = f"{MEDIA_PREFIX}/{CLIPS_MEDIA_DIR}/*"
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], resources=[f"{bucket_arn}/{clips}"]
            )
        )
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::{bucket_export}/{clips}]",
            "A clip's playlists and segments are read, and its MP4 written or deleted, under its own id, known at run"
            " time.",
        )
        self.function.add_environment(ENV_MEDIA_BUCKET, media_bucket.bucket_name)

    def grant_clips_table(self, table: dynamodb.ITable) -> None:
        """Reads a clip's record and updates its download's state: nothing else of the table."""
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[table.table_arn])
        )
        self.function.add_environment(table_env_var(Table.VODS), table.table_name)
