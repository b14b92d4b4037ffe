"""A clip's chat replay against moto (issue 16, parts 1 and 4): `ClipCreated` holds the messages
of the clip's window (no expiry) so the clip's replay outlives its VOD; `ClipDeleted` lets them
expire again, as their VOD's or after the chat's week, unless another clip holds them; the
replay (`GET /clips/{id}/chat`) counts offsets from the clip's start and leaves deleted messages
and banned users out. The events are taken off the bus and handed to the chat's consumer as
EventBridge would."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.chat import events as chat_events
from functions.vods.app import create_app
from letslive.data.chat import ChatRepository
from letslive.models.chat import Ban, ChatMessage
from letslive.models.streams import Broadcast
from letslive.services.streams import stream_service
from letslive.services.tokens import SigningKey
from tests.integration.conftest import EventBus
from tests.integration.test_chat_replay import deliver, expiry, say, texts, week
from tests.integration.test_clips_api import end_with_vod, made, record
from tests.integration.test_health_api import LambdaContext
from tests.integration.test_vods_api import auth
from tests.support.problems import assert_problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def client(accounts: SigningKey, media_bucket: str, event_bus: EventBus) -> Iterator[TestClient]:
    chat_events._keeper.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client
    chat_events._keeper.cache_clear()


@pytest.fixture
def live(client: TestClient, event_bus: EventBus) -> tuple[Broadcast, list[ChatMessage], ChatMessage]:
    """alice live since a minute ago, 40 s recorded, with chat at 12, 15.5, 25 and 35 s, and a
    message in another room."""
    streams = stream_service()
    grant = streams.authorize_publish(streams.create_key("alice").stream_key)
    assert grant is not None
    broadcast = streams.start_broadcast(grant, datetime.now(UTC) - timedelta(minutes=1))
    record(broadcast, 40)
    at = broadcast.started_at
    said = [
        say(at + timedelta(seconds=12), "bob", "at 12"),
        say(at + timedelta(seconds=15.5), "carol", "at 15.5"),
        say(at + timedelta(seconds=25), "bob", "at 25"),
        say(at + timedelta(seconds=35), "carol", "at 35"),
    ]
    elsewhere = say(at + timedelta(seconds=15), "bob", "in another room", channel="dave")
    event_bus.received()  # what going live published
    return broadcast, said, elsewhere


def clip_chat(client: TestClient, clip_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/clips/{clip_id}/chat", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_clip_keeps_its_chat_after_its_vod_and_lets_it_go_when_deleted(
    client: TestClient, accounts: SigningKey, event_bus: EventBus,
    live: tuple[Broadcast, list[ChatMessage], ChatMessage],
) -> None:  # fmt: skip
    broadcast, said, elsewhere = live
    first = made(client, accounts, "bob", broadcast_id=broadcast.broadcast_id, start_seconds=10, seconds=10)
    deliver(event_bus, "ClipCreated")
    assert [expiry(m) for m in said] == [None, None, week(said[2]), week(said[3])]  # held: no expiry
    assert expiry(elsewhere, "dave") == week(elsewhere)

    body = clip_chat(client, first["clip_id"])
    assert texts(body) == ["at 12", "at 15.5"]
    assert [item["offset_seconds"] for item in body["items"]] == [2.0, 5.5]  # from the clip's start
    assert texts(clip_chat(client, first["clip_id"], **{"from": 3})) == ["at 15.5"]

    # The VOD keeps the rest; what a clip holds stays without expiry.
    end_with_vod(broadcast)
    deliver(event_bus, "VodReady")
    vod_expires = datetime.fromisoformat(client.get(f"/vods/{broadcast.broadcast_id}").json()["expires_at"])
    assert [expiry(m) for m in said] == [None, None, vod_expires, vod_expires]

    # A second clip overlapping the first holds 15.5 too.
    second = made(client, accounts, "carol", broadcast_id=broadcast.broadcast_id, start_seconds=14, seconds=12)
    deliver(event_bus, "ClipCreated")
    assert texts(clip_chat(client, second["clip_id"])) == ["at 15.5", "at 25"]
    assert [expiry(m) for m in said] == [None, None, None, vod_expires]

    # The VOD is deleted: its replay goes, the clips' stay.
    assert client.delete(f"/vods/{broadcast.broadcast_id}", headers=auth(accounts, "alice")).status_code == 204
    assert_problem(client.get(f"/vods/{broadcast.broadcast_id}/chat"), 404, "vod-not-found")
    assert texts(clip_chat(client, first["clip_id"])) == ["at 12", "at 15.5"]

    # The first clip is deleted: 12 expires again after the chat's week (no VOD left to keep
    # it); 15.5 stays, the second clip holds it.
    assert client.delete(f"/clips/{first['clip_id']}", headers=auth(accounts, "bob")).status_code == 204
    deliver(event_bus, "ClipDeleted")
    assert [expiry(m) for m in said] == [week(said[0]), None, None, vod_expires]
    assert_problem(client.get(f"/clips/{first['clip_id']}/chat"), 404, "clip-not-found")
    assert texts(clip_chat(client, second["clip_id"])) == ["at 15.5", "at 25"]

    assert client.delete(f"/clips/{second['clip_id']}", headers=auth(accounts, "carol")).status_code == 204
    deliver(event_bus, "ClipDeleted")
    deliver(event_bus, "ClipDeleted")  # at-least-once delivery: again changes nothing
    # Their VOD is gone: the chat's week.
    assert [expiry(m) for m in said[:3]] == [week(said[0]), week(said[1]), week(said[2])]


def test_a_clip_deleted_while_its_vod_is_kept_leaves_its_chat_to_the_vod(
    client: TestClient, accounts: SigningKey, event_bus: EventBus,
    live: tuple[Broadcast, list[ChatMessage], ChatMessage],
) -> None:  # fmt: skip
    broadcast, said, _ = live
    end_with_vod(broadcast)
    deliver(event_bus, "VodReady")
    vod_expires = datetime.fromisoformat(client.get(f"/vods/{broadcast.broadcast_id}").json()["expires_at"])
    clip = made(client, accounts, "bob", broadcast_id=broadcast.broadcast_id, start_seconds=20, seconds=20)
    deliver(event_bus, "ClipCreated")
    deliver(event_bus, "ClipCreated")  # again: still held once
    assert [expiry(m) for m in said] == [vod_expires, vod_expires, None, None]
    assert client.delete(f"/clips/{clip['clip_id']}", headers=auth(accounts, "bob")).status_code == 204
    deliver(event_bus, "ClipDeleted")
    assert [expiry(m) for m in said] == [vod_expires] * 4


def test_a_release_delivered_before_its_hold_leaves_nothing_held(
    client: TestClient, accounts: SigningKey, event_bus: EventBus,
    live: tuple[Broadcast, list[ChatMessage], ChatMessage],
) -> None:  # fmt: skip
    """EventBridge does not order events: a clip deleted at once may have its `ClipDeleted`
    handled first. Its late `ClipCreated` then holds nothing (the release is remembered)."""
    broadcast, said, _ = live
    clip = made(client, accounts, "bob", broadcast_id=broadcast.broadcast_id, start_seconds=10, seconds=10)
    assert client.delete(f"/clips/{clip['clip_id']}", headers=auth(accounts, "bob")).status_code == 204
    events = {e["detail-type"]: e for e in event_bus.received()}
    context = LambdaContext("letslive-chat-events")
    chat_events.handler({**events["ClipDeleted"], "id": uuid.uuid4().hex}, context)
    chat_events.handler({**events["ClipCreated"], "id": uuid.uuid4().hex}, context)
    assert [expiry(m) for m in said] == [week(m) for m in said]


def test_a_clips_replay_leaves_out_deleted_messages_and_banned_users(
    client: TestClient, accounts: SigningKey, event_bus: EventBus,
    live: tuple[Broadcast, list[ChatMessage], ChatMessage],
) -> None:  # fmt: skip
    broadcast, said, _ = live
    clip = made(client, accounts, "bob", broadcast_id=broadcast.broadcast_id, start_seconds=10, seconds=30)
    deliver(event_bus, "ClipCreated")
    assert texts(clip_chat(client, clip["clip_id"])) == ["at 12", "at 15.5", "at 25", "at 35"]
    rooms = ChatRepository()
    assert rooms.delete_message("alice", said[1].id)
    rooms.ban(Ban(channel="alice", user="bob", by="alice", at=broadcast.started_at))
    assert texts(clip_chat(client, clip["clip_id"])) == ["at 35"]
    pages: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    rooms.unban("alice", "bob")
    while True:
        body = clip_chat(client, clip["clip_id"], **params)
        pages += texts(body)
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert pages == ["at 12", "at 25", "at 35"]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/clips/0123456789abcdef/chat", {}, 404, "clip-not-found"),
        ("/clips/{clip}/chat", {"from": -1}, 422, "validation"),
        ("/clips/{clip}/chat", {"from": 61}, 422, "validation"),
        ("/clips/{clip}/chat", {"to": 0}, 422, "validation"),
        ("/clips/{clip}/chat", {"cursor": "x"}, 400, "invalid-cursor"),
    ],
)
def test_a_bad_clip_replay_request_is_refused_clearly(
    client: TestClient, accounts: SigningKey, event_bus: EventBus,
    live: tuple[Broadcast, list[ChatMessage], ChatMessage],
    path: str, params: dict[str, Any], status: int, code: str,
) -> None:  # fmt: skip
    broadcast, _, _ = live
    clip = made(client, accounts, "bob", broadcast_id=broadcast.broadcast_id, start_seconds=10, seconds=10)
    assert_problem(client.get(path.format(clip=clip["clip_id"]), params=params), status, code)
