"""The running local platform, once per session: emulator + the deployed CDK app + workers + edge.

Everything is real: ministack on a free loopback port, `cdklocal deploy` of the CDK app,
two ingest workers as processes behind HAProxy, the edge in a thread. Nothing here is mocked.
"""

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from infra.constants import OUTPUT_EVENT_BUS
from letslive.constants import ENV_INGEST_RECORDING_CHUNK_SEGMENTS, EVENT_SOURCE
from localstack.platform import RunningPlatform, local_platform

# The name the tests use for it.
LocalPlatform = RunningPlatform


# Two ingest workers behind the balancer, as in AWS: publishers land on either.
WORKERS = 2
# Recording chunks of 20 segments (300 by default): a broadcast of a minute has full chunks, so
# rewinding, resuming and the sweeper read them, not only the open recording.
RECORDING_CHUNK_SEGMENTS = 20


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    settings = {ENV_INGEST_RECORDING_CHUNK_SEGMENTS: str(RECORDING_CHUNK_SEGMENTS)}
    with local_platform(tmp_path_factory.mktemp("platform"), workers=WORKERS, worker_settings=settings) as running:
        yield running


@pytest.fixture(scope="module")
def api(platform: LocalPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{platform.edge_url}/api", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def events(platform: LocalPlatform) -> Callable[[], list[dict[str, Any]]]:
    """Every event on the platform's bus, copied into an SQS queue by a rule made here."""
    sqs, eventbridge = platform.deployment.client("sqs"), platform.deployment.client("events")
    bus = platform.deployment.output(OUTPUT_EVENT_BUS)
    queue_url = sqs.create_queue(QueueName=f"e2e-events-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    eventbridge.put_rule(Name="e2e-all", EventBusName=bus, EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    eventbridge.put_targets(Rule="e2e-all", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    received: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    return read
