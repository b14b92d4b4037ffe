"""`make dev`: the whole platform on one machine, in one command.

Starts (or reuses) the emulator on 127.0.0.1, deploys the real CDK app to it, starts the
processes the emulator cannot run (the ECS ingest worker), prints the URLs, and on Ctrl-C
stops everything it started.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from infra.constants import CTX_INGEST_URL, CTX_MEDIA_BASE_URL, OUTPUT_EVENT_BUS
from letslive.constants import (
    ENV_AWS_ENDPOINT_URL,
    ENV_EVENT_BUS,
    ENV_INGEST_HEALTH_HOST,
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_RTMP_HOST,
    ENV_INGEST_RTMP_PORT,
    ENV_INGEST_WORK_DIR,
    ENV_MEDIA_BUCKET,
    ENV_STAGE,
    MEDIA_PREFIX,
    Service,
    Table,
    health_route,
    table_env_var,
)
from localstack.deploy import Deployment, deploy
from localstack.edge import Edge
from localstack.emulator import EMULATOR_CREDENTIALS, REPO_ROOT, Emulator

STATE_FILE = REPO_ROOT / ".local" / "platform.json"
WEB_ROOT = REPO_ROOT / "web" / "out"
# Debian's Chromium (installed by `make system`), as the browser test and benchmark launch it:
# no browser download, no sandbox (root), no network calls of its own.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def worker_env(deployment: Deployment, health_port: int, rtmp_port: int, work_dir: Path) -> dict[str, str]:
    """What the ECS task definition gives the worker in AWS, pointed at the emulator."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        **EMULATOR_CREDENTIALS,
        ENV_AWS_ENDPOINT_URL: deployment.endpoint,
        ENV_STAGE: deployment.stage,
        ENV_MEDIA_BUCKET: deployment.media_bucket,
        table_env_var(Table.STREAMS): deployment.table_name(Table.STREAMS),
        table_env_var(Table.VODS): deployment.table_name(Table.VODS),
        ENV_EVENT_BUS: deployment.output(OUTPUT_EVENT_BUS),
        ENV_INGEST_HEALTH_HOST: "127.0.0.1",
        ENV_INGEST_HEALTH_PORT: str(health_port),
        ENV_INGEST_RTMP_HOST: "127.0.0.1",
        ENV_INGEST_RTMP_PORT: str(rtmp_port),
        ENV_INGEST_WORK_DIR: str(work_dir),
    }


def start_ingest_worker(
    deployment: Deployment, health_port: int, rtmp_port: int, log_path: Path, timeout: float = 20.0
) -> "subprocess.Popen[bytes]":
    """The ingest worker as a local process; returns once its /health answers."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.ingest"],
            cwd=REPO_ROOT,
            env=worker_env(deployment, health_port, rtmp_port, log_path.parent / "ingest-work"),
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches `make dev`, which then drains the worker itself.
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{health_port}/health"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"ingest worker exited with {process.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"ingest worker did not answer {url} within {timeout:.0f}s") from None
            time.sleep(0.1)


def edge_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def rtmp_url(port: int) -> str:
    return f"rtmp://127.0.0.1:{port}/live"


def deploy_context(edge_port: int, rtmp_port: int) -> dict[str, str]:
    """What the local deployment is told about the processes next to the emulator."""
    return {CTX_MEDIA_BASE_URL: f"{edge_url(edge_port)}/{MEDIA_PREFIX}", CTX_INGEST_URL: rtmp_url(rtmp_port)}


def web_config(deployment: Deployment, rtmp_port: int) -> dict[str, str]:
    """The web app's runtime config, served as `/config.json` (the chat is not on the web origin)."""
    return {"websocket_url": deployment.websocket_url, "ingest_url": rtmp_url(rtmp_port)}


