"""`AuthService` rules that need no AWS: in-memory stores, a fake clock, cheap hashing.

The DynamoDB repositories (conditions, transactions) are exercised in
`tests/integration/test_auth_api.py`; here the stores only keep state.
"""

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher

from letslive.constants import RESERVED_USERNAMES
from letslive.data.accounts import AccountItem, CredentialItem
from letslive.errors import (
    Conflict,
    DependencyUnavailable,
    InvalidCredentials,
    InvalidInput,
    InvalidRefreshToken,
    RateLimited,
    WeakPassword,
)
from letslive.models.auth import Rotation, StoredRefreshToken
from letslive.services.auth import (
    REUSE_GRACE_SECONDS,
    AuthService,
    ThrottlePolicy,
    client_key,
    hash_refresh_token,
)
from letslive.services.passwords import Passwords
from letslive.services.tokens import AccessTokenIssuer, AccessTokenVerifier, generate_signing_key, jwks_document

PASSWORD = "correct horse battery staple"
WINDOW = 900
T0 = 1_800_000_000 - 1_800_000_000 % WINDOW  # a window start
TTL = 30 * 24 * 3600
IP = "203.0.113.7"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Accounts:
    def __init__(self) -> None:
        self.accounts: dict[str, AccountItem] = {}
        self.credentials: dict[str, CredentialItem] = {}
        self.emails: dict[str, str] = {}
        self.outage = False

    def create(self, user_id: str, username: str, email: str, password_hash: str) -> AccountItem:
        if username.lower() in self.accounts or email.lower() in self.emails:
            raise Conflict("taken")
        account = AccountItem(
            f"USER#{username.lower()}", "ACCOUNT", user_id=user_id, username=username.lower(),
            email=email.lower(), display_name=username, created_at=datetime.now(UTC),
        )  # fmt: skip
        self.accounts[username.lower()] = account
        self.emails[email.lower()] = username.lower()
        self.credentials[username.lower()] = CredentialItem(
            f"CRED#{username.lower()}", "CRED", user_id=user_id, password_hash=password_hash
        )
        return account

    def username_for_email(self, email: str) -> str | None:
        return self.emails.get(email.lower())

    def credential(self, username: str) -> CredentialItem | None:
        if self.outage:
            raise DependencyUnavailable("the table is down")
        return self.credentials.get(username.lower())


class Sessions:
    def __init__(self) -> None:
        self.tokens: dict[str, StoredRefreshToken] = {}
        self.revoked: dict[str, bool] = {}
        self.revocations: list[str] = []
        self.forced: Rotation | None = None

    def token(self, token_hash: str) -> StoredRefreshToken | None:
        return self.tokens.get(token_hash)

    def start(self, family_id: str, token_hash: str, user_id: str, username: str, now: int, expires_at: int) -> None:
        self.revoked[family_id] = False
        self.tokens[token_hash] = StoredRefreshToken(token_hash, family_id, user_id, username, False, expires_at)

    def rotate(
        self, old: StoredRefreshToken, new_hash: str, now: int, expires_at: int, *, rotated_since: int | None = None
    ) -> Rotation:
        if self.forced is not None:
            return self.forced
        current = self.tokens[old.token_hash]
        if rotated_since is None and current.used:
            return Rotation.ALREADY_USED
        if rotated_since is not None and (current.rotated_at is None or current.rotated_at < rotated_since):
            return Rotation.ALREADY_USED
        if self.revoked[old.family_id]:
            return Rotation.REVOKED
        if rotated_since is None:
            self.tokens[old.token_hash] = replace(current, used=True, rotated_at=now)
        self.tokens[new_hash] = replace(old, token_hash=new_hash, used=False, expires_at=expires_at, rotated_at=None)
        return Rotation.ROTATED

    def revoke_family(self, family_id: str) -> None:
        self.revocations.append(family_id)
        self.revoked[family_id] = True


class Throttle:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, int]] = Counter()
        self.expiries: list[int] = []

    def reserve(self, keys: Sequence[str], window_start: int, limit: int, expires_at: int) -> bool:
        if any(self.counts[key, window_start] >= limit for key in keys):
            return False
        for key in keys:
            self.counts[key, window_start] += 1
        self.expiries.append(expires_at)
        return True

    def release(self, keys: Sequence[str], window_start: int) -> None:
        for key in keys:
            self.counts[key, window_start] -= 1


