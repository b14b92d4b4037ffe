"""Passwords: the policy a new password must meet, and argon2id hashing.

Parameters (argon2-cffi's defaults, RFC 9106's "second recommended option", written out so a
library upgrade cannot change them unnoticed): argon2id, 64 MiB of memory, 3 passes, 4 lanes,
16-byte random salt, 32-byte tag. About 0.1 s per hash on one core, which is the point: it
bounds offline guessing if the auth table ever leaks. Each hash embeds its parameters, so
raising them later still verifies old hashes (`needs_rehash` tells which are outdated).
"""

import secrets
import unicodedata
from functools import lru_cache
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from letslive.errors import WeakPassword
from letslive.models.auth import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from letslive.services.common_passwords import COMMON_PASSWORDS

# The lengths are the request model's; the maximum is long enough for any passphrase or
# manager-generated password, short enough that nobody can make the server hash megabytes.
MIN_LENGTH: Final = PASSWORD_MIN_LENGTH
MAX_LENGTH: Final = PASSWORD_MAX_LENGTH

ARGON2_TIME_COST: Final = 3
ARGON2_MEMORY_COST_KIB: Final = 64 * 1024
ARGON2_PARALLELISM: Final = 4
ARGON2_HASH_LEN: Final = 32
ARGON2_SALT_LEN: Final = 16


def _normalize(password: str) -> str:
    # NFKC (NIST SP 800-63B 5.1.1.2): "é" typed as one code point or as e + accent is the same
    # password on every keyboard.
    return unicodedata.normalize("NFKC", password)


def check_password_policy(password: str, username: str) -> None:
    """Raise `WeakPassword` unless `password` may be set for `username`."""
    normalized = _normalize(password)
    # Counted as typed (what the request schema states) and as hashed: NFKC may shorten or
    # lengthen a password, and neither form may fall outside the bounds.
    lengths = (len(password), len(normalized))
    if min(lengths) < MIN_LENGTH:
        raise WeakPassword(f"the password must be at least {MIN_LENGTH} characters")
    if max(lengths) > MAX_LENGTH:
        raise WeakPassword(f"the password must be at most {MAX_LENGTH} characters")
    folded = normalized.casefold()
    if folded in COMMON_PASSWORDS:
        raise WeakPassword("that password is too common; choose another")
    if username.casefold() in folded:
        raise WeakPassword("the password must not contain the username")


class Passwords:
    """Hashes and verifies passwords; verifying for a missing account costs as much as for a real one."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(_normalize(password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches `password_hash`.

        `None` (no such account) still runs one full verification against a dummy hash made
        with the same parameters, so a missing account does not answer faster than a wrong
        password.
        """
        if password_hash is None:
            self._verify(self._dummy(), password)
            return False
        return self._verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, _normalize(password))
        except (VerificationError, InvalidHashError):
            # Mismatch, or a hash this library cannot read: either way, not a match.
            return False

    def _dummy(self) -> str:
        # Made on first need rather than at cold start (it costs one full hash).
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash


def password_hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_COST_KIB,
        parallelism=ARGON2_PARALLELISM,
        hash_len=ARGON2_HASH_LEN,
        salt_len=ARGON2_SALT_LEN,
        type=Type.ID,
    )


@lru_cache(maxsize=1)
def default_passwords() -> Passwords:
    """The process's `Passwords`: kept for the container's life so the dummy hash is made once."""
    return Passwords(password_hasher())
