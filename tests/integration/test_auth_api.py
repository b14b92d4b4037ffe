"""The auth service against moto: through the FastAPI app, and once through the Lambda handler."""

import json
import time
from collections.abc import Iterator, Mapping
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from functions.auth import routes
from functions.auth.app import create_app
from functions.common.problems import PROBLEM_TYPE_BASE
from letslive.constants import (
    ENV_ORIGIN_VERIFY_SECRET,
    ORIGIN_VERIFY_HEADER,
    REFRESH_COOKIE,
    REFRESH_COOKIE_PATH,
    VIEWER_ADDRESS_HEADER,
    Service,
    Table,
)
from letslive.data.accounts import AccountRepository
from letslive.data.sessions import SessionRepository, ThrottleRepository
from letslive.errors import InvalidRefreshToken
from letslive.models.auth import Backoff, Rotation, StoredRefreshToken
from letslive.services import passwords
from letslive.services.auth import REUSE_GRACE_SECONDS, AuthService, auth_service, hash_refresh_token
from letslive.services.passwords import Passwords
from letslive.services.signing_keys import load_signing_key
from letslive.services.tokens import AccessTokenIssuer, AccessTokenVerifier, SigningKey, generate_signing_key
from letslive.settings import get_settings, reset_settings
from tests.integration.conftest import REGION
from tests.integration.test_health_api import LambdaContext, http_api_event
from tests.support.clocks import Clock
from tests.support.problems import assert_problem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PASSWORD = "correct horse battery staple"
REFRESH_TTL = 30 * 24 * 3600
WINDOW = 15 * 60
# A fixed window start (a multiple of 15 minutes), so Retry-After is known exactly.
T0 = 1_800_000_000 - 1_800_000_000 % WINDOW


def make_client(app: FastAPI, ip: str = "198.51.100.1") -> TestClient:
    # https: the refresh cookie is Secure, so the client's cookie jar would not send it over http.
    return TestClient(app, base_url="https://testserver", raise_server_exceptions=False, client=(ip, 50000))


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: the production ones cost ~0.1 s a hash, and these tests hash a lot.

    Only `test_signup_stores_an_argon2id_hash_with_the_production_parameters` runs without it.
    """
    cheap = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(passwords, "default_passwords", lambda: cheap)


@pytest.fixture(autouse=True)
def address_limit(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Five failures per address and window (the default is 20), so the tests stay short."""
    monkeypatch.setenv("LETSLIVE_LOGIN_ADDRESS_MAX_FAILURES", "5")
    reset_settings()
    return 5


@pytest.fixture
def app(accounts: SigningKey, fast_hashing: None) -> FastAPI:
    return create_app()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with make_client(app) as test_client:
        yield test_client


def use_clock(app: FastAPI, clock: Clock) -> None:
    """Serve every request with an `AuthService` that reads time from `clock`."""
    app.dependency_overrides[routes.service] = lambda: auth_service(clock=clock)


def signup(client: TestClient, username: str = "alice", email: str | None = None, password: str = PASSWORD) -> Response:
    email = email or f"{username.lower()}@example.com"
    response: Response = client.post("/auth/signup", json={"username": username, "email": email, "password": password})
    return response


def login(client: TestClient, username: str = "alice", password: str = PASSWORD, *, in_body: bool = False) -> Response:
    """A login; `in_body`: as an API client that asks for the refresh token in the body."""
    body: dict[str, Any] = {"username": username, "password": password}
    if in_body:
        body["refresh_token_in_body"] = True
    response: Response = client.post("/auth/login", json=body)
    return response


def rotate(client: TestClient, refresh_token: str) -> Response:
    """An API client's refresh: the token in the body, its successor asked for in the body."""
    response: Response = client.post(
        "/auth/refresh", json={"refresh_token": refresh_token, "refresh_token_in_body": True}
    )
    return response


def tokens(response: Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh_cookie(response: Response) -> "SimpleCookie":
    (header,) = [value for value in response.headers.get_list("set-cookie") if value.startswith(REFRESH_COOKIE)]
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(header)
    return cookie


def verifier(client: TestClient) -> AccessTokenVerifier:
    return AccessTokenVerifier(client.get("/auth/.well-known/jwks.json").json(), "letslive", "letslive-api")


# --- signup -------------------------------------------------------------------------------------


def test_signup_creates_the_account_and_does_not_sign_in(client: TestClient) -> None:
    response = signup(client, "Alice")

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"username", "display_name", "created_at"}
    assert body["username"] == "alice"
    assert body["display_name"] == "Alice"
    assert "set-cookie" not in response.headers
    assert "access_token" not in response.text


