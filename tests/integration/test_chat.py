"""Live chat against moto, through the real WebSocket Lambda handlers (`$connect`, the action
routes, `$disconnect`): who may join, what every connection received, the message rules,
throttles, idempotency, moderation and history.

Each client is a `Socket`: what it sends goes through `functions.chat.websocket.message` as an
API Gateway WebSocket event; what it received is read back from moto's `@connections` API. The
service's clock is the test's (`chat.clock`). `alice` owns the channel everyone chats in.
"""

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest

import functions.chat.websocket
from letslive.constants import ENV_PREFIX, Table
from letslive.data.chat import ChatRepository, ConnectionRepository
from letslive.models.chat import FRAME_MAX_BYTES, HISTORY_SIZE, TEXT_MAX, ChatMessage
from letslive.services.chat import ChatLimits
from letslive.services.chat.rooms import SLOT_GRACE, new_message_id
from letslive.services.tokens import AccessTokenIssuer, generate_signing_key
from letslive.settings import get_settings, reset_settings
from tests.integration.chat_support import (
    ChatRoom,
    Frame,
    Socket,
    connect_event,
    context,
    drain,
    message_event,
    messages,
    new_connection_id,
    posted,
)
from tests.integration.conftest import REGION, ChatEnv
from tests.support.clocks import DateClock

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The handlers publish a metric on refusals only; Powertools warns about every other call.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

CHANNEL = "alice"


def stored_connections(channel: str = CHANNEL) -> set[str]:
    client: DynamoDBClient = boto3.client("dynamodb", region_name=REGION)
    items = client.query(
        TableName=get_settings().table_name(Table.CONNECTIONS),
        KeyConditionExpression="pk = :channel",
        ExpressionAttributeValues={":channel": {"S": channel}},
    )["Items"]
    return {item["sk"]["S"] for item in items}


def iso(chat: ChatRoom) -> str:
    return chat.clock.now.isoformat().replace("+00:00", "Z")


def assert_message(frame: Frame, chat: ChatRoom, user: str, text: str, badges: list[str] | None = None) -> None:
    assert frame["type"] == "message", frame
    assert set(frame) == {"type", "id", "user", "display_name", "badges", "text", "ts"}
    assert frame["user"] == user
    assert frame["display_name"] == user.capitalize()  # the account's display name, not the handle
    assert frame["badges"] == (badges or [])
    assert frame["text"] == text
    assert frame["ts"] == iso(chat)
    assert len(frame["id"]) == 27


def assert_notice(socket: Socket, code: str, retry_after: int | None = None) -> Frame:
    notice = socket.notice()
    assert notice["code"] == code, notice
    assert notice["retry_after_seconds"] == retry_after, notice
    assert notice["text"]
    return notice


def history(socket: Socket) -> Frame:
    socket.send("history")
    frame = socket.only()
    assert frame["type"] == "history", frame
    return frame


def mod(chat: ChatRoom, owner: Socket, *users: str) -> None:
    owner.inbox()
    for user in users:
        owner.send("mod", user=user)
        assert_notice(owner, "done")


# --- joining ----------------------------------------------------------------------------------


def test_an_anonymous_viewer_reads_the_chat_but_cannot_send(chat: ChatRoom) -> None:
    viewer = chat.join(CHANNEL)
    bob = chat.join(CHANNEL, "bob")
    assert viewer.connection_id in stored_connections()

    bob.say("hi viewers")
    assert_message(viewer.only(), chat, "bob", "hi viewers")
    bob.inbox()

    viewer.say("let me in")
    notice = assert_notice(viewer, "anonymous")
    assert "log in" in notice["text"]
    assert bob.inbox() == []

    you = history(viewer)["you"]
    assert you == {"user": None, "can_send": False, "moderator": False, "owner": False}


def test_a_channel_name_is_matched_in_any_case(chat: ChatRoom) -> None:
    bob = chat.join("ALICE", "bob")
    carol = chat.join("Alice", "carol")
    bob.say("same room")
    assert_message(carol.only(), chat, "bob", "same room")
    assert stored_connections() == {bob.connection_id, carol.connection_id}


@pytest.mark.parametrize("channel", ["nobody", "no_such_channel", "bad name!", "ab", "", None, "a" * 26])
def test_an_unknown_channel_is_refused_with_404(chat: ChatRoom, channel: str | None) -> None:
    status, socket = chat.open(channel, "bob")
    assert status == 404
    assert stored_connections() == set()
    assert stored_connections("nobody") == set()
    assert socket.frames() == []


