"""Chat fan-out: one message to N real WebSocket clients in one room, through the local platform.

For each room size (default 500, 1,000, 2,000) the clients connect to the emulator's WebSocket
API (each `$connect` runs the connect Lambda); they live in a child process, so receiving does
not compete with the senders for this process's GIL. Then, per size, `--rounds` messages for
each of:
- "Lambda": a signed-in chatter sends; the message Lambda stores the message and fans it out
  (up to 1,000 connections from its own pool of 32; above, in SQS batches of 250 to the fan-out
  Lambda). Latency = send → each client's receipt.
- "in-process": the same fan-out code (`Fanout.deliver`: one query, 32 posts in flight) run
  here against the emulator, without the Lambda around it.
- "naive": scan the whole connections table (with `--other-rooms` connections of other rooms
  in it, as on a busy platform) and post to the room's connections one after another.
A warm-up message before each size keeps cold starts out of the figures.

Where the time goes: the emulator's CPU seconds (its whole process session: the gateway, the
local Lambda executor and the functions) during each run, next to the wall time. And because the
emulator answers a post in ~1 ms of its own CPU, where AWS's API Gateway answers in ~10-30 ms of
network time, the in-process and naive runs are repeated with `--added-latency` ms added to
every `@connections` call by a delaying TCP proxy in front of the emulator: that is the regime in
which a bounded pool beats posting one by one.

Target (issue): p99 <= 1 s at 2,000 clients, and >= 10x faster than the naive pattern.

Run from the repo root: `.venv/bin/python -m bench.chat_fanout [--sizes 500,1000,2000]`.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from infra.constants import OUTPUT_WEBSOCKET_API_ID, OUTPUT_WEBSOCKET_STAGE, table_output
from letslive.constants import ENV_AWS_ENDPOINT_URL, ENV_CHAT_CALLBACK_URL, Table, table_env_var
from localstack.deploy import EMULATOR_REGION, Deployment
from localstack.platform import local_platform

PASSWORD = "correct horse battery staple 42"
CONNECT_CONCURRENCY = 64
CONNECT_ATTEMPTS = 5
DELIVERY_TIMEOUT = 60.0
POOL = 32


# --- the clients (a child process) --------------------------------------------------------------


def _clients_main(pipe: Pipe, url: str) -> None:
    """Serve commands: ("open", n) → connected count; ("wait", marker, n) → receipt times."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets
    asyncio.run(_clients_loop(pipe, url))


