"""The users service against moto: profiles, profile edits, follows and follow lists.

Through `TestClient(create_app())` except where a test needs to control time or run many
follows in parallel; those call `UserService` on the real repositories (still moto).
"""

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from functions.common.problems import PROBLEM_CONTENT_TYPE
from functions.users.app import create_app
from letslive.constants import Table, table_env_var
from letslive.data.accounts import AccountRepository
from letslive.data.follows import FollowRepository
from letslive.data.tables import connection
from letslive.errors import DependencyUnavailable
from letslive.models.events import DomainEvent
from letslive.models.users import Profile
from letslive.services.events import event_publisher
from letslive.services.tokens import AccessTokenIssuer, SigningKey, generate_signing_key
from letslive.services.users import UserService, encode_follow_cursor
from letslive.settings import get_settings
from tests.integration.conftest import EventBus, forget_cached_aws
from tests.support.problems import assert_problem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- helpers ---------------------------------------------------------------------------------


def create_user(username: str) -> str:
    """Create an account as the auth service does; returns its user id."""
    user_id = uuid.uuid4().hex
    AccountRepository().create(user_id, username, f"{username.lower()}@example.com", password_hash="x")
    return user_id


def issuer(key: SigningKey, clock: Callable[[], float] = time.time) -> AccessTokenIssuer:
    settings = get_settings()
    return AccessTokenIssuer(key, settings.jwt_issuer, settings.jwt_audience, settings.access_token_ttl_seconds, clock)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def stored(username: str) -> Profile:
    """The account as stored right now (strongly consistent read)."""
    profile = AccountRepository().profile(username, consistent_read=True)
    assert profile is not None
    return profile


def edges_to(dynamodb: "DynamoDBClient", username: str) -> int:
    """Follow edges pointing at `username`, counted from the table itself (not from the counter)."""
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=get_settings().table_name(Table.USERS),
        FilterExpression="sk = :sk AND begins_with(pk, :pk)",
        ExpressionAttributeValues={":sk": {"S": f"FOLLOWS#{username}"}, ":pk": {"S": "USER#"}},
    )
    return sum(page["Count"] for page in pages)


def followed(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["detail"]["follower"], e["detail"]["followee"]) for e in events if e["detail-type"] == "UserFollowed"]


def stepping_clock(step: timedelta = timedelta(seconds=1)) -> Callable[[], datetime]:
    """Each call one `step` later than the last: follows get distinct, known times."""
    ticks = itertools.count()
    return lambda: START + step * next(ticks)