def test_an_invalid_token_is_refused_with_401_not_downgraded(chat: ChatRoom) -> None:
    settings = get_settings()
    stranger = AccessTokenIssuer(generate_signing_key(), settings.jwt_issuer, settings.jwt_audience, 900)
    an_hour_ago = chat.clock.timestamp() - 3600
    expired = AccessTokenIssuer(chat.keys, settings.jwt_issuer, settings.jwt_audience, 900, clock=lambda: an_hour_ago)
    tokens = {
        "garbage": "not-a-jwt",
        "expired": expired.issue("u1", "bob"),
        "another key": stranger.issue("u1", "bob"),
        "another audience": AccessTokenIssuer(chat.keys, settings.jwt_issuer, "elsewhere", 900).issue("u1", "bob"),
        "tampered": chat.token("bob")[:-4] + "AAAA",
    }
    for name, token in tokens.items():
        status, _ = chat.open(CHANNEL, token=token)
        assert status == 401, name
    assert stored_connections() == set()


def test_a_connection_without_a_query_string_is_refused(chat: ChatRoom) -> None:
    connection_id = new_connection_id()
    response = functions.chat.websocket.connect(connect_event(connection_id, None), context("connect"))
    assert response == {"statusCode": 404}
    assert stored_connections() == set()


# --- messages ---------------------------------------------------------------------------------


def test_a_message_reaches_every_connection_of_the_room_and_no_other(chat: ChatRoom) -> None:
    viewer = chat.join(CHANNEL)
    carol = chat.join(CHANNEL, "carol")
    bob = chat.join(CHANNEL, "bob")
    elsewhere = chat.join("dave", "erin")

    bob.say("Hello chat")

    frames = [viewer.only(), carol.only(), bob.only()]
    for frame in frames:
        assert_message(frame, chat, "bob", "Hello chat")
    assert frames[0] == frames[1] == frames[2]
    assert elsewhere.frames() == []


def test_the_owner_wears_the_broadcaster_badge_and_a_moderator_the_moderator_badge(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)

    alice.say("welcome")
    assert_message(viewer.only(), chat, "alice", "welcome", ["broadcaster"])
    bob.say("before")
    assert_message(viewer.only(), chat, "bob", "before", [])

    mod(chat, alice, "bob")
    assert viewer.inbox() == []  # a new moderator is told to the owner only
    bob.say("after")
    assert_message(viewer.only(), chat, "bob", "after", ["moderator"])

    alice.inbox()
    alice.send("unmod", user="bob")
    assert_notice(alice, "done")
    bob.say("demoted")
    assert_message(viewer.only(), chat, "bob", "demoted", [])


def test_a_display_name_is_the_accounts_at_connect_time(chat: ChatRoom) -> None:
    viewer = chat.join(CHANNEL)
    erin = chat.join(CHANNEL, "erin")
    erin.say("hey")
    frame = viewer.only()
    assert (frame["user"], frame["display_name"]) == ("erin", "Erin")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("     ", "empty"),
        ("\n\t \r\n", "empty"),
        ("\x00\x1b\u202e\u2066", "empty"),
        ("x" * (TEXT_MAX + 1), "too-long"),
        (" " + "y" * (TEXT_MAX + 1) + " ", "too-long"),
        ("z" * (4 * TEXT_MAX + 1), "too-long"),
    ],
)
def test_text_limits_are_applied_after_cleaning(chat: ChatRoom, text: str, code: str) -> None:
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    bob.say(text)
    assert_notice(bob, code)
    assert viewer.frames() == []
    assert history(viewer)["messages"] == []