def test_signup_stores_an_argon2id_hash_with_the_production_parameters(
    accounts: SigningKey, dynamodb: "DynamoDBClient"
) -> None:
    with make_client(create_app()) as client:
        assert signup(client).status_code == 201
        item = dynamodb.get_item(TableName="letslive-test-auth", Key={"pk": {"S": "CRED#alice"}, "sk": {"S": "CRED"}})
        assert item["Item"]["password_hash"]["S"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert PASSWORD not in json.dumps(item)
        tokens(login(client))
        assert_problem(login(client, "alice", "wrong password"), 401, "invalid-credentials")


def test_signup_refuses_a_username_taken_in_any_case(client: TestClient) -> None:
    assert signup(client, "alice").status_code == 201
    body = assert_problem(signup(client, "ALICE", email="other@example.com"), 409, "conflict")
    assert "taken" in body["detail"]


def test_signup_refuses_an_email_taken_in_any_case(client: TestClient) -> None:
    assert signup(client, "alice", email="alice@example.com").status_code == 201
    assert_problem(signup(client, "bob", email="Alice@Example.com"), 409, "conflict")


@pytest.mark.parametrize(
    ("username", "email", "password", "status", "code"),
    [
        ("admin", "a@example.com", PASSWORD, 400, "invalid-input"),
        ("Support", "a@example.com", PASSWORD, 400, "invalid-input"),
        ("al ice", "a@example.com", PASSWORD, 422, "validation"),
        ("al-ice", "a@example.com", PASSWORD, 422, "validation"),
        ("ālice", "a@example.com", PASSWORD, 422, "validation"),
        ("al", "a@example.com", PASSWORD, 422, "validation"),
        ("a" * 26, "a@example.com", PASSWORD, 422, "validation"),
        ("alice", "not-an-email", PASSWORD, 422, "validation"),
        ("alice", "alice@localhost", PASSWORD, 422, "validation"),
        ("alice", "a" * 250 + "@example.com", PASSWORD, 422, "validation"),
        ("alice", "a@example.com", "short1!", 400, "weak-password"),
        ("alice", "a@example.com", "password123", 400, "weak-password"),
        ("alice", "a@example.com", "PassWord123", 400, "weak-password"),
        ("alice", "a@example.com", "my name is alice!", 400, "weak-password"),
        ("alice", "a@example.com", "x" * 129, 422, "validation"),
    ],
)
def test_signup_refuses_bad_input_with_a_problem(
    client: TestClient, username: str, email: str, password: str, status: int, code: str
) -> None:
    response = signup(client, username, email=email, password=password)
    assert_problem(response, status, code)
    assert password not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "email": "a@example.com"},
        {"username": "alice", "email": "a@example.com", "password": 1234567890123},
        {"username": "alice", "email": "a@example.com", "password": PASSWORD, "admin": True},
        ["alice", "a@example.com", PASSWORD],
        {"username": "a" * 1_000_000, "email": "a@example.com", "password": "p" * 1_000_000},
    ],
)
def test_signup_refuses_malformed_bodies_with_422(client: TestClient, body: Any) -> None:
    assert_problem(client.post("/auth/signup", json=body), 422, "validation")


def test_signup_refuses_a_body_that_is_not_json(client: TestClient) -> None:
    response = client.post("/auth/signup", content=b"\xff\x00", headers={"content-type": "application/json"})
    assert_problem(response, 422, "validation")


# --- login --------------------------------------------------------------------------------------


def test_login_returns_tokens_that_the_published_keys_verify(client: TestClient) -> None:
    signup(client, "Alice")

    response = login(client, "alice")

    body = tokens(response)
    # Issue 14 item 5: no refresh token in the body unless asked for; script can read a body.
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert refresh_cookie(response)[REFRESH_COOKIE].value not in response.text
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert response.headers["cache-control"] == "no-store"
    claims = verifier(client).verify(body["access_token"])
    assert claims.username == "alice"
    assert claims.expires_at - claims.issued_at == 900


@pytest.mark.parametrize("identifier", ["alice", "ALICE", "alice@example.com", "Alice@Example.COM", " alice "])
def test_login_by_username_or_email_in_any_case(client: TestClient, identifier: str) -> None:
    signup(client, "alice", email="alice@example.com")
    assert verifier(client).verify(tokens(login(client, identifier))["access_token"]).username == "alice"


def test_the_refresh_token_is_only_stored_hashed(client: TestClient, dynamodb: "DynamoDBClient") -> None:
    signup(client)
    refresh_token = tokens(login(client, in_body=True))["refresh_token"]
    items = dynamodb.scan(TableName="letslive-test-auth")["Items"]
    assert refresh_token not in json.dumps(items)
    keys = {item["pk"]["S"] for item in items}
    assert f"REFRESH#{hash_refresh_token(refresh_token)}" in keys


def test_an_api_client_asks_for_the_refresh_token_in_the_body(client: TestClient) -> None:
    signup(client)
    response = login(client, in_body=True)

    body = tokens(response)
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert len(body["refresh_token"]) >= 43  # 256 bits, base64url
    assert refresh_cookie(response)[REFRESH_COOKIE].value == body["refresh_token"]
    # Its refreshes too, when asked; a refresh that does not ask gets the cookie alone.
    rotated = tokens(rotate(client, body["refresh_token"]))
    assert rotated["refresh_token"] not in (None, body["refresh_token"])
    quiet = client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert set(tokens(quiet)) == {"access_token", "token_type", "expires_in"}
    assert_problem(
        client.post("/auth/login", json={"username": "alice", "password": PASSWORD, "refresh_token_in_body": "yes"}),
        422,
        "validation",
    )


