"""The attacks the API refuses, replayed against the running local platform, so they stay refused.

Forged access tokens, a refresh token reused after its grace, other users' resources, oversized
and malformed bodies on every route (enumerated from each service's OpenAPI document, so a new
route is covered without editing this file), methods the edge does not forward, and markup or
oversized frames in chat. "Nothing changed" is checked by reading the tables afterwards.
"""

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.sync.client import ClientConnection, connect

from letslive.constants import REFRESH_COOKIE, SERVICE_EXTRA_PREFIXES, Service, Table
from letslive.services.auth import REUSE_GRACE_SECONDS
from letslive.services.tokens import SigningKey
from tests.e2e.conftest import LocalPlatform
from tests.e2e.media import make_source, publish, wait_for

PASSWORD = "correct horse battery staple 42"
PROBLEM = "application/problem+json"
ISSUER, AUDIENCE = "letslive", "letslive-api"
BODY_METHODS = {"post", "put", "patch", "delete"}
HTTP_METHODS = {"get", "head", "post", "put", "patch", "delete", "options"}
# Over the edge's and every sane JSON limit, under the HTTP API's 10 MB payload quota.
OVERSIZED = 1024 * 1024 + 512 * 1024
RECEIVE_TIMEOUT = 20.0


# --- accounts ------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _refresh_cookie(response: httpx.Response) -> str:
    """The refresh token from the `Set-Cookie` (the body may not carry it)."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == REFRESH_COOKIE and (value := rest.split(";", 1)[0]):
            return value
    raise AssertionError(f"no {REFRESH_COOKIE} cookie in {response.headers.get_list('set-cookie')}")


class Account:
    def __init__(self, api: httpx.Client, prefix: str) -> None:
        self.username = f"{prefix}_{uuid.uuid4().hex[:8]}"
        signup = api.post(
            "/auth/signup",
            json={"username": self.username, "email": f"{self.username}@example.com", "password": PASSWORD},
        )
        assert signup.status_code == 201, signup.text
        login = api.post("/auth/login", json={"username": self.username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        self.token: str = login.json()["access_token"]
        self.refresh = _refresh_cookie(login)
        self.user_id: str = jwt.decode(self.token, options={"verify_signature": False})["sub"]

    @property
    def bearer(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def direct(platform: LocalPlatform) -> Iterator[httpx.Client]:
    """The HTTP API itself, without the edge's 1 MiB cap in front (CloudFront has none so low)."""
    with httpx.Client(base_url=platform.deployment.http_api_url, timeout=60) as client:
        # Warm every service first: a cold start under load can outlast the 10 s function timeout.
        for service in Service:
            url = f"/{service.value}/openapi.json"
            wait_for(lambda url=url: client.get(url).status_code == 200, 60, url)  # type: ignore[misc]
        yield client


@pytest.fixture(scope="module")
def victim(api: httpx.Client, direct: httpx.Client) -> Account:
    account = Account(api, "victim")
    assert api.patch("/streams/me", json={"title": "the victim's title"}, headers=account.bearer).status_code == 200
    assert api.patch("/users/me", json={"bio": "the victim's bio"}, headers=account.bearer).status_code == 200
    return account


@pytest.fixture(scope="module")
def attacker(api: httpx.Client, direct: httpx.Client) -> Account:
    return Account(api, "mallory")


def _state(platform: LocalPlatform, *accounts: Account) -> dict[str, list[str]]:
    """Every item of the users, streams and VODs tables that names one of `accounts` (edges
    between two of them included), serialized so that two snapshots compare exactly."""
    dynamodb = platform.deployment.client("dynamodb")
    marks = [m for a in accounts for m in (a.username, a.user_id)]
    snapshot: dict[str, list[str]] = {}
    for table in (Table.USERS, Table.STREAMS, Table.VODS):
        items: list[str] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=platform.deployment.table_name(table)):
            for item in page["Items"]:
                text = json.dumps(item, sort_keys=True)
                if any(mark in text for mark in marks):
                    items.append(text)
        snapshot[table.value] = sorted(items)
    return snapshot


# --- the routes, from the OpenAPI documents --------------------------------------------------------


class Route:
    def __init__(self, method: str, path: str, operation: dict[str, Any]) -> None:
        self.method, self.template, self.operation = method, path, operation
        self.has_body = "requestBody" in operation

    def path(self, identity: str) -> str:
        """The path with every parameter naming `identity` (a username, a channel, an id)."""
        return re.sub(r"\{[^}]+\}", identity, self.template)

    def __repr__(self) -> str:
        return f"{self.method.upper()} {self.template}"


