"""`make dev`: the whole platform on one machine, in one command.

Starts (or reuses) the emulator on 127.0.0.1, deploys the real CDK app to it, starts the
processes the emulator cannot run (N ECS ingest workers behind HAProxy, the NLB's stand-in;
a worker that dies is restarted), prints the URLs, and on Ctrl-C stops everything it started.
The emulator's state (accounts, keys, VODs, chat) is kept in `.local/emulator/` across runs;
`--fresh` deletes it first.
"""

import argparse
import json
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from infra.constants import CTX_INGEST_URL, CTX_MEDIA_BASE_URL, OUTPUT_ORIGIN_VERIFY_SECRET
from letslive.constants import MEDIA_PREFIX, Service, health_route
from localstack.balancer import Backend, Balancer
from localstack.deploy import Deployment, deploy
from localstack.edge import Edge
from localstack.emulator import REPO_ROOT, Emulator, is_ready
from localstack.ingest import IngestWorkers, WorkerSlot, tuning_from_environment
from localstack.ingest import start_ingest_worker as start_ingest_worker  # the e2e tests start their own
from localstack.processes import free_port as free_port
from localstack.processes import free_ports
from localstack.sweeper import LocalSweeper

LOCAL_DIR = REPO_ROOT / ".local"
STATE_FILE = LOCAL_DIR / "platform.json"
LOGS_DIR = LOCAL_DIR / "logs"
# One machine: a handful of workers already exceeds what 2 cores transcode at once.
MAX_WORKERS = 16
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
    from botocore.config import Config

    s3 = deployment.client("s3", config=Config(s3={"addressing_style": "path"}))
    # The value CloudFront sends as the API origin's custom header (a deploy-time secret).
    secret = deployment.client("secretsmanager").get_secret_value(
        SecretId=deployment.output(OUTPUT_ORIGIN_VERIFY_SECRET)
    )
    origin_verify = secret["SecretString"]
    edge = Edge(
        ("127.0.0.1", port), s3, deployment.media_bucket, deployment.http_api_url, WEB_ROOT, config=config,
        origin_verify=origin_verify,
    )  # fmt: skip
    edge.serve_in_thread()
    return edge


def worker_slots(count: int, first_rtmp_port: int, first_health_port: int, logs: Path) -> list[WorkerSlot]:
    """`make dev`'s workers: consecutive ports from the first ones, a log each in `logs`."""
    return [
        WorkerSlot(n, first_rtmp_port + n - 1, first_health_port + n - 1, logs / f"ingest-{n}.log")
        for n in range(1, count + 1)
    ]


def backends(slots: Sequence[WorkerSlot]) -> list[Backend]:
    return [Backend(slot.worker_id, slot.rtmp_port, slot.health_port) for slot in slots]


def platform_urls(
    deployment: Deployment, slots: Sequence[WorkerSlot], edge_port: int, rtmp_port: int
) -> dict[str, str]:
    edge = edge_url(edge_port)
    return {
        "RTMP ingest (OBS server)": rtmp_url(rtmp_port),
        "web (edge)": f"{edge}/",
        "API via the edge": f"{edge}/api",
        "HLS origin (edge)": f"{edge}/{MEDIA_PREFIX}",
        "AWS emulator": deployment.endpoint,
        "HTTP API": deployment.http_api_url,
        "chat WebSocket": deployment.websocket_url,
        **{f"{service.value} health": deployment.http_api_url + health_route(service) for service in Service},
        **{f"ingest worker {slot.index} health": slot.health_url for slot in slots},
    }


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port")
    return port