def test_login_sets_a_strict_http_only_refresh_cookie(client: TestClient) -> None:
    signup(client)
    response = login(client)

    morsel = refresh_cookie(response)[REFRESH_COOKIE]
    assert len(morsel.value) >= 43
    assert morsel["httponly"] is True
    assert morsel["secure"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == REFRESH_COOKIE_PATH
    assert morsel["max-age"] == str(REFRESH_TTL)
    assert not morsel["domain"]


def test_wrong_password_and_unknown_user_get_the_same_401(client: TestClient) -> None:
    signup(client)

    wrong_password = login(client, "alice", "not the password at all")
    unknown_user = login(client, "mallory", PASSWORD)
    unknown_email = login(client, "mallory@example.com", PASSWORD)

    body = assert_problem(wrong_password, 401, "invalid-credentials")
    assert unknown_user.json() == body
    assert unknown_email.json() == body
    assert "set-cookie" not in wrong_password.headers


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice"},
        {"username": "", "password": PASSWORD},
        {"username": "alice", "password": ""},
        {"username": "alice", "password": "p" * 129},
        {"username": "a" * 255, "password": PASSWORD},
        {"username": ["alice"], "password": PASSWORD},
    ],
)
def test_login_refuses_malformed_bodies_with_422(client: TestClient, body: dict[str, Any]) -> None:
    assert_problem(client.post("/auth/login", json=body), 422, "validation")


