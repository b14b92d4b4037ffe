"""Chat rules that need no AWS: how a message's text is cleaned, which client frames parse into
which action (and which are refused, with which notice), message ids, fan-out tasks and where
the `@connections` posts go."""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from letslive.constants import ChatAction
from letslive.data.connections_api import management_endpoint
from letslive.errors import (
    AnonymousChatter,
    Banned,
    ChatRateLimited,
    ChatRefused,
    ChatTargetNotFound,
    ConfigurationError,
    EmptyMessage,
    MessageTooLong,
    NotModerator,
    SlowMode,
    TimedOut,
    UnknownConnection,
)
from letslive.models.chat import (
    SLOW_MAX_SECONDS,
    TEXT_MAX,
    TIMEOUT_MAX_SECONDS,
    BanAction,
    DeleteAction,
    FanoutBatch,
    HistoryAction,
    ModAction,
    NoticeCode,
    PingAction,
    SendAction,
    SlowAction,
    TimeoutAction,
    UnbanAction,
    UnmodAction,
    ViewerRecount,
    clean_text,
    parse_task,
    shows_anything,
)
from letslive.services.chat import notice_for, parse_action
from letslive.services.chat.rooms import new_message_id

NOW = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def refused(raw: str) -> ChatRefused:
    with pytest.raises(ChatRefused) as caught:
        parse_action(raw)
    return caught.value


# --- clean_text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("hello", "hello"),
        ("  hello  ", "hello"),
        ("hi\x00there", "hi there"),  # NUL
        ("\x1b[31mred", "[31mred"),  # an ANSI escape loses its ESC
        ("bell\x07 and del\x7f!", "bell and del !"),
        ("next\x85line", "next line"),  # C1 control (NEL)
        ("a\r\nb\n\n\tc", "a b c"),  # newlines and tabs are whitespace like any other
        ("many     spaces", "many spaces"),
        ("nbsp\u00a0\u00a0here", "nbsp here"),
        ("lone\ud800surrogate", "lonesurrogate"),  # JSON can smuggle one in; DynamoDB cannot store it
    ],
)
def test_controls_become_spaces_and_whitespace_collapses(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    "override",
    [*"\u202a\u202b\u202c\u202d\u202e", *"\u2066\u2067\u2068\u2069", *"\u200e\u200f\u061c", *"\u2028\u2029"],
)
def test_direction_overrides_and_line_separators_are_removed(override: str) -> None:
    assert clean_text(f"abc{override}def") == "abcdef"
    assert clean_text(f"{override}{override}") == ""


def test_a_right_to_left_override_cannot_reverse_what_follows() -> None:
    spoof = "check my link \u202egpj.exe"
    assert clean_text(spoof) == "check my link gpj.exe"
    assert "\u202e" not in clean_text(spoof)


def test_text_is_nfc_normalized() -> None:
    decomposed = "cafe\u0301 Ame\u0301lie"
    assert clean_text(decomposed) == "caf\u00e9 Am\u00e9lie"
    assert len(clean_text("e\u0301" * TEXT_MAX)) == TEXT_MAX  # the limit counts what is shown


@pytest.mark.parametrize(
    "emoji",
    [
        "\U0001f469\u200d\U0001f4bb",  # woman technologist: ZWJ sequence
        "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # family
        "\u2764\ufe0f",  # variation selector
        "\U0001f44d\U0001f3fd",  # skin tone modifier
        "\U0001f1fa\U0001f1e6",  # flag: regional indicators
        "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag
    ],
)
def test_emoji_sequences_are_kept_whole(emoji: str) -> None:
    assert clean_text(f" gg {emoji} ") == f"gg {emoji}"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t\r", "\x00\x01\x02", "\u202e\u2066", " \x00 \u2028 "])
def test_text_of_nothing_visible_cleans_to_empty(raw: str) -> None:
    assert clean_text(raw) == ""


# --- parse_action: what parses ----------------------------------------------------------------

