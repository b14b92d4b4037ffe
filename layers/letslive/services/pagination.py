"""Newest-first listings: page limits and the opaque cursors of every paginated route.

A cursor is url-safe base64 (unpadded) of canonical JSON `{"v", "list", "at", "key"}`: the
listing it was issued for (`"live"`, `"vods:alice"`, `"followers:bob"`, ...) and the position
after which the next page starts. Only a cursor issued for that very listing is accepted, and
only byte-for-byte in its canonical encoding, so no edited or foreign cursor passes.
"""

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from re import Pattern
from typing import Final

from letslive.errors import InvalidCursor, InvalidInput
from letslive.models.schema import CURSOR_MAX_LENGTH
from letslive.models.streams import ListPosition

CURSOR_VERSION: Final = 1
_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def check_limit(limit: int, maximum: int) -> None:
    if not 1 <= limit <= maximum:
        raise InvalidInput(f"limit must be between 1 and {maximum}")


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def encode_cursor(listing: str, position: ListPosition) -> str:
    """An opaque, url-safe token for "the entries of `listing` after `position`"."""
    payload = {"v": CURSOR_VERSION, "list": listing, "at": _timestamp(position.at), "key": position.key}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, listing: str, key_re: Pattern[str]) -> ListPosition:
    """The position in `cursor`, or `InvalidCursor`: it must name `listing`, its key must match
    `key_re`, and it must be the canonical encoding of what it decodes to."""
    invalid = InvalidCursor("the cursor is not valid for this list")
    if not cursor or len(cursor) > CURSOR_MAX_LENGTH or not set(cursor) <= _ALPHABET:
        raise invalid
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):  # bad base64, bad UTF-8, bad JSON
        raise invalid from None
    if not isinstance(payload, dict) or set(payload) != {"v", "list", "at", "key"}:
        raise invalid
    at, key = payload["at"], payload["key"]
    if payload["v"] != CURSOR_VERSION or payload["list"] != listing:
        raise invalid
    if not isinstance(at, str) or not isinstance(key, str) or not key_re.fullmatch(key):
        raise invalid
    try:
        position_at = datetime.fromisoformat(at)
    except ValueError:
        raise invalid from None
    if position_at.utcoffset() != timedelta(0):
        raise invalid
    position = ListPosition(at=position_at, key=key)
    if encode_cursor(listing, position) != cursor:
        raise invalid
    return position