def test_failures_from_elsewhere_never_lock_the_owner_out(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14 item 2: five bad passwords from anywhere used to refuse the owner's own."""
    monkeypatch.delenv("LETSLIVE_LOGIN_ADDRESS_MAX_FAILURES")  # the default: 100 per window
    reset_settings()
    clock = Clock(T0 + 100)
    use_clock(app, clock)
    with make_client(app, "198.51.100.1") as setup:
        signup(setup, "alice")
    for n in range(4):
        with make_client(app, f"203.0.113.{n + 1}") as attacker:
            for guess in range(6):  # free: the sixth locks this address out of alice for 60 s
                assert_problem(login(attacker, "alice", f"guess {guess}"), 401, "invalid-credentials")
            response = login(attacker, "alice", PASSWORD)
            assert_problem(response, 429, "rate-limited")
            assert response.headers["retry-after"] == "60"
            assert "set-cookie" not in response.headers

    with make_client(app, "192.0.2.50") as owner:
        tokens(login(owner, "alice", PASSWORD))
        tokens(login(owner, "alice@example.com", PASSWORD))
    clock.now += 60  # the lock-out ends, and the next failure doubles it
    with make_client(app, "203.0.113.1") as attacker:
        assert_problem(login(attacker, "alice", "guess 7"), 401, "invalid-credentials")
        assert login(attacker, "alice", PASSWORD).headers["retry-after"] == "120"


def test_the_global_account_limit_spares_a_known_device(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETSLIVE_LOGIN_ACCOUNT_MAX_FAILURES", "5")
    reset_settings()
    clock = Clock(T0 + 100)
    use_clock(app, clock)
    with make_client(app, "192.0.2.50") as browser:
        signup(browser, "alice")
        signup(browser, "bob")
        tokens(login(browser))  # the browser keeps the refresh cookie
        cookie = browser_cookie(browser)
    for n in range(5):
        with make_client(app, f"203.0.113.{n + 1}") as attacker:
            assert_problem(login(attacker, "alice", f"guess {n}"), 401, "invalid-credentials")

    with make_client(app, "192.0.2.77") as laptop:  # a device alice never signed in on
        response = login(laptop, "alice", PASSWORD)
        body = assert_problem(response, 429, "rate-limited")
        assert response.headers["retry-after"] == str(WINDOW - 100)
        assert "access_token" not in body
        tokens(login(laptop, "bob", PASSWORD))  # other accounts are not affected
    with make_client(app, "192.0.2.50") as browser:
        # The known device: its live refresh cookie, sent to `/api/auth/*`, login included.
        assert_problem(
            browser.post("/auth/login", json={"username": "alice", "password": "wrong"}, headers=cookie),
            401,
            "invalid-credentials",
        )
        response = browser.post("/auth/login", json={"username": "alice", "password": PASSWORD}, headers=cookie)
        tokens(response)
        # Someone else's cookie, or one logged out, is no known device of alice's.
        bobs = tokens(login(browser, "bob", in_body=True))["refresh_token"]
        for other in (f"{REFRESH_COOKIE}={bobs}", f"{REFRESH_COOKIE}=not-a-token"):
            refused = browser.post(
                "/auth/login", json={"username": "alice", "password": PASSWORD}, headers={"cookie": other}
            )
            assert_problem(refused, 429, "rate-limited")
        fresh = refresh_cookie(response)[REFRESH_COOKIE].value
        assert browser.post("/auth/logout", json={"refresh_token": fresh}).status_code == 204
        logged_out = {"cookie": f"{REFRESH_COOKIE}={fresh}"}
        assert_problem(
            browser.post("/auth/login", json={"username": "alice", "password": PASSWORD}, headers=logged_out),
            429,
            "rate-limited",
        )
    clock.now = T0 + WINDOW  # the window has ended
    with make_client(app, "192.0.2.77") as laptop:
        tokens(login(laptop, "alice", PASSWORD))


def test_sign_ups_are_limited_per_address(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, dynamodb: "DynamoDBClient"
) -> None:
    """Issue 14 item 3: sign-ups (an argon2id hash each) were unthrottled."""
    monkeypatch.setenv("LETSLIVE_SIGNUP_MAX_PER_ADDRESS", "3")
    reset_settings()
    clock = Clock(T0 + 100)
    use_clock(app, clock)
    hour = T0 - T0 % 3600
    with make_client(app, "203.0.113.9") as flood:
        for n in range(3):
            assert signup(flood, f"user{n}").status_code == 201
        response = signup(flood, "user3")
        assert_problem(response, 429, "rate-limited")
        assert response.headers["retry-after"] == str(hour + 3600 - int(clock.now))
        item = dynamodb.get_item(TableName="letslive-test-auth", Key={"pk": {"S": "CRED#user3"}, "sk": {"S": "CRED"}})
        assert "Item" not in item
    with make_client(app, "192.0.2.50") as other:
        assert signup(other, "user3").status_code == 201
    clock.now = hour + 3600
    with make_client(app, "203.0.113.9") as flood:
        assert signup(flood, "user4").status_code == 201


def test_a_backoff_write_needs_the_revision_it_read(client: TestClient) -> None:
    throttle = ThrottleRepository()
    now = int(time.time())
    seen = throttle.backoff("pair#alice#203.0.113.7", now)
    assert seen == Backoff()
    first = throttle.replace("pair#alice#203.0.113.7", seen, 1, 0, now + 60)
    assert first == Backoff(1, 0, 1)
    # A concurrent attempt that read the same state loses, and writes nothing.
    assert throttle.replace("pair#alice#203.0.113.7", seen, 1, 0, now + 60) is None
    second = throttle.replace("pair#alice#203.0.113.7", first, 6, now + 60, now + 60)
    assert throttle.backoff("pair#alice#203.0.113.7", now) == second == Backoff(6, now + 60, 2)
    throttle.clear("pair#alice#203.0.113.7")
    # Cleared, not deleted: a writer that read before the clear cannot write over it.
    assert throttle.backoff("pair#alice#203.0.113.7", now) == Backoff(0, 0, 3)
    assert throttle.replace("pair#alice#203.0.113.7", second, 7, now + 120, now + 60) is None
    # Past its expiry (DynamoDB deletes lazily) a record counts nothing.
    assert throttle.backoff("pair#alice#203.0.113.7", now + 60) == Backoff(0, 0, 3)
    throttle.clear("pair#nobody#203.0.113.7")  # nothing to clear: a no-op
    assert throttle.backoff("pair#nobody#203.0.113.7", now) == Backoff()


def test_five_failures_from_one_address_throttle_it_across_accounts(app: FastAPI, dynamodb: "DynamoDBClient") -> None:
    with make_client(app, "198.51.100.1") as setup:
        signup(setup, "alice")
    with make_client(app, "203.0.113.9") as attacker:
        for n in range(5):
            assert_problem(login(attacker, f"victim{n}", PASSWORD), 401, "invalid-credentials")
        response = login(attacker, "alice", PASSWORD)
        assert_problem(response, 429, "rate-limited")
        assert 1 <= int(response.headers["retry-after"]) <= WINDOW
    # The refused attempt took back what it had counted against alice before the address said no.
    counters = dynamodb.scan(
        TableName="letslive-test-auth",
        FilterExpression="begins_with(pk, :p)",
        ExpressionAttributeValues={":p": {"S": "THROTTLE#account#alice"}},
    )["Items"]
    assert [item["failures"]["N"] for item in counters] in ([], ["0"])
    assert ThrottleRepository().backoff("pair#alice#203.0.113.9", int(time.time())).failures == 0
    with make_client(app, "192.0.2.50") as elsewhere:
        tokens(login(elsewhere, "alice", PASSWORD))


def test_ipv6_clients_are_throttled_by_their_slash_64(app: FastAPI) -> None:
    with make_client(app) as setup:
        signup(setup, "alice")
    for n in range(5):
        with make_client(app, f"2001:db8:1:2::{n + 1:x}") as attacker:
            login(attacker, f"victim{n}", PASSWORD)
    with make_client(app, "2001:db8:1:2:ffff::1") as same_network:
        assert_problem(login(same_network, "alice", PASSWORD), 429, "rate-limited")
    with make_client(app, "2001:db8:1:3::1") as other_network:
        tokens(login(other_network, "alice", PASSWORD))


def test_successful_logins_are_not_counted_as_failures(client: TestClient) -> None:
    signup(client)
    for _ in range(7):
        tokens(login(client))


# --- refresh ------------------------------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_the_whole_family(app: FastAPI) -> None:
    clock = Clock(time.time())
    use_clock(app, clock)
    with make_client(app) as client:
        signup(client)
        first = tokens(login(client, in_body=True))["refresh_token"]

        second = tokens(rotate(client, first))
        assert second["refresh_token"] != first
        assert verifier(client).verify(second["access_token"]).username == "alice"

        # Past the reuse grace the spent token is refused, and presenting it kills the family...
        clock.now += REUSE_GRACE_SECONDS + 1
        body = assert_problem(client.post("/auth/refresh", json={"refresh_token": first}), 401, "invalid-refresh-token")
        assert "already used" in body["detail"]
        # ...so the newest token, never used, is refused too.
        assert_problem(
            client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401, "invalid-refresh-token"
        )


def test_a_cookie_spent_a_moment_ago_still_refreshes(client: TestClient) -> None:
    """A page reloaded while its refresh was in flight never stored the rotated cookie."""
    signup(client)
    login(client)
    spent = browser_cookie(client)
    first = client.post("/auth/refresh", headers=spent)
    tokens(first)
    lost = refresh_cookie(first)[REFRESH_COOKIE].value

    response = client.post("/auth/refresh", headers=spent)
    tokens(response)
    again = refresh_cookie(response)[REFRESH_COOKIE].value
    assert again not in (lost, spent["cookie"].split("=", 1)[1])
    # Both successors keep working: nothing was revoked.
    tokens(client.post("/auth/refresh", json={"refresh_token": lost}))
    tokens(client.post("/auth/refresh", json={"refresh_token": again}))


def test_reuse_revokes_only_that_family(app: FastAPI) -> None:
    clock = Clock(time.time())
    use_clock(app, clock)
    with make_client(app) as client:
        signup(client)
        laptop = tokens(login(client, in_body=True))["refresh_token"]
        phone = tokens(login(client, in_body=True))["refresh_token"]
        client.post("/auth/refresh", json={"refresh_token": laptop})
        clock.now += REUSE_GRACE_SECONDS + 1
        client.post("/auth/refresh", json={"refresh_token": laptop})  # reuse: the laptop's family dies

        tokens(client.post("/auth/refresh", json={"refresh_token": phone}))


def browser_cookie(client: TestClient) -> dict[str, str]:
    """The cookie a browser sends: it is scoped to `/api/auth` (the web origin's path to these
    routes), which this client, talking to the app's own `/auth` paths, would not match."""
    return {"cookie": f"{REFRESH_COOKIE}={client.cookies[REFRESH_COOKIE]}"}


def test_refresh_by_cookie_rotates_the_cookie(client: TestClient) -> None:
    signup(client)
    login(client)  # the client's cookie jar keeps the refresh cookie
    first = client.cookies[REFRESH_COOKIE]

    response = client.post("/auth/refresh", headers=browser_cookie(client))
    body = tokens(response)
    assert "refresh_token" not in body  # the cookie alone carries it
    assert client.cookies[REFRESH_COOKIE] == refresh_cookie(response)[REFRESH_COOKIE].value != first
    tokens(client.post("/auth/refresh", headers=browser_cookie(client)))  # the rotated cookie works in turn


def test_the_body_token_wins_over_the_cookie(app: FastAPI) -> None:
    with make_client(app) as browser:
        signup(browser)
        body_token = tokens(login(browser, in_body=True))["refresh_token"]
    with make_client(app) as fresh:  # an empty cookie jar: only the header below is sent
        garbage_cookie = {"cookie": f"{REFRESH_COOKIE}=not-a-token"}
        assert_problem(fresh.post("/auth/refresh", headers=garbage_cookie), 401, "invalid-refresh-token")
        tokens(fresh.post("/auth/refresh", json={"refresh_token": body_token}, headers=garbage_cookie))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (None, 401, "invalid-refresh-token"),
        ({}, 401, "invalid-refresh-token"),
        ({"refresh_token": None}, 401, "invalid-refresh-token"),
        ({"refresh_token": "garbage"}, 401, "invalid-refresh-token"),
        ({"refresh_token": "x" * 129}, 422, "validation"),
        ({"refresh_token": 42}, 422, "validation"),
        ({"refresh_token": "a", "extra": 1}, 422, "validation"),
    ],
)
def test_refresh_without_a_valid_token_is_refused(
    client: TestClient, body: dict[str, Any] | None, status: int, code: str
) -> None:
    assert_problem(client.post("/auth/refresh", json=body), status, code)


