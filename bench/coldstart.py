"""Cold start of the Lambda handlers: import time and time to the first handled event.

Run from the repo root: `.venv/bin/python bench/coldstart.py` (exit status 0 whatever the figures).

Method. Each figure is the median of `RUNS` fresh interpreters (`subprocess.run([sys.executable,
"-c", ...])`), each one a new process as a Lambda cold start is. Inside the child,
`time.perf_counter()` is read just before `importlib.import_module(handler_module)`, just after it,
and just after the first `handler(event, context)` returns. So:

- "import" is the handler module's own import cost, i.e. what the Lambda init phase spends on our
  code. Interpreter start-up (the same for every handler, and paid by the runtime, not by us) is
  excluded; so is `-X importtime`'s per-module overhead, which inflates deep import trees.
- "1st 404" is import + the first invocation with an API Gateway HTTP API (payload 2.0) event for
  an unknown route: Powertools decorators, building the FastAPI app, Mangum, the 404 problem. No
  AWS call is made, so it is the full cold start of a request that needs none.
- "1st /health" is import + the first `GET /<service>/health` in another fresh process: it also
  loads PynamoDB/botocore and calls DynamoDB. The endpoint is a closed port on 127.0.0.1, so the
  call is refused at once (the answer is a 503 "degraded") and the figure is code, not network.

One discarded warm-up process per handler runs first so that bytecode caches exist, as they do in
a deployed layer (pip compiles on install). Children run with the repo root on PYTHONPATH,
`POWERTOOLS_TRACE_DISABLED=true` and fake AWS credentials and region.

The naive handler (`bench/naive_handler.py`) imports and builds everything at module load; the
real handlers (`functions/<service>/handler.py`) defer FastAPI, Mangum, the app and every AWS
client to the first event, which is the point of the comparison.

Caveat on the environment. Powertools' Tracer imports `aws_xray_sdk.core` even when tracing is
disabled, and outside Lambda (no `LAMBDA_TASK_ROOT`) the X-Ray recorder builds its default sampler,
which loads a botocore session: about 0.15 s of the real handlers' import here. Inside Lambda the
recorder skips that, so these figures are an upper bound for the deployed functions.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letslive.constants import ENV_PREFIX, Service, Table, health_route, table_env_var

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
IMPORT_TARGET_S = 0.35
NAIVE_MODULE = "bench.naive_handler"
NAIVE_SERVICE = Service.STREAMS  # the app the naive handler serves
RESULT_MARKER = "COLDSTART_RESULT "

# Runs in the child. argv: module name, event as JSON ("" for import only).
CHILD = """
import importlib, json, sys, time

class Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self):
        return 29000

started = time.perf_counter()
module = importlib.import_module(sys.argv[1])
imported = time.perf_counter()
result = {"import_s": imported - started}
if sys.argv[2]:
    response = module.handler(json.loads(sys.argv[2]), Context())
    result["event_s"] = time.perf_counter() - started
    result["status"] = response["statusCode"]
print("__MARKER__" + json.dumps(result), flush=True)
""".replace("__MARKER__", RESULT_MARKER)


@dataclass(frozen=True)
class Sample:
    import_s: float
    event_s: float | None
    status: int | None


@dataclass(frozen=True)
class Row:
    label: str
    imports: list[float]
    first_404: list[float]
    first_health: list[float]
    statuses: set[int]


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused immediately)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def child_env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "LetsLiveBench",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            f"{ENV_PREFIX}AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
            f"{ENV_PREFIX}PROBE_TIMEOUT_SECONDS": "1",
        }
    )
    for table in Table:
        env[table_env_var(table)] = f"bench-{table.value}"
    return env


def http_api_event(service: Service, path: str) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event for `GET path` on the `ANY /<service>/{proxy+}` route."""
    route_key = f"ANY /{service.value}/{{proxy+}}"
    domain = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json", "host": domain, "user-agent": "bench", "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": domain,
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "bench",
            },
            "requestId": "bench-request",
            "routeKey": route_key,
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": 1735689600000,
        },
        "pathParameters": {"proxy": path.removeprefix(f"/{service.value}/")},
        "isBase64Encoded": False,
    }


def run_child(module: str, event: dict[str, Any] | None, env: dict[str, str]) -> Sample:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, module, json.dumps(event) if event else ""],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{module} failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(lines[-1].removeprefix(RESULT_MARKER))
    return Sample(data["import_s"], data.get("event_s"), data.get("status"))


def measure(label: str, module: str, service: Service, env: dict[str, str]) -> Row:
    unknown = http_api_event(service, f"/{service.value}/no-such-route")
    health = http_api_event(service, health_route(service))
    run_child(module, None, env)  # warm-up: bytecode caches written, result discarded
    first_404 = [run_child(module, unknown, env) for _ in range(RUNS)]
    first_health = [run_child(module, health, env) for _ in range(RUNS)]
    return Row(
        label=label,
        imports=[sample.import_s for sample in first_404],
        first_404=[sample.event_s for sample in first_404 if sample.event_s is not None],
        first_health=[sample.event_s for sample in first_health if sample.event_s is not None],
        statuses={sample.status for sample in first_404 + first_health if sample.status is not None},
    )


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> int:
    env = child_env()
    targets = [
        (f"functions.{service.value}.handler", f"functions.{service.value}.handler", service) for service in Service
    ]
    targets.append(("naive (bench/naive_handler.py)", NAIVE_MODULE, NAIVE_SERVICE))
    rows = [measure(label, module, service, env) for label, module, service in targets]

    print(f"Lambda cold start, Python {sys.version.split()[0]}, median (min-max) of {RUNS} fresh interpreters, seconds")
    print("import = handler module import; 1st 404 = import + first event on an unknown route (no AWS call);")
    print("1st /health = import + first health event (PynamoDB + a refused DynamoDB call, answers 503).")
    print()
    header = f"{'handler':<32} {'import':>21} {'1st 404':>21} {'1st /health':>21}  {'target':>8}  result"
    print(header)
    print("-" * len(header))
    for row in rows:
        verdict = "ok" if statistics.median(row.imports) <= IMPORT_TARGET_S else "OVER"
        print(
            f"{row.label:<32} {fmt(row.imports):>21} {fmt(row.first_404):>21} {fmt(row.first_health):>21}"
            f"  {'<=' + format(IMPORT_TARGET_S, '.2f'):>8}  {verdict}   (statuses {sorted(row.statuses)})"
        )
    real = [row for row in rows if row.label.startswith("functions.")]
    naive = rows[-1]
    worst = max(statistics.median(row.imports) for row in real)
    print()
    print(f"slowest real handler import: {worst:.3f} s; naive import: {statistics.median(naive.imports):.3f} s")
    print(
        f"first 404 event, real (median of medians) vs naive: "
        f"{statistics.median(statistics.median(row.first_404) for row in real):.3f} s vs "
        f"{statistics.median(naive.first_404):.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