MESSAGE_ID = "0199a1b2c3d" + "0123456789abcdef"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"action": "send", "text": "hi"}, SendAction(action=ChatAction.SEND, text="hi")),
        (
            {"action": "send", "text": "hi", "nonce": "n-1_A"},
            SendAction(action=ChatAction.SEND, text="hi", nonce="n-1_A"),
        ),
        ({"action": "delete", "message_id": MESSAGE_ID}, DeleteAction(action=ChatAction.DELETE, message_id=MESSAGE_ID)),
        (
            {"action": "timeout", "user": "Bob", "seconds": 600},
            TimeoutAction(action=ChatAction.TIMEOUT, user="bob", seconds=600),
        ),
        ({"action": "ban", "user": "bob_2"}, BanAction(action=ChatAction.BAN, user="bob_2")),
        ({"action": "unban", "user": "BOB"}, UnbanAction(action=ChatAction.UNBAN, user="bob")),
        ({"action": "slow", "seconds": 30}, SlowAction(action=ChatAction.SLOW, seconds=30)),
        ({"action": "slow", "seconds": 0}, SlowAction(action=ChatAction.SLOW, seconds=0)),
        ({"action": "mod", "user": "carol"}, ModAction(action=ChatAction.MOD, user="carol")),
        ({"action": "unmod", "user": "carol"}, UnmodAction(action=ChatAction.UNMOD, user="carol")),
        ({"action": "ping"}, PingAction(action=ChatAction.PING)),
        ({"action": "history"}, HistoryAction(action=ChatAction.HISTORY)),
    ],
)
def test_every_action_parses_into_its_model(fields: dict[str, Any], expected: object) -> None:
    assert parse_action(frame(**fields)) == expected


def test_every_chat_action_has_a_model() -> None:
    minimal: dict[ChatAction, dict[str, Any]] = {
        ChatAction.SEND: {"text": "x"},
        ChatAction.DELETE: {"message_id": MESSAGE_ID},
        ChatAction.TIMEOUT: {"user": "bob", "seconds": 1},
        ChatAction.BAN: {"user": "bob"},
        ChatAction.UNBAN: {"user": "bob"},
        ChatAction.SLOW: {"seconds": 1},
        ChatAction.MOD: {"user": "bob"},
        ChatAction.UNMOD: {"user": "bob"},
        ChatAction.PING: {},
        ChatAction.HISTORY: {},
    }
    assert set(minimal) == set(ChatAction)
    for action, fields in minimal.items():
        assert parse_action(frame(action=action.value, **fields)).action == action


def test_the_bounds_of_seconds_are_inclusive() -> None:
    assert parse_action(frame(action="timeout", user="bob", seconds=1)) == TimeoutAction(
        action=ChatAction.TIMEOUT, user="bob", seconds=1
    )
    longest = parse_action(frame(action="timeout", user="bob", seconds=TIMEOUT_MAX_SECONDS))
    assert isinstance(longest, TimeoutAction)
    assert longest.seconds == 14 * 24 * 3600
    slowest = parse_action(frame(action="slow", seconds=SLOW_MAX_SECONDS))
    assert isinstance(slowest, SlowAction)
    assert slowest.seconds == 120


def test_text_is_parsed_as_sent_and_only_bounded() -> None:
    # Cleaning and the 500-character limit are the service's (after `clean_text`).
    action = parse_action(frame(action="send", text="  a\x00b  "))
    assert isinstance(action, SendAction)
    assert action.text == "a\x00b"
    assert isinstance(parse_action(frame(action="send", text="x" * (4 * TEXT_MAX))), SendAction)


# --- parse_action: what is refused ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["", " ", "{", "not json", "{'action': 'ping'}", '{"action": "ping"', "[]", "null", "42", '"ping"', "\x00"],
)
def test_bad_json_is_invalid(raw: str) -> None:
    error = refused(raw)
    assert notice_for(error).code == "invalid"
    assert type(error) is ChatRefused