async def _clients_loop(pipe: Pipe, url: str) -> None:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import InvalidStatus

    sockets: list[ClientConnection] = []
    received: dict[str, list[float]] = {}
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def read(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for frame in ws:
                event = json.loads(frame)
                if event.get("type") == "message":
                    received.setdefault(event["text"], []).append(time.monotonic())

    refused = 0

    async def open_one() -> None:
        nonlocal refused
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                async with gate:
                    ws = await connect(url, open_timeout=120, ping_interval=None, max_queue=None)
            except (OSError, TimeoutError, InvalidStatus):
                # The emulator refuses a handshake when its connect Lambda is overloaded; a real
                # client (the web app) retries with backoff too.
                refused += 1
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            sockets.append(ws)
            asyncio.get_running_loop().create_task(read(ws))
            return

    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command[0] == "open":
            await asyncio.gather(*(open_one() for _ in range(command[1])))
            pipe.send((len(sockets), refused))
        elif command[0] == "wait":
            marker, expected = command[1], command[2]
            deadline = time.monotonic() + DELIVERY_TIMEOUT
            # Polled: one check per tick costs less than an event set by thousands of readers.
            while len(received.get(marker, ())) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            pipe.send(received.pop(marker, []))
        else:
            for ws in sockets:
                await ws.close()
            pipe.send(None)
            return


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    latencies: list[float]
    expected: int
    wall: float
    gateway_cpu: float


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _emulator_pid(port: int) -> int:
    """The emulator's gateway process: it serves every socket and every `@connections` call."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f"GATEWAY_PORT={port}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                    return int(entry.name)
    raise RuntimeError("the emulator process was not found")


def _receive(pipe: Pipe, timeout: float = 900) -> Any:
    """The clients' answer; an error rather than a hang when the clients' process died."""
    if not pipe.poll(timeout):
        raise RuntimeError("the WebSocket clients did not answer (see the traceback above)")
    return pipe.recv()


def _measure(name: str, pipe: Pipe, expected: int, pid: int, action: Callable[[str], None]) -> Run:
    marker = f"{name}-{uuid.uuid4().hex[:8]}"
    cpu = _process_cpu(pid)
    start = time.monotonic()
    action(marker)
    pipe.send(("wait", marker, expected))
    receipts: list[float] = _receive(pipe)
    wall = (max(receipts) if receipts else time.monotonic()) - start
    return Run(name, sorted(t - start for t in receipts), expected, wall, _process_cpu(pid) - cpu)


def _row(runs: list[Run]) -> str:
    latencies = sorted(latency for run in runs for latency in run.latencies)
    expected = sum(run.expected for run in runs)
    wall = statistics.median(run.wall for run in runs)
    cpu = statistics.median(run.gateway_cpu for run in runs)
    if not latencies:
        return f"{runs[0].name:<40} {'-':>7} {'-':>7} {'-':>7} {0:>11}/{expected}"
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return (
        f"{runs[0].name:<40} {p50:>7.3f} {p99:>7.3f} {latencies[-1]:>7.3f} "
        f"{len(latencies):>6}/{expected:<6} {wall:>6.2f} {cpu:>6.2f}"
    )


# --- the three ways to fan out ------------------------------------------------------------------


def _payload(text: str) -> bytes:
    return json.dumps({"type": "message", "id": uuid.uuid4().hex, "user": "bench", "text": text}).encode()


def _management_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=EMULATOR_REGION,
        config=Config(max_pool_connections=POOL, retries={"mode": "standard", "total_max_attempts": 3}),
    )


def _naive(deployment: Deployment, endpoint: str, channel: str, text: str) -> None:
    """The pattern the design rejects: scan everything, then post one by one."""
    import boto3

    dynamodb = boto3.session.Session().client("dynamodb", endpoint_url=deployment.endpoint, region_name=EMULATOR_REGION)
    gateway = _management_client(endpoint)
    payload = _payload(text)
    table = deployment.output(table_output(Table.CONNECTIONS))
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if item["pk"]["S"] == channel:
                with contextlib.suppress(gateway.exceptions.GoneException):
                    gateway.post_to_connection(ConnectionId=item["sk"]["S"], Data=payload)


def _in_process(endpoint: str, channel: str, text: str) -> None:
    """The Lambda's own fan-out code (one query, bounded pool), without the Lambda around it."""
    from letslive.data.chat import ConnectionRepository
    from letslive.data.connections_api import ApiGatewayConnections
    from letslive.services.chat import Fanout

    connections = ConnectionRepository()
    fanout = Fanout(connections, ApiGatewayConnections(endpoint, EMULATOR_REGION), None, threshold=1_000_000)
    fanout.deliver(channel, connections.ids(channel), _payload(text))


def _fill_other_rooms(count: int) -> None:
    """Connections of other rooms, so that "scan the whole table" means what it does in production."""
    from letslive.data.chat import ConnectionRepository

    now = datetime.now(UTC)
    items = ConnectionRepository().items
    with items.batch_write() as batch:
        for index in range(count):
            room, connection_id = f"room_{index % 200:03d}", uuid.uuid4().hex[:16]
            batch.save(
                items(
                    room,
                    connection_id,
                    connected_at=now,
                    gsi1pk=connection_id,
                    gsi1sk=room,
                    expires_at=now + timedelta(hours=2),
                )
            )


def _use_emulator(deployment: Deployment) -> str:
    """Point this process's `letslive` settings at the deployed platform; the `@connections` URL."""
    api_id, stage = deployment.output(OUTPUT_WEBSOCKET_API_ID), deployment.output(OUTPUT_WEBSOCKET_STAGE)
    os.environ[ENV_AWS_ENDPOINT_URL] = deployment.endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ[table_env_var(Table.CONNECTIONS)] = deployment.output(table_output(Table.CONNECTIONS))
    os.environ[ENV_CHAT_CALLBACK_URL] = f"https://{api_id}.execute-api.{EMULATOR_REGION}.amazonaws.com/{stage}"
    return f"{deployment.endpoint}/_aws/execute-api/{api_id}/{stage}"


# --- a delaying proxy: network latency in front of the emulator ---------------------------------


@contextmanager
def _delaying_proxy(upstream: str, delay_ms: float) -> Iterator[str]:
    """A TCP proxy on a free port that holds every client → upstream chunk `delay_ms` before
    forwarding it: each HTTP request then takes that much longer, as over a real network."""
    import threading

    parts = urlsplit(upstream)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.new_event_loop()
    listening = threading.Event()
    bound: list[int] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        # A connection cancelled by the shutdown ends quietly: asyncio's server callback would
        # otherwise report the cancellation as an error.
        with contextlib.suppress(asyncio.CancelledError, OSError):
            up_reader, up_writer = await asyncio.open_connection(host, port)
            forward = pipe(client_reader, up_writer, delay_ms / 1000)
            await asyncio.gather(forward, pipe(up_reader, client_writer, 0), return_exceptions=True)

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        bound.append(server.sockets[0].getsockname()[1])
        listening.set()
        async with server:
            await server.serve_forever()

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # the shutdown below
            loop.run_until_complete(serve())
        # Let the cancelled connections unwind before the loop goes, so none is left pending.
        loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(loop), return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    listening.wait(10)
    try:
        yield f"{parts.scheme}://127.0.0.1:{bound[0]}{parts.path}"
    finally:

        def shutdown() -> None:
            for task in asyncio.all_tasks(loop):
                task.cancel()

        loop.call_soon_threadsafe(shutdown)
        thread.join(5)


# --- the run ------------------------------------------------------------------------------------


def _bench(deployment: Deployment, websocket_url: str, sizes: list[int], rounds: int, args: Any) -> list[str]:
    import websockets.sync.client

    endpoint = _use_emulator(deployment)
    pid = _emulator_pid(urlsplit(deployment.endpoint).port or 4566)
    suffix = uuid.uuid4().hex[:6]
    host, chatter = f"bench_{suffix}", f"chatter_{suffix}"
    with httpx.Client(base_url=deployment.http_api_url, timeout=60) as api:
        for name in (host, chatter):
            signup = api.post(
                "/auth/signup", json={"username": name, "email": f"{name}@x.example", "password": PASSWORD}
            )
            signup.raise_for_status()
        token = api.post("/auth/login", json={"username": chatter, "password": PASSWORD}).json()["access_token"]
    _fill_other_rooms(args.other_rooms)

    parent, child = multiprocessing.Pipe()
    clients = multiprocessing.Process(
        target=_clients_main, args=(child, f"{websocket_url}?{urlencode({'channel': host})}"), daemon=True
    )
    clients.start()
    # No keepalive pings: while thousands of clients connect the emulator answers them late.
    sender_url = f"{websocket_url}?{urlencode({'channel': host, 'token': token})}"
    sender = websockets.sync.client.connect(sender_url, ping_interval=None)

    def lambda_send(marker: str) -> None:
        sender.send(json.dumps({"action": "send", "text": marker}))

    header = f"{'':<40} {'p50 s':>7} {'p99 s':>7} {'max s':>7} {'received':>13} {'wall s':>6} {'gateway CPU s':>9}"
    lines = [header]
    try:
        connected = 0
        for size in sizes:
            started = time.monotonic()
            parent.send(("open", size - connected))
            connected, refused = _receive(parent)
            lines.append(
                f"--- {connected} clients (+{args.other_rooms} connections in other rooms); "
                f"connected in {time.monotonic() - started:.1f} s ({refused} handshakes refused and retried)"
            )
            size = connected
            _measure("warm-up", parent, size, pid, lambda_send)
            time.sleep(1.1)
            plans: list[tuple[str, Callable[[str], None]]] = [
                ("Lambda: send -> every client", lambda_send),
                ("in-process: Fanout.deliver", lambda marker: _in_process(endpoint, host, marker)),
                ("naive: scan + post one by one", lambda marker: _naive(deployment, endpoint, host, marker)),
            ]
            for name, action in plans:
                runs = []
                for _ in range(rounds):
                    runs.append(_measure(name, parent, size, pid, action))
                    time.sleep(1.1)  # the sender's rate limit: one message a second
                lines.append(_row(runs))
            if args.added_latency:
                with _delaying_proxy(endpoint, args.added_latency) as slow:
                    for name, action in (
                        (f"in-process, +{args.added_latency:g} ms/call", lambda m: _in_process(slow, host, m)),
                        (f"naive, +{args.added_latency:g} ms/call", lambda m: _naive(deployment, slow, host, m)),
                    ):
                        lines.append(_row([_measure(name, parent, size, pid, action)]))
    finally:
        sender.close()
        parent.send(("close",))
        _receive(parent, 60)
        clients.join(10)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="500,1000,2000", help="room sizes, ascending")
    parser.add_argument("--rounds", type=int, default=3, help="messages measured per size and way")
    parser.add_argument("--other-rooms", type=int, default=5000, help="connections of other rooms in the table")
    parser.add_argument("--added-latency", type=float, default=10.0, help="ms added per @connections call (0: off)")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    with tempfile.TemporaryDirectory() as state, local_platform(Path(state), stage="bench") as running:
        lines = _bench(running.deployment, running.websocket_url, sizes, args.rounds, args)
    print("Chat fan-out, one message to every client of one room (seconds; CPU: the emulator's gateway process):")
    print("\n".join(lines))
    print("target: p99 <= 1 s at 2,000 clients; >= 10x faster than the naive pattern")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
