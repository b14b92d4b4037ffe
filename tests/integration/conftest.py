"""moto in-process AWS for integration tests.

Opt-in fixtures, from the bottom up:
- `aws_env`: fake credentials and region, no endpoint override, no Let's Live variable from the
  outer environment, Powertools tracing off (all through `monkeypatch`, undone after the test);
- `aws`: `aws_env` plus `mock_aws()` active for the test;
- `tables`: every table (generic `pk`/`sk` key schema, TTL on `expires_at`) created in moto,
  their names exported through `table_env_var`;
- `media_bucket`: the media bucket created in moto, its name in `LETSLIVE_MEDIA_BUCKET`;
- `signing_key`: a fresh ES256 key stored in a moto secret, `LETSLIVE_SIGNING_KEY_SECRET` and
  `LETSLIVE_JWKS` set as CDK sets them;
- `event_bus`: an EventBridge bus in moto, its name in `LETSLIVE_EVENT_BUS`, and a queue that a
  rule copies every event into (`event_bus.received()` reads them back);
- `accounts`: `tables` + `signing_key` + `event_bus`, everything the account services need;
- `chat_env`: the chat Lambdas' environment (its tables and the users table only, the JWKS, the
  bus, the WebSocket stage's callback URL, the fan-out queue) and an account per `CHAT_USERS`;
- `chat`: `chat_env` + the chat handlers wired to one `ChatService` whose clock the test moves.

The only autouse fixture forgets the process-wide caches (parsed settings, boto3 clients,
bound PynamoDB models) before and after every test, so nothing built against one test's
environment or mock leaks into the next. It changes no environment variable, so tests that
spawn subprocesses with their own environment are unaffected.
"""

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from letslive.constants import (
    ENV_AWS_ENDPOINT_URL,
    ENV_CHAT_CALLBACK_URL,
    ENV_CHAT_FANOUT_QUEUE_URL,
    ENV_EVENT_BUS,
    ENV_JWKS,
    ENV_MEDIA_BUCKET,
    ENV_PREFIX,
    ENV_SIGNING_KEY_SECRET,
    EVENT_SOURCE,
    SERVICE_READ_TABLES,
    SERVICE_TABLES,
    TABLE_GSI,
    TABLE_GSI_PARTITION_KEY,
    TABLE_GSI_SORT_KEY,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
    TABLE_TTL_ATTRIBUTE,
    Service,
    Table,
    table_env_var,
)
from letslive.data.aws import reset_clients
from letslive.data.tables import bind, connection
from letslive.services.origin import load_origin_verify_secret
from letslive.services.signing_keys import load_signing_key
from letslive.services.tokens import SigningKey, generate_signing_key, jwks_document
from letslive.settings import reset_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

    from tests.integration.chat_support import ChatRoom, FanoutQueue

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
    connection.cache_clear()
    load_signing_key.cache_clear()
    load_origin_verify_secret.cache_clear()
    from functions.common.security import _verifier

    _verifier.cache_clear()


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
                {"AttributeName": name, "AttributeType": "S"}
                for name in (TABLE_PARTITION_KEY, TABLE_SORT_KEY, TABLE_GSI_PARTITION_KEY, TABLE_GSI_SORT_KEY)
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": TABLE_GSI,
                    "KeySchema": [
                        {"AttributeName": TABLE_GSI_PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": TABLE_GSI_SORT_KEY, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
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


@pytest.fixture
def signing_key(aws: None, monkeypatch: pytest.MonkeyPatch) -> SigningKey:
    """A signing key in Secrets Manager and its public JWKS in the env, as the CDK app wires them."""
    key = generate_signing_key()
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="letslive-test-signing-key", SecretString=key.to_json()
    )
    monkeypatch.setenv(ENV_SIGNING_KEY_SECRET, secret["ARN"])
    monkeypatch.setenv(ENV_JWKS, json.dumps(jwks_document(key)))
    return key


@dataclass
class EventBus:
    name: str
    queue_url: str

    def received(self) -> list[dict[str, Any]]:
        """Every event that reached the bus so far (each SQS message is one event)."""
        sqs = boto3.client("sqs", region_name=REGION)
        events: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return events
            for message in batch:
                events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def event_bus(aws: None, monkeypatch: pytest.MonkeyPatch) -> EventBus:
    name = "letslive-test-bus"
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name=name)
    queue_url = sqs.create_queue(QueueName="letslive-test-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=name, EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    events.put_targets(Rule="all", EventBusName=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    monkeypatch.setenv(ENV_EVENT_BUS, name)
    return EventBus(name, queue_url)


@pytest.fixture
def accounts(tables: dict[Table, str], signing_key: SigningKey, event_bus: EventBus) -> SigningKey:
    """Everything the auth and users services need; returns the signing key."""
    return signing_key


# --- chat ---------------------------------------------------------------------------------------

# Accounts the chat tests use: `alice` owns the channel the tests chat in. Display names keep the
# case the handle was signed up with.
CHAT_USERS = ("Alice", "Bob", "Carol", "Dave", "Erin")


@dataclass
class ChatEnv:
    keys: SigningKey
    queue: "FanoutQueue"
    bus: EventBus


@pytest.fixture
def chat_env(
    tables: dict[Table, str], signing_key: SigningKey, event_bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ChatEnv]:
    """What CDK gives the chat functions, and accounts for `CHAT_USERS`."""
    from letslive.data.accounts import AccountRepository
    from tests.integration.chat_support import CALLBACK_URL, FANOUT_QUEUE, FanoutQueue, forget_chat_caches

    repository = AccountRepository()
    for name in CHAT_USERS:
        repository.create(uuid.uuid4().hex, name, f"{name.lower()}@example.com", "not-a-password-hash")
    queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName=FANOUT_QUEUE)["QueueUrl"]
    monkeypatch.setenv(ENV_CHAT_CALLBACK_URL, CALLBACK_URL)
    monkeypatch.setenv(ENV_CHAT_FANOUT_QUEUE_URL, queue_url)
    # Only the tables the chat may use: a read of another one fails the test.
    allowed = {*SERVICE_TABLES[Service.CHAT], *SERVICE_READ_TABLES[Service.CHAT]}
    for table in Table:
        if table not in allowed:
            monkeypatch.delenv(table_env_var(table))
    monkeypatch.delenv(ENV_SIGNING_KEY_SECRET)  # the chat verifies tokens, it never signs one
    forget_cached_aws()
    caches = forget_chat_caches()
    next(caches)
    yield ChatEnv(signing_key, FanoutQueue(queue_url), event_bus)
    next(caches, None)


@pytest.fixture
def chat(chat_env: ChatEnv, monkeypatch: pytest.MonkeyPatch) -> "ChatRoom":
    from tests.integration.chat_support import ChatRoom
    from tests.support.clocks import DateClock

    clock = DateClock(datetime.now(UTC).replace(microsecond=0))
    return ChatRoom(chat_env.keys, clock, monkeypatch, chat_env.queue)