class SpyPasswords(Passwords):
    def __init__(self) -> None:
        super().__init__(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        self.hashed = 0
        self.verified: list[str | None] = []

    def hash(self, password: str) -> str:
        self.hashed += 1
        return super().hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        self.verified.append(password_hash)
        return super().verify(password_hash, password)


class World:
    def __init__(self) -> None:
        self.clock = Clock(T0 + 100)
        self.accounts = Accounts()
        self.sessions = Sessions()
        self.throttle = Throttle()
        self.passwords = SpyPasswords()
        key = generate_signing_key()
        self.verifier = AccessTokenVerifier(jwks_document(key), "letslive", "letslive-api")
        issuer = AccessTokenIssuer(key, "letslive", "letslive-api", 900, clock=self.clock)
        self.service = AuthService(
            self.accounts, self.sessions, self.throttle, self.passwords, issuer, TTL, ThrottlePolicy(), self.clock
        )


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def alice(world: World) -> World:
    world.service.signup("Alice", "Alice@Example.com", PASSWORD)
    world.passwords.hashed = 0
    return world


# --- signup -------------------------------------------------------------------------------------


def test_signup_keeps_the_case_for_display_and_stores_a_lower_case_handle(world: World) -> None:
    account = world.service.signup("Alice", "Alice@Example.com", PASSWORD)
    assert (account.username, account.display_name) == ("alice", "Alice")
    assert world.accounts.emails == {"alice@example.com": "alice"}
    assert world.accounts.credentials["alice"].password_hash.startswith("$argon2id$")
    assert world.sessions.tokens == {}  # signing up does not sign in


# Shorter names are refused as handles anyway.
@pytest.mark.parametrize("name", sorted(name for name in RESERVED_USERNAMES if len(name) >= 3))
def test_every_reserved_name_is_refused_in_any_case(world: World, name: str) -> None:
    for spelling in (name, name.upper()):
        with pytest.raises(InvalidInput, match="reserved"):
            world.service.signup(spelling, "x@example.com", PASSWORD)
    assert world.passwords.hashed == 0  # refused before paying for a hash


def test_the_reserved_list_covers_the_service_routes() -> None:
    assert {
        "auth",
        "users",
        "streams",
        "vods",
        "admin",
        "root",
        "api",
        "www",
        "null",
        "undefined",
    } <= RESERVED_USERNAMES
    assert all(name == name.lower() for name in RESERVED_USERNAMES)


@pytest.mark.parametrize(
    ("username", "email", "password", "error"),
    [
        ("al", "a@example.com", PASSWORD, InvalidInput),
        ("al-ice", "a@example.com", PASSWORD, InvalidInput),
        ("alice", "nope", PASSWORD, InvalidInput),
        ("alice", "a@example.com", "short", WeakPassword),
        ("alice", "a@example.com", "alice1234567", WeakPassword),
    ],
)
def test_the_service_checks_its_input_itself(
    world: World, username: str, email: str, password: str, error: type[Exception]
) -> None:
    # Any entry point, not just the HTTP model, gets the same rules.
    with pytest.raises(error):
        world.service.signup(username, email, password)
    assert world.accounts.accounts == {}


# --- login and throttling -----------------------------------------------------------------------


def test_login_issues_a_verifiable_access_token_and_an_opaque_refresh_token(alice: World) -> None:
    alice.clock.now = now = int(time.time())  # the verifier checks iat and exp against real time
    tokens = alice.service.login("alice", PASSWORD, IP)

    assert alice.verifier.verify(tokens.access_token).username == "alice"
    assert tokens.expires_in == 900
    assert len(tokens.refresh_token) == 43  # 32 random bytes, base64url
    (stored,) = alice.sessions.tokens.values()
    assert stored.token_hash == hashlib.sha256(tokens.refresh_token.encode()).hexdigest()
    assert stored.expires_at == now + TTL


def test_an_unknown_account_still_costs_one_verification(alice: World) -> None:
    with pytest.raises(InvalidCredentials):
        alice.service.login("mallory", PASSWORD, IP)
    assert alice.passwords.verified == [None]


def test_the_email_names_the_account_for_the_throttle(alice: World) -> None:
    with pytest.raises(InvalidCredentials):
        alice.service.login("ALICE@example.com", "wrong password", IP)
    assert alice.throttle.counts["account#alice", T0] == 1


def test_retry_after_is_the_rest_of_the_window(alice: World) -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            alice.service.login("alice", "wrong password", IP)
    alice.clock.now = T0 + 1
    with pytest.raises(RateLimited) as first:
        alice.service.login("alice", PASSWORD, IP)
    alice.clock.now = T0 + WINDOW - 1
    with pytest.raises(RateLimited) as last:
        alice.service.login("alice", PASSWORD, IP)

    assert first.value.retry_after_seconds == WINDOW - 1
    assert last.value.retry_after_seconds == 1
    alice.clock.now = T0 + WINDOW
    alice.service.login("alice", PASSWORD, IP)


def test_counters_outlive_their_window(alice: World) -> None:
    with pytest.raises(InvalidCredentials):
        alice.service.login("alice", "wrong password", IP)
    # DynamoDB may delete at any time after expires_at: never before the window has ended.
    assert all(expiry >= T0 + WINDOW for expiry in alice.throttle.expiries)


def test_an_outage_is_not_counted_as_a_failure(alice: World) -> None:
    alice.accounts.outage = True
    for _ in range(6):
        with pytest.raises(DependencyUnavailable):
            alice.service.login("alice", PASSWORD, IP)
    alice.accounts.outage = False
    assert sum(alice.throttle.counts.values()) == 0
    alice.service.login("alice", PASSWORD, IP)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:0db8:0000:0000:ffff:ffff:ffff:ffff", "2001:db8::/64"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
        ("", "unknown"),
        ("x" * 500, "x" * 64),
    ],
)
def test_client_key(address: str, key: str) -> None:
    assert client_key(address) == key