def start_edge(deployment: Deployment, port: int, config: dict[str, str] | None = None) -> Edge:
    """The CloudFront stand-in, serving the web app, its config, the media bucket and the HTTP API."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=deployment.endpoint,
        region_name=EMULATOR_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )
    edge = Edge(("127.0.0.1", port), s3, deployment.media_bucket, deployment.http_api_url, WEB_ROOT, config=config)
    edge.serve_in_thread()
    return edge


def platform_urls(deployment: Deployment, worker_health_port: int, edge_port: int, rtmp_port: int) -> dict[str, str]:
    edge = edge_url(edge_port)
    urls = {
        "RTMP ingest (OBS server)": rtmp_url(rtmp_port),
        "web (edge)": f"{edge}/",
        "API via the edge": f"{edge}/api",
        "HLS origin (edge)": f"{edge}/{MEDIA_PREFIX}",
        "AWS emulator": deployment.endpoint,
        "HTTP API": deployment.http_api_url,
        "chat WebSocket": deployment.websocket_url,
        **{f"{service.value} health": deployment.http_api_url + health_route(service) for service in Service},
        "ingest worker health": f"http://127.0.0.1:{worker_health_port}/health",
    }
    return urls


def stop_process(process: "subprocess.Popen[bytes]", timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the worker drains on SIGTERM, as on ECS
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4566, help="emulator port (default 4566)")
    parser.add_argument("--stage", default="local", help="stage name of the stacks (default local)")
    parser.add_argument("--worker-port", type=int, default=8080, help="ingest worker health port (default 8080)")
    parser.add_argument("--edge-port", type=int, default=8088, help="web/API/HLS edge port (default 8088)")
    parser.add_argument("--rtmp-port", type=int, default=1935, help="RTMP ingest port (default 1935)")
    args = parser.parse_args(argv)

    # Explicit for both: a shell that starts `make dev` in the background ignores SIGINT.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise_stop)
    emulator = Emulator(port=args.port)
    worker: subprocess.Popen[bytes] | None = None
    edge: Edge | None = None
    logs = REPO_ROOT / ".local" / "logs"
    try:
        started = time.monotonic()
        emulator.start()
        origin = "started ministack" if emulator.started_here else "reusing the emulator already running"
        print(f"[dev] {origin} at {emulator.endpoint}", flush=True)
        print("[dev] deploying the CDK app (cdklocal)...", flush=True)
        deployment = deploy(emulator, stage=args.stage, context=deploy_context(args.edge_port, args.rtmp_port))
        edge = start_edge(deployment, args.edge_port, web_config(deployment, args.rtmp_port))
        worker = start_ingest_worker(deployment, args.worker_port, args.rtmp_port, logs / "ingest.log")
        urls = platform_urls(deployment, args.worker_port, args.edge_port, args.rtmp_port)
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        state = {"urls": urls, "websocket_url": deployment.websocket_url, "outputs": deployment.outputs}
        STATE_FILE.write_text(json.dumps(state, indent=2))
        width = max(map(len, urls))
        print(f"\n[dev] Let's Live is up ({time.monotonic() - started:.1f}s):")
        for name, url in urls.items():
            print(f"  {name:<{width}}  {url}")
        if not (WEB_ROOT / "index.html").is_file():
            print(f"[dev] the web app is not built ({WEB_ROOT}): run `make web`", file=sys.stderr)
        print(f"\n[dev] logs in {logs} and {emulator.log_path}; Ctrl-C stops everything.", flush=True)
        while worker.poll() is None:
            time.sleep(0.5)
        print(f"[dev] ingest worker exited with {worker.returncode}; see {logs / 'ingest.log'}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Stop):
        print("\n[dev] stopping...", flush=True)
        return 0
    finally:
        if worker is not None:
            stop_process(worker)
        if edge is not None:
            edge.shutdown()
            edge.server_close()
        emulator.stop()
        STATE_FILE.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())


@dataclass(frozen=True)
class RunningPlatform:
    deployment: Deployment
    edge_url: str
    rtmp_url: str
    worker_health_url: str
    state_dir: Path
    websocket_url: str


@contextmanager
def local_platform(state_dir: Path, stage: str = "e2e") -> Iterator[RunningPlatform]:
    """The whole platform on free loopback ports (tests, benchmarks): a `make dev` on 4566 is
    neither reused nor disturbed. Everything started here is stopped on exit."""
    emulator = Emulator(port=free_port(), state_dir=state_dir / "emulator")
    emulator.start()
    worker: subprocess.Popen[bytes] | None = None
    edge: Edge | None = None
    try:
        edge_port, rtmp_port, worker_port = free_port(), free_port(), free_port()
        context = deploy_context(edge_port, rtmp_port)
        deployment = deploy(emulator, stage=stage, outdir=state_dir / "cdk.out", context=context)
        edge = start_edge(deployment, edge_port, web_config(deployment, rtmp_port))
        worker = start_ingest_worker(deployment, worker_port, rtmp_port, state_dir / "ingest.log")
        yield RunningPlatform(
            deployment,
            edge.url,
            rtmp_url(rtmp_port),
            f"http://127.0.0.1:{worker_port}/health",
            state_dir,
            websocket_url=deployment.websocket_url,
        )
    finally:
        if worker is not None:
            stop_process(worker)
        if edge is not None:
            edge.shutdown()
            edge.server_close()
        emulator.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
