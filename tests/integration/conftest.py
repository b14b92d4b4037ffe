"""moto in-process AWS for integration tests.

Opt-in fixtures, from the bottom up:
- `aws_env`: fake credentials and region, no endpoint override, no Let's Live variable from the
  outer environment, Powertools tracing off (all through `monkeypatch`, undone after the test);
- `aws`: `aws_env` plus `mock_aws()` active for the test;
- `tables`: the four tables (generic `pk`/`sk` key schema, TTL on `expires_at`) created in moto,
  their names exported through `table_env_var`;
- `media_bucket`: the media bucket created in moto, its name in `LETSLIVE_MEDIA_BUCKET`.

The only autouse fixture forgets the process-wide caches (parsed settings, boto3 clients,
bound PynamoDB models) before and after every test, so nothing built against one test's
environment or mock leaks into the next. It changes no environment variable, so tests that
spawn subprocesses with their own environment are unaffected.
"""

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from letslive.constants import (
    ENV_AWS_ENDPOINT_URL,
    ENV_MEDIA_BUCKET,
    ENV_PREFIX,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
    TABLE_TTL_ATTRIBUTE,
    Table,
    table_env_var,
)
from letslive.data.aws import reset_clients
from letslive.data.tables import bind
from letslive.settings import reset_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"
MEDIA_BUCKET = "letslive-test-media"
POWERTOOLS_METRICS_NAMESPACE = "LetsLiveTest"

# Variables from the outer environment that would point boto3 somewhere else.
FOREIGN_AWS_VARS = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_REGION",
)


def physical_table_name(table: Table) -> str:
    return f"letslive-test-{table.value}"


def forget_cached_aws() -> None:
    """Drop every process-wide cache that holds configuration or a client."""
    reset_settings()
    reset_clients()
    bind.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    forget_cached_aws()
    yield
    forget_cached_aws()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake credentials and region; no Let's Live setting or endpoint inherited from outside."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) or name in FOREIGN_AWS_VARS:
            monkeypatch.delenv(name)
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert ENV_AWS_ENDPOINT_URL not in os.environ
    return values


@pytest.fixture
def aws(aws_env: dict[str, str]) -> Iterator[None]:
    """moto intercepting every botocore call of this test."""
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws: None) -> "DynamoDBClient":
    """A plain boto3 client for arranging and inspecting state (not the code under test's client)."""
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def s3(aws: None) -> "S3Client":
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def tables(dynamodb: "DynamoDBClient", monkeypatch: pytest.MonkeyPatch) -> dict[Table, str]:
    """Every table, created in moto with the generic key schema; name → `table_env_var(table)`."""
    names: dict[Table, str] = {}
    for table in Table:
        name = physical_table_name(table)
        dynamodb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": TABLE_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": TABLE_SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": TABLE_PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": TABLE_SORT_KEY, "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE_TTL_ATTRIBUTE}
        )
        monkeypatch.setenv(table_env_var(table), name)
        names[table] = name
    return names


@pytest.fixture
def media_bucket(s3: "S3Client", monkeypatch: pytest.MonkeyPatch) -> str:
    """The media bucket, created in moto; its name in `LETSLIVE_MEDIA_BUCKET`."""
    s3.create_bucket(Bucket=MEDIA_BUCKET)
    monkeypatch.setenv(ENV_MEDIA_BUCKET, MEDIA_BUCKET)
    return MEDIA_BUCKET