# --- refresh and logout -------------------------------------------------------------------------


def test_a_refresh_token_works_until_its_expiry(alice: World) -> None:
    first = alice.service.login("alice", PASSWORD, IP).refresh_token
    alice.clock.now += TTL - 1
    second = alice.service.refresh(first).refresh_token
    alice.clock.now += TTL
    with pytest.raises(InvalidRefreshToken):
        alice.service.refresh(second)


def test_a_spent_token_revokes_its_family(alice: World) -> None:
    first = alice.service.login("alice", PASSWORD, IP).refresh_token
    second = alice.service.refresh(first).refresh_token
    alice.clock.now += REUSE_GRACE_SECONDS + 1

    with pytest.raises(InvalidRefreshToken, match="already used"):
        alice.service.refresh(first)
    with pytest.raises(InvalidRefreshToken):
        alice.service.refresh(second)
    family = alice.sessions.tokens[hash_refresh_token(first)].family_id
    assert alice.sessions.revocations == [family]


def test_a_token_spent_within_the_grace_gets_a_sibling_successor(alice: World) -> None:
    """A reload that lost the refresh response presents the spent token again."""
    alice.clock.now = int(time.time())  # the verifier checks iat and exp against real time
    first = alice.service.login("alice", PASSWORD, IP).refresh_token
    lost = alice.service.refresh(first).refresh_token
    alice.clock.now += REUSE_GRACE_SECONDS - 1
    again = alice.service.refresh(first)

    assert again.refresh_token != lost
    assert alice.verifier.verify(again.access_token).username == "alice"
    assert alice.sessions.revocations == []
    # Both successors are live, single-use tokens of the same family.
    assert alice.service.refresh(again.refresh_token).refresh_token
    assert alice.service.refresh(lost).refresh_token
    family = {alice.sessions.tokens[hash_refresh_token(t)].family_id for t in (first, lost, again.refresh_token)}
    assert len(family) == 1


def test_the_grace_counts_from_the_first_spending(alice: World) -> None:
    first = alice.service.login("alice", PASSWORD, IP).refresh_token
    alice.service.refresh(first)
    alice.clock.now += REUSE_GRACE_SECONDS - 1
    alice.service.refresh(first)  # within the grace; does not restart it
    alice.clock.now += 2
    with pytest.raises(InvalidRefreshToken, match="already used"):
        alice.service.refresh(first)
    assert len(alice.sessions.revocations) == 1


def test_losing_a_rotation_race_to_an_old_spending_counts_as_reuse(alice: World) -> None:
    first = alice.service.login("alice", PASSWORD, IP).refresh_token
    alice.sessions.forced = Rotation.ALREADY_USED
    with pytest.raises(InvalidRefreshToken, match="already used"):
        alice.service.refresh(first)
    assert len(alice.sessions.revocations) == 1


def test_a_revoked_family_is_refused_without_revoking_again(alice: World) -> None:
    first = alice.service.login("alice", PASSWORD, IP).refresh_token
    alice.sessions.forced = Rotation.REVOKED
    with pytest.raises(InvalidRefreshToken, match="not valid"):
        alice.service.refresh(first)
    assert alice.sessions.revocations == []


@pytest.mark.parametrize("token", [None, "", "unknown-token"])
def test_refresh_without_a_known_token_is_refused(alice: World, token: str | None) -> None:
    with pytest.raises(InvalidRefreshToken):
        alice.service.refresh(token)


@pytest.mark.parametrize("token", [None, "", "unknown-token"])
def test_logout_without_a_known_token_does_nothing(alice: World, token: str | None) -> None:
    alice.service.logout(token)
    assert alice.sessions.revocations == []


def test_logout_revokes_the_family(alice: World) -> None:
    first = alice.service.login("alice", PASSWORD, IP).refresh_token
    second = alice.service.refresh(first).refresh_token
    alice.service.logout(second)
    with pytest.raises(InvalidRefreshToken):
        alice.service.refresh(second)
