"""The handle rule: a username is a channel name, 3-25 ASCII letters, digits or underscores,
stored lower-case and matched case-insensitively ("Alice" and "alice" are one account).

ASCII only, and matched before lower-casing: `str.lower()` (and `re.IGNORECASE`) map the Kelvin
sign U+212A to "k", which would let a look-alike name resolve to a real account.
"""

import re
from typing import Final

from letslive.errors import ChannelNotFound, UserNotFound

# A handle as a client may type it (any case).
HANDLE_PATTERN: Final = r"[A-Za-z0-9_]{3,25}"
# A handle as it is stored (lower-case).
USERNAME_PATTERN: Final = r"[a-z0-9_]{3,25}"
HANDLE_RE: Final = re.compile(HANDLE_PATTERN)
USERNAME_RE: Final = re.compile(USERNAME_PATTERN)


def normalize_handle(raw: str) -> str | None:
    """The stored form of `raw`, or None when it cannot be a handle."""
    return raw.lower() if HANDLE_RE.fullmatch(raw) else None


def normalize_username(raw: str) -> str:
    """The stored handle; `UserNotFound` for anything that cannot be one."""
    name = normalize_handle(raw)
    if name is None:
        raise UserNotFound("there is no such user")
    return name


def normalize_channel(raw: str) -> str:
    """The stored channel name; `ChannelNotFound` for anything that cannot be one."""
    name = normalize_handle(raw)
    if name is None:
        raise ChannelNotFound("there is no such channel")
    return name