@pytest.fixture(scope="module")
def routes(direct: httpx.Client) -> list[Route]:
    found: list[Route] = []
    for service in Service:
        document = direct.get(f"/{service.value}/openapi.json")
        assert document.status_code == 200, (service, document.text)
        for path, operations in document.json()["paths"].items():
            found += [Route(m, path, op) for m, op in operations.items() if m in HTTP_METHODS]
    # Every service documents its routes; a new one lands here by itself.
    prefixes = {p for s in Service for p in (s.value, *SERVICE_EXTRA_PREFIXES.get(s, ()))}
    assert {r.template.split("/")[1] for r in found} == prefixes
    assert len(found) >= 20, found
    return found


def _assert_problem(response: httpx.Response, *statuses: int) -> None:
    request = f"{response.request.method} {response.request.url.path}"
    assert response.status_code < 500, (request, response.status_code, response.text[:300])
    assert response.status_code in statuses, (request, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith(PROBLEM), (request, response.headers, response.text[:300])
    assert response.json()["status"] == response.status_code


# --- forged access tokens ----------------------------------------------------------------------------


def _claims(victim: Account, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": victim.user_id,
        "username": victim.username,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand: PyJWT will not take a public key as an HMAC secret, an attacker would."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


@pytest.fixture(scope="module")
def signing_key(platform: LocalPlatform) -> SigningKey:
    """The platform's real private key, from its Secrets Manager secret: tokens signed with it
    isolate the claim checks from the signature check."""
    secrets = platform.deployment.client("secretsmanager")
    names = [s["Name"] for s in secrets.list_secrets()["SecretList"] if "signing key" in s.get("Description", "")]
    assert len(names) == 1, names
    return SigningKey.from_json(secrets.get_secret_value(SecretId=names[0])["SecretString"])


@pytest.fixture(scope="module")
def forgeries(api: httpx.Client, victim: Account, signing_key: SigningKey) -> dict[str, str]:
    """Tokens claiming to be the victim, none of which may be accepted."""
    jwks = api.get("/auth/.well-known/jwks.json").json()
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == signing_key.kid]
    public_pem = jwt.PyJWK(jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = signing_key.kid
    other = ec.generate_private_key(ec.SECP256R1())

    def real(**changes: Any) -> str:
        return jwt.encode(_claims(victim, **changes), signing_key.private_key_pem, "ES256", headers={"kid": kid})

    def by_other(key_id: str | None, **header: Any) -> str:
        # Signed by hand: PyJWT will not write some of these headers (a kid that is no string).
        headers = {"alg": "ES256", **({"kid": key_id} if key_id is not None else {}), **header}
        signing_input = f"{_b64(json.dumps(headers).encode())}.{_b64(json.dumps(_claims(victim)).encode())}"
        signature = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).sign(signing_input.encode(), other)
        return f"{signing_input}.{_b64(signature)}"

    now = int(time.time())
    genuine = real().split(".")
    flipped = genuine[2][:10] + ("A" if genuine[2][10] != "A" else "B") + genuine[2][11:]
    return {
        "alg none": _unsigned({"alg": "none", "typ": "JWT", "kid": kid}, _claims(victim)),
        "alg None": _unsigned({"alg": "None", "kid": kid}, _claims(victim)),
        "alg none with the real signature": ".".join(
            [_b64(json.dumps({"alg": "none", "kid": kid}).encode()), genuine[1], genuine[2]]
        ),
        "HS256 with the public key PEM": _hs256({"alg": "HS256", "kid": kid}, _claims(victim), public_pem),
        "HS256 with the JWK": _hs256({"alg": "HS256", "kid": kid}, _claims(victim), json.dumps(jwk).encode()),
        "another EC key, the real kid": by_other(kid),
        "another EC key, an unknown kid": by_other(uuid.uuid4().hex),
        "another EC key, no kid": by_other(None),
        "kid path traversal": by_other("../../../../../../dev/null"),
        "kid injection": by_other("' OR '1'='1"),
        "kid of the wrong type": by_other(None, kid=["x"]),
        "jku to the attacker's JWKS": by_other("mallory", jku="http://127.0.0.1:9/jwks.json"),
        "embedded jwk": by_other(None, jwk=json.loads(jwt.algorithms.ECAlgorithm.to_jwk(other.public_key()))),
        "the real key, expired": real(iat=now - 7200, exp=now - 3600),
        "the real key, wrong audience": real(aud="someone-else"),
        "the real key, wrong issuer": real(iss="https://evil.example"),
        "the real key, no jti": real(jti=None),
        "the real key, no exp": real(exp=None),
        "the real key, username not a string": real(username=["x"]),
        "the real key, its signature altered": ".".join([genuine[0], genuine[1], flipped]),
        "not a JWT": "definitely-not-a-jwt",
        "empty segments": "..",
    }


def test_a_token_signed_with_the_real_key_is_accepted_so_the_forgeries_would_be_too(
    api: httpx.Client, victim: Account, signing_key: SigningKey
) -> None:
    """The control: the claims the forgeries carry do pass when genuinely signed."""
    token = jwt.encode(_claims(victim), signing_key.private_key_pem, "ES256", headers={"kid": signing_key.kid})
    response = api.get("/auth/me", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["username"] == victim.username


def test_forged_tokens_are_refused_and_change_nothing(
    platform: LocalPlatform,
    api: httpx.Client,
    routes: list[Route],
    victim: Account,
    forgeries: dict[str, str],
) -> None:
    before = _state(platform, victim)
    for name, token in forgeries.items():
        response = api.get("/auth/me", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 401, (name, response.status_code, response.text)
        _assert_problem(response, 401)
        assert "bearer" in response.headers.get("www-authenticate", "").lower(), name

    # Every route, with the forgeries that matter most: whatever it answers anonymously, a forged
    # token gets no more (a route that reads a caller refuses it with 401).
    for route in routes:
        anonymous = api.request(route.method, route.path(victim.username))
        for name in (
            "alg none",
            "HS256 with the public key PEM",
            "another EC key, the real kid",
            "the real key, expired",
        ):
            body = {"title": "pwned", "display_name": "pwned", "bio": "pwned"} if route.has_body else None
            response = api.request(
                route.method,
                route.path(victim.username),
                json=body,
                headers={"authorization": f"Bearer {forgeries[name]}"},
            )
            assert response.status_code < 500, (route, name, response.status_code, response.text[:300])
            if response.is_success:
                assert anonymous.is_success, (route, name, response.status_code, response.text[:300])
            else:
                assert response.headers["content-type"].startswith(PROBLEM), (route, name, response.text[:300])
    assert _state(platform, victim) == before


# --- refresh-token reuse --------------------------------------------------------------------------


def _refresh(api: httpx.Client, token: str) -> httpx.Response:
    # The cookie, as the web app sends it (the body field may be opt-in).
    return api.post("/auth/refresh", headers={"cookie": f"{REFRESH_COOKIE}={token}"})


def test_a_refresh_token_reused_after_the_grace_revokes_its_whole_family(api: httpx.Client) -> None:
    session = Account(api, "reuse")
    first = _refresh(api, session.refresh)
    assert first.status_code == 200, first.text
    newest = _refresh_cookie(first)
    assert newest != session.refresh
    time.sleep(REUSE_GRACE_SECONDS + 2)
    replay = _refresh(api, session.refresh)  # the spent token, as a thief would present it
    _assert_problem(replay, 401)
    # The legitimate holder's newest token went with the family.
    _assert_problem(_refresh(api, newest), 401)
    # A fresh login still works: the account is not locked by the theft.
    assert api.post("/auth/login", json={"username": session.username, "password": PASSWORD}).status_code == 200


# --- other users' resources -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def victim_vod(
    platform: LocalPlatform, api: httpx.Client, victim: Account, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A short broadcast of the victim's, become a VOD."""
    key = api.post("/streams/me/key", headers=victim.bearer)
    assert key.status_code in (200, 201), key.text
    source = make_source(tmp_path_factory.mktemp("security"), 360, 4)
    publisher = publish(source, f"{platform.rtmp_url}/{key.json()['stream_key']}")
    try:
        _, stderr = publisher.communicate(timeout=60)
        assert publisher.returncode == 0, stderr.decode(errors="replace")
    finally:
        publisher.kill()

    def vods() -> list[dict[str, Any]]:
        response = api.get("/vods", params={"channel": victim.username})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    vod_id: str = wait_for(vods, 60, "the victim's VOD")[0]["vod_id"]
    return vod_id


def test_another_users_resources_are_refused_and_left_as_they_were(
    platform: LocalPlatform,
    api: httpx.Client,
    routes: list[Route],
    victim: Account,
    attacker: Account,
    victim_vod: str,
) -> None:
    # The named attempts, with what each must answer.
    _assert_problem(api.delete(f"/vods/{victim_vod}", headers=attacker.bearer), 403, 404)
    _assert_problem(api.get(f"/chat/{victim.username}/settings", headers=attacker.bearer), 403)
    assert api.get(f"/vods/{victim_vod}").status_code == 200  # still there

    # Every route, every parameter naming the victim or their VOD, as the attacker. Following is
    # the attacker's own act (an edge from the attacker); anything else the victim owns must stay.
    secret_key = api.post("/streams/me/key", headers=victim.bearer).json()["stream_key"]
    before = _state(platform, victim)
    for route in routes:
        for identity in (victim.username, victim_vod, victim.user_id):
            if route.method == "put" and route.template.endswith("/follow"):
                continue  # following someone is allowed, and undone by the DELETE below
            body = {"title": "pwned", "display_name": "pwned", "bio": "pwned"} if route.has_body else None
            response = api.request(route.method, route.path(identity), json=body, headers=attacker.bearer)
            assert response.status_code < 500, (route, identity, response.status_code, response.text[:300])
            assert secret_key not in response.text, (route, identity)
    # The attacker's own PATCHes changed the attacker; the victim's items are as they were.
    after = _state(platform, victim)
    assert {t: [i for i in items if attacker.username not in i] for t, items in after.items()} == {
        t: [i for i in items if attacker.username not in i] for t, items in before.items()
    }
    me = api.get("/streams/me", headers=victim.bearer).json()
    assert me.get("title") == "the victim's title"
    assert api.get(f"/users/{victim.username}").json().get("bio") == "the victim's bio"
    assert api.get(f"/vods/{victim_vod}").status_code == 200


# --- oversized and malformed bodies --------------------------------------------------------------------


def _malformed() -> dict[str, tuple[bytes, str]]:
    nested = b"[" * 100_000 + b"]" * 100_000
    return {
        "invalid JSON": (b'{"title": "x",', "application/json"),
        "wrong content type": (b'{"title": "x"}', "text/plain"),
        "XML": (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'a'>]><x>&a;</x>", "application/xml"),
        "form": (b"title=x&bio=y", "application/x-www-form-urlencoded"),
        "wrong types": (
            b'{"title": 123, "tags": "x", "display_name": [], "bio": {}, "username": 1, "password": 2}',
            "application/json",
        ),
        "a list": (b"[1, 2, 3]", "application/json"),
        "a string": (b'"x"', "application/json"),
        "null": (b"null", "application/json"),
        "NUL bytes": (
            b'{"title": "a\\u0000b", "display_name": "\\u0000", "username": "a\\u0000b"}',
            "application/json",
        ),
        "raw NUL": (b"\x00" * 64, "application/json"),
        "deeply nested": (nested, "application/json"),
        "deeply nested object": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
        "huge number": (b'{"title": 1' + b"0" * 100_000 + b"}", "application/json"),
    }


def test_malformed_bodies_are_refused_as_problems_on_every_route_and_change_nothing(
    platform: LocalPlatform, direct: httpx.Client, routes: list[Route], attacker: Account
) -> None:
    before = _state(platform, attacker)
    with_bodies = [r for r in routes if r.has_body]
    assert with_bodies, "no route takes a body"
    for route in with_bodies:
        for name, (content, content_type) in _malformed().items():
            response = direct.request(
                route.method,
                route.path(attacker.username),
                content=content,
                headers={**attacker.bearer, "content-type": content_type},
            )
            assert response.status_code < 500, (route, name, response.status_code, response.text[:300])
            # Refresh and logout take their token from the cookie when the body is unusable.
            assert not response.is_success or route.template.endswith(("/refresh", "/logout")), (route, name)
            if not response.is_success:
                _assert_problem(response, 400, 401, 413, 415, 422, 429)
    assert _state(platform, attacker) == before
    assert direct.get("/auth/.well-known/jwks.json").status_code == 200


def test_a_body_that_is_not_utf8_is_refused(platform: LocalPlatform, direct: httpx.Client, attacker: Account) -> None:
    # API Gateway hands a JSON body over as decoded text, U+FFFD where it was not UTF-8; the
    # text validators refuse U+FFFD, so the bytes are refused rather than stored mangled.
    before = _state(platform, attacker)
    response = direct.patch(
        "/streams/me", content=b'{"title": "\xff\xfe"}', headers={**attacker.bearer, "content-type": "application/json"}
    )
    assert response.status_code < 500, response.text
    assert _state(platform, attacker) == before, response.text
    _assert_problem(response, 400, 422)


def test_oversized_bodies_are_refused_on_every_route_and_the_service_still_answers(
    platform: LocalPlatform, api: httpx.Client, direct: httpx.Client, routes: list[Route], attacker: Account
) -> None:
    padding = "x" * OVERSIZED
    body = json.dumps(
        {"title": padding, "display_name": padding, "bio": padding, "username": padding, "password": padding}
    ).encode()
    headers = {**attacker.bearer, "content-type": "application/json"}
    # The routes that read a body refuse it and change nothing.
    before = _state(platform, attacker)
    for route in [r for r in routes if r.has_body]:
        response = direct.request(route.method, route.path(attacker.username), content=body, headers=headers)
        _assert_problem(response, 400, 401, 413, 422, 429)
    assert _state(platform, attacker) == before
    # The others ignore it (and may act: a key rotated); none fails.
    for route in [r for r in routes if r.method in BODY_METHODS and not r.has_body]:
        response = direct.request(route.method, route.path(attacker.username), content=body, headers=headers)
        assert response.status_code < 500, (route, response.status_code, response.text[:300])
        assert not response.is_success or response.headers["content-type"].startswith("application/json"), route
    # Through the edge, refused before the API with a 413.
    for route in [r for r in routes if r.method in BODY_METHODS]:
        via_edge = api.request(route.method, route.path(attacker.username), content=body, headers=headers)
        assert via_edge.status_code == 413, (route, via_edge.status_code, via_edge.text[:300])
    for service in Service:
        assert direct.get(f"/{service.value}/openapi.json").status_code == 200, service


# --- the edge ---------------------------------------------------------------------------------------


def test_methods_the_distribution_does_not_forward_are_403_at_the_edge(platform: LocalPlatform) -> None:
    with httpx.Client(base_url=platform.edge_url, timeout=30) as edge:
        for method, path in (("TRACE", "/api/auth/me"), ("TRACE", "/"), ("POST", "/hls/x.m3u8"), ("DELETE", "/")):
            response = edge.request(method, path, headers={"authorization": "Bearer x"})
            assert response.status_code == 403, (method, path, response.status_code)
            assert "not configured to allow the HTTP request method" in response.text
        # Still serving.
        assert edge.get("/api/auth/.well-known/jwks.json").status_code == 200


# --- chat ------------------------------------------------------------------------------------------


def _join(platform: LocalPlatform, channel: str, token: str) -> ClientConnection:
    return connect(f"{platform.websocket_url}?{urlencode({'channel': channel, 'token': token})}", open_timeout=30)


def _next(ws: ClientConnection, event_type: str, **match: Any) -> dict[str, Any]:
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        raw = ws.recv(timeout=left)
        event: dict[str, Any] = json.loads(raw)  # every frame is JSON, whatever was sent
        if event.get("type") == event_type and all(event.get(k) == v for k, v in match.items()):
            return event
    raise AssertionError(f"no {event_type} event {match} within {RECEIVE_TIMEOUT} s")


def test_markup_in_chat_arrives_as_inert_text_and_a_huge_frame_is_refused(
    platform: LocalPlatform, victim: Account, attacker: Account
) -> None:
    markup = '<script>alert(1)</script><img src=x onerror="alert(2)">&lt;b&gt;'
    with (
        _join(platform, victim.username, victim.token) as owner,
        _join(platform, victim.username, attacker.token) as chatter,
    ):
        for ws in (owner, chatter):
            ws.send(json.dumps({"action": "history"}))
            _next(ws, "history")
        chatter.send(json.dumps({"action": "send", "text": markup, "nonce": "m-1"}))
        seen = _next(owner, "message", user=attacker.username)
        # A JSON string, as sent: the web app renders it as text, never as markup.
        assert seen["text"] == markup

        chatter.send(json.dumps({"action": "send", "text": "x" * 100_000}))
        assert _next(chatter, "notice")["code"] in ("too-long", "invalid")
        # The connection and the room survive it.
        chatter.send(json.dumps({"action": "ping"}))
        _next(chatter, "pong")
        chatter.send(json.dumps({"action": "send", "text": "still here", "nonce": "m-2"}))
        _next(owner, "message", text="still here")
