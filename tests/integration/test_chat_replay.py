"""A VOD's chat replay against moto (issue 16, part 4): `VodReady` keeps the broadcast's messages
as long as the VOD, `GET /vods/{id}/chat` reads them by time; deleted messages and banned users'
messages are left out.

Messages are stored through the chat table's repository at chosen times (as the chat service
stores what a chatter sends); the VOD is recorded by `VodService` as the ingest worker does, its
`VodReady` taken off the bus and handed to the chat's event consumer as EventBridge would."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.chat import events as chat_events
from functions.vods.app import create_app
from letslive.constants import Table
from letslive.data.chat import MESSAGE_TTL, ChatRepository, MessageItem, room_pk
from letslive.data.tables import bind
from letslive.models.chat import Ban, ChatMessage
from letslive.services.chat.replay import REPLAY_LIMIT_MAX
from letslive.services.chat.rooms import new_message_id
from letslive.services.tokens import SigningKey
from tests.integration.conftest import EventBus
from tests.integration.test_health_api import LambdaContext
from tests.integration.test_vods_api import RUNGS, auth, broadcast, recorder
from tests.support.problems import assert_problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

CHANNEL = "alice"


@pytest.fixture
def client(accounts: SigningKey) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def _fresh_event_consumer() -> Iterator[None]:
    chat_events._keeper.cache_clear()
    yield
    chat_events._keeper.cache_clear()


def say(at: datetime, user: str, text: str, channel: str = CHANNEL) -> ChatMessage:
    message = ChatMessage(id=new_message_id(at), user=user, display_name=user.title(), badges=[], text=text, ts=at)
    ChatRepository().save_message(channel, message, None)
    return message


def expiry(message: ChatMessage, channel: str = CHANNEL) -> datetime | None:
    item = bind(MessageItem, Table.CHAT).get(room_pk(channel), f"MSG#{message.id}")
    expires_at: datetime | None = item.expires_at
    return expires_at


def week(message: ChatMessage) -> datetime:
    """The chat's own expiry of `message` (a TTL is whole seconds)."""
    return (message.ts + MESSAGE_TTL).replace(microsecond=0)


def deliver(event_bus: EventBus, detail_type: str) -> None:
    """Hand the bus's events of `detail_type` to the chat's consumer, as EventBridge does."""
    for event in event_bus.received():
        if event["detail-type"] == detail_type:
            chat_events.handler({**event, "id": uuid.uuid4().hex}, LambdaContext("letslive-chat-events"))