def test_refresh_tokens_expire_after_30_days_without_use(app: FastAPI) -> None:
    clock = Clock(time.time())
    use_clock(app, clock)
    with make_client(app) as client:
        signup(client)
        first = tokens(login(client, in_body=True))["refresh_token"]
        clock.now += REFRESH_TTL - 1
        second = tokens(rotate(client, first))["refresh_token"]
        # Each rotation starts a new 30 days.
        clock.now += REFRESH_TTL - 1
        third = tokens(rotate(client, second))["refresh_token"]
        clock.now += REFRESH_TTL
        assert_problem(client.post("/auth/refresh", json={"refresh_token": third}), 401, "invalid-refresh-token")


class StaleReads(SessionRepository):
    """Reads every token as unused: what two concurrent refreshes both see before either writes."""

    def token(self, token_hash: str) -> StoredRefreshToken | None:
        stored = super().token(token_hash)
        return None if stored is None else StoredRefreshToken(**{**stored.__dict__, "used": False})


def racing_service(clock: Clock | None = None) -> AuthService:
    """An `AuthService` whose reads are stale: it sees every token as unused."""
    issuer = AccessTokenIssuer(
        load_signing_key(get_settings().required("signing_key_secret")), "letslive", "letslive-api", 900
    )
    return AuthService(
        AccountRepository(), StaleReads(), ThrottleRepository(), passwords.default_passwords(), issuer, REFRESH_TTL,
        clock=clock or time.time,
    )  # fmt: skip


