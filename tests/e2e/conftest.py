"""The running local platform, once per session: emulator + the deployed CDK app + worker.

Everything is real: ministack on a free loopback port, `cdklocal deploy` of the CDK app,
the ingest worker as a process. Nothing here is mocked.
"""

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localstack.deploy import Deployment, deploy
from localstack.emulator import Emulator
from localstack.platform import deploy_context, rtmp_url, start_edge, start_ingest_worker, stop_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class LocalPlatform:
    deployment: Deployment
    worker_health_url: str
    edge_url: str
    rtmp_url: str
    logs: Path


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    state = tmp_path_factory.mktemp("platform")
    # A port of its own, so a `make dev` already running on 4566 is neither reused nor disturbed.
    emulator = Emulator(port=free_port(), state_dir=state / "emulator")
    emulator.start()
    worker = edge = None
    try:
        edge_port, rtmp_port, worker_port = free_port(), free_port(), free_port()
        context = deploy_context(edge_port, rtmp_port)
        deployment = deploy(emulator, stage="e2e", outdir=state / "cdk.out", context=context)
        edge = start_edge(deployment, edge_port)
        worker = start_ingest_worker(deployment, worker_port, rtmp_port, state / "ingest.log")
        yield LocalPlatform(deployment, f"http://127.0.0.1:{worker_port}/health", edge.url, rtmp_url(rtmp_port), state)
    finally:
        if worker is not None:
            stop_process(worker)
        if edge is not None:
            edge.shutdown()
            edge.server_close()
        emulator.stop()
