from aws_cdk.assertions import Match

from letslive.constants import (
    TABLE_GSI,
    TABLE_GSI_PARTITION_KEY,
    TABLE_GSI_SORT_KEY,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
    TABLE_TTL_ATTRIBUTE,
    Table,
)
from tests.infra.conftest import Synthesized


def test_one_table_per_domain_with_the_shared_key_schema(aws_app: Synthesized) -> None:
    template = aws_app.template("Data")
    template.resource_count_is("AWS::DynamoDB::Table", len(Table))
    template.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": TABLE_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": TABLE_SORT_KEY, "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": TABLE_TTL_ATTRIBUTE, "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": TABLE_GSI,
                    "KeySchema": [
                        {"AttributeName": TABLE_GSI_PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": TABLE_GSI_SORT_KEY, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
    )


def test_data_is_retained_in_aws_and_disposable_locally(aws_app: Synthesized, local_app: Synthesized) -> None:
    for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket"):
        aws_app.template("Data").all_resources(kind, {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
        local_app.template("Data").all_resources(kind, {"DeletionPolicy": "Delete"})


def test_media_bucket_is_private_encrypted_and_tls_only(aws_app: Synthesized) -> None:
    template = aws_app.template("Data")
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_outputs_name_every_table_and_the_bucket(aws_app: Synthesized) -> None:
    outputs = aws_app.template("Data").find_outputs("*")
    assert {"MediaBucketName", *(f"{t.value.capitalize()}TableName" for t in Table)} <= set(outputs)


def test_broadcast_media_expires_with_the_vod_retention(aws_app: Synthesized) -> None:
    aws_app.template("Data").has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"Prefix": "hls/broadcasts/", "ExpirationInDays": 30, "Status": "Enabled"})]
                )
            }
        },
    )


def test_media_bucket_access_is_logged_to_a_private_bucket_by_policy(aws_app: Synthesized) -> None:
    template = aws_app.template("Data")
    buckets = template.find_resources("AWS::S3::Bucket")
    (media,) = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    logs_bucket = media["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    props = buckets[logs_bucket]["Properties"]
    # Delivered by bucket policy: no log-delivery ACL, so ACLs stay disabled.
    assert "AccessControl" not in props
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": logs_bucket},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                                "Action": "s3:PutObject",
                            }
                        ),
                    ]
                )
            },
        },
    )
