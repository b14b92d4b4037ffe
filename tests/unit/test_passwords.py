"""Password policy and argon2id hashing."""

import unicodedata
from typing import Literal

import argon2
import pytest
from argon2 import PasswordHasher, Type

from letslive.errors import InvalidInput, WeakPassword
from letslive.services.common_passwords import COMMON_PASSWORDS
from letslive.services.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    Passwords,
    check_password_policy,
    default_passwords,
    password_hasher,
)

GOOD = "correct horse battery staple"


class CountingHasher(PasswordHasher):
    """Cheap parameters (these tests are about behaviour, not cost) and a record of each call."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified: list[str] = []
        self.hashed = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashed += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def passwords(hasher: CountingHasher) -> Passwords:
    return Passwords(hasher)


# --- policy -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [GOOD, "x" * MIN_LENGTH, "y" * MAX_LENGTH, "Tr0ub4dor&3x", "pässwörter sind lang", "🔑" * MIN_LENGTH],
)
def test_acceptable_passwords(password: str) -> None:
    check_password_policy(password, "alice")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("", "at least 10"),
        ("x" * (MIN_LENGTH - 1), "at least 10"),
        ("x" * (MAX_LENGTH + 1), "at most 128"),
        ("password123", "too common"),
        ("PASSWORD123", "too common"),
        ("QwertyUIOP", "too common"),
        ("1234567890", "too common"),
        ("alice-is-great", "contain the username"),
        ("my name is ALICE", "contain the username"),
        ("xxalicexx12", "contain the username"),
    ],
)
def test_refused_passwords(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason):
        check_password_policy(password, "alice")


def test_weak_password_is_an_invalid_input() -> None:
    # Its HTTP status (400) comes from the base class.
    assert issubclass(WeakPassword, InvalidInput)
    assert WeakPassword.code == "weak-password"


def test_length_counts_characters_as_typed_too() -> None:
    # Nine characters as typed (the request schema's minLength), ten after NFKC (U+00B8 CEDILLA
    # becomes a space and a combining cedilla): too short, as the schema says.
    nine = "x" * 8 + "\u00b8"
    assert len(nine) == MIN_LENGTH - 1
    assert len(unicodedata.normalize("NFKC", nine)) == MIN_LENGTH
    with pytest.raises(WeakPassword):
        check_password_policy(nine, "alice")
    # And one that NFKC lengthens past the maximum (U+FDFA becomes 18 characters).
    with pytest.raises(WeakPassword):
        check_password_policy("x" * (MAX_LENGTH - 1) + "\ufdfa", "alice")


def test_length_counts_characters_after_normalization() -> None:
    # Nine characters, one of them written as e + combining accent (ten code points): too short.
    nine = "caf" + "e\u0301" + "xxxxx"
    assert len(nine) == MIN_LENGTH
    assert len(unicodedata.normalize("NFKC", nine)) == MIN_LENGTH - 1
    with pytest.raises(WeakPassword):
        check_password_policy(nine, "alice")


def test_the_common_list_is_long_and_every_entry_can_match() -> None:
    assert len(COMMON_PASSWORDS) >= 100
    for entry in COMMON_PASSWORDS:
        # A shorter entry would be dead (the length rule refuses it first); a non-folded one never matches.
        assert len(entry) >= MIN_LENGTH, entry
        assert entry == entry.casefold(), entry
        with pytest.raises(WeakPassword, match="too common"):
            check_password_policy(entry.upper(), "zz_nobody")


# --- hashing ------------------------------------------------------------------------------------


def test_production_parameters_are_rfc_9106_argon2id() -> None:
    stored = Passwords(password_hasher()).hash(GOOD)
    parameters = argon2.extract_parameters(stored)
    assert parameters.type is Type.ID
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (64 * 1024, 3, 4)
    assert (parameters.hash_len, parameters.salt_len) == (32, 16)
    assert GOOD not in stored


def test_verify_round_trip(passwords: Passwords) -> None:
    stored = passwords.hash(GOOD)
    assert passwords.verify(stored, GOOD) is True
    assert passwords.verify(stored, GOOD + " ") is False
    assert passwords.verify(stored, GOOD.upper()) is False


def test_hashes_are_salted(passwords: Passwords) -> None:
    assert passwords.hash(GOOD) != passwords.hash(GOOD)


def test_equivalent_unicode_spellings_verify(passwords: Passwords) -> None:
    composed = "mot de passe d\u00e9j\u00e0 vu"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert passwords.verify(passwords.hash(composed), decomposed) is True


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$argon2id$v=19$m=1024,t=1,p=1$garbage", "$2b$12$abcdefghijk"])
def test_an_unreadable_stored_hash_never_matches(passwords: Passwords, stored: str) -> None:
    assert passwords.verify(stored, GOOD) is False


def test_a_missing_account_costs_a_full_verification(passwords: Passwords, hasher: CountingHasher) -> None:
    real = passwords.hash(GOOD)
    hasher.verified.clear()

    assert passwords.verify(None, GOOD) is False

    # One verification, against a hash made with the very same parameters as real ones.
    (dummy,) = hasher.verified
    assert dummy != real
    assert argon2.extract_parameters(dummy) == argon2.extract_parameters(real)


def test_the_dummy_hash_is_made_once(passwords: Passwords, hasher: CountingHasher) -> None:
    passwords.verify(None, "first")
    made = hasher.hashed
    for attempt in range(3):
        assert passwords.verify(None, f"attempt {attempt}") is False
    assert hasher.hashed == made == 1
    assert len(set(hasher.verified)) == 1


def test_needs_rehash_after_the_parameters_are_raised(passwords: Passwords) -> None:
    old = passwords.hash(GOOD)
    assert passwords.needs_rehash(old) is False
    assert Passwords(password_hasher()).needs_rehash(old) is True


def test_the_process_keeps_one_passwords_instance() -> None:
    # So the dummy hash is paid for once per container, not once per request.
    assert default_passwords() is default_passwords()
