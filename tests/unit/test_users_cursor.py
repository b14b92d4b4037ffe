"""Follow-list cursors: opaque, url-safe, and only valid for the list that issued them."""

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from letslive.errors import InvalidCursor
from letslive.models.users import FollowPosition
from letslive.services.users import decode_follow_cursor as decode_cursor
from letslive.services.users import encode_follow_cursor as encode_cursor

POSITION = FollowPosition(followed_at=datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC), username="alice_01")


def payload_of(cursor: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return data


def forge(payload: object) -> str:
    """A cursor built the way the service builds them, but from any payload."""
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_cursor_round_trips() -> None:
    cursor = encode_cursor("followers", "bob", POSITION)
    assert decode_cursor(cursor, "followers", "bob") == POSITION


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    for microsecond in range(0, 1_000_000, 99_991):
        at = POSITION.followed_at.replace(microsecond=microsecond)
        cursor = encode_cursor("following", "bob", FollowPosition(at, "zz_top"))
        assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_microseconds_and_zone_are_kept_exactly() -> None:
    # A time in another zone is the same instant; the cursor stores it as UTC.
    at = datetime(2026, 3, 1, 13, 30, 5, 7, tzinfo=timezone(timedelta(hours=1)))
    decoded = decode_cursor(encode_cursor("followers", "bob", FollowPosition(at, "alice")), "followers", "bob")
    assert decoded.followed_at == at
    assert decoded.followed_at.utcoffset() == timedelta(0)
    assert decoded.followed_at.microsecond == 7


def test_a_cursor_for_another_list_is_refused() -> None:
    cursor = encode_cursor("followers", "bob", POSITION)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "followers", "carol")  # another user's list
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "following", "bob")  # the other direction


def test_every_single_character_change_is_refused_or_harmless() -> None:
    """Editing any one character gives either an invalid cursor or a position in the same list."""
    cursor = encode_cursor("followers", "bob", POSITION)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index in range(len(cursor)):
        for replacement in "A_z9":
            if cursor[index] == replacement:
                continue
            edited = cursor[:index] + replacement + cursor[index + 1 :]
            assert set(edited) <= set(alphabet)
            try:
                position = decode_cursor(edited, "followers", "bob")
            except InvalidCursor:
                continue
            # It decoded: then it is a canonical cursor for this very list.
            assert encode_cursor("followers", "bob", position) == edited


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "=",
        "not base64!",
        "a b",
        "abc\x00",
        "%41%42",
        "ä",
        "A" * 301,
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),  # not UTF-8
        base64.urlsafe_b64encode(b"{not json").decode().rstrip("="),
        base64.urlsafe_b64encode(b"[1,2]").decode().rstrip("="),
        base64.urlsafe_b64encode(b"null").decode().rstrip("="),
    ],
)
def test_garbage_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "followers", "bob")


def test_padding_and_standard_base64_variants_are_refused() -> None:
    cursor = encode_cursor("followers", "bob", POSITION)
    padded = cursor + "=" * (-len(cursor) % 4)
    if padded != cursor:
        with pytest.raises(InvalidCursor):
            decode_cursor(padded, "followers", "bob")
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor + "A", "followers", "bob")


GOOD = payload_of(encode_cursor("followers", "bob", POSITION))


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": True},  # == 1 in Python, but not what the service writes
        {"v": "1"},
        {"list": "followers:carol"},
        {"list": "following:bob"},
        {"list": "followers:BOB"},
        {"key": "Alice"},
        {"key": "a"},
        {"key": "alice#x"},
        {"key": 5},
        {"key": None},
        {"at": "2026-03-01T12:30:05.123456"},  # naive
        {"at": "2026-03-01T12:30:05.123456+01:00"},  # not UTC
        {"at": "2026-03-01T12:30:05+00:00"},  # not the canonical microsecond form
        {"at": "2026-03-01 12:30:05.123456+00:00"},
        {"at": "2026-13-01T12:30:05.123456+00:00"},
        {"at": "yesterday"},
        {"at": 1772368205},
        {"extra": 1},
    ],
)
def test_edited_payloads_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(forge(GOOD | change), "followers", "bob")


def test_missing_fields_are_refused() -> None:
    for field in GOOD:
        with pytest.raises(InvalidCursor):
            decode_cursor(forge({k: v for k, v in GOOD.items() if k != field}), "followers", "bob")


def test_non_canonical_json_is_refused() -> None:
    spaced = json.dumps(GOOD, sort_keys=True).encode()  # ", " and ": " separators
    with pytest.raises(InvalidCursor):
        decode_cursor(base64.urlsafe_b64encode(spaced).rstrip(b"=").decode(), "followers", "bob")
    # The canonical form of the very same payload is accepted.
    assert decode_cursor(forge(GOOD), "followers", "bob") == POSITION