def test_two_concurrent_refreshes_with_one_token_both_get_working_tokens(client: TestClient) -> None:
    """Two tabs refreshing at once: the loser read the token before the winner's write landed."""
    signup(client)
    first = tokens(login(client, in_body=True))["refresh_token"]
    winner = tokens(rotate(client, first))["refresh_token"]

    loser = racing_service().refresh(first).refresh_token

    assert loser != winner
    for token in (winner, loser):
        tokens(client.post("/auth/refresh", json={"refresh_token": token}))


def test_a_stale_read_of_a_token_spent_long_ago_is_still_reuse(client: TestClient) -> None:
    signup(client)
    first = tokens(login(client, in_body=True))["refresh_token"]
    winner = tokens(rotate(client, first))["refresh_token"]
    # The condition re-checks when it was spent, whatever the read said.
    late = Clock(time.time() + REUSE_GRACE_SECONDS + 1)
    with pytest.raises(InvalidRefreshToken, match="already used"):
        racing_service(late).refresh(first)
    assert_problem(client.post("/auth/refresh", json={"refresh_token": winner}), 401, "invalid-refresh-token")


def test_a_mangled_cookie_still_logs_out(client: TestClient) -> None:
    mangled = {"cookie": f"{REFRESH_COOKIE}={'x' * 3000}"}
    assert_problem(client.post("/auth/refresh", headers=mangled), 401, "invalid-refresh-token")
    response = client.post("/auth/logout", headers=mangled)
    assert response.status_code == 204, response.text
    assert refresh_cookie(response)[REFRESH_COOKIE]["max-age"] == "0"


def logged_in_token(client: TestClient) -> tuple[SessionRepository, StoredRefreshToken, int]:
    """The repository, the stored refresh token of a fresh login, and now (epoch seconds)."""
    signup(client)
    first = tokens(login(client, in_body=True))["refresh_token"]
    sessions = SessionRepository()
    stored = sessions.token(hash_refresh_token(first))
    assert stored is not None
    return sessions, stored, int(time.time())


def test_rotation_condition_lets_exactly_one_of_two_writers_through(client: TestClient) -> None:
    sessions, stored, now = logged_in_token(client)

    assert sessions.rotate(stored, hash_refresh_token("a"), now, now + 60) is Rotation.ROTATED
    assert sessions.rotate(stored, hash_refresh_token("b"), now, now + 60) is Rotation.ALREADY_USED
    assert sessions.token(hash_refresh_token("b")) is None  # the loser wrote nothing
    sessions.revoke_family(stored.family_id)
    fresh = sessions.token(hash_refresh_token("a"))
    assert fresh is not None
    assert sessions.rotate(fresh, hash_refresh_token("c"), now, now + 60) is Rotation.REVOKED
    assert sessions.token(hash_refresh_token("c")) is None


def test_a_sibling_needs_a_spending_at_or_after_the_given_time(client: TestClient) -> None:
    sessions, stored, now = logged_in_token(client)

    # Not spent yet: there is nothing to be a sibling of.
    assert sessions.rotate(stored, hash_refresh_token("x"), now, now + 60, rotated_since=now) is Rotation.ALREADY_USED
    assert sessions.rotate(stored, hash_refresh_token("a"), now, now + 60) is Rotation.ROTATED
    assert sessions.rotate(stored, hash_refresh_token("b"), now, now + 60, rotated_since=now) is Rotation.ROTATED
    assert (
        sessions.rotate(stored, hash_refresh_token("c"), now, now + 60, rotated_since=now + 1) is Rotation.ALREADY_USED
    )
    assert [sessions.token(hash_refresh_token(t)) is None for t in "xabc"] == [True, False, False, True]
    spent = sessions.token(stored.token_hash)
    assert spent is not None
    assert (spent.used, spent.rotated_at) == (True, now)
    sessions.revoke_family(stored.family_id)
    assert sessions.rotate(stored, hash_refresh_token("d"), now, now + 60, rotated_since=now) is Rotation.REVOKED


