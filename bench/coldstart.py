"""Cold start of the Lambda handlers: import + first event, against a naive handler of the same app.

Run from the repo root: `.venv/bin/python bench/coldstart.py` (exit status 0 whatever the figures).

Method. Each figure is the median of `RUNS` fresh interpreters (`subprocess.run([sys.executable,
"-c", ...])`), each one a new process as a Lambda cold start is; the handlers' runs are
interleaved round by round, so a change in the machine's load falls on all alike. Inside the child,
`time.perf_counter()` (and `time.process_time()`, the child's own CPU) is read just before
`importlib.import_module(handler_module)`, just after it, and just after the first
`handler(event, context)` returns. Interpreter start-up (the same for every handler, and paid by
the runtime, not by us) is excluded. So:

- "import" is the handler module's own import: what the Lambda init phase spends on our code.
- "1st 404" is import + the first invocation with an API Gateway HTTP API (payload 2.0) event for
  a path no route matches (`/<service>/no/such/route`): Powertools, FastAPI and the app, Mangum,
  the 404 problem. No AWS call and no domain service: the least a first request costs.
- "1st /health" is import + the first `GET /<service>/health` in another fresh process: it also
  loads the settings, PynamoDB and botocore, makes a DynamoDB client and calls it. The endpoint is
  a closed port on 127.0.0.1, so the call is refused at once (the answer is a 503 "degraded") and
  the figure is code, not network.
- "restored 1st 404" is what SnapStart leaves of a cold start, as far as a process can show it:
  the child imports the handler and runs its before-snapshot hooks untimed (the snapshot is taken
  at publish), then times the after-restore hooks and the first 404. Lambda's own restore of the
  sandbox's memory (its "Restore Duration") comes on top and is not measured here.

The headline is "import + first event" of `functions.streams.handler` against
`bench/naive_handler.py`, in the same run: the naive handler is the same app (the streams router,
the health route, the problem handlers, Mangum, Powertools' logger, tracer and metrics) built the
naive way, everything at import: settings, the Tracer (and with it the X-Ray SDK), the stream
service and its AWS clients, the app. The target is `RATIO_TARGET` of the naive figure.

One discarded warm-up process per handler runs first so that bytecode caches exist. Children run
with the repo root on PYTHONPATH, fake AWS credentials and region, and what a deployed function's
environment has that changes what is loaded: `LAMBDA_TASK_ROOT` (Powertools and the X-Ray SDK
take it for "in Lambda"; outside it the SDK's recorder builds a sampler on a botocore session that
Lambda never builds), the stage (`LETSLIVE_STAGE`), and `POWERTOOLS_TRACE_DISABLED=true` as the
local shape has it. In the AWS shape tracing is on, so the real handlers load the X-Ray SDK too
(and with SnapStart, into the snapshot).

The machine this runs on is often shared: wall-clock figures move with its load, the CPU figures
(the child's own time) less so; both ratios are printed.
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

from letslive.constants import ENV_PREFIX, ENV_STAGE, Service, Table, health_route, table_env_var

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNS = 11
RATIO_TARGET = 0.5
REAL_MODULE = "functions.streams.handler"
NAIVE_MODULE = "bench.naive_handler"
NAIVE_SERVICE = Service.STREAMS  # the app the naive handler serves, the same as REAL_MODULE's
RESULT_MARKER = "COLDSTART_RESULT "
IMPORT, FIRST_404, FIRST_HEALTH, RESTORED_404 = "import", "1st 404", "1st /health", "restored 1st 404"

# Runs in the child. argv: module name, event as JSON, "restored" or "". With "restored", a
# stand-in for the runtime's `snapshot_restore_py` collects the hooks; the import and the
# before-snapshot hooks are the snapshot (untimed), the after-restore hooks and the event the figure.
CHILD = """
import importlib, json, sys, time, types

class Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self):
        return 29000

restored = sys.argv[3] == "restored"
if restored:
    hooks = types.ModuleType("snapshot_restore_py")
    hooks.before, hooks.after = [], []
    hooks.register_before_snapshot = lambda f, *a, **k: hooks.before.append((f, a, k)) or f
    hooks.register_after_restore = lambda f, *a, **k: hooks.after.append((f, a, k)) or f
    sys.modules["snapshot_restore_py"] = hooks

started, cpu_started = time.perf_counter(), time.process_time()
module = importlib.import_module(sys.argv[1])
result = {"import_s": time.perf_counter() - started, "import_cpu_s": time.process_time() - cpu_started}
if restored:
    for hook, args, kwargs in reversed(hooks.before):
        hook(*args, **kwargs)
    started, cpu_started = time.perf_counter(), time.process_time()
    for hook, args, kwargs in hooks.after:
        hook(*args, **kwargs)