class Api:
    """The users API as a client sees it, plus a token for any user."""

    def __init__(self, client: TestClient, key: SigningKey) -> None:
        self.client = client
        self.key = key
        self._ids: dict[str, str] = {}

    def user(self, username: str) -> dict[str, str]:
        """Create `username` and return the headers that sign in as them."""
        self._ids[username.lower()] = create_user(username)
        return self.auth(username.lower())

    def auth(self, username: str) -> dict[str, str]:
        user_id = self._ids.get(username) or uuid.uuid4().hex
        return bearer(issuer(self.key).issue(user_id, username))

    def profile(self, username: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.client.get(f"/users/{username}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def all_pages(self, path: str, limit: int) -> list[list[dict[str, Any]]]:
        pages: list[list[dict[str, Any]]] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            response = self.client.get(path, params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            pages.append(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                return pages
            assert len(pages) < 100, "pagination does not end"


@pytest.fixture
def api(accounts: SigningKey) -> Iterator[Api]:
    with TestClient(create_app()) as client:
        yield Api(client, accounts)


@pytest.fixture
def service(accounts: SigningKey) -> UserService:
    """The service on moto, with a clock that makes every follow one second after the last."""
    return UserService(AccountRepository(), FollowRepository(), event_publisher(), clock=stepping_clock())


# --- GET /users/{username} -------------------------------------------------------------------


def test_a_profile_shows_the_public_fields(api: Api) -> None:
    api.user("Alice")
    body = api.profile("alice")
    assert body == {
        "username": "alice",
        "display_name": "Alice",
        "bio": "",
        "avatar_url": None,
        "followers_count": 0,
        "following_count": 0,
        "live": False,
        "created_at": body["created_at"],
    }
    assert abs(datetime.fromisoformat(body["created_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert "email" not in body
    assert "followed_by_me" not in body  # anonymous caller


def test_the_username_in_the_path_is_case_insensitive(api: Api) -> None:
    api.user("alice")
    assert api.profile("ALiCe")["username"] == "alice"


def test_an_unknown_user_is_a_404_problem(api: Api) -> None:
    body = assert_problem(api.client.get("/users/nobody_here"), 404, "user-not-found")
    assert body["instance"] == "/users/nobody_here"


MALFORMED_USER_PATHS = [
    "/users/ab",  # too short
    "/users/" + "a" * 26,  # too long
    "/users/al-ice",
    "/users/al.ice",
    "/users/al%20ice",
    "/users/alice%00",
    "/users/al%C3%AFce",  # ï
    "/users/%E2%84%AAevin",  # KELVIN SIGN, which str.lower() turns into "k"
    "/users/%ED%A0%80abc",  # an encoded lone surrogate: not UTF-8 at all
    "/users/" + "x" * 5000,
    "/users/alice%2Fbob",
]


def test_a_malformed_username_is_a_4xx_never_a_500(api: Api) -> None:
    api.user("alice")
    api.user("kevin")
    for path in MALFORMED_USER_PATHS:
        for method in ("GET", "PUT", "DELETE"):
            suffix = "/follow" if method != "GET" else ""
            response = api.client.request(method, path + suffix, headers=api.auth("alice"))
            assert response.status_code in (404, 422), (method, path, response.text)
            assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        for listing in ("followers", "following"):
            response = api.client.get(f"{path}/{listing}")
            assert response.status_code in (404, 422), (listing, path, response.text)
    assert api.profile("kevin")["followers_count"] == 0


def test_live_and_counts_come_from_the_account(api: Api, dynamodb: "DynamoDBClient") -> None:
    api.user("streamer")
    dynamodb.update_item(
        TableName=get_settings().table_name(Table.USERS),
        Key={"pk": {"S": "USER#streamer"}, "sk": {"S": "ACCOUNT"}},
        UpdateExpression="SET live = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    for name in ("viewer_1", "viewer_2", "viewer_3"):
        assert api.client.put("/users/streamer/follow", headers=api.user(name)).status_code == 200
    assert api.client.put("/users/viewer_1/follow", headers=api.auth("streamer")).status_code == 200
    body = api.profile("streamer")
    assert (body["live"], body["followers_count"], body["following_count"]) == (True, 3, 1)
    assert api.profile("viewer_1")["live"] is False


def test_a_signed_in_caller_sees_whether_they_follow(api: Api) -> None:
    api.user("bob")
    alice, carol = api.user("alice"), api.user("carol")
    api.client.put("/users/bob/follow", headers=alice)
    assert api.profile("bob", alice)["followed_by_me"] is True
    assert api.profile("bob", carol)["followed_by_me"] is False
    assert api.profile("bob", api.auth("bob"))["followed_by_me"] is False  # oneself
    api.client.delete("/users/bob/follow", headers=alice)
    assert api.profile("bob", alice)["followed_by_me"] is False


def test_a_bad_token_on_a_public_route_is_still_a_401(api: Api) -> None:
    api.user("bob")
    assert_problem(api.client.get("/users/bob", headers=bearer("not-a-jwt")), 401, "unauthorized")


# --- PATCH /users/me -------------------------------------------------------------------------


def test_patch_changes_only_the_fields_present(api: Api) -> None:
    me = api.user("Alice")
    body = api.client.patch("/users/me", headers=me, json={"bio": "hello\nworld"}).json()
    assert (body["display_name"], body["bio"], body["avatar_url"]) == ("Alice", "hello\nworld", None)

    body = api.client.patch("/users/me", headers=me, json={"avatar_url": "https://cdn.example.com/a.png"}).json()
    assert (body["display_name"], body["bio"], body["avatar_url"]) == (
        "Alice",
        "hello\nworld",
        "https://cdn.example.com/a.png",
    )

    body = api.client.patch("/users/me", headers=me, json={"display_name": "  Ally  "}).json()
    assert (body["display_name"], body["bio"], body["avatar_url"]) == (
        "Ally",
        "hello\nworld",
        "https://cdn.example.com/a.png",
    )
    # The response is what is stored.
    assert api.profile("alice") == body


def test_patch_null_avatar_clears_it_and_empty_bio_clears_the_bio(api: Api) -> None:
    me = api.user("alice")
    api.client.patch("/users/me", headers=me, json={"avatar_url": "https://x.example/a.png", "bio": "hi"})
    response = api.client.patch("/users/me", headers=me, json={"avatar_url": None, "bio": ""})
    assert response.status_code == 200, response.text
    assert api.profile("alice")["avatar_url"] is None
    assert api.profile("alice")["bio"] == ""


def test_an_empty_patch_changes_nothing_and_returns_the_profile(api: Api) -> None:
    me = api.user("alice")
    response = api.client.patch("/users/me", headers=me, json={})
    assert response.status_code == 200
    assert response.json() == api.profile("alice")


def test_patch_normalizes_line_endings_in_the_bio(api: Api) -> None:
    me = api.user("alice")
    body = api.client.patch("/users/me", headers=me, json={"bio": "one\r\ntwo\rthree"}).json()
    assert body["bio"] == "one\ntwo\nthree"


INVALID_PATCHES: list[dict[str, Any]] = [
    {"display_name": ""},
    {"display_name": "   "},
    {"display_name": "x" * 41},
    {"display_name": None},
    {"display_name": 42},
    {"display_name": "a\x00b"},
    {"display_name": "two\nlines"},
    {"display_name": "\u202eevil"},
    {"bio": "x" * 301},
    {"bio": "bell\x07"},
    {"bio": "tab\there"},
    {"bio": None},
    {"avatar_url": "http://example.com/a.png"},
    {"avatar_url": "ftp://example.com/a.png"},
    {"avatar_url": "javascript:alert(1)"},
    {"avatar_url": "not a url"},
    {"avatar_url": "https://"},
    {"avatar_url": "https://user:pw@example.com/a.png"},
    {"avatar_url": "https://example.com/a b.png"},
    {"avatar_url": "https://example.com/a.png\x00"},
    {"avatar_url": "https://example.com/" + "a" * 481},
    {"followers_count": 1_000_000},
    {"username": "admin"},
]


def test_an_invalid_patch_is_a_422_and_changes_nothing(api: Api) -> None:
    me = api.user("alice")
    before = api.profile("alice")
    for patch in INVALID_PATCHES:
        response = api.client.patch("/users/me", headers=me, json=patch)
        assert response.status_code == 422, (patch, response.text)
        assert_problem(response, 422, "validation")["errors"]
    assert api.profile("alice") == before


MALFORMED_BODIES = [
    b'{"display_name": "\\ud800"}',  # a lone surrogate: valid JSON, not encodable text
    b'{"bio": "ok \\udfff"}',
    b"[]",
    b'"display_name"',
    b"{not json",
    b"",
]


def test_a_malformed_patch_body_is_a_422(api: Api) -> None:
    me = api.user("alice")
    before = api.profile("alice")
    for raw in MALFORMED_BODIES:
        response = api.client.patch("/users/me", headers=me | {"content-type": "application/json"}, content=raw)
        assert response.status_code == 422, (raw, response.text)
        assert_problem(response, 422)
    assert api.profile("alice") == before


def test_the_longest_valid_values_are_accepted(api: Api) -> None:
    me = api.user("alice")
    patch = {"display_name": "é" * 40, "bio": "b" * 300, "avatar_url": "https://example.com/" + "a" * 480}
    response = api.client.patch("/users/me", headers=me, json=patch)
    assert response.status_code == 200, response.text
    assert response.json()["avatar_url"] == patch["avatar_url"]


def test_patch_without_a_token_is_a_401(api: Api) -> None:
    api.user("alice")
    assert_problem(api.client.patch("/users/me", json={"bio": "x"}), 401, "unauthorized")
    assert_problem(api.client.patch("/users/me", json={"bio": "x"}, headers={"authorization": "Basic YTpi"}), 401)


def test_patch_with_a_garbage_token_is_a_401(api: Api) -> None:
    api.user("alice")
    assert_problem(api.client.patch("/users/me", json={"bio": "x"}, headers=bearer("garbage.token.here")), 401)
    assert api.profile("alice")["bio"] == ""


def test_patch_with_an_expired_token_is_a_401(api: Api) -> None:
    user_id = create_user("alice")
    an_hour_ago = time.time() - 3600
    token = issuer(api.key, clock=lambda: an_hour_ago).issue(user_id, "alice")
    body = assert_problem(api.client.patch("/users/me", json={"bio": "x"}, headers=bearer(token)), 401)
    assert "expired" in body["detail"]
    assert api.profile("alice")["bio"] == ""


def test_patch_with_a_token_signed_by_another_key_is_a_401(api: Api) -> None:
    user_id = create_user("alice")
    token = issuer(generate_signing_key()).issue(user_id, "alice")
    assert_problem(api.client.patch("/users/me", json={"bio": "x"}, headers=bearer(token)), 401)


def test_patch_for_a_token_without_an_account_is_a_404(api: Api) -> None:
    response = api.client.patch("/users/me", json={"bio": "x"}, headers=api.auth("ghost"))
    assert_problem(response, 404, "user-not-found")
    assert_problem(api.client.get("/users/ghost"), 404)  # the update did not create one


# --- PUT/DELETE /users/{username}/follow ------------------------------------------------------


def test_following_is_idempotent_and_counts_once(api: Api, event_bus: EventBus) -> None:
    api.user("bob")
    alice = api.user("alice")
    first = api.client.put("/users/bob/follow", headers=alice)
    again = api.client.put("/users/BOB/follow", headers=alice)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"following": True, "followers_count": 1}
    assert api.profile("bob")["followers_count"] == 1
    assert api.profile("alice")["following_count"] == 1
    assert followed(event_bus.received()) == [("alice", "bob")]


def test_the_user_followed_event_describes_the_follow(api: Api, event_bus: EventBus) -> None:
    api.user("bob")
    api.client.put("/users/bob/follow", headers=api.user("alice"))
    (event,) = event_bus.received()
    assert event["source"] == "letslive"
    assert event["detail-type"] == "UserFollowed"
    assert event["detail"]["follower"] == "alice"
    assert event["detail"]["followee"] == "bob"
    (entry,) = api.client.get("/users/bob/followers").json()["items"]
    assert datetime.fromisoformat(event["detail"]["followed_at"]) == datetime.fromisoformat(entry["followed_at"])


def test_unfollowing_is_idempotent(api: Api, event_bus: EventBus) -> None:
    api.user("bob")
    alice = api.user("alice")
    api.client.put("/users/bob/follow", headers=alice)
    first = api.client.delete("/users/bob/follow", headers=alice)
    again = api.client.delete("/users/bob/follow", headers=alice)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"following": False, "followers_count": 0}
    assert api.profile("bob")["followers_count"] == 0
    assert api.profile("alice")["following_count"] == 0
    assert api.client.get("/users/bob/followers").json()["items"] == []
    assert api.client.get("/users/alice/following").json()["items"] == []
    assert followed(event_bus.received()) == [("alice", "bob")]  # unfollowing emits nothing


def test_unfollowing_someone_never_followed_changes_nothing(api: Api) -> None:
    api.user("bob")
    carol = api.user("carol")
    api.client.put("/users/bob/follow", headers=api.user("alice"))
    response = api.client.delete("/users/bob/follow", headers=carol)
    assert response.json() == {"following": False, "followers_count": 1}
    assert api.profile("carol")["following_count"] == 0


def test_refollowing_counts_again_and_emits_again(api: Api, event_bus: EventBus) -> None:
    api.user("bob")
    alice = api.user("alice")
    api.client.put("/users/bob/follow", headers=alice)
    api.client.delete("/users/bob/follow", headers=alice)
    assert api.client.put("/users/bob/follow", headers=alice).json() == {"following": True, "followers_count": 1}
    assert len(api.client.get("/users/bob/followers").json()["items"]) == 1
    assert followed(event_bus.received()) == [("alice", "bob"), ("alice", "bob")]


def test_following_yourself_is_refused(api: Api, event_bus: EventBus) -> None:
    alice = api.user("alice")
    for path in ("/users/alice/follow", "/users/ALICE/follow"):
        assert_problem(api.client.put(path, headers=alice), 409, "cannot-follow-self")
        assert_problem(api.client.delete(path, headers=alice), 409, "cannot-follow-self")
    profile = api.profile("alice")
    assert (profile["followers_count"], profile["following_count"]) == (0, 0)
    assert event_bus.received() == []


def test_following_an_unknown_user_is_a_404_and_leaves_nothing_behind(
    api: Api, event_bus: EventBus, dynamodb: "DynamoDBClient"
) -> None:
    alice = api.user("alice")
    assert_problem(api.client.put("/users/nobody/follow", headers=alice), 404, "user-not-found")
    assert_problem(api.client.delete("/users/nobody/follow", headers=alice), 404, "user-not-found")
    assert api.profile("alice")["following_count"] == 0
    assert api.client.get("/users/alice/following").json()["items"] == []
    assert edges_to(dynamodb, "nobody") == 0
    assert_problem(api.client.get("/users/nobody"), 404)  # no counter item was created either
    assert event_bus.received() == []


def test_following_from_a_token_without_an_account_is_a_404(api: Api) -> None:
    api.user("bob")
    assert_problem(api.client.put("/users/bob/follow", headers=api.auth("ghost")), 404, "user-not-found")
    assert api.profile("bob")["followers_count"] == 0


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_follow_routes_need_a_token(api: Api, method: str) -> None:
    api.user("bob")
    assert_problem(api.client.request(method, "/users/bob/follow"), 401, "unauthorized")
    assert_problem(api.client.request(method, "/users/bob/follow", headers=bearer("x.y.z")), 401)
    assert api.profile("bob")["followers_count"] == 0


def test_a_failing_event_bus_does_not_fail_a_committed_follow(
    accounts: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenBus:
        def publish(self, event: DomainEvent) -> None:
            raise DependencyUnavailable("bus down")

    create_user("alice")
    create_user("bob")
    service = UserService(AccountRepository(), FollowRepository(), BrokenBus())
    assert service.follow("alice", "bob").followers_count == 1
    assert "could not publish UserFollowed" in caplog.text


# --- GET /users/{username}/followers|following ---------------------------------------------


def test_follow_lists_are_newest_first(api: Api, service: UserService) -> None:
    for name in ("star", "fana1", "fana2", "fana3"):
        create_user(name)
    for name in ("fana1", "fana2", "fana3"):
        service.follow(name, "star")  # a1 first, a3 last
    for name in ("fana3", "fana1"):
        service.follow("star", name)
    followers = api.client.get("/users/star/followers").json()
    assert [e["username"] for e in followers["items"]] == ["fana3", "fana2", "fana1"]
    assert followers["next_cursor"] is None
    times = [datetime.fromisoformat(e["followed_at"]) for e in followers["items"]]
    assert times == sorted(times, reverse=True)
    assert times[0] == START + timedelta(seconds=2)
    following = api.client.get("/users/star/following").json()
    assert [e["username"] for e in following["items"]] == ["fana1", "fana3"]


def test_follow_list_entries_carry_the_current_display_name(api: Api) -> None:
    api.user("bob")
    alice = api.user("alice")
    api.client.put("/users/bob/follow", headers=alice)
    api.client.patch("/users/me", headers=alice, json={"display_name": "Alice Liddell"})
    (entry,) = api.client.get("/users/bob/followers").json()["items"]
    assert (entry["username"], entry["display_name"]) == ("alice", "Alice Liddell")


@pytest.mark.parametrize(("count", "limit", "sizes"), [(7, 3, [3, 3, 1]), (6, 3, [3, 3]), (2, 5, [2]), (0, 20, [0])])
def test_pagination_walks_the_whole_list_once(
    api: Api, service: UserService, count: int, limit: int, sizes: list[int]
) -> None:
    create_user("star")
    fans = [f"fan_{i:02d}" for i in range(count)]
    for fan in fans:
        create_user(fan)
        service.follow(fan, "star")
    pages = api.all_pages("/users/star/followers", limit)
    assert [len(page) for page in pages] == sizes
    assert [e["username"] for page in pages for e in page] == fans[::-1]


def test_pagination_is_stable_when_new_follows_arrive_between_pages(api: Api, service: UserService) -> None:
    create_user("star")
    for fan in ("fanf1", "fanf2", "fanf3", "fanf4", "late"):
        create_user(fan)
    for fan in ("fanf1", "fanf2", "fanf3", "fanf4"):
        service.follow(fan, "star")
    first = api.client.get("/users/star/followers", params={"limit": 2}).json()
    service.follow("late", "star")  # newer than everything: belongs before the cursor
    second = api.client.get("/users/star/followers", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["username"] for e in first["items"] + second["items"]] == ["fanf4", "fanf3", "fanf2", "fanf1"]


def test_the_following_list_paginates_too(api: Api, service: UserService) -> None:
    create_user("fan")
    stars = [f"star_{i}" for i in range(5)]
    for star in stars:
        create_user(star)
        service.follow("fan", star)
    pages = api.all_pages("/users/fan/following", 2)
    assert [e["username"] for page in pages for e in page] == stars[::-1]


def test_a_tampered_or_foreign_cursor_is_a_400(api: Api, service: UserService) -> None:
    for name in ("star", "other", "fanf1", "fanf2", "fanf3"):
        create_user(name)
    for fan in ("fanf1", "fanf2", "fanf3"):
        service.follow(fan, "star")
        service.follow(fan, "other")
    service.follow("star", "fanf1")
    service.follow("star", "fanf2")
    cursor = api.client.get("/users/star/followers", params={"limit": 1}).json()["next_cursor"]
    assert cursor
    foreign = api.client.get("/users/other/followers", params={"limit": 1}).json()["next_cursor"]
    other_direction = api.client.get("/users/star/following", params={"limit": 1}).json()["next_cursor"]
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    position = service.follows.page("followers", "star", 1, None).last
    assert position is not None
    forged = encode_follow_cursor("followers", "other", position)  # a real position, labelled as another list
    for bad in (
        flipped,
        cursor + "A",
        cursor + "==",
        "garbage",
        "%%%",
        "x" * 5000,
        foreign,
        other_direction,
        forged,
    ):
        response = api.client.get("/users/star/followers", params={"limit": 1, "cursor": bad})
        assert_problem(response, 400, "invalid-cursor")
    # The genuine one still works.
    assert api.client.get("/users/star/followers", params={"limit": 1, "cursor": cursor}).status_code == 200
    # An empty one is no cursor: the first page.
    first = api.client.get("/users/star/followers", params={"limit": 1, "cursor": ""})
    assert first.json()["next_cursor"] == cursor


def test_limit_out_of_bounds_is_a_422(api: Api) -> None:
    api.user("star")
    for limit in ("0", "-1", "101", "1000000", "abc", "1.5", ""):
        for listing in ("followers", "following"):
            response = api.client.get(f"/users/star/{listing}", params={"limit": limit})
            assert response.status_code == 422, (limit, response.text)
            assert_problem(response, 422, "validation")


def test_limit_bounds_are_inclusive_and_default_to_20(api: Api, service: UserService) -> None:
    create_user("star")
    for i in range(25):
        create_user(f"fan_{i:02d}")
        service.follow(f"fan_{i:02d}", "star")
    assert len(api.client.get("/users/star/followers").json()["items"]) == 20
    assert len(api.client.get("/users/star/followers", params={"limit": 1}).json()["items"]) == 1
    assert len(api.client.get("/users/star/followers", params={"limit": 100}).json()["items"]) == 25


def test_the_lists_of_an_unknown_user_are_404(api: Api) -> None:
    for listing in ("followers", "following"):
        assert_problem(api.client.get(f"/users/nobody/{listing}"), 404, "user-not-found")


# --- concurrency -----------------------------------------------------------------------------


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's DynamoDB handle one request at a time, as DynamoDB's isolation guarantees.

    DynamoDB applies each request (a whole transaction included) atomically and in isolation.
    moto does not when called from several threads: `transact_write_items` deep-copies the
    table for its rollback while other threads write to it ("dictionary changed size during
    iteration"), and a rollback restores that copy over the others' commits. One lock per
    request gives back exactly the per-request guarantee and nothing more: the requests that
    make up one follow (read, transaction, read) still interleave freely with other follows'.
    """
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    call_action = DynamoHandler.call_action

    def one_at_a_time(self: DynamoHandler) -> Any:
        with lock:
            return call_action(self)

    monkeypatch.setattr(DynamoHandler, "call_action", one_at_a_time)


def test_concurrent_follows_from_many_users_count_exactly(
    atomic_dynamodb: None, accounts: SigningKey, event_bus: EventBus, dynamodb: "DynamoDBClient"
) -> None:
    create_user("star")
    fans = [f"fan_{i:02d}" for i in range(20)]
    for fan in fans:
        create_user(fan)
    service = UserService(AccountRepository(), FollowRepository(), event_publisher())
    with ThreadPoolExecutor(max_workers=8) as pool:
        states = list(pool.map(lambda fan: service.follow(fan, "star"), fans))
    assert all(state.following for state in states)
    star = service.profile("star")
    assert star.followers_count == edges_to(dynamodb, "star") == 20
    assert sorted(state.followers_count for state in states)[-1] == 20
    assert all(service.profile(fan).following_count == 1 for fan in fans)
    assert len(service.followers("star", limit=100).items) == 20
    assert sorted(followed(event_bus.received())) == [(fan, "star") for fan in fans]


def test_the_same_follow_sent_concurrently_counts_once(
    atomic_dynamodb: None, accounts: SigningKey, event_bus: EventBus, dynamodb: "DynamoDBClient"
) -> None:
    create_user("star")
    create_user("fan")
    service = UserService(AccountRepository(), FollowRepository(), event_publisher())
    with ThreadPoolExecutor(max_workers=10) as pool:
        states = list(pool.map(lambda _: service.follow("fan", "star"), range(10)))
    assert all(state == states[0] for state in states)
    assert service.profile("star").followers_count == edges_to(dynamodb, "star") == 1
    assert service.profile("fan").following_count == 1
    assert len(service.followers("star").items) == 1
    assert followed(event_bus.received()) == [("fan", "star")]


def test_concurrent_follows_and_unfollows_keep_counts_equal_to_edges(
    atomic_dynamodb: None, accounts: SigningKey, dynamodb: "DynamoDBClient"
) -> None:
    create_user("star")
    fans = [f"fan_{i:02d}" for i in range(10)]
    for fan in fans:
        create_user(fan)
    service = UserService(AccountRepository(), FollowRepository(), event_publisher())
    # Every fan follows, unfollows, follows and unfollows again, all interleaved across threads.
    actions = [(action, fan) for fan in fans for _ in range(2) for action in (service.follow, service.unfollow)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda call: call[0](call[1], "star"), actions))
    edges = edges_to(dynamodb, "star")
    assert service.profile("star").followers_count == edges
    assert len(service.followers("star", limit=100).items) == edges
    assert sum(service.profile(fan).following_count for fan in fans) == edges


# --- races and retries in the data layer ----------------------------------------------------


def cancelled(*codes: str) -> TransactWriteError:
    """What pynamodb raises when DynamoDB cancels a transaction for `codes` (one per item)."""
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
        "TransactWriteItems",
        {},
        cancellation_reasons=[CancellationReason(code=code) if code != "None" else None for code in codes],
    )
    return TransactWriteError("Failed to write transaction items", cause)


def test_conflicting_transactions_are_retried_with_backoff(
    accounts: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user("star")
    create_user("fan")
    pauses: list[float] = []
    repository = FollowRepository(sleep=pauses.append)
    real = connection().transact_write_items
    conflicts = iter([cancelled("None", "None", "None", "None", "TransactionConflict")] * 2)

    def flaky(*args: Any, **kwargs: Any) -> Any:
        error = next(conflicts, None)
        if error is not None:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(connection(), "transact_write_items", flaky)
    assert repository.follow("fan", "star", START) is True
    assert len(pauses) == 2
    assert all(0 <= pause <= 1 for pause in pauses)
    assert stored("star").followers_count == 1


def test_endless_conflicts_give_up_with_a_503(accounts: SigningKey, monkeypatch: pytest.MonkeyPatch) -> None:
    create_user("star")
    create_user("fan")
    pauses: list[float] = []
    repository = FollowRepository(max_attempts=3, sleep=pauses.append)

    def always(*args: Any, **kwargs: Any) -> Any:
        raise cancelled("None", "None", "None", "TransactionConflict", "None")

    monkeypatch.setattr(connection(), "transact_write_items", always)
    with pytest.raises(DependencyUnavailable):
        repository.follow("fan", "star", START)
    assert len(pauses) == 2  # no pause after the last attempt


def test_an_unfollow_racing_an_unfollow_and_refollow_removes_the_current_follow(
    accounts: SigningKey, dynamodb: "DynamoDBClient", monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge read by an unfollow is replaced before its transaction runs: it must not
    delete list entries of the old follow while leaving the new one's behind."""
    create_user("star")
    create_user("fan")
    repository, other = FollowRepository(), FollowRepository()
    repository.follow("fan", "star", START)
    read_edge = repository._edge
    raced = False

    def edge_then_race(follower: str, followee: str, consistent_read: bool) -> Any:
        nonlocal raced
        edge = read_edge(follower, followee, consistent_read)
        if not raced:
            raced = True
            assert other.unfollow("fan", "star")
            assert other.follow("fan", "star", START + timedelta(hours=1))
        return edge

    monkeypatch.setattr(repository, "_edge", edge_then_race)
    assert repository.unfollow("fan", "star") is True
    assert edges_to(dynamodb, "star") == 0
    assert repository.page("followers", "star", 10, None).entries == []
    assert repository.page("following", "fan", 10, None).entries == []
    assert stored("star").followers_count == 0
    assert stored("fan").following_count == 0


def test_users_service_works_with_only_its_own_table(accounts: SigningKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """The users Lambda is given the users table only (not auth's): it must not need it."""
    AccountRepository().create("u-own", "owntable", "own@example.com", password_hash="x")
    monkeypatch.delenv(table_env_var(Table.AUTH))
    forget_cached_aws()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        response = client.get("/users/owntable")
    assert response.status_code == 200, response.text
