"""Chat through the emulator's API Gateway WebSocket API, with real WebSocket clients.

The deployed CDK app's `$connect`/`$disconnect`/action routes run the chat Lambdas, which post
back through the `@connections` API: nothing is mocked between the sockets and DynamoDB.
"""

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import LocalPlatform
from tests.e2e.media import make_source, publish, wait_for

PASSWORD = "correct horse battery staple 42"
RECEIVE_TIMEOUT = 20.0


def _account(api: httpx.Client, username: str) -> str:
    email = f"{username}@example.com"
    signup = api.post("/auth/signup", json={"username": username, "email": email, "password": PASSWORD})
    assert signup.status_code == 201, signup.text
    login = api.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token: str = login.json()["access_token"]
    return token


@contextmanager
def _join(platform: LocalPlatform, channel: str, token: str | None = None) -> Iterator[ClientConnection]:
    query = {"channel": channel} | ({"token": token} if token else {})
    with connect(f"{platform.websocket_url}?{urlencode(query)}", open_timeout=30) as ws:
        yield ws


def _send(ws: ClientConnection, **frame: Any) -> None:
    ws.send(json.dumps(frame))


def _next(ws: ClientConnection, event_type: str, **match: Any) -> dict[str, Any]:
    """The next event of `event_type` (whose fields equal `match`), skipping others."""
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        event: dict[str, Any] = json.loads(ws.recv(timeout=left))
        if event.get("type") == event_type and all(event.get(key) == value for key, value in match.items()):
            return event
    raise AssertionError(f"no {event_type} event {match} within {RECEIVE_TIMEOUT} s")


def _joined(ws: ClientConnection) -> dict[str, Any]:
    _send(ws, action="history")
    return _next(ws, "history")