# --- logout -------------------------------------------------------------------------------------


def test_logout_revokes_the_session_and_clears_the_cookie(client: TestClient) -> None:
    signup(client)
    first = tokens(login(client, in_body=True))["refresh_token"]
    second = tokens(rotate(client, first))["refresh_token"]

    response = client.post("/auth/logout", json={"refresh_token": second})

    assert response.status_code == 204, response.text
    assert response.content == b""
    morsel = refresh_cookie(response)[REFRESH_COOKIE]
    assert morsel.value == ""
    assert morsel["max-age"] == "0"
    assert morsel["path"] == REFRESH_COOKIE_PATH
    assert_problem(client.post("/auth/refresh", json={"refresh_token": second}), 401, "invalid-refresh-token")
    # Idempotent, and quiet about tokens it does not know.
    assert client.post("/auth/logout", json={"refresh_token": second}).status_code == 204
    assert client.post("/auth/logout", json={"refresh_token": "garbage"}).status_code == 204
    assert client.post("/auth/logout").status_code == 204


def test_logout_by_cookie(client: TestClient) -> None:
    signup(client)
    refresh_token = tokens(login(client, in_body=True))["refresh_token"]

    assert client.post("/auth/logout", headers=browser_cookie(client)).status_code == 204

    assert REFRESH_COOKIE not in client.cookies
    assert_problem(client.post("/auth/refresh", json={"refresh_token": refresh_token}), 401, "invalid-refresh-token")


# --- jwks and me --------------------------------------------------------------------------------


def test_jwks_publishes_the_signing_key(client: TestClient, accounts: SigningKey) -> None:
    response = client.get("/auth/.well-known/jwks.json")

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=300"
    (jwk,) = response.json()["keys"]
    assert jwk["kid"] == accounts.kid
    assert jwk["alg"] == "ES256"
    assert "d" not in jwk  # public half only


