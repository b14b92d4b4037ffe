from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import InfraConfig
from infra.nag import LOCAL_PLAIN_HTTP, acknowledge
from letslive.constants import (
    MEDIA_PREFIX,
    RESTREAM_KEY_PURPOSE,
    TABLE_GSI,
    TABLE_GSI_PARTITION_KEY,
    TABLE_GSI_SORT_KEY,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
    TABLE_TTL_ATTRIBUTE,
    Table,
)
from letslive.models.streams import BROADCASTS_MEDIA_DIR

# S3 server access logs are kept this long.
ACCESS_LOG_DAYS = 90


class DataConstruct(Construct):
    """The DynamoDB tables (one per domain, generic `pk`/`sk` keys), the media bucket, the
    bucket of its server access logs, and the KMS key of restream keys."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        # S3 delivers server access logs by bucket policy, not by the legacy log-delivery ACL
        # (set here, not in cdk.json, so the tests' synth sees it too).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        # Data outlives a stack in AWS; a local emulator is thrown away with its stack.
        removal = RemovalPolicy.DESTROY if config.local else RemovalPolicy.RETAIN
        self.tables: dict[Table, dynamodb.Table] = {
            table: dynamodb.Table(
                self,
                f"{table.value.capitalize()}Table",
                partition_key=dynamodb.Attribute(name=TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=TABLE_SORT_KEY, type=dynamodb.AttributeType.STRING),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                time_to_live_attribute=TABLE_TTL_ATTRIBUTE,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                removal_policy=removal,
            )
            for table in Table
        }
        for resource in self.tables.values():
            resource.add_global_secondary_index(
                index_name=TABLE_GSI,
                partition_key=dynamodb.Attribute(name=TABLE_GSI_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=TABLE_GSI_SORT_KEY, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        # Who wrote, read or deleted which media object (S3 server access logs).
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption log delivery takes
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=not config.local,
            removal_policy=removal,
            lifecycle_rules=[s3.LifecycleRule(id="access-log-retention", expiration=Duration.days(ACCESS_LOG_DAYS))],
        )
        acknowledge(
            self.access_logs_bucket,
            "AwsSolutions-S1",
            "This bucket receives the media bucket's server access logs; logging it too would only record "
            "the log deliveries themselves.",
        )
        self.media_bucket = s3.Bucket(
            self,
            "MediaBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=not config.local,  # the emulator is plain HTTP on loopback
            removal_policy=removal,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="media/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="broadcast-media-retention",
                    prefix=f"{MEDIA_PREFIX}/{BROADCASTS_MEDIA_DIR}/",
                    expiration=Duration.days(config.vod_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        # Seals the stream keys streamers give for their restream destinations.
        self.restream_key = kms.Key(
            self,
            "RestreamKey",
            description="Seals restream destination keys: the streams API encrypts, the ingest worker decrypts",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        if config.local:
            for bucket in (self.access_logs_bucket, self.media_bucket):
                acknowledge(bucket, "AwsSolutions-S10", LOCAL_PLAIN_HTTP)


def grant_restream_key(key: kms.IKey, grantee: iam.IGrantable, action: str) -> None:
    """`kms:Encrypt` or `kms:Decrypt` on the restream key, for restream keys only (the encryption
    context every sealed key carries)."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[action],
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:EncryptionContext:purpose": RESTREAM_KEY_PURPOSE}},
        )
    )


def media_bucket_arn_export(consumer: Construct, media_bucket: s3.IBucket) -> tuple[str, str]:
    """The media bucket's ARN imported by `consumer`'s stack through a named export, and that
    name: the cdk-nag finding on a grant below a prefix then has a stable name to acknowledge."""
    data_stack = Stack.of(media_bucket)
    name = f"{data_stack.stack_name}-MediaBucketArn"
    # One export for every consumer (CDK names its output `Export<name>`).
    exported = data_stack.node.try_find_child(f"Export{name}") is not None
    arn = Fn.import_value(name) if exported else data_stack.export_value(media_bucket.bucket_arn, name=name)
    Stack.of(consumer).add_stack_dependency(data_stack, "the media bucket's ARN is imported by name")
    return arn, name