def test_a_message_of_exactly_500_characters_is_delivered_whole(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    text = "\U0001f600" + "a" * (TEXT_MAX - 2) + "\u00e9"  # characters, not bytes
    bob.say(f"  {text}\n")
    assert_message(viewer.only(), chat, "bob", text)
    # NFC: 500 shown characters that arrive decomposed are still 500.
    bob.say("e\u0301" * TEXT_MAX)
    assert viewer.only()["text"] == "\u00e9" * TEXT_MAX


def test_others_see_the_cleaned_text(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    bob.say("hi\x00there\x1b[2J  \u202etxt.exe\r\nbye \U0001f469\u200d\U0001f4bb")
    frame = viewer.only()
    assert frame["text"] == "hi there [2J txt.exe bye \U0001f469\u200d\U0001f4bb"
    assert history(viewer)["messages"][0]["text"] == frame["text"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"action": "send", "text": "' + "x" * FRAME_MAX_BYTES + '"}', "too-long"),
        (json.dumps({"action": "ping", "pad": "\u00e9" * (FRAME_MAX_BYTES // 2)}), "too-long"),
        ("this is not json", "invalid"),
        ('{"action": "send", "text": ', "invalid"),
        ("", "invalid"),
        ("[1, 2, 3]", "invalid"),
        ('{"action": "shout", "text": "HI"}', "invalid"),
        ('{"text": "no action"}', "invalid"),
        ('{"action": "send", "text": "hi", "user": "alice"}', "invalid"),
        ('{"action": "send", "text": 42}', "invalid"),
        ('{"action": "timeout", "user": "carol", "seconds": 0}', "invalid"),
        ('{"action": "ban", "user": "carol; drop table"}', "invalid"),
    ],
)
def test_a_frame_that_is_not_a_chat_action_gets_a_notice_and_reaches_nobody(
    chat: ChatRoom, body: str, code: str
) -> None:
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    bob.send_raw(body)  # always 200: a frame never fails the function
    assert_notice(bob, code)
    assert viewer.frames() == []


def test_a_frame_from_a_connection_the_room_does_not_know_is_unavailable(chat: ChatRoom) -> None:
    ghost = Socket(chat, new_connection_id(), "bob")
    ghost.say("boo")
    assert_notice(ghost, "unavailable")


# --- throttles --------------------------------------------------------------------------------


def test_a_burst_of_three_then_rate_limited_until_a_token_is_back(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    for n in range(3):
        bob.say(f"burst {n}")
    assert [frame["text"] for frame in viewer.inbox()] == ["burst 0", "burst 1", "burst 2"]
    bob.inbox()

    bob.say("one too many")
    assert_notice(bob, "rate-limited", retry_after=1)
    assert viewer.inbox() == []

    chat.clock.advance(0.5)
    bob.say("still too soon")
    assert_notice(bob, "rate-limited", retry_after=1)

    chat.clock.advance(0.5)
    bob.say("one more")
    assert [frame["text"] for frame in viewer.inbox()] == ["one more"]
    bob.inbox()
    bob.say("and no more")
    assert_notice(bob, "rate-limited", retry_after=1)

    chat.clock.advance(60)  # idle: the whole burst is back
    for n in range(3):
        bob.say(f"again {n}")
    assert len(viewer.inbox()) == 3


def test_the_rate_limit_is_per_user(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    carol = chat.join(CHANNEL, "carol")
    for n in range(3):
        bob.say(f"bob {n}")
    bob.say("bob 3")
    carol.say("carol 0")
    assert [frame["text"] for frame in messages(carol.inbox())] == ["bob 0", "bob 1", "bob 2", "carol 0"]
    assert [frame["code"] for frame in bob.inbox() if frame["type"] == "notice"] == ["rate-limited"]


def test_the_owner_and_moderators_are_not_rate_limited(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    dave = chat.join(CHANNEL, "dave")
    viewer = chat.join(CHANNEL)
    mod(chat, alice, "dave")
    for n in range(8):
        alice.say(f"owner {n}")
        dave.say(f"mod {n}")
    received = [frame["text"] for frame in viewer.inbox()]
    assert len(received) == 16
    assert [notice for notice in alice.inbox() + dave.inbox() if notice["type"] == "notice"] == []


def test_slow_mode_set_by_a_moderator_applies_to_chatters_only(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    dave = chat.join(CHANNEL, "dave")
    carol = chat.join(CHANNEL, "carol")
    viewer = chat.join(CHANNEL)
    mod(chat, alice, "dave")

    dave.send("slow", seconds=30)
    expected = {
        "type": "system",
        "kind": "slow-mode",
        "text": "slow mode: one message every 30 s",
        "data": {"seconds": 30},
    }
    for socket in (alice, dave, carol, viewer):
        assert socket.only() == expected
    assert history(viewer)["slow_seconds"] == 30

    carol.say("first")
    assert viewer.only()["text"] == "first"
    drain(alice, dave, carol)
    chat.clock.advance(10)
    carol.say("second")
    assert_notice(carol, "slow-mode", retry_after=20)
    assert viewer.inbox() == []

    for n in range(2):  # owner and moderators are exempt
        alice.say(f"owner {n}")
        dave.say(f"mod {n}")
    assert len(viewer.inbox()) == 4
    drain(alice, dave, carol)

    chat.clock.advance(19.5)
    carol.say("almost")
    assert_notice(carol, "slow-mode", retry_after=1)
    chat.clock.advance(0.5)
    carol.say("now")
    assert viewer.only()["text"] == "now"
    drain(alice, dave, carol)

    dave.send("slow", seconds=0)
    off = {"type": "system", "kind": "slow-mode", "text": "slow mode is off", "data": {"seconds": 0}}
    for socket in (alice, dave, carol, viewer):
        assert socket.only() == off
    chat.clock.advance(5)  # the sends above took rate tokens: let them come back
    carol.say("free")
    carol.say("again")
    assert [frame["text"] for frame in viewer.inbox()] == ["free", "again"]
    assert history(viewer)["slow_seconds"] == 0


def test_sends_refused_by_slow_mode_cost_no_rate_token(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    carol = chat.join(CHANNEL, "carol")
    alice.send("slow", seconds=2)
    carol.say("first")
    drain(alice, carol)
    for _ in range(4):  # more than the burst: all of them slow mode, none rate-limited
        carol.say("too soon")
        assert_notice(carol, "slow-mode", retry_after=2)
    chat.clock.advance(2)
    carol.say("second")
    assert [frame["text"] for frame in alice.inbox() if frame["type"] == "message"] == ["second"]


def test_only_the_owner_and_moderators_set_slow_mode(chat: ChatRoom) -> None:
    carol = chat.join(CHANNEL, "carol")
    viewer = chat.join(CHANNEL)
    carol.send("slow", seconds=30)
    assert_notice(carol, "forbidden")
    viewer.send("slow", seconds=30)
    assert_notice(viewer, "anonymous")
    assert history(viewer)["slow_seconds"] == 0


# --- idempotency --------------------------------------------------------------------------------


def test_a_resent_nonce_stores_and_delivers_the_message_once(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)

    bob.say("only once", nonce="c1d2-e3_f4")
    original = viewer.only()
    assert bob.only() == original

    chat.clock.advance(0.2)
    bob.say("only once", nonce="c1d2-e3_f4")  # the client did not hear back and retried
    assert viewer.inbox() == []
    assert bob.only() == original  # the sender gets the original again, same id and time

    assert [frame["id"] for frame in history(viewer)["messages"]] == [original["id"]]

    bob.say("a new one", nonce="c1d2-e3_f5")
    assert viewer.only()["text"] == "a new one"


def test_a_resend_is_answered_even_when_a_new_message_would_be_throttled(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    alice.send("slow", seconds=30)
    drain(alice, bob, viewer)

    bob.say("in slow mode", nonce="slow-1")
    original = viewer.only()
    bob.inbox()
    chat.clock.advance(2)
    bob.say("in slow mode", nonce="slow-1")  # a retry is not a second message
    assert bob.only() == original
    bob.say("a second message", nonce="slow-2")
    assert_notice(bob, "slow-mode", retry_after=28)

    alice.send("slow", seconds=0)
    drain(alice, bob, viewer)
    chat.clock.advance(60)
    for n in range(3):
        bob.say(f"burst {n}", nonce=f"burst-{n}")
    last = viewer.inbox()[-1]
    bob.inbox()
    bob.say("burst 2", nonce="burst-2")
    assert bob.only() == last
    bob.say("burst 3", nonce="burst-3")
    assert_notice(bob, "rate-limited", retry_after=1)
    assert viewer.inbox() == []


def test_two_sends_racing_with_one_nonce_store_one_message(chat: ChatRoom) -> None:
    # Both passed the resend check before either was stored: the transaction decides.
    rooms = ChatRepository()
    first, second = (
        ChatMessage(id=new_message_id(chat.clock.now), user="bob", display_name="Bob", badges=[], text=text, ts=at)
        for text, at in (("one", chat.clock.now), ("two", chat.clock.advance(0.01)))
    )
    assert rooms.save_message(CHANNEL, first, "race") is None
    assert rooms.save_message(CHANNEL, second, "race") == first.id
    assert rooms.history(CHANNEL, HISTORY_SIZE) == [first]
    assert rooms.nonce_message(CHANNEL, "bob", "race") == first.id
    assert rooms.nonce_message(CHANNEL, "carol", "race") is None


def test_a_nonce_is_per_sender(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    carol = chat.join(CHANNEL, "carol")
    viewer = chat.join(CHANNEL)
    bob.say("from bob", nonce="same")
    carol.say("from carol", nonce="same")
    assert [(frame["user"], frame["text"]) for frame in viewer.inbox()] == [
        ("bob", "from bob"),
        ("carol", "from carol"),
    ]


# --- moderation -------------------------------------------------------------------------------


def test_a_moderator_deletes_a_message_for_everyone(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    dave = chat.join(CHANNEL, "dave")
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    mod(chat, alice, "dave")
    bob.say("spam")
    chat.clock.advance(1)
    bob.say("keep")
    spam, keep = viewer.inbox()
    drain(alice, dave, bob)

    dave.send("delete", message_id=spam["id"])
    for socket in (alice, dave, bob, viewer):
        assert socket.only() == {"type": "deleted", "id": spam["id"]}
    assert [frame["id"] for frame in history(viewer)["messages"]] == [keep["id"]]

    alice.send("delete", message_id=keep["id"])
    assert viewer.only() == {"type": "deleted", "id": keep["id"]}
    assert history(viewer)["messages"] == []

    drain(alice, dave, bob)
    dave.send("delete", message_id=spam["id"])  # already gone
    assert_notice(dave, "not-found")


def test_a_chatter_cannot_delete_messages_not_even_its_own(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    carol = chat.join(CHANNEL, "carol")
    bob.say("mine")
    message = carol.only()
    bob.inbox()
    for socket in (carol, bob):
        socket.send("delete", message_id=message["id"])
        assert_notice(socket, "forbidden")
    assert [frame["id"] for frame in history(carol)["messages"]] == [message["id"]]


def test_a_timeout_silences_a_chatter_until_it_expires(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)

    alice.send("timeout", user="Bob", seconds=60)
    event = {
        "type": "system",
        "kind": "timed-out",
        "text": "bob is timed out for 60 s",
        "data": {"user": "bob", "seconds": 60},
    }
    for socket in (alice, bob, viewer):
        assert socket.only() == event

    bob.say("hello?")
    assert_notice(bob, "timed-out", retry_after=60)
    assert history(bob)["you"]["can_send"] is False
    chat.clock.advance(59.5)
    bob.say("now?")
    assert_notice(bob, "timed-out", retry_after=1)
    assert viewer.inbox() == []

    chat.clock.advance(0.5)
    bob.say("I'm back")
    assert viewer.only()["text"] == "I'm back"
    bob.inbox()
    assert history(bob)["you"]["can_send"] is True


def test_a_ban_holds_until_lifted(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)

    alice.send("ban", user="bob")
    banned = {"type": "system", "kind": "banned", "text": "bob is banned", "data": {"user": "bob"}}
    for socket in (alice, bob, viewer):
        assert socket.only() == banned

    bob.say("let me speak")
    assert_notice(bob, "banned", retry_after=None)
    # A ban does not expire (API Gateway closes a connection after 2 h: stay within that).
    chat.clock.advance(90 * 60)
    bob.say("90 minutes later")
    assert_notice(bob, "banned")
    assert viewer.inbox() == []
    assert history(bob)["you"] == {"user": "bob", "can_send": False, "moderator": False, "owner": False}

    # A banned chatter that reconnects is still banned (the ban is the room's, not the socket's).
    again = chat.join(CHANNEL, "bob")
    again.say("new socket")
    assert_notice(again, "banned")

    alice.send("unban", user="bob")
    unbanned = {"type": "system", "kind": "unbanned", "text": "bob may chat again", "data": {"user": "bob"}}
    assert viewer.only() == unbanned
    drain(alice, bob, again)
    bob.say("thanks")
    assert viewer.only()["text"] == "thanks"


def test_moderators_cannot_act_on_the_owner_or_on_each_other(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    dave = chat.join(CHANNEL, "dave")
    erin = chat.join(CHANNEL, "erin")
    viewer = chat.join(CHANNEL)
    mod(chat, alice, "dave", "erin")

    attempts: list[tuple[str, dict[str, Any]]] = [
        ("ban", {"user": "alice"}),
        ("timeout", {"user": "alice", "seconds": 60}),
        ("ban", {"user": "erin"}),
        ("timeout", {"user": "erin", "seconds": 60}),
    ]
    for action, fields in attempts:
        dave.send(action, **fields)
        assert_notice(dave, "forbidden")
    dave.send("ban", user="dave")
    assert_notice(dave, "invalid")
    alice.send("ban", user="alice")
    assert_notice(alice, "forbidden")
    assert viewer.inbox() == []

    alice.say("still here")
    erin.say("me too")
    assert [frame["text"] for frame in viewer.inbox()] == ["still here", "me too"]

    # The owner may act on a moderator.
    alice.send("timeout", user="erin", seconds=10)
    assert viewer.only()["kind"] == "timed-out"
    erin.inbox()
    erin.say("ouch")
    assert_notice(erin, "timed-out", retry_after=10)


def test_moderators_delete_their_own_and_chatters_messages_not_the_owners_or_other_mods(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    dave = chat.join(CHANNEL, "dave")
    erin = chat.join(CHANNEL, "erin")
    bob = chat.join(CHANNEL, "bob")
    mod(chat, alice, "dave", "erin")
    for socket in (alice, erin, dave, bob):
        socket.say(f"from {socket.user}")
        chat.clock.advance(0.001)
    messages = {frame["user"]: frame["id"] for frame in bob.inbox() if frame["type"] == "message"}
    drain(alice, dave, erin)

    for author in ("alice", "erin"):
        dave.send("delete", message_id=messages[author])
        assert_notice(dave, "forbidden")
    for author in ("dave", "bob"):
        dave.send("delete", message_id=messages[author])
        assert bob.only() == {"type": "deleted", "id": messages[author]}
        drain(alice, dave, erin)
    alice.send("delete", message_id=messages["erin"])  # the owner may
    assert bob.only() == {"type": "deleted", "id": messages["erin"]}


def test_chatters_cannot_moderate(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    carol = chat.join(CHANNEL, "carol")
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("ban", {"user": "carol"}),
        ("timeout", {"user": "carol", "seconds": 5}),
        ("unban", {"user": "carol"}),
        ("slow", {"seconds": 5}),
    ]
    for action, fields in attempts:
        bob.send(action, **fields)
        assert_notice(bob, "forbidden")
    assert carol.inbox() == []
    carol.say("unharmed")
    assert carol.only()["text"] == "unharmed"


def test_only_the_owner_appoints_and_removes_moderators(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    dave = chat.join(CHANNEL, "dave")
    bob = chat.join(CHANNEL, "bob")
    mod(chat, alice, "dave")

    dave.send("mod", user="carol")
    assert_notice(dave, "forbidden")
    dave.send("unmod", user="dave")
    assert_notice(dave, "forbidden")
    bob.send("mod", user="bob")
    assert_notice(bob, "forbidden")
    alice.send("mod", user="nobody_here")
    assert_notice(alice, "not-found")
    alice.send("mod", user="alice")
    assert_notice(alice, "invalid")

    assert history(dave)["you"]["moderator"] is True
    assert history(bob)["you"]["moderator"] is False
    alice.send("unmod", user="dave")
    notice = assert_notice(alice, "done")
    assert notice["text"] == "dave is no longer a moderator"
    assert history(dave)["you"]["moderator"] is False
    dave.send("slow", seconds=5)
    assert_notice(dave, "forbidden")


# --- history, ping, leaving -------------------------------------------------------------------


def test_history_is_the_last_50_messages_oldest_first_with_who_you_are(chat: ChatRoom) -> None:
    alice = chat.join(CHANNEL, "alice")
    for n in range(HISTORY_SIZE + 5):
        chat.clock.advance(0.001)
        alice.say(f"m{n}")
    alice.send("slow", seconds=15)
    alice.send("mod", user="dave")
    alice.send("ban", user="erin")

    expected = [f"m{n}" for n in range(5, HISTORY_SIZE + 5)]
    roles: dict[str | None, dict[str, Any]] = {
        None: {"user": None, "can_send": False, "moderator": False, "owner": False},
        "alice": {"user": "alice", "can_send": True, "moderator": True, "owner": True},
        "dave": {"user": "dave", "can_send": True, "moderator": True, "owner": False},
        "bob": {"user": "bob", "can_send": True, "moderator": False, "owner": False},
        "erin": {"user": "erin", "can_send": False, "moderator": False, "owner": False},
    }
    for user, you in roles.items():
        socket = chat.join(CHANNEL, user)
        assert socket.frames() == []  # nothing is pushed on connect: the client asks
        frame = history(socket)
        assert set(frame) == {"type", "messages", "slow_seconds", "you"}
        assert [message["text"] for message in frame["messages"]] == expected
        assert all(message["badges"] == ["broadcaster"] for message in frame["messages"])
        assert frame["slow_seconds"] == 15
        assert frame["you"] == you, user


def test_history_of_an_empty_room(chat: ChatRoom) -> None:
    viewer = chat.join("bob")
    assert history(viewer) == {
        "type": "history",
        "messages": [],
        "slow_seconds": 0,
        "you": {"user": None, "can_send": False, "moderator": False, "owner": False},
    }


def test_ping_gets_a_pong_to_the_sender_only(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    viewer.send("ping")
    assert viewer.only() == {"type": "pong"}
    bob.send("ping")
    assert bob.only() == {"type": "pong"}
    assert viewer.inbox() == []


def test_a_closed_connection_leaves_the_room(chat: ChatRoom) -> None:
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    leaving = chat.join(CHANNEL, "carol")
    assert stored_connections() == {bob.connection_id, viewer.connection_id, leaving.connection_id}

    leaving.close()
    assert stored_connections() == {bob.connection_id, viewer.connection_id}
    bob.say("after carol left")
    assert viewer.only()["text"] == "after carol left"
    assert leaving.frames() == []

    leaving.close()  # a second $disconnect (or one for an unknown id) is harmless
    Socket(chat, new_connection_id(), None).close()
    assert stored_connections() == {bob.connection_id, viewer.connection_id}


def test_a_connection_past_api_gateways_2_hour_limit_is_not_in_the_room(chat: ChatRoom) -> None:
    # API Gateway closes a connection after 2 h, and its $disconnect may never come: the item
    # outlives it until DynamoDB's TTL sweeps it, but the room no longer counts it.
    stale = chat.join(CHANNEL, "carol")
    chat.clock.advance(2 * 3600 - 60)
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    chat.clock.advance(60)
    bob.say("who is here?")
    assert viewer.only()["text"] == "who is here?"
    assert stale.frames() == []
    assert stale.connection_id in stored_connections()
    assert chat.service.connections.count(CHANNEL) == 2


# --- the wiring the handlers build themselves ---------------------------------------------------


def test_the_handlers_build_their_service_from_the_environment(chat_env: ChatEnv, dynamodb: "DynamoDBClient") -> None:
    # No `chat` fixture: the handlers' own cached `chat_service()`, from the Lambda environment.
    bob_id, viewer_id = new_connection_id(), new_connection_id()
    token = AccessTokenIssuer(chat_env.keys, "letslive", "letslive-api", 900).issue("u-bob", "bob")
    connect = functions.chat.websocket.connect
    assert connect(connect_event(bob_id, {"channel": CHANNEL, "token": token}), context("c")) == {"statusCode": 200}
    assert connect(connect_event(viewer_id, {"channel": CHANNEL}), context("c")) == {"statusCode": 200}
    body = json.dumps({"action": "send", "text": "wired"})
    assert functions.chat.websocket.message(message_event(bob_id, body), context("m")) == {"statusCode": 200}
    (frame,) = posted(viewer_id)
    assert (frame["user"], frame["display_name"], frame["text"]) == ("bob", "Bob", "wired")
    assert posted(bob_id) == [frame]
    assert functions.chat.websocket._chat.cache_info().currsize == 1


def test_a_banned_or_timed_out_moderator_cannot_moderate_or_unban_themselves(chat: ChatRoom) -> None:
    """Issue 14 (1): a moderator banned by the owner sent `unban <self>` and was back."""
    alice = chat.join(CHANNEL, "alice")
    dave = chat.join(CHANNEL, "dave")
    erin = chat.join(CHANNEL, "erin")
    bob = chat.join(CHANNEL, "bob")
    mod(chat, alice, "dave", "erin")

    # Timed out: every moderator action is suspended while it lasts.
    alice.send("timeout", user="dave", seconds=30)
    drain(alice, dave, erin, bob)
    for action, fields in (("ban", {"user": "bob"}), ("unban", {"user": "dave"}), ("slow", {"seconds": 5})):
        dave.send(action, **fields)
        assert_notice(dave, "forbidden")
    assert bob.inbox() == []
    chat.clock.advance(30)
    dave.send("timeout", user="bob", seconds=5)  # the timeout is over: a moderator again
    assert bob.only()["kind"] == "timed-out"
    drain(alice, dave, erin)

    # Banned: the role goes with it; lifting the ban lets dave chat, not moderate.
    alice.send("ban", user="dave")
    drain(alice, dave, erin, bob)
    dave.send("unban", user="dave")
    assert_notice(dave, "forbidden")
    assert bob.inbox() == []
    erin.send("unban", user="dave")  # a chatter now: any moderator may lift the ban
    assert bob.only()["kind"] == "unbanned"
    drain(alice, dave, erin)
    assert history(dave)["you"]["moderator"] is False
    dave.send("slow", seconds=5)
    assert_notice(dave, "forbidden")


# --- connections per client address (issue 14, item 6) ---------------------------------------

HOME = "198.51.100.7"  # one household's public address (NAT)
NEIGHBOUR = "198.51.100.8"


def open_all(chat: ChatRoom, channel: str, count: int, source_ip: str, status: int = 200) -> list[Socket]:
    sockets: list[Socket] = []
    for _ in range(count):
        got, socket = chat.open(channel, source_ip=source_ip)
        assert got == status, (len(sockets), got)
        sockets.append(socket)
    return sockets


def test_one_address_holds_at_most_its_cap_of_connections_in_a_room(chat: ChatRoom) -> None:
    """Issue 14 (6): anonymous WebSockets from one machine inflated the viewer count at will."""
    cap = chat.service.limits.connections_per_address
    assert cap == get_settings().chat_connections_per_address == 10  # the documented default
    home = open_all(chat, CHANNEL, cap, HOME)
    assert chat.service.connections.count(CHANNEL) == cap

    # Past the cap: refused at the handshake, signed in or not, whatever X-Forwarded-For says.
    refused = [chat.open(CHANNEL, source_ip=HOME), chat.open(CHANNEL, "bob", source_ip=HOME)]
    refused.append(chat.open(CHANNEL, source_ip=HOME, forwarded_for=NEIGHBOUR))
    assert [status for status, _ in refused] == [429, 429, 429]
    assert stored_connections() == {socket.connection_id for socket in home}
    assert chat.service.connections.count(CHANNEL) == cap

    # Other addresses in the room, and the same address in another room, are not affected.
    (neighbour,) = open_all(chat, CHANNEL, 1, NEIGHBOUR)
    assert open_all(chat, "bob", cap, HOME)
    assert chat.service.connections.count(CHANNEL) == cap + 1
    neighbour.say("x")  # a working connection: anonymous, so told so
    assert_notice(neighbour, "anonymous")

    # Closing a connection frees its slot, once.
    home[0].close()
    home[0].close()
    later = open_all(chat, CHANNEL, 1, HOME)
    open_all(chat, CHANNEL, 1, HOME, status=429)
    assert stored_connections() == {s.connection_id for s in [*home[1:], neighbour, *later]}


def test_an_ipv6_client_is_keyed_by_its_64(chat: ChatRoom) -> None:
    chat.rewire(limits=ChatLimits(connections_per_address=2))
    open_all(chat, CHANNEL, 1, "2001:db8:1:2::1")
    open_all(chat, CHANNEL, 1, "2001:db8:1:2:ffff:eeee:dddd:cccc")  # same /64: a fresh address is no escape
    open_all(chat, CHANNEL, 1, "2001:db8:1:2::99", status=429)
    open_all(chat, CHANNEL, 2, "2001:db8:1:3::1")  # the next /64 is someone else
    open_all(chat, CHANNEL, 2, HOME)
    open_all(chat, CHANNEL, 1, f"::ffff:{HOME}", status=429)  # IPv4-mapped is the IPv4 address


def test_a_slot_whose_disconnect_never_came_is_freed_when_needed(chat: ChatRoom) -> None:
    chat.rewire(limits=ChatLimits(connections_per_address=2))
    first, second = open_all(chat, CHANNEL, 2, HOME)
    open_all(chat, CHANNEL, 1, HOME, status=429)

    # A fan-out found `first` gone and dropped it; its $disconnect never came. Its slot is
    # not taken back at once (it could be a $connect still running), but once it is settled.
    ConnectionRepository(clock=chat.clock.timestamp).remove_many(CHANNEL, [first.connection_id])
    chat.clock.advance(SLOT_GRACE.total_seconds() - 1)
    open_all(chat, CHANNEL, 1, HOME, status=429)
    chat.clock.advance(1)
    (third,) = open_all(chat, CHANNEL, 1, HOME)
    open_all(chat, CHANNEL, 1, HOME, status=429)
    first.close()  # comes late after all: frees nothing that is not its own
    open_all(chat, CHANNEL, 1, HOME, status=429)
    assert stored_connections() == {second.connection_id, third.connection_id}

    # API Gateway closed both after 2 h without a $disconnect: their slots go with them.
    chat.clock.advance(2 * 3600)
    open_all(chat, CHANNEL, 2, HOME)
    open_all(chat, CHANNEL, 1, HOME, status=429)


def test_the_cap_comes_from_the_environment(chat_env: ChatEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}CHAT_CONNECTIONS_PER_ADDRESS", "1")
    reset_settings()
    chat = ChatRoom(chat_env.keys, DateClock(datetime.now(UTC)), monkeypatch, chat_env.queue, own_service=False)
    open_all(chat, CHANNEL, 1, HOME)
    open_all(chat, CHANNEL, 1, HOME, status=429)
    open_all(chat, CHANNEL, 1, NEIGHBOUR)
    assert chat.service.limits.connections_per_address == 1