response = module.handler(json.loads(sys.argv[2]), Context())
result["event_s"] = time.perf_counter() - started
result["event_cpu_s"] = time.process_time() - cpu_started
result["status"] = response["statusCode"]
print("__MARKER__" + json.dumps(result), flush=True)
""".replace("__MARKER__", RESULT_MARKER)


@dataclass(frozen=True)
class Sample:
    import_s: float
    import_cpu_s: float
    event_s: float
    event_cpu_s: float
    status: int


@dataclass(frozen=True)
class Row:
    label: str
    # Measure name → wall-clock seconds and CPU seconds of each run.
    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]
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
            "LAMBDA_TASK_ROOT": str(REPO_ROOT),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "LetsLiveBench",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            ENV_STAGE: "bench",
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


def unknown_route(service: Service) -> str:
    """A path under the service's prefix that none of its routes matches (three segments: no
    `/<service>/{name}` or `/<service>/{name}/<what>` route takes it)."""
    return f"/{service.value}/no/such/route"


def run_child(module: str, event: dict[str, Any], env: dict[str, str], restored: bool = False) -> Sample:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, module, json.dumps(event), "restored" if restored else ""],
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
    return Sample(data["import_s"], data["import_cpu_s"], data["event_s"], data["event_cpu_s"], data["status"])


@dataclass(frozen=True)
class Target:
    label: str
    module: str
    service: Service


def measure(targets: list[Target], env: dict[str, str]) -> list[Row]:
    """Every target's runs, interleaved round by round (each round runs every target once per
    measure), so that a change in the machine's load during the run falls on all of them alike."""
    events = {
        target.label: (
            http_api_event(target.service, unknown_route(target.service)),
            http_api_event(target.service, health_route(target.service)),
        )
        for target in targets
    }
    for target in targets:
        run_child(target.module, events[target.label][0], env)  # warm-up: bytecode caches written
    samples: dict[str, dict[str, list[Sample]]] = {
        t.label: {FIRST_404: [], FIRST_HEALTH: [], RESTORED_404: []} for t in targets
    }
    for _ in range(RUNS):
        for target in targets:
            unknown, health = events[target.label]
            runs = samples[target.label]
            runs[FIRST_404].append(run_child(target.module, unknown, env))
            runs[FIRST_HEALTH].append(run_child(target.module, health, env))
            runs[RESTORED_404].append(run_child(target.module, unknown, env, restored=True))
    rows = []
    for target in targets:
        runs = samples[target.label]
        wall = {IMPORT: [s.import_s for s in runs[FIRST_404]]}
        cpu = {IMPORT: [s.import_cpu_s for s in runs[FIRST_404]]}
        for name, measured in runs.items():
            wall[name] = [s.event_s for s in measured]
            cpu[name] = [s.event_cpu_s for s in measured]
        statuses = {s.status for measured in runs.values() for s in measured}
        rows.append(Row(label=target.label, wall=wall, cpu=cpu, statuses=statuses))
    return rows


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} ({min(values):.3f}-{max(values):.3f})"


def ratio_line(name: str, real: Row, naive: Row) -> str:
    parts = []
    for kind, real_values, naive_values in (
        ("wall", real.wall[name], naive.wall[name]),
        ("CPU", real.cpu[name], naive.cpu[name]),
    ):
        ours, theirs = statistics.median(real_values), statistics.median(naive_values)
        verdict = "ok" if ours / theirs <= RATIO_TARGET else "OVER"
        parts.append(f"{kind} {ours:.3f} s vs {theirs:.3f} s = {ours / theirs:.2f}x {verdict}")
    return f"  {name:<12} " + "; ".join(parts)


def main() -> int:
    env = child_env()
    targets = [Target(f"functions.{s.value}.handler", f"functions.{s.value}.handler", s) for s in Service]
    targets.append(Target("naive (bench/naive_handler.py)", NAIVE_MODULE, NAIVE_SERVICE))
    rows = measure(targets, env)

    print(f"Lambda cold start, Python {sys.version.split()[0]}, median (min-max) of {RUNS} fresh interpreters,")
    print("wall-clock seconds. import = the handler module's import; 1st 404 = import + first event on a path")
    print("no route matches (no AWS call); 1st /health = import + first health event (settings, PynamoDB, a")
    print("refused DynamoDB call: 503); restored 1st 404 = after-restore hooks + first 404 once the import and")
    print("the before-snapshot hooks are in a SnapStart snapshot (Lambda's own restore time not included).")
    print()
    columns = (IMPORT, FIRST_404, FIRST_HEALTH, RESTORED_404)
    header = f"{'handler':<32}" + "".join(f" {name:>21}" for name in columns) + "  statuses"
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = "".join(f" {fmt(row.wall[name]):>21}" for name in columns)
        print(f"{row.label:<32}{cells}  {sorted(row.statuses)}")
    real = next(row for row in rows if row.label == REAL_MODULE)
    naive = rows[-1]
    print()
    print(f"Headline: import + first event, {REAL_MODULE} vs the naive handler (the same app), this run,")
    print(f"median of each; target <= {RATIO_TARGET:.2f}x:")
    for name in (FIRST_404, FIRST_HEALTH):
        print(ratio_line(name, real, naive))
    return 0


if __name__ == "__main__":
    sys.exit(main())
