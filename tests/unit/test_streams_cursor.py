"""Live-directory and VOD-list cursors: opaque, url-safe, and only valid for the listing that issued them."""

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from letslive.errors import InvalidCursor
from letslive.models.handles import USERNAME_RE
from letslive.models.streams import ListPosition
from letslive.services.pagination import decode_cursor, encode_cursor

POSITION = ListPosition(at=datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC), key="alice_01")
VOD_ID_RE = re.compile(r"[0-9a-f]{32}")
ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def forge(payload: object) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor("live", POSITION), "live", USERNAME_RE) == POSITION
    vod = ListPosition(POSITION.at, "0123456789abcdef0123456789abcdef")
    assert decode_cursor(encode_cursor("vods:alice", vod), "vods:alice", VOD_ID_RE) == vod


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    for microsecond in range(0, 1_000_000, 99_991):
        cursor = encode_cursor("live", ListPosition(POSITION.at.replace(microsecond=microsecond), "zz_top"))
        assert set(cursor) <= ALPHABET


def test_a_time_in_another_zone_is_the_same_instant() -> None:
    at = datetime(2026, 3, 1, 13, 30, 5, 7, tzinfo=timezone(timedelta(hours=1)))
    decoded = decode_cursor(encode_cursor("live", ListPosition(at, "alice")), "live", USERNAME_RE)
    assert decoded.at == at
    assert decoded.at.utcoffset() == timedelta(0)


def test_a_cursor_for_another_listing_is_refused() -> None:
    cursor = encode_cursor("vods:alice", ListPosition(POSITION.at, "0" * 32))
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "vods:bob", VOD_ID_RE)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "live", USERNAME_RE)


def test_every_single_character_change_is_refused_or_harmless() -> None:
    cursor = encode_cursor("live", POSITION)
    for index in range(len(cursor)):
        for replacement in "A_z9":
            if cursor[index] == replacement:
                continue
            edited = cursor[:index] + replacement + cursor[index + 1 :]
            try:
                position = decode_cursor(edited, "live", USERNAME_RE)
            except InvalidCursor:
                continue
            assert encode_cursor("live", position) == edited


GOOD = {"v": 1, "list": "live", "at": "2026-03-01T12:30:05.123456+00:00", "key": "alice"}


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "=",
        "not base64!",
        "a" * 301,
        forge(GOOD) + "=",  # padded: not the canonical form
        forge(GOOD) + "\n",
        forge([GOOD]),
        forge("live"),
        forge({**GOOD, "v": 2}),
        forge({**GOOD, "v": True}),
        forge({**GOOD, "extra": 1}),
        forge({k: v for k, v in GOOD.items() if k != "key"}),
        forge({**GOOD, "key": "Alice"}),  # not a stored (lower-case) handle
        forge({**GOOD, "key": "a" * 26}),
        forge({**GOOD, "key": 5}),
        forge({**GOOD, "at": "yesterday"}),
        forge({**GOOD, "at": "2026-03-01T12:30:05.123456"}),  # naive
        forge({**GOOD, "at": "2026-03-01T13:30:05.123456+01:00"}),  # not UTC
        forge({**GOOD, "at": "2026-03-01T12:30:05+00:00"}),  # not the canonical precision
        forge({**GOOD, "at": 1772368205}),
        base64.urlsafe_b64encode(b"\xff\xfe").rstrip(b"=").decode(),
    ],
)
def test_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "live", USERNAME_RE)


def test_the_canonical_forgery_is_just_a_position() -> None:
    """A cursor is not a secret: one built by hand in the canonical form is an ordinary position."""
    assert decode_cursor(forge(GOOD), "live", USERNAME_RE) == ListPosition(
        datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC), "alice"
    )