def test_me_returns_the_verified_caller(client: TestClient) -> None:
    signup(client, "Alice")
    access_token = tokens(login(client))["access_token"]

    response = client.get("/auth/me", headers={"authorization": f"Bearer {access_token}"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == "alice"
    assert body["user_id"] == verifier(client).verify(access_token).user_id
    assert len(body["user_id"]) == 32


def issued(key: SigningKey, now: float) -> str:
    return AccessTokenIssuer(key, "letslive", "letslive-api", 900, clock=lambda: now).issue("u1", "alice")


@pytest.mark.parametrize(
    ("make_header", "detail"),
    [
        (lambda key: f"Bearer {issued(key, time.time() - 3600)}", "the access token has expired"),
        (lambda key: f"Bearer {issued(generate_signing_key(), time.time())}", "the access token is not valid"),
        (lambda key: "Bearer garbage", "the access token is not valid"),
        (lambda key: f"Basic {issued(key, time.time())}", "an access token is required"),
        (lambda key: None, "an access token is required"),
    ],
    ids=["expired", "other-key", "garbage", "wrong-scheme", "missing"],
)
def test_me_refuses_a_bad_or_missing_token(
    client: TestClient, accounts: SigningKey, make_header: Any, detail: str
) -> None:
    header = make_header(accounts)
    headers = {"authorization": header} if header else {}
    body = assert_problem(client.get("/auth/me", headers=headers), 401, "unauthorized")
    assert body["detail"] == detail


# --- through the Lambda handler -----------------------------------------------------------------


def lambda_login(
    username: str, password: str, source_ip: str, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    from functions.auth.handler import handler

    event = http_api_event("POST", "/auth/login", Service.AUTH)
    event["headers"]["content-type"] = "application/json"
    event["headers"].update(headers or {})
    event["requestContext"]["http"]["sourceIp"] = source_ip
    event["body"] = json.dumps({"username": username, "password": password})
    response: dict[str, Any] = handler(event, LambdaContext("letslive-auth"))
    return response


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_lambda_handler_logs_in_and_throttles_by_the_api_gateway_source_ip(
    client: TestClient, tables: dict[Table, str]
) -> None:
    signup(client)

    response = lambda_login("alice", PASSWORD, "203.0.113.7")

    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert verifier(client).verify(body["access_token"]).username == "alice"
    assert "refresh_token" not in body
    # Payload 2.0 carries cookies apart from the headers.
    (cookie,) = response["cookies"]
    assert cookie.startswith(f"{REFRESH_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie

    for n in range(5):
        assert lambda_login(f"victim{n}", PASSWORD, "203.0.113.66")["statusCode"] == 401
    throttled = lambda_login("alice", PASSWORD, "203.0.113.66")
    assert throttled["statusCode"] == 429
    assert int(throttled["headers"]["retry-after"]) >= 1
    assert json.loads(throttled["body"])["type"] == PROBLEM_TYPE_BASE + "rate-limited"
    # The counter is per source IP: another address is not affected.
    assert lambda_login("alice", PASSWORD, "203.0.113.8")["statusCode"] == 200


# --- behind CloudFront: the viewer's address, when the distribution vouches for it ---------------

ORIGIN_SECRET = "k3Jq9ZrT0aWmB7xYcE2vLpN5sHdG8uFiQ4oRtVyX1bMnCzA6eSwD"
EDGE = "130.176.0.10"  # one CloudFront edge's address: what API Gateway sees for all its viewers
VIEWER_A, VIEWER_B = "198.51.100.10", "198.51.100.20"


@pytest.fixture
def origin_verify(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The origin-verify secret in moto and its ARN in the auth function's env, as the CDK app wires them."""
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="letslive-test-origin-verify", SecretString=ORIGIN_SECRET
    )
    monkeypatch.setenv(ENV_ORIGIN_VERIFY_SECRET, secret["ARN"])
    return ORIGIN_SECRET


def through_cloudfront(viewer: str, verify: str | None = ORIGIN_SECRET) -> dict[str, str]:
    """The headers the `/api/*` function and the origin add (`verify` None: a request without one)."""
    headers = {VIEWER_ADDRESS_HEADER: viewer}
    if verify is not None:
        headers[ORIGIN_VERIFY_HEADER] = verify
    return headers


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_behind_cloudfront_failures_count_against_the_viewer_not_the_edge(
    client: TestClient, tables: dict[Table, str], origin_verify: str
) -> None:
    signup(client)

    for n in range(5):
        assert lambda_login(f"victim{n}", PASSWORD, EDGE, through_cloudfront(VIEWER_A))["statusCode"] == 401
    throttled = lambda_login("alice", PASSWORD, EDGE, through_cloudfront(VIEWER_A))
    assert throttled["statusCode"] == 429, throttled

    # Viewer B shares the edge, not the lock-out; nor does a caller reaching API Gateway from the
    # edge's address without CloudFront's headers.
    assert lambda_login("alice", PASSWORD, EDGE, through_cloudfront(VIEWER_B))["statusCode"] == 200
    assert lambda_login("alice", PASSWORD, EDGE)["statusCode"] == 200


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
@pytest.mark.parametrize(
    "verify",
    [None, "", "wrong", ORIGIN_SECRET[:-1], ORIGIN_SECRET + "x", ORIGIN_SECRET.lower()],
    ids=["missing", "empty", "wrong", "prefix", "longer", "case"],
)
def test_without_the_right_verify_header_the_viewer_header_is_ignored(
    client: TestClient, tables: dict[Table, str], origin_verify: str, verify: str | None
) -> None:
    signup(client)
    attacker = "203.0.113.66"

    # A new forged viewer address for every guess: the failures still add up on the source IP.
    for n in range(5):
        forged = through_cloudfront(f"192.0.2.{n + 1}", verify)
        assert lambda_login(f"victim{n}", PASSWORD, attacker, forged)["statusCode"] == 401
    throttled = lambda_login("alice", PASSWORD, attacker, through_cloudfront("192.0.2.99", verify))
    assert throttled["statusCode"] == 429, throttled
    # ... and an address named in the forged header was never charged.
    assert lambda_login("alice", PASSWORD, "192.0.2.1")["statusCode"] == 200


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_without_a_configured_secret_the_viewer_header_is_never_believed(
    client: TestClient, tables: dict[Table, str], origin_verify: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Locally (and wherever no distribution is in front) the env var is unset.
    monkeypatch.delenv(ENV_ORIGIN_VERIFY_SECRET)
    reset_settings()
    signup(client)

    for n in range(5):
        forged = through_cloudfront(f"192.0.2.{n + 1}")
        assert lambda_login(f"victim{n}", PASSWORD, EDGE, forged)["statusCode"] == 401
    assert lambda_login("alice", PASSWORD, EDGE, through_cloudfront(VIEWER_B))["statusCode"] == 429


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_a_verified_request_with_a_malformed_viewer_address_counts_against_the_source_ip(
    client: TestClient, tables: dict[Table, str], origin_verify: str
) -> None:
    signup(client)

    for n in range(5):
        assert lambda_login(f"victim{n}", PASSWORD, EDGE, through_cloudfront(f"not-an-ip-{n}"))["statusCode"] == 401
    assert lambda_login("alice", PASSWORD, EDGE)["statusCode"] == 429
    assert lambda_login("alice", PASSWORD, EDGE, through_cloudfront(VIEWER_A))["statusCode"] == 200


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_an_unreadable_origin_verify_secret_is_a_dependency_failure(
    client: TestClient, tables: dict[Table, str], origin_verify: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    signup(client)
    monkeypatch.setenv(ENV_ORIGIN_VERIFY_SECRET, "letslive-test-no-such-secret")
    reset_settings()

    response = lambda_login("alice", PASSWORD, EDGE, through_cloudfront(VIEWER_A))

    assert response["statusCode"] == 503, response
    # A request that does not claim to come through CloudFront never needs the secret.
    assert lambda_login("alice", PASSWORD, EDGE)["statusCode"] == 200
