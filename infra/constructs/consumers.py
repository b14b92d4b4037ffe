"""Lambdas fed by rules on the event bus, and the encrypted SQS queues (work, dead letters) the stacks use."""

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

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
)
from letslive.models.clips import CLIPS_MEDIA_DIR
from letslive.models.events import ClipDeleted, VodDeleted
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
