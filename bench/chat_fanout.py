"""Chat fan-out: one message to N real WebSocket clients in one room, through the local platform.

For each room size (default 500, 1,000, 2,000) the clients connect to the emulator's WebSocket
API (each `$connect` runs the connect Lambda), then a signed-in chatter sends one message:
the message Lambda stores it and fans it out (up to the threshold, 1,000, from its own thread
pool; above, in SQS batches to the fan-out Lambda). Delivery latency is from the send to each
client's receipt, p50/p99/max.

In the same run, the naive pattern: scan the whole connections table (here with
`--other-rooms` connections of other rooms in it, as on a busy platform), and post to each
connection of the room one after another. And, to show where the time goes, the same fan-out
code as the Lambda's (`Fanout.deliver`: one query, 32 posts in flight) run in this process
against the emulator, which leaves out the Lambda invocation.

Target (issue): p99 <= 1 s at 2,000 clients, and >= 10x faster than the naive pattern.

Run from the repo root: `.venv/bin/python -m bench.chat_fanout [--sizes 500,1000,2000]`.
"""

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect

from infra.constants import OUTPUT_WEBSOCKET_API_ID, OUTPUT_WEBSOCKET_STAGE, table_output
from letslive.constants import ENV_AWS_ENDPOINT_URL, ENV_CHAT_CALLBACK_URL, Table, table_env_var
from letslive.models.chat import Connection
from localstack.deploy import EMULATOR_REGION, Deployment
from localstack.platform import local_platform

PASSWORD = "correct horse battery staple 42"
CONNECT_CONCURRENCY = 64
DELIVERY_TIMEOUT = 60.0


@dataclass
class Client:
    ws: ClientConnection
    received: dict[str, float] = field(default_factory=dict)


async def _reader(client: Client) -> None:
    """Record when each message text first arrives (the marker is the text)."""
    try:
        async for frame in client.ws:
            event = json.loads(frame)
            if event.get("type") == "message":
                client.received.setdefault(event["text"], time.perf_counter())
    except Exception:  # a client closed by the emulator just stops recording
        return


async def _open(url: str, count: int) -> list[Client]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> Client:
        async with gate:
            ws = await connect(url, open_timeout=120, ping_interval=None, max_queue=None)
        client = Client(ws)
        asyncio.get_running_loop().create_task(_reader(client))
        return client

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _wait_all(clients: Sequence[Client], marker: str) -> None:
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    # Polled: one check of thousands of dicts every 10 ms costs less than an event per client.
    while time.monotonic() < deadline and any(marker not in client.received for client in clients):  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def _latencies(clients: Sequence[Client], marker: str, start: float) -> list[float]:
    return sorted(client.received[marker] - start for client in clients if marker in client.received)


def _summary(name: str, latencies: list[float], expected: int) -> str:
    if not latencies:
        return f"{name:<34} {'-':>8} {'-':>8} {'-':>8} {0:>6}/{expected}"
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return f"{name:<34} {p50:>8.3f} {p99:>8.3f} {latencies[-1]:>8.3f} {len(latencies):>6}/{expected}"


def _naive(deployment: Deployment, channel: str, text: str) -> None:
    """The pattern the design rejects: scan everything, then post one by one."""
    import boto3

    session = boto3.session.Session()
    dynamodb = session.client("dynamodb", endpoint_url=deployment.endpoint, region_name=EMULATOR_REGION)
    api = _callback(deployment)
    gateway = session.client("apigatewaymanagementapi", endpoint_url=api, region_name=EMULATOR_REGION)
    payload = json.dumps({"type": "message", "id": uuid.uuid4().hex, "user": "naive", "text": text}).encode()
    table = deployment.output(table_output(Table.CONNECTIONS))
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if item["pk"]["S"] == channel:
                with contextlib.suppress(gateway.exceptions.GoneException):
                    gateway.post_to_connection(ConnectionId=item["sk"]["S"], Data=payload)


def _callback(deployment: Deployment) -> str:
    api_id, stage = deployment.output(OUTPUT_WEBSOCKET_API_ID), deployment.output(OUTPUT_WEBSOCKET_STAGE)
    return f"{deployment.endpoint}/_aws/execute-api/{api_id}/{stage}"


def _in_process_fanout(deployment: Deployment, channel: str, text: str) -> None:
    """The Lambda's own fan-out code (one query, bounded pool), without the Lambda around it."""
    from letslive.data.chat import ConnectionRepository
    from letslive.data.connections_api import connection_gateway
    from letslive.services.chat import Fanout

    payload = json.dumps({"type": "message", "id": uuid.uuid4().hex, "user": "direct", "text": text}).encode()
    connections = ConnectionRepository()
    Fanout(connections, connection_gateway(), None, threshold=1_000_000).deliver(
        channel, connections.ids(channel), payload
    )


