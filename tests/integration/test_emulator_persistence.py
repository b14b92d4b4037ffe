"""`make dev` keeps its data: ministack with persistence, stopped as `make dev` stops it (SIGTERM)
and started again, still has what the platform stores (DynamoDB items, S3 objects with their
metadata, the signing key's secret, the bus and its rules, queued messages). The tests'
emulators (no persistence) and a `--fresh` start begin empty."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from localstack.emulator import EMULATOR_CREDENTIALS, Emulator
from localstack.processes import free_port

TABLE = "persisted-table"
BUCKET = "persisted-media"
SEGMENT = "hls/broadcasts/b1/720p/00001.ts"


def client(emulator: Emulator, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=emulator.endpoint,
        region_name=EMULATOR_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def emulators(tmp_path: Path) -> Iterator[list[Emulator]]:
    """Emulators a test starts (each stopped at the end, whatever happened)."""
    started: list[Emulator] = []
    yield started
    for emulator in started:
        emulator.stop()


def start(emulators: list[Emulator], state_dir: Path, port: int, persist: bool) -> Emulator:
    emulator = Emulator(port=port, state_dir=state_dir, persist=persist)
    emulators.append(emulator)
    return emulator.start()


def store_some_of_everything(emulator: Emulator) -> None:
    dynamodb = client(emulator, "dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "USER#ada"}, "sk": {"S": "PROFILE"}, "bio": {"S": "hi"}})
    s3 = client(emulator, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(
        Bucket=BUCKET, Key=SEGMENT, Body=b"\x47" * 188, ContentType="video/mp2t", CacheControl="max-age=31536000"
    )
    client(emulator, "secretsmanager").create_secret(Name="signing-key", SecretString='{"kid": "k1"}')
    events = client(emulator, "events")
    events.create_event_bus(Name="letslive-test")
    events.put_rule(Name="all", EventBusName="letslive-test", EventPattern=json.dumps({"source": ["letslive"]}))
    sqs = client(emulator, "sqs")
    queue = sqs.create_queue(QueueName="fanout")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="hello")


@pytest.mark.timeout(120)
def test_a_restarted_emulator_still_has_what_was_stored(emulators: list[Emulator], tmp_path: Path) -> None:
    port = free_port()
    emulator = start(emulators, tmp_path, port, persist=True)
    store_some_of_everything(emulator)
    emulator.stop()  # SIGTERM, as `make dev` stops it on Ctrl-C: ministack saves its state

    emulator = start(emulators, tmp_path, port, persist=True)
    dynamodb = client(emulator, "dynamodb")
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "USER#ada"}, "sk": {"S": "PROFILE"}})
    assert item["Item"]["bio"] == {"S": "hi"}
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    s3 = client(emulator, "s3")
    segment = s3.get_object(Bucket=BUCKET, Key=SEGMENT)
    assert segment["Body"].read() == b"\x47" * 188
    assert segment["ContentType"] == "video/mp2t"
    assert segment["CacheControl"] == "max-age=31536000"
    secret = client(emulator, "secretsmanager").get_secret_value(SecretId="signing-key")
    assert secret["SecretString"] == '{"kid": "k1"}'
    rules = client(emulator, "events").list_rules(EventBusName="letslive-test")["Rules"]
    assert [rule["Name"] for rule in rules] == ["all"]
    sqs = client(emulator, "sqs")
    queue = sqs.get_queue_url(QueueName="fanout")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
    assert [message["Body"] for message in messages] == ["hello"]


@pytest.mark.timeout(120)
def test_reset_starts_empty(emulators: list[Emulator], tmp_path: Path) -> None:
    """`make dev FRESH=1`."""
    port = free_port()
    emulator = start(emulators, tmp_path, port, persist=True)
    store_some_of_everything(emulator)
    emulator.stop()
    emulator.reset()
    assert not emulator.persist_dir.exists()
    assert not emulator.s3_dir.exists()

    emulator = start(emulators, tmp_path, port, persist=True)
    assert client(emulator, "dynamodb").list_tables()["TableNames"] == []
    assert client(emulator, "s3").list_buckets()["Buckets"] == []


def test_a_running_emulator_is_not_reset(emulators: list[Emulator], tmp_path: Path) -> None:
    emulator = start(emulators, tmp_path, free_port(), persist=True)
    with pytest.raises(RuntimeError, match="stop it"):
        emulator.reset()


@pytest.mark.timeout(120)
def test_without_persistence_a_restart_starts_empty(emulators: list[Emulator], tmp_path: Path) -> None:
    """The e2e platforms and the benchmarks: every run starts from nothing."""
    port = free_port()
    emulator = start(emulators, tmp_path, port, persist=False)
    store_some_of_everything(emulator)
    emulator.stop()

    emulator = start(emulators, tmp_path, port, persist=False)
    assert client(emulator, "dynamodb").list_tables()["TableNames"] == []
    assert client(emulator, "s3").list_buckets()["Buckets"] == []
    assert not emulator.persist_dir.exists() or not any(emulator.persist_dir.glob("*.json"))
