from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import InfraConfig
from letslive.constants import (
    MEDIA_PREFIX,
    TABLE_GSI,
    TABLE_GSI_PARTITION_KEY,
    TABLE_GSI_SORT_KEY,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
    TABLE_TTL_ATTRIBUTE,
    Table,
)
from letslive.models.streams import BROADCASTS_MEDIA_DIR


class DataConstruct(Construct):
    """The DynamoDB tables (one per domain, generic `pk`/`sk` keys) and the media bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
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
        self.media_bucket = s3.Bucket(
            self,
            "MediaBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=not config.local,  # the emulator is plain HTTP on loopback
            removal_policy=removal,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="broadcast-media-retention",
                    prefix=f"{MEDIA_PREFIX}/{BROADCASTS_MEDIA_DIR}/",
                    expiration=Duration.days(config.vod_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