@pytest.mark.parametrize(
    "fields",
    [{}, {"action": "shout"}, {"action": "SEND", "text": "hi"}, {"action": None}, {"action": 1}, {"text": "hi"}],
)
def test_an_unknown_or_missing_action_is_invalid(fields: dict[str, Any]) -> None:
    error = refused(frame(**fields))
    assert notice_for(error).code == "invalid"
    assert error.detail.startswith("that is not a chat action")


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "ping", "extra": 1},
        {"action": "history", "limit": 500},
        {"action": "send", "text": "hi", "user": "alice"},  # nobody speaks for someone else
        {"action": "send", "text": "hi", "badges": ["broadcaster"]},
        {"action": "ban", "user": "bob", "seconds": 10},
        {"action": "slow", "seconds": 10, "channel": "other"},
    ],
)
def test_extra_fields_are_invalid(fields: dict[str, Any]) -> None:
    assert notice_for(refused(frame(**fields))).code == "invalid"


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "timeout", "user": "bob", "seconds": 0},
        {"action": "timeout", "user": "bob", "seconds": -5},
        {"action": "timeout", "user": "bob", "seconds": TIMEOUT_MAX_SECONDS + 1},
        {"action": "timeout", "user": "bob"},
        {"action": "timeout", "user": "bob", "seconds": 1.5},
        {"action": "timeout", "user": "bob", "seconds": 60.0},
        {"action": "timeout", "user": "bob", "seconds": "60"},
        {"action": "timeout", "user": "bob", "seconds": True},
        {"action": "timeout", "user": "bob", "seconds": None},
        {"action": "slow", "seconds": -1},
        {"action": "slow", "seconds": SLOW_MAX_SECONDS + 1},
        {"action": "slow", "seconds": 10**20},
        {"action": "slow"},
        {"action": "slow", "seconds": "off"},
    ],
)
def test_seconds_out_of_range_or_of_the_wrong_type_are_invalid(fields: dict[str, Any]) -> None:
    assert notice_for(refused(frame(**fields))).code == "invalid"


@pytest.mark.parametrize(
    "user",
    [
        "",
        "ab",
        "a" * 26,
        "bob!",
        "bob smith",
        "b\u00f3b",
        "bob-1",
        "../bob",
        "bob!!<script>",  # holds a valid handle, but is not one
        "<b>alice</b>",
        "alice\nbob",
        "bob\x00",
        123,
        None,
        ["bob"],
    ],
)
@pytest.mark.parametrize("action", ["timeout", "ban", "unban", "mod", "unmod"])
def test_bad_usernames_are_invalid(action: str, user: Any) -> None:
    fields: dict[str, Any] = {"action": action, "user": user}
    if action == "timeout":
        fields["seconds"] = 60
    assert notice_for(refused(frame(**fields))).code == "invalid"


@pytest.mark.parametrize(
    "nonce",
    ["", "a b", "x" * 65, "n\u00f6nce", "abc/def", "abc=", "ok-but-then!", 7],
)
def test_bad_nonces_are_invalid(nonce: Any) -> None:
    assert notice_for(refused(frame(action="send", text="hi", nonce=nonce))).code == "invalid"


@pytest.mark.parametrize(
    "message_id",
    ["", "short", MESSAGE_ID.upper(), MESSAGE_ID + "x" * 20, MESSAGE_ID[:-1] + "!", f"x{MESSAGE_ID}#y", 12345],
)
def test_bad_message_ids_are_invalid(message_id: Any) -> None:
    assert notice_for(refused(frame(action="delete", message_id=message_id))).code == "invalid"


@pytest.mark.parametrize("text", [None, 5, ["hi"], {"t": "hi"}, True])
def test_text_of_the_wrong_type_is_invalid(text: Any) -> None:
    assert notice_for(refused(frame(action="send", text=text))).code == "invalid"


def test_oversize_text_is_too_long_not_invalid() -> None:
    error = refused(frame(action="send", text="x" * (4 * TEXT_MAX + 1)))
    assert isinstance(error, MessageTooLong)
    assert notice_for(error).code == "too-long"


def test_a_refusal_says_where_and_stays_short() -> None:
    error = refused(frame(action="slow", seconds=1000))
    assert "seconds" in error.detail
    assert len(error.detail) <= 200
    long_field = refused(frame(action="ping", **{"x" * 5000: 1}))
    assert len(long_field.detail) <= 200


# --- notices ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ChatRefused("x"), "invalid"),
        (AnonymousChatter("x"), "anonymous"),
        (Banned("x"), "banned"),
        (TimedOut("x", 30), "timed-out"),
        (ChatRateLimited("x", 2), "rate-limited"),
        (SlowMode("x", 9), "slow-mode"),
        (EmptyMessage("x"), "empty"),
        (MessageTooLong("x"), "too-long"),
        (NotModerator("x"), "forbidden"),
        (ChatTargetNotFound("x"), "not-found"),
        (UnknownConnection("x"), "unavailable"),
    ],
)
def test_every_refusal_maps_to_its_notice_code(error: ChatRefused, code: str) -> None:
    notice = notice_for(error)
    assert notice.code == code
    assert code in get_args(NoticeCode)
    assert notice.text == "x"
    assert notice.retry_after_seconds == error.retry_after_seconds
    body = json.loads(notice.to_json())
    assert body == {"type": "notice", "code": code, "text": "x", "retry_after_seconds": error.retry_after_seconds}