@pytest.fixture(scope="module")
def people(platform: LocalPlatform) -> dict[str, str]:
    """A channel owner and two chatters: username → access token."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.deployment.http_api_url, timeout=30) as api:
        return {name: _account(api, name) for name in (f"host_{suffix}", f"ann_{suffix}", f"ben_{suffix}")}


def test_viewers_and_a_chatter_see_the_same_message_anonymous_cannot_send(
    platform: LocalPlatform, people: dict[str, str]
) -> None:
    host, ann, ben = people
    with (
        _join(platform, host) as anonymous,
        _join(platform, host, people[ben]) as viewer,
        _join(platform, host, people[ann]) as chatter,
    ):
        assert _joined(anonymous)["you"] == {"user": None, "can_send": False, "moderator": False, "owner": False}
        assert _joined(viewer)["you"]["can_send"] is True
        _joined(chatter)

        _send(chatter, action="send", text="  hello\u202e from\x00 ann  ", nonce="n-1")
        seen = [_next(ws, "message", user=ann) for ws in (anonymous, viewer, chatter)]
        assert {event["id"] for event in seen} == {seen[0]["id"]}
        assert seen[0]["text"] == "hello from ann"
        assert seen[0]["display_name"] == ann
        assert seen[0]["badges"] == []

        _send(anonymous, action="send", text="me too")
        assert _next(anonymous, "notice")["code"] == "anonymous"
        _send(chatter, action="send", text="x" * 501)
        assert _next(chatter, "notice")["code"] == "too-long"
        _send(chatter, action="nonsense")
        assert _next(chatter, "notice")["code"] == "invalid"
        chatter.send("{not json")
        assert _next(chatter, "notice")["code"] == "invalid"
        _send(viewer, action="ping")
        _next(viewer, "pong")

        # A late joiner gets the history.
        with _join(platform, host) as late:
            assert [message["id"] for message in _joined(late)["messages"]] == [seen[0]["id"]]


def test_moderation_ban_timeout_delete_and_slow_mode(platform: LocalPlatform, people: dict[str, str]) -> None:
    host, ann, ben = people
    with (
        _join(platform, host, people[host]) as owner,
        _join(platform, host, people[ann]) as chatter,
        _join(platform, host, people[ben]) as other,
    ):
        assert _joined(owner)["you"] == {"user": host, "can_send": True, "moderator": True, "owner": True}
        _joined(chatter)
        _joined(other)

        # Only moderators moderate.
        _send(other, action="ban", user=ann)
        assert _next(other, "notice")["code"] == "forbidden"

        _send(owner, action="ban", user=ann)
        _next(chatter, "system", kind="banned")
        _send(chatter, action="send", text="let me in")
        assert _next(chatter, "notice")["code"] == "banned"
        _send(owner, action="unban", user=ann)
        _next(chatter, "system", kind="unbanned")

        _send(owner, action="timeout", user=ann, seconds=60)
        _next(chatter, "system", kind="timed-out")
        _send(chatter, action="send", text="still here?")
        notice = _next(chatter, "notice")
        assert notice["code"] == "timed-out"
        assert 0 < notice["retry_after_seconds"] <= 60
        _send(owner, action="unban", user=ann)
        _next(chatter, "system", kind="unbanned")

        # A message deleted by a moderator disappears for everyone.
        _send(chatter, action="send", text="regrettable")
        message = _next(other, "message", user=ann)
        _send(owner, action="mod", user=ben)
        assert _next(owner, "notice")["code"] == "done"
        _send(other, action="delete", message_id=message["id"])
        assert _next(chatter, "deleted")["id"] == message["id"]
        assert _next(owner, "deleted")["id"] == message["id"]

        # Slow mode: announced to the room; a second message inside the window is refused.
        _send(other, action="slow", seconds=30)
        assert _next(chatter, "system", kind="slow-mode")["data"] == {"seconds": 30}
        _send(chatter, action="send", text="first")
        _next(owner, "message", text="first")
        _send(chatter, action="send", text="second")
        notice = _next(chatter, "notice")
        assert notice["code"] == "slow-mode"
        assert 0 < notice["retry_after_seconds"] <= 30
        _send(owner, action="slow", seconds=0)
        _next(chatter, "system", kind="slow-mode")


def test_unknown_channel_and_bad_token_are_refused(platform: LocalPlatform, people: dict[str, str]) -> None:
    host = next(iter(people))
    for channel, token in ((f"nobody_{uuid.uuid4().hex[:8]}", None), (host, "not-a-token")):
        with pytest.raises(InvalidStatus), _join(platform, channel, token):
            pass


def test_a_closed_client_leaves_the_room(platform: LocalPlatform, people: dict[str, str]) -> None:
    host = next(iter(people))
    bearer = {"authorization": f"Bearer {people[host]}"}
    with httpx.Client(base_url=platform.deployment.http_api_url, timeout=30) as api:

        def viewers() -> int:
            response = api.get(f"/chat/{host}/settings", headers=bearer)
            assert response.status_code == 200, response.text
            count: int = response.json()["viewers"]
            return count

        # The earlier tests' sockets may still be leaving ($disconnect runs after the close).
        deadline = time.monotonic() + RECEIVE_TIMEOUT
        while (before := viewers()) != 0:
            assert time.monotonic() < deadline, "the earlier tests' connections are still in the room"
            time.sleep(0.2)
        with _join(platform, host) as viewer:
            _joined(viewer)
            assert viewers() == before + 1
        deadline = time.monotonic() + RECEIVE_TIMEOUT
        while viewers() != before:
            assert time.monotonic() < deadline, "the closed connection is still in the room"
            time.sleep(0.2)


def test_a_live_channel_tells_its_room_and_counts_its_viewers(
    platform: LocalPlatform, people: dict[str, str], tmp_path: Path
) -> None:
    """`StreamStarted`/`StreamEnded` reach the room as `system` lines (bus → chat events Lambda),
    and the room's connections become the directory's viewer count (bus → streams Lambda)."""
    host = next(iter(people))
    bearer = {"authorization": f"Bearer {people[host]}"}
    source = make_source(tmp_path, 360, 12)
    with httpx.Client(base_url=platform.deployment.http_api_url, timeout=30) as api, _join(platform, host) as viewer:
        _joined(viewer)
        key = api.post("/streams/me/key", headers=bearer)
        assert key.status_code in (200, 201), key.text
        publisher = publish(source, f"{platform.rtmp_url}/{key.json()['stream_key']}")
        try:
            _next(viewer, "system", kind="stream-started")

            def counted() -> bool:
                live = api.get("/streams/live").json()["items"]
                return any(item["username"] == host and item["viewer_count"] >= 1 for item in live)

            wait_for(counted, RECEIVE_TIMEOUT, "the viewer count in the live directory")
            assert publisher.wait(timeout=60) == 0
            _next(viewer, "system", kind="stream-ended")
        finally:
            publisher.kill()
