"""Accounts through the emulator's API Gateway: sign up → log in → refresh → follow → counts."""

import json
import uuid

import httpx
import jwt

from letslive.constants import REFRESH_COOKIE
from tests.e2e.conftest import LocalPlatform

PASSWORD = "correct horse battery staple 42"


def _signup(api: httpx.Client, username: str) -> None:
    response = api.post(
        "/auth/signup", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201, response.text


def _login(api: httpx.Client, username: str) -> dict[str, str]:
    response = api.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def test_signup_login_refresh_follow_and_counts(platform: LocalPlatform) -> None:
    suffix = uuid.uuid4().hex[:8]
    alice, bob = f"alice_{suffix}", f"bob_{suffix}"
    with httpx.Client(base_url=platform.deployment.http_api_url, timeout=30) as api:
        _signup(api, alice)
        _signup(api, bob)
        assert api.post("/auth/signup", json={
            "username": alice.upper(), "email": f"x{suffix}@example.com", "password": PASSWORD,
        }).status_code == 409  # fmt: skip

        # An API client asks for the refresh token in the body (browsers keep it in the cookie).
        login = api.post("/auth/login", json={"username": alice, "password": PASSWORD, "refresh_token_in_body": True})
        assert login.status_code == 200, login.text
        assert REFRESH_COOKIE in login.headers.get("set-cookie", "")
        tokens = login.json()

        # The access token verifies with the published JWKS, pinned to ES256.
        jwks = api.get("/auth/.well-known/jwks.json").json()
        (key,) = [k for k in jwks["keys"] if k["kid"] == jwt.get_unverified_header(tokens["access_token"])["kid"]]
        claims = jwt.decode(tokens["access_token"], jwt.PyJWK(key).key, algorithms=["ES256"], audience="letslive-api")
        assert claims["username"] == alice

        # Rotation: a refresh spends its token for a new pair. Presented again within the reuse
        # grace (a browser that lost the response) the spent token gets a sibling; past it, it
        # revokes the family (`tests/integration/test_auth_api.py`, with a clock). Logging out
        # with either ends the whole family.
        in_body = {"refresh_token_in_body": True}
        rotated = api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"], **in_body})
        assert rotated.status_code == 200, rotated.text
        fresh = rotated.json()
        assert fresh["refresh_token"] != tokens["refresh_token"]
        sibling = api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"], **in_body})
        assert sibling.status_code == 200, sibling.text
        assert sibling.json()["refresh_token"] not in (tokens["refresh_token"], fresh["refresh_token"])
        logout = api.post("/auth/logout", json={"refresh_token": sibling.json()["refresh_token"]})
        assert logout.status_code == 204, logout.text
        assert api.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 401

        bearer = {"authorization": f"Bearer {fresh['access_token']}"}
        followed = api.put(f"/users/{bob}/follow", headers=bearer)
        assert followed.status_code == 200, followed.text
        assert followed.json()["followers_count"] == 1
        assert api.put(f"/users/{bob}/follow", headers=bearer).json()["followers_count"] == 1  # idempotent
        assert api.put(f"/users/{bob}/follow").status_code == 401

        assert api.get(f"/users/{bob}").json()["followers_count"] == 1
        assert api.get(f"/users/{alice}").json()["following_count"] == 1
        followers = api.get(f"/users/{bob}/followers").json()
        assert [item["username"] for item in followers["items"]] == [alice]

        unfollowed = api.delete(f"/users/{bob}/follow", headers=bearer)
        assert unfollowed.status_code == 200, unfollowed.text
        assert api.get(f"/users/{bob}").json()["followers_count"] == 0


def test_bad_input_is_a_problem_not_a_crash(platform: LocalPlatform) -> None:
    with httpx.Client(base_url=platform.deployment.http_api_url, timeout=30) as api:
        for response in (
            api.post("/auth/signup", content=b"{not json", headers={"content-type": "application/json"}),
            api.post("/auth/login", json={"username": "x" * 10_000, "password": "y"}),
            api.get("/users/me", headers={"authorization": "Bearer not-a-token"}),
            api.patch("/users/me", json={"bio": "hi"}, headers={"authorization": "Bearer " + "a.b.c"}),
        ):
            assert 400 <= response.status_code < 500, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            json.loads(response.text)