def test_every_refusal_class_has_a_known_notice_code() -> None:
    def subclasses(cls: type[ChatRefused]) -> list[type[ChatRefused]]:
        return [cls, *(sub for direct in cls.__subclasses__() for sub in subclasses(direct))]

    codes = {cls.notice for cls in subclasses(ChatRefused)}
    assert codes <= set(get_args(NoticeCode))
    assert len(subclasses(ChatRefused)) >= 11


def test_retry_after_is_kept_for_throttles() -> None:
    assert notice_for(ChatRateLimited("slow down", 3)).retry_after_seconds == 3
    assert notice_for(SlowMode("wait", 17)).retry_after_seconds == 17
    assert notice_for(Banned("no")).retry_after_seconds is None


# --- message ids ------------------------------------------------------------------------------


def test_message_ids_sort_by_time() -> None:
    times = [NOW + timedelta(milliseconds=step) for step in (0, 1, 2, 999, 1000, 60_000, 86_400_000)]
    ids = [new_message_id(at) for at in times]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    # Across a hex digit boundary too (0x0ff... → 0x100...).
    boundary = datetime.fromtimestamp(0x19A00000000 / 1000, UTC)
    assert new_message_id(boundary - timedelta(milliseconds=1)) < new_message_id(boundary)


def test_message_ids_made_in_the_same_millisecond_differ() -> None:
    ids = {new_message_id(NOW) for _ in range(1000)}
    assert len(ids) == 1000


def test_a_message_id_is_one_a_delete_action_accepts() -> None:
    message_id = new_message_id(NOW)
    assert re.fullmatch(r"[0-9a-f]{27}", message_id)
    assert parse_action(frame(action="delete", message_id=message_id)) == DeleteAction(
        action=ChatAction.DELETE, message_id=message_id
    )


# --- fan-out tasks ----------------------------------------------------------------------------


def test_fanout_tasks_round_trip_through_their_json() -> None:
    batch = FanoutBatch(channel="alice", connection_ids=["a=", "b="], payload='{"type":"pong"}', attempt=1)
    assert parse_task(batch.model_dump_json()) == batch
    recount = ViewerRecount(channel="alice")
    assert parse_task(recount.model_dump_json()) == recount


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        '{"kind": "explode", "channel": "alice"}',
        '{"channel": "alice"}',
        '{"kind": "deliver", "channel": "alice", "payload": "x"}',
        json.dumps({"kind": "deliver", "channel": "a", "connection_ids": ["x"] * 1001, "payload": "x"}),
    ],
)
def test_anything_else_on_the_fanout_queue_does_not_parse(body: str) -> None:
    with pytest.raises(ValidationError):
        parse_task(body)


# --- where posts go ---------------------------------------------------------------------------

CALLBACK = "https://abc123.execute-api.us-east-1.amazonaws.com/production"


def test_on_aws_the_callback_url_is_the_management_endpoint() -> None:
    assert management_endpoint(CALLBACK, None) == CALLBACK
    assert management_endpoint(CALLBACK + "/", None) == CALLBACK


def test_an_emulator_serves_the_api_under_its_execute_api_path() -> None:
    assert (
        management_endpoint(CALLBACK, "http://localhost:4566/")
        == "http://localhost:4566/_aws/execute-api/abc123/production"
    )


@pytest.mark.parametrize("url", ["https://abc123.execute-api.us-east-1.amazonaws.com", "not a url", ""])
def test_an_emulator_needs_a_real_callback_url(url: str) -> None:
    with pytest.raises(ConfigurationError):
        management_endpoint(url, "http://localhost:4566")


@pytest.mark.parametrize(
    ("text", "visible"),
    [("\u200b", False), ("\u200b\u200d\ufe0f", False), ("\u0301", False), (" ", False), ("a\u200b", True),
     ("\u2764\ufe0f", True), ("\U0001f468\u200d\U0001f469", True)],
)  # fmt: skip
def test_text_of_only_invisible_characters_shows_nothing(text: str, visible: bool) -> None:
    assert shows_anything(text) is visible
