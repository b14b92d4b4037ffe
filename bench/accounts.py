"""Accounts: what a login costs.

Prints, in-process on this machine: argon2id hash and verify with the production parameters
(the bulk of a login's CPU), and ES256 access-token issue and verify (every authenticated
request pays a verify). With `--api URL` (or a running `make dev`, read from
`.local/platform.json`) it also signs up a user and times logins and refreshes end to end
through the emulator's API Gateway and Lambda.

Run: `.venv/bin/python bench/accounts.py [--api URL] [--requests N]`.
"""

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from letslive.services.passwords import password_hasher
from letslive.services.tokens import AccessTokenIssuer, AccessTokenVerifier, generate_signing_key, jwks_document

STATE_FILE = Path(__file__).resolve().parents[1] / ".local" / "platform.json"
PASSWORD = "correct horse battery staple 42"


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def row(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{name:<34} {statistics.median(ms):>9.2f} {p95:>9.2f} {len(ms):>6}"


def in_process() -> list[str]:
    hasher = password_hasher()
    stored = hasher.hash(PASSWORD)
    key = generate_signing_key()
    issuer = AccessTokenIssuer(key, "letslive", "letslive-api", 900)
    verifier = AccessTokenVerifier(jwks_document(key), "letslive", "letslive-api")
    token = issuer.issue("user-id", "alice")
    return [
        row("argon2id hash (64 MiB, t=3, p=4)", timed(lambda: hasher.hash(PASSWORD), 7)),
        row("argon2id verify", timed(lambda: hasher.verify(stored, PASSWORD), 7)),
        row("ES256 access token issue", timed(lambda: issuer.issue("user-id", "alice"), 500)),
        row("ES256 access token verify", timed(lambda: verifier.verify(token), 500)),
    ]


def through_platform(api: str, requests: int) -> list[str]:
    username = f"bench_{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=api, timeout=60) as client:
        signup = client.post(
            "/auth/signup", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        )
        signup.raise_for_status()
        logins: list[float] = []
        refreshes: list[float] = []
        for _ in range(requests):
            started = time.perf_counter()
            login = client.post(
                "/auth/login", json={"username": username, "password": PASSWORD, "refresh_token_in_body": True}
            )
            logins.append(time.perf_counter() - started)
            login.raise_for_status()
            started = time.perf_counter()
            client.post("/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}).raise_for_status()
            refreshes.append(time.perf_counter() - started)
    # The first of each pays the Lambda cold start; shown apart from the warm figures.
    return [
        row("login, first (cold Lambda)", logins[:1]),
        row("login, warm", logins[1:]),
        row("refresh, first", refreshes[:1]),
        row("refresh, warm", refreshes[1:]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", help="HTTP API base URL (default: the running `make dev`)")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    api = args.api
    if api is None and STATE_FILE.exists():
        api = json.loads(STATE_FILE.read_text())["urls"]["HTTP API"]
    header = f"{'operation':<34} {'p50 ms':>9} {'p95 ms':>9} {'n':>6}"
    print("In-process (one core):")
    print(header)
    print("\n".join(in_process()))
    if api:
        print(f"\nThrough the local platform ({api}):")
        print(header)
        print("\n".join(through_platform(api, args.requests)))
    else:
        print("\n(no platform running: start `make dev` or pass --api for end-to-end figures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
