"""Issue 14 items 2, 3 and 5 replayed against the running platform (through the local edge).

The edge sends each client's address to the API as CloudFront does, so an attacker here is a
client bound to another loopback address (127.0.0.2, ...), seen by the auth function as such.
"""

import time
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest

from infra.constructs.http_api import ENV_SIGNUP_MAX_PER_ADDRESS
from letslive.constants import REFRESH_COOKIE, REFRESH_COOKIE_PATH
from tests.e2e.conftest import LocalPlatform

PASSWORD = "correct horse battery staple 42"


def _signup(api: httpx.Client, username: str) -> httpx.Response:
    return api.post(
        "/auth/signup", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )


def _cookie(response: httpx.Response) -> str:
    """The refresh cookie a browser would keep (httpx keeps no Secure cookie over http)."""
    (header,) = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{REFRESH_COOKIE}=")]
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    morsel = jar[REFRESH_COOKIE]
    assert morsel["httponly"] is True
    assert morsel["path"] == REFRESH_COOKIE_PATH
    return morsel.value


def test_the_refresh_token_is_never_in_a_browser_body(api: httpx.Client) -> None:
    """Item 5: script in the page could read the refresh token from the login and refresh bodies."""
    name = f"body_{uuid.uuid4().hex[:8]}"
    assert _signup(api, name).status_code == 201
    login = api.post("/auth/login", json={"username": name, "password": PASSWORD})
    assert login.status_code == 200, login.text
    cookie = _cookie(login)
    assert set(login.json()) == {"access_token", "token_type", "expires_in"}
    assert cookie not in login.text

    refreshed = api.post("/auth/refresh", headers={"cookie": f"{REFRESH_COOKIE}={cookie}"})
    assert refreshed.status_code == 200, refreshed.text
    assert "refresh_token" not in refreshed.json()
    assert _cookie(refreshed) not in refreshed.text
    # An API client that asks gets it in the body too.
    asked = api.post("/auth/login", json={"username": name, "password": PASSWORD, "refresh_token_in_body": True})
    assert asked.json()["refresh_token"] == _cookie(asked)


def _from(platform: LocalPlatform, address: str) -> httpx.Client:
    """A client of the API whose connections come from `address` (any 127.0.0.0/8 address works)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=f"{platform.edge_url}/api", timeout=30, transport=transport)


def _lock_out(attacker: httpx.Client, username: str) -> None:
    """Guess until this address is locked out of the account (five free, the sixth locks)."""
    for guess in range(6):
        response = attacker.post("/auth/login", json={"username": username, "password": f"guess {guess}"})
        assert response.status_code == 401, response.text
    locked = attacker.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert locked.status_code == 429, locked.text
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    assert locked.headers["content-type"].startswith("application/problem+json")


def test_guesses_from_other_addresses_cannot_lock_the_owner_out(platform: LocalPlatform, api: httpx.Client) -> None:
    """Item 2: five bad passwords from anywhere used to refuse the owner's own right password."""
    owner = f"owner_{uuid.uuid4().hex[:8]}"
    assert _signup(api, owner).status_code == 201
    for n in range(2, 6):  # a handful of attacking addresses, each locked out in turn
        with _from(platform, f"127.0.0.{n}") as attacker:
            _lock_out(attacker, owner)
    # The owner, on a new device at their own address (no cookie), gets in with the right password.
    with _from(platform, "127.0.0.1") as owner_device:
        assert owner_device.post("/auth/login", json={"username": owner, "password": PASSWORD}).status_code == 200


def test_a_known_device_gets_in_where_its_address_is_locked_out(platform: LocalPlatform) -> None:
    """Item 2: the owner shares the attacker's address (one NAT) but holds a live refresh cookie."""
    owner, bystander = f"owner_{uuid.uuid4().hex[:8]}", f"other_{uuid.uuid4().hex[:8]}"
    with _from(platform, "127.0.0.7") as shared:
        assert _signup(shared, owner).status_code == 201
        assert _signup(shared, bystander).status_code == 201
        login = shared.post("/auth/login", json={"username": owner, "password": PASSWORD})
        assert login.status_code == 200, login.text
        browser = {"cookie": f"{REFRESH_COOKIE}={_cookie(login)}"}
        _lock_out(shared, owner)
        # The owner's browser (its live refresh cookie rides along to /api/auth/login) gets in.
        mine = shared.post("/auth/login", json={"username": owner, "password": PASSWORD}, headers=browser)
        assert mine.status_code == 200, mine.text
        # The lock is on that account from that address only.
        other = shared.post("/auth/login", json={"username": bystander, "password": PASSWORD})
        assert other.status_code == 200, other.text


@pytest.fixture
def auth_function(platform: LocalPlatform) -> Iterator[tuple[Any, str]]:
    """The deployed auth function's name; its environment is put back as it was afterwards."""
    lambdas = platform.deployment.client("lambda")
    (name,) = [
        fn["FunctionName"]
        for page in lambdas.get_paginator("list_functions").paginate()
        for fn in page["Functions"]
        if fn.get("Handler") == "functions.auth.handler.handler"
    ]
    variables = dict(lambdas.get_function_configuration(FunctionName=name)["Environment"]["Variables"])
    yield lambdas, name
    _set_environment(lambdas, name, variables)


def _set_environment(lambdas: Any, name: str, variables: dict[str, str]) -> None:
    lambdas.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    deadline = time.monotonic() + 60
    while lambdas.get_function_configuration(FunctionName=name).get("LastUpdateStatus") == "InProgress":
        assert time.monotonic() < deadline, "the function update did not finish"
        time.sleep(0.5)


def test_sign_ups_per_address_are_limited(api: httpx.Client, auth_function: tuple[Any, str]) -> None:
    """Item 3: each sign-up costs an argon2id hash, and nothing limited them.

    The local deploy lifts the per-address limit (every local caller is 127.0.0.1); an operator
    sets `LETSLIVE_SIGNUP_MAX_PER_ADDRESS` on the function, as this test does for a moment.
    """
    lambdas, name = auth_function
    variables = dict(lambdas.get_function_configuration(FunctionName=name)["Environment"]["Variables"])
    _set_environment(lambdas, name, {**variables, ENV_SIGNUP_MAX_PER_ADDRESS: "2"})

    statuses = []
    refused = None
    for _ in range(3):  # this hour's earlier sign-ups from 127.0.0.1 count too
        username = f"flood_{uuid.uuid4().hex[:8]}"
        response = _signup(api, username)
        statuses.append(response.status_code)
        if response.status_code == 429:
            refused = (username, response)
            break
    assert refused is not None, statuses
    username, response = refused
    assert 1 <= int(response.headers["retry-after"]) <= 3600
    assert response.headers["content-type"].startswith("application/problem+json")
    assert api.get(f"/users/{username}").status_code == 404  # nothing was created

    _set_environment(lambdas, name, variables)
    assert _signup(api, f"after_{uuid.uuid4().hex[:8]}").status_code == 201
