"""The API keeps the contract `openapi.json` states: schemathesis against the running platform.

Every phase (examples, coverage, fuzzing, stateful through the document's links) and every
check, through the local edge's `/api` as `make dev` serves it, with a valid access token.
Twice: a fixed seed (the same cases every run) and a random one (printed, to replay a failure
with `--seed`). Bounded so that both runs together take a few minutes on two cores.
"""

import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import schemathesis  # noqa: F401 - a missing schemathesis fails this module, never skips it

from functions.openapi import DOCUMENT
from letslive.constants import Service, health_route
from tests.e2e.conftest import LocalPlatform

FIXED_SEED = 20261206
# Examples per operation and phase; the coverage phase adds its boundary cases on top.
MAX_EXAMPLES = int(os.environ.get("LETSLIVE_CONTRACT_EXAMPLES", "8"))
RUN_TIMEOUT_SECONDS = 420
# The run's own address (the edge sends it to the API as CloudFront does): its hundreds of
# failed logins trip the per-address login limits of this address, not of 127.0.0.1, which
# every other e2e module logs in from.
RUN_ADDRESS = "127.0.0.66"
# `python -m schemathesis.cli` with every connection bound to `RUN_ADDRESS` (it speaks HTTP
# through requests, hence urllib3; the CLI has no option for a source address).
BOUND_CLI = f"""
import urllib3.connection
_init = urllib3.connection.HTTPConnection.__init__
def _bound(self, *args, **kwargs):
    kwargs.setdefault("source_address", ("{RUN_ADDRESS}", 0))
    _init(self, *args, **kwargs)
urllib3.connection.HTTPConnection.__init__ = _bound
import schemathesis.cli
schemathesis.cli.schemathesis()
"""

# Rules no schema can state, whose refusal is a 400 to schema-valid data, so on these
# operations (and only these) 400 counts as an acceptable answer to it:
# - a cursor is opaque: only a `next_cursor` the API returned is one. Its encoding is in the
#   schema, but not which strings of it were issued (400 `invalid-cursor`); real cursors are
#   followed through the links in the stateful phase.
# - a password must not be a common one nor contain the username (400 `weak-password`).
# - what is saved or recorded: a restream destination's `id` must be one the caller saved, and its
#   server a public address (400 `invalid-destination`); a clip's range must be in its broadcast
#   (400 `clip-out-of-range`).
ACCEPTED_400 = (
    "live_streams_live_get",
    "list_vods_vods_get",
    "vod_chat_vods__vod_id__chat_get",
    "followers_users__username__followers_get",
    "following_users__username__following_get",
    "signup_auth_signup_post",
    "put_destinations_streams_me_destinations_put",
    "create_clip_clips_post",
    "list_clips_clips_get",
    "clip_chat_clips__clip_id__chat_get",
)
OPERATION = """
[[operations]]
include-operation-id = "{operation_id}"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]
"""
# The methods the coverage phase tries on each path beyond the declared ones; the API answers
# them 405. Three never reach it, as the local edge mirrors (`localstack/edge.py`, tested on its
# own): CloudFront refuses TRACE (403), QUERY (400) and a GET with a body (403), and the probe
# of a POST-only path sends its GET with the POST's body.
CONFIG = """
[phases.coverage]
unexpected-methods = ["put", "post", "delete", "patch", "options"]
"""


@pytest.fixture(scope="module")
def access_token(api: httpx.Client) -> str:
    # Every function started once first: a cold start on a busy machine can outlast the
    # emulator's 10 s Lambda timeout (502), which the run would count as a server error.
    for service in Service:
        route = health_route(service)
        assert _retried(lambda: api.get(route)).status_code == 200, route  # noqa: B023 - called at once
    username = f"contract_{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(18)
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    signup = _retried(lambda: api.post("/auth/signup", json=body))
    # 409: an attempt that timed out had created the account after all.
    assert signup.status_code in (201, 409), signup.text
    login = _retried(lambda: api.post("/auth/login", json={"username": username, "password": password}))
    assert login.status_code == 200, login.text
    token: str = login.json()["access_token"]
    return token


def _retried(call: Callable[[], httpx.Response]) -> httpx.Response:
    for _ in range(3):
        response = call()
        if response.status_code not in (502, 504):
            break
    return response


def _run(platform: LocalPlatform, token: str, seed: int, workdir: Path) -> tuple[int, str, float]:
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG + "".join(OPERATION.format(operation_id=op) for op in ACCEPTED_400))
    command = [
        sys.executable, "-c", BOUND_CLI, "--no-color", "--config-file", str(config),
        "run", str(DOCUMENT),
        "--url", f"{platform.edge_url}/api",
        "--header", f"Authorization: Bearer {token}",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(seed),
        "--workers", "1",
        "--request-timeout", "30",
        "--generation-database", "none",
        # The valid token on every request; `ignored_auth` still tries each secured one without.
        "--generation-with-security-parameters", "false",
        "--suppress-health-check", "too_slow",
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, cwd=workdir, check=False
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


@pytest.mark.timeout(2 * RUN_TIMEOUT_SECONDS + 60)
def test_the_api_keeps_its_openapi_contract(platform: LocalPlatform, access_token: str, tmp_path: Path) -> None:
    random_seed = secrets.randbelow(2**31)
    reports = []
    for seed in (FIXED_SEED, random_seed):
        workdir = tmp_path / str(seed)
        workdir.mkdir()
        code, output, seconds = _run(platform, access_token, seed, workdir)
        print(f"schemathesis --seed {seed}: exit {code} in {seconds:.0f} s\n{output[-4000:]}")
        if code != 0:
            reports.append(f"--seed {seed} (exit {code}):\n{output}")
    assert not reports, "the API breaks its OpenAPI contract:\n" + "\n\n".join(reports)