def _fill_other_rooms(count: int) -> None:
    """Connections of other rooms, so that "scan the whole table" means what it does in production."""
    from letslive.data.chat import ConnectionRepository

    now = datetime.now(UTC)
    items = ConnectionRepository().items
    with items.batch_write() as batch:
        for index in range(count):
            room = f"room_{index % 200:03d}"
            connection = Connection(room, uuid.uuid4().hex[:16], now)
            batch.save(
                items(
                    connection.channel,
                    connection.connection_id,
                    connected_at=now,
                    gsi1pk=connection.connection_id,
                    gsi1sk=room,
                    expires_at=datetime.fromtimestamp(now.timestamp() + 7200, UTC),
                )
            )


def _use_emulator(deployment: Deployment) -> None:
    """Point this process's `letslive` settings at the deployed platform (in-process runs)."""
    os.environ[ENV_AWS_ENDPOINT_URL] = deployment.endpoint
    os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "test"
    os.environ[table_env_var(Table.CONNECTIONS)] = deployment.output(table_output(Table.CONNECTIONS))
    api_id, stage = deployment.output(OUTPUT_WEBSOCKET_API_ID), deployment.output(OUTPUT_WEBSOCKET_STAGE)
    os.environ[ENV_CHAT_CALLBACK_URL] = f"https://{api_id}.execute-api.{EMULATOR_REGION}.amazonaws.com/{stage}"


async def _run(deployment: Deployment, websocket_url: str, sizes: list[int], other_rooms: int) -> list[str]:
    _use_emulator(deployment)
    suffix = uuid.uuid4().hex[:6]
    host, chatter = f"bench_{suffix}", f"chatter_{suffix}"
    async with httpx.AsyncClient(base_url=deployment.http_api_url, timeout=60) as api:
        for name in (host, chatter):
            response = await api.post(
                "/auth/signup", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD}
            )
            response.raise_for_status()
        login = await api.post("/auth/login", json={"username": chatter, "password": PASSWORD})
        token = login.json()["access_token"]
    await asyncio.to_thread(_fill_other_rooms, other_rooms)

    room_url = f"{websocket_url}?{urlencode({'channel': host})}"
    sender = await connect(f"{websocket_url}?{urlencode({'channel': host, 'token': token})}", ping_interval=None)
    clients: list[Client] = []
    lines = [f"{'':<34} {'p50 s':>8} {'p99 s':>8} {'max s':>8} {'received':>13}"]
    for size in sizes:
        started = time.perf_counter()
        clients += await _open(room_url, size - len(clients))
        connect_seconds = time.perf_counter() - started
        lines.append(f"--- {size} clients (+{other_rooms} in other rooms); connected in {connect_seconds:.1f} s")

        marker = f"lambda-{size}-{uuid.uuid4().hex[:6]}"
        start = time.perf_counter()
        await sender.send(json.dumps({"action": "send", "text": marker}))
        await _wait_all(clients, marker)
        lines.append(_summary("Lambda fan-out (send -> client)", _latencies(clients, marker, start), size))

        marker = f"direct-{size}-{uuid.uuid4().hex[:6]}"
        start = time.perf_counter()
        await asyncio.to_thread(_in_process_fanout, deployment, host, marker)
        await _wait_all(clients, marker)
        lines.append(_summary("same code in-process (no Lambda)", _latencies(clients, marker, start), size + 1))

        marker = f"naive-{size}-{uuid.uuid4().hex[:6]}"
        start = time.perf_counter()
        await asyncio.to_thread(_naive, deployment, host, marker)
        await _wait_all(clients, marker)
        lines.append(_summary("naive: scan + post one by one", _latencies(clients, marker, start), size + 1))
        await asyncio.sleep(1.1)  # the sender's rate limit: one message a second
    for client in [*clients]:
        await client.ws.close()
    await sender.close()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="500,1000,2000", help="room sizes, ascending")
    parser.add_argument("--other-rooms", type=int, default=5000, help="connections of other rooms in the table")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets
    with tempfile.TemporaryDirectory() as state, local_platform(Path(state), stage="bench") as running:
        lines = asyncio.run(_run(running.deployment, running.websocket_url, sizes, args.other_rooms))
    print("Chat fan-out, one message to every client of one room (seconds):")
    print("\n".join(lines))
    print("target: p99 <= 1 s at 2,000 clients; >= 10x faster than the naive pattern")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