def _workers(value: str) -> int:
    count = int(value)
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_WORKERS} workers, not {count}")
    return count


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=_port, default=4566, help="emulator port (default 4566)")
    parser.add_argument("--stage", default="local", help="stage name of the stacks (default local)")
    parser.add_argument("--workers", type=_workers, default=1, help="ingest workers behind the balancer (default 1)")
    parser.add_argument(
        "--worker-port",
        type=_port,
        default=8080,
        help="first ingest worker's health port, +1 per worker (default 8080)",
    )
    parser.add_argument(
        "--worker-rtmp-port",
        type=_port,
        default=1936,
        help="first worker's own RTMP port, +1 per worker (default 1936)",
    )
    parser.add_argument("--edge-port", type=_port, default=8088, help="web/API/HLS edge port (default 8088)")
    parser.add_argument("--rtmp-port", type=_port, default=1935, help="RTMP ingest (the balancer) port (default 1935)")
    parser.add_argument("--fresh", action="store_true", help="delete the persisted local state first: start empty")
    args = parser.parse_args(argv)
    # Every port the platform binds, by the flag that sets it: no two may be the same.
    ports = [("--port", args.port), ("--edge-port", args.edge_port), ("--rtmp-port", args.rtmp_port)]
    for n in range(args.workers):
        ports += [("--worker-port", args.worker_port + n), ("--worker-rtmp-port", args.worker_rtmp_port + n)]
    seen: dict[int, str] = {}
    for flag, port in ports:
        if port > 65535:
            parser.error(f"{flag} leaves no port for {args.workers} workers")
        if port in seen:
            parser.error(f"port {port} would serve both {seen[port]} and {flag} (with {args.workers} workers)")
        seen[port] = flag
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Explicit for all: a shell that starts `make dev` in the background ignores SIGINT, and a
    # closed terminal (SIGHUP) must still save the emulator's state.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stop)
    emulator = Emulator(port=args.port, persist=True)
    if args.fresh:
        if is_ready(emulator.endpoint):
            # Its state is in its memory: deleting the files now would change nothing.
            print(f"[dev] --fresh: an emulator already answers at {emulator.endpoint}; stop it first", file=sys.stderr)
            return 2
        emulator.reset()
        print(f"[dev] --fresh: deleted the local state in {emulator.state_dir}", flush=True)
    slots = worker_slots(args.workers, args.worker_rtmp_port, args.worker_port, LOGS_DIR)
    workers: IngestWorkers | None = None
    balancer: Balancer | None = None
    edge: Edge | None = None
    sweeper: LocalSweeper | None = None
    try:
        started = time.monotonic()
        emulator.start()
        if emulator.started_here:
            print(f"[dev] started ministack at {emulator.endpoint}; its state is kept in {emulator.state_dir}")
        else:
            print(f"[dev] reusing the emulator already running at {emulator.endpoint} (its state is its own)")
        print("[dev] deploying the CDK app (cdklocal)...", flush=True)
        deployment = deploy(emulator, stage=args.stage, context=deploy_context(args.edge_port, args.rtmp_port))
        edge = start_edge(deployment, args.edge_port, web_config(deployment, args.rtmp_port))
        workers = IngestWorkers.for_deployment(deployment, slots, tuning_from_environment()).start()
        balancer = Balancer(args.rtmp_port, backends(slots), LOCAL_DIR, LOGS_DIR / "haproxy.log").start()
        sweeper = LocalSweeper(deployment).start()
        urls = platform_urls(deployment, slots, args.edge_port, args.rtmp_port)
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        state = {"urls": urls, "websocket_url": deployment.websocket_url, "outputs": deployment.outputs}
        STATE_FILE.write_text(json.dumps(state, indent=2))
        width = max(map(len, urls))
        print(f"\n[dev] Let's Live is up ({time.monotonic() - started:.1f}s):")
        for name, url in urls.items():
            print(f"  {name:<{width}}  {url}")
        if not (WEB_ROOT / "index.html").is_file():
            print(f"[dev] the web app is not built ({WEB_ROOT}): run `make web`", file=sys.stderr)
        print(f"\n[dev] logs in {LOGS_DIR} and {emulator.log_path}; Ctrl-C stops everything.", flush=True)
        # The ECS service's job: a worker that dies is replaced. The balancer has no stand-in.
        while balancer.running:
            workers.supervise()
            time.sleep(0.5)
        print(f"[dev] haproxy exited with {balancer.returncode}; see {balancer.log_path}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Stop):
        print("\n[dev] stopping...", flush=True)
        return 0
    finally:
        if sweeper is not None:
            sweeper.stop()
        # Workers first: they drain (their /health turns 503, so HAProxy sends them nothing new).
        if workers is not None:
            workers.stop()
        if balancer is not None:
            balancer.stop()
        if edge is not None:
            edge.shutdown()
            edge.server_close()
        emulator.stop()  # saves the emulator's state
        STATE_FILE.unlink(missing_ok=True)


@dataclass(frozen=True)
class RunningPlatform:
    deployment: Deployment
    edge: Edge
    rtmp_url: str
    worker_health_urls: tuple[str, ...]
    state_dir: Path
    websocket_url: str
    workers: IngestWorkers
    balancer: Balancer
    sweeper: LocalSweeper

    @property
    def edge_url(self) -> str:
        return self.edge.url

    @property
    def worker_health_url(self) -> str:
        """The first worker's health (a worker behind the balancer, as the NLB's check sees it)."""
        return self.worker_health_urls[0]


@contextmanager
def local_platform(
    state_dir: Path, stage: str = "e2e", workers: int = 1, worker_settings: Mapping[str, str] | None = None
) -> Iterator[RunningPlatform]:
    """The whole platform on free loopback ports (tests, benchmarks): a `make dev` on 4566 is
    neither reused nor disturbed, and it starts empty; the workers get `worker_settings`
    (`LETSLIVE_INGEST_*`). Everything started here is stopped on exit."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"between 1 and {MAX_WORKERS} workers, not {workers}")
    emulator = Emulator(port=free_port(), state_dir=state_dir / "emulator")
    emulator.start()
    pool: IngestWorkers | None = None
    balancer: Balancer | None = None
    edge: Edge | None = None
    sweeper: LocalSweeper | None = None
    try:
        edge_port, rtmp_port, *worker_ports = free_ports(2 + 2 * workers)
        slots = [
            WorkerSlot(n, worker_ports[2 * n - 2], worker_ports[2 * n - 1], state_dir / f"ingest-{n}.log")
            for n in range(1, workers + 1)
        ]
        context = deploy_context(edge_port, rtmp_port)
        deployment = deploy(emulator, stage=stage, outdir=state_dir / "cdk.out", context=context)
        edge = start_edge(deployment, edge_port, web_config(deployment, rtmp_port))
        pool = IngestWorkers.for_deployment(deployment, slots, worker_settings).start().supervise_in_thread()
        balancer = Balancer(rtmp_port, backends(slots), state_dir, state_dir / "haproxy.log").start()
        sweeper = LocalSweeper(deployment).start()
        yield RunningPlatform(
            deployment,
            edge,
            rtmp_url(rtmp_port),
            tuple(slot.health_url for slot in slots),
            state_dir,
            websocket_url=deployment.websocket_url,
            workers=pool,
            balancer=balancer,
            sweeper=sweeper,
        )
    finally:
        if sweeper is not None:
            sweeper.stop()
        if pool is not None:
            pool.stop()
        if balancer is not None:
            balancer.stop()
        if edge is not None:
            edge.shutdown()
            edge.server_close()
        emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