def replay(client: TestClient, vod_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/vods/{vod_id}/chat", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def texts(body: dict[str, Any]) -> list[str]:
    return [item["text"] for item in body["items"]]


@pytest.fixture
def vod(client: TestClient, event_bus: EventBus) -> tuple[str, datetime, list[ChatMessage]]:
    """A broadcast that started 10 minutes ago with chat before, during and after it, recorded
    now as a VOD whose `VodReady` the chat consumer has handled: (vod id, start, messages)."""
    start = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    before = say(start - timedelta(seconds=30), "bob", "before the stream")
    during = [
        say(start + timedelta(seconds=1), "bob", "first!"),
        say(start + timedelta(seconds=61, milliseconds=500), "carol", "a minute in"),
        say(start + timedelta(seconds=125), "bob", "two minutes in"),
    ]
    elsewhere = say(start + timedelta(seconds=5), "bob", "in another room", channel="dave")
    b = broadcast(CHANNEL, start)
    vod_id = recorder().record_vod(b, 590.0, RUNGS, f"broadcasts/{b.broadcast_id}/vod.m3u8", None).vod_id
    assert [expiry(m) for m in during] == [week(m) for m in during]  # the chat's own week
    deliver(event_bus, "VodReady")
    vod_expires = datetime.fromisoformat(client.get(f"/vods/{vod_id}").json()["expires_at"])
    assert [expiry(m) for m in during] == [vod_expires] * 3
    assert expiry(before) == week(before)  # not the broadcast's
    assert expiry(elsewhere, "dave") == week(elsewhere)  # not the channel's
    return vod_id, start, during


def test_a_vods_chat_is_kept_as_long_as_the_vod_and_replayed_in_order_with_offsets(
    client: TestClient, vod: tuple[str, datetime, list[ChatMessage]]
) -> None:
    vod_id, start, during = vod
    body = replay(client, vod_id)
    assert texts(body) == ["first!", "a minute in", "two minutes in"]
    assert [item["offset_seconds"] for item in body["items"]] == [1.0, 61.5, 125.0]
    first = body["items"][0]
    assert first == {
        "id": during[0].id,
        "user": "bob",
        "display_name": "Bob",
        "badges": [],
        "text": "first!",
        "ts": first["ts"],
        "offset_seconds": 1.0,
    }
    assert datetime.fromisoformat(first["ts"]) == start + timedelta(seconds=1)
    assert body["next_cursor"] is None


def test_a_window_is_from_inclusive_to_exclusive_in_seconds_of_the_vod(
    client: TestClient, vod: tuple[str, datetime, list[ChatMessage]]
) -> None:
    vod_id, _, _ = vod
    assert texts(replay(client, vod_id, **{"from": 61.5})) == ["a minute in", "two minutes in"]
    assert texts(replay(client, vod_id, **{"from": 0, "to": 61.5})) == ["first!"]
    assert texts(replay(client, vod_id, **{"from": 60, "to": 120})) == ["a minute in"]
    assert texts(replay(client, vod_id, **{"from": 3600})) == []
    # A window with nothing in it: an empty page, not an error (no schema can say `to` > `from`).
    assert replay(client, vod_id, **{"from": 60, "to": 60}) == {"items": [], "next_cursor": None}
    assert replay(client, vod_id, **{"from": 60, "to": 30}) == {"items": [], "next_cursor": None}
    assert texts(replay(client, vod_id, **{"from": 0, "to": 10_000_000})) == ["first!", "a minute in", "two minutes in"]


def test_pages_follow_each_other_with_the_cursor(
    client: TestClient, vod: tuple[str, datetime, list[ChatMessage]]
) -> None:
    vod_id, _, _ = vod
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    for _ in range(5):
        body = replay(client, vod_id, **params)
        seen += texts(body)
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == ["first!", "a minute in", "two minutes in"]
    assert body["next_cursor"] is None


def test_deleted_messages_and_banned_users_are_left_out_timeouts_are_not(
    client: TestClient, vod: tuple[str, datetime, list[ChatMessage]]
) -> None:
    vod_id, _, during = vod
    rooms = ChatRepository()
    assert rooms.delete_message(CHANNEL, during[0].id)
    now = datetime.now(UTC)
    rooms.ban(Ban(channel=CHANNEL, user="bob", by=CHANNEL, at=now, until=now + timedelta(minutes=10)))  # a timeout
    assert texts(replay(client, vod_id)) == ["a minute in", "two minutes in"]
    rooms.ban(Ban(channel=CHANNEL, user="bob", by=CHANNEL, at=now))  # a ban, after the broadcast
    assert texts(replay(client, vod_id)) == ["a minute in"]
    rooms.unban(CHANNEL, "bob")
    assert texts(replay(client, vod_id)) == ["a minute in", "two minutes in"]


def test_a_vod_keeps_its_chat_once_however_often_vod_ready_comes(
    client: TestClient, event_bus: EventBus, vod: tuple[str, datetime, list[ChatMessage]]
) -> None:
    vod_id, _, during = vod
    ChatRepository().delete_message(CHANNEL, during[1].id)
    deliver(event_bus, "VodReady")  # at-least-once delivery: again
    assert texts(replay(client, vod_id)) == ["first!", "two minutes in"]  # the deleted one stays deleted
    assert ChatRepository().message(CHANNEL, during[1].id) is None


def test_a_deleted_vods_chat_is_gone_with_it(
    client: TestClient, accounts: SigningKey, vod: tuple[str, datetime, list[ChatMessage]]
) -> None:
    vod_id, _, _ = vod
    assert client.delete(f"/vods/{vod_id}", headers=auth(accounts, CHANNEL)).status_code == 204
    assert_problem(client.get(f"/vods/{vod_id}/chat"), 404, "vod-not-found")


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from": -1}, 422, "validation"),
        ({"to": 0}, 422, "validation"),
        ({"to": "inf"}, 422, "validation"),
        ({"from": "nan"}, 422, "validation"),
        ({"from": 10_000_001}, 422, "validation"),
        ({"limit": 0}, 422, "validation"),
        ({"limit": REPLAY_LIMIT_MAX + 1}, 422, "validation"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, 400, "invalid-cursor"),
    ],
)
def test_bad_windows_limits_and_cursors_get_a_clear_problem(
    client: TestClient, vod: tuple[str, datetime, list[ChatMessage]], params: dict[str, Any], status: int, code: str
) -> None:
    vod_id, _, _ = vod
    assert_problem(client.get(f"/vods/{vod_id}/chat", params=params), status, code)


def test_a_cursor_of_another_vods_replay_is_refused(client: TestClient, event_bus: EventBus) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    ids = []
    for _ in range(2):
        say(start + timedelta(seconds=1), "bob", "hi")
        say(start + timedelta(seconds=2), "bob", "again")
        b = broadcast(CHANNEL, start)
        ids.append(recorder().record_vod(b, 60.0, RUNGS, f"broadcasts/{b.broadcast_id}/vod.m3u8", None).vod_id)
    cursor = replay(client, ids[0], limit=1)["next_cursor"]
    assert cursor is not None
    assert_problem(client.get(f"/vods/{ids[1]}/chat", params={"cursor": cursor}), 400, "invalid-cursor")


def test_no_such_vod_is_a_404(client: TestClient) -> None:
    assert_problem(client.get(f"/vods/{uuid.uuid4().hex}/chat"), 404, "vod-not-found")
    assert client.get("/vods/not-a-vod/chat").status_code == 404
