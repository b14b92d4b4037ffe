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
from letslive.models.addresses import client_key
from letslive.models.auth import Backoff, Rotation, StoredRefreshToken
from letslive.services.auth import (
    REUSE_GRACE_SECONDS,
    AuthService,
    ThrottlePolicy,
    hash_refresh_token,
)
from letslive.services.passwords import Passwords
from letslive.services.tokens import AccessTokenIssuer, AccessTokenVerifier, generate_signing_key, jwks_document
from tests.support.clocks import Clock

PASSWORD = "correct horse battery staple"
WINDOW = 900
T0 = 1_800_000_000 - 1_800_000_000 % WINDOW  # a window start
TTL = 30 * 24 * 3600
IP = "203.0.113.7"


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

    def family_revoked(self, family_id: str) -> bool:
        return self.revoked.get(family_id, True)

    def revoke_family(self, family_id: str) -> None:
        self.revocations.append(family_id)
        self.revoked[family_id] = True


class Throttle:
    """Windowed counters and backoff records in memory, with the repository's conditions."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, int]] = Counter()
        self.expiries: list[int] = []
        self.records: dict[str, tuple[Backoff, int]] = {}  # key -> (record, expires_at)
        # Writes that lose to a concurrent attempt, as many times as this says.
        self.conflicts = 0

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

    def backoff(self, key: str, now: int) -> Backoff:
        if key not in self.records:
            return Backoff()
        record, expires_at = self.records[key]
        return record if expires_at > now else Backoff(revision=record.revision)

    def replace(self, key: str, seen: Backoff, failures: int, locked_until: int, expires_at: int) -> Backoff | None:
        current = self.records[key][0].revision if key in self.records else None
        if self.conflicts > 0:
            self.conflicts -= 1
            return None
        if current != seen.revision:
            return None
        written = Backoff(failures, locked_until, (seen.revision or 0) + 1)
        self.records[key] = (written, expires_at)
        return written

    def clear(self, key: str) -> None:
        if key in self.records:
            record, expires_at = self.records[key]
            self.records[key] = (Backoff(0, 0, (record.revision or 0) + 1), expires_at)

    def failures(self, key: str) -> int:
        return self.records[key][0].failures if key in self.records else 0


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
    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        policy = policy or ThrottlePolicy()
        self.clock = Clock(T0 + 100)
        self.accounts = Accounts()
        self.sessions = Sessions()
        self.throttle = Throttle()
        self.passwords = SpyPasswords()
        key = generate_signing_key()
        self.verifier = AccessTokenVerifier(jwks_document(key), "letslive", "letslive-api")
        issuer = AccessTokenIssuer(key, "letslive", "letslive-api", 900, clock=self.clock)
        self.service = AuthService(
            self.accounts, self.sessions, self.throttle, self.passwords, issuer, TTL, policy, self.clock
        )


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def alice(world: World) -> World:
    world.service.signup("Alice", "Alice@Example.com", PASSWORD, IP)
    world.passwords.hashed = 0
    return world


# --- signup -------------------------------------------------------------------------------------


def test_signup_keeps_the_case_for_display_and_stores_a_lower_case_handle(world: World) -> None:
    account = world.service.signup("Alice", "Alice@Example.com", PASSWORD, IP)
    assert (account.username, account.display_name) == ("alice", "Alice")
    assert world.accounts.emails == {"alice@example.com": "alice"}
    assert world.accounts.credentials["alice"].password_hash.startswith("$argon2id$")
    assert world.sessions.tokens == {}  # signing up does not sign in


# Shorter names are refused as handles anyway.
@pytest.mark.parametrize("name", sorted(name for name in RESERVED_USERNAMES if len(name) >= 3))
def test_every_reserved_name_is_refused_in_any_case(world: World, name: str) -> None:
    for spelling in (name, name.upper()):
        with pytest.raises(InvalidInput, match="reserved"):
            world.service.signup(spelling, "x@example.com", PASSWORD, IP)
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
        world.service.signup(username, email, password, IP)
    assert world.accounts.accounts == {}
    assert sum(world.throttle.counts.values()) == 0  # refused before it counts against the address


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
    assert alice.throttle.failures(f"pair#alice#{IP}") == 1
    assert alice.throttle.counts["account#alice", T0] == 1
    assert alice.throttle.counts[f"ip#{IP}", T0] == 1


def fail(world: World, times: int, address: str = IP, username: str = "alice") -> None:
    for _ in range(times):
        with pytest.raises(InvalidCredentials):
            world.service.login(username, "wrong password", address)


def test_the_lockout_doubles_after_the_free_failures_up_to_the_cap() -> None:
    policy = ThrottlePolicy()
    assert [policy.lockout_seconds(n) for n in range(1, 14)] == [
        0, 0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600, 3600,
    ]  # fmt: skip
    assert policy.lockout_seconds(10_000) == 3600


def test_each_failure_past_the_free_ones_locks_the_pair_twice_as_long(alice: World) -> None:
    fail(alice, 5)  # free: no lock-out yet
    fail(alice, 1)  # the sixth locks the pair for the base
    verified = len(alice.passwords.verified)
    with pytest.raises(RateLimited) as locked:
        alice.service.login("alice", PASSWORD, IP)
    assert locked.value.retry_after_seconds == 60
    # Refused before the password is checked, and not counted again.
    assert len(alice.passwords.verified) == verified
    assert alice.throttle.failures(f"pair#alice#{IP}") == 6

    alice.clock.now += 59
    with pytest.raises(RateLimited) as still:
        alice.service.login("alice", PASSWORD, IP)
    assert still.value.retry_after_seconds == 1
    alice.clock.now += 1
    fail(alice, 1)  # the seventh doubles it
    with pytest.raises(RateLimited) as doubled:
        alice.service.login("alice", PASSWORD, IP)
    assert doubled.value.retry_after_seconds == 120
    alice.clock.now += 120
    alice.service.login("alice", PASSWORD, IP)  # the right password resets the pair
    assert alice.throttle.failures(f"pair#alice#{IP}") == 0
    fail(alice, 5)
    alice.service.login("alice", PASSWORD, IP)


def test_failures_from_other_addresses_never_lock_the_owner_out(alice: World) -> None:
    """Issue 14 item 2: guesses from anywhere used to refuse the owner's own right password."""
    for n in range(10):
        attacker = f"198.51.100.{n + 1}"
        fail(alice, 6, attacker)
        with pytest.raises(RateLimited):
            alice.service.login("alice", PASSWORD, attacker)
    # 60 failures against alice this window, from 10 addresses: her own address is untouched.
    alice.service.login("alice", PASSWORD, "192.0.2.50")


def test_the_backoff_is_forgotten_a_quiet_period_after_the_last_failure(alice: World) -> None:
    fail(alice, 6)
    alice.clock.now += 24 * 3600
    fail(alice, 5)  # five free ones again
    fail(alice, 1)
    with pytest.raises(RateLimited) as locked:
        alice.service.login("alice", PASSWORD, IP)
    assert locked.value.retry_after_seconds == 60


def test_an_address_is_limited_across_accounts() -> None:
    """Credential stuffing: one address, one guess at each of many accounts."""
    world = World(ThrottlePolicy(address_max_failures=5))
    world.service.signup("alice", "alice@example.com", PASSWORD, "192.0.2.1")
    for n in range(5):
        fail(world, 1, IP, f"victim{n}")
    with pytest.raises(RateLimited) as refused:
        world.service.login("alice", PASSWORD, IP)
    assert refused.value.retry_after_seconds == WINDOW - 100
    # The refusal took back what it had counted on alice's pair and account before the address said no.
    assert world.throttle.failures(f"pair#alice#{IP}") == 0
    assert world.throttle.counts["account#alice", T0] == 0
    world.service.login("alice", PASSWORD, "192.0.2.50")
    world.clock.now = T0 + WINDOW  # the window has ended
    world.service.login("alice", PASSWORD, IP)


@pytest.fixture
def besieged() -> World:
    """Alice and bob, with a global limit of 10 failures per account and window."""
    world = World(ThrottlePolicy(account_max_failures=10))
    world.service.signup("alice", "alice@example.com", PASSWORD, "192.0.2.1")
    world.service.signup("bob", "bob@example.com", PASSWORD, "192.0.2.1")
    return world


def siege(world: World) -> None:
    """Alice's account past its global limit for the window: 10 failures from 10 addresses."""
    for n in range(10):
        with pytest.raises((InvalidCredentials, RateLimited)):
            world.service.login("alice", "wrong password", f"198.51.100.{n + 1}")
    assert world.throttle.counts["account#alice", T0] == 10


def test_the_global_account_limit_refuses_unknown_devices_until_the_window_ends(besieged: World) -> None:
    siege(besieged)
    with pytest.raises(RateLimited) as refused:
        besieged.service.login("alice", PASSWORD, "192.0.2.50")
    assert refused.value.retry_after_seconds == WINDOW - 100
    besieged.service.login("bob", PASSWORD, "192.0.2.50")  # other accounts are not affected
    besieged.clock.now = T0 + WINDOW
    besieged.service.login("alice", PASSWORD, "192.0.2.50")


def test_a_known_device_gets_in_past_the_global_limit_and_the_pair_backoff(besieged: World) -> None:
    cookie = besieged.service.login("alice", PASSWORD, "192.0.2.50").refresh_token
    fail(besieged, 6, "192.0.2.50")  # her own address's pair is locked too
    siege(besieged)
    for address in ("192.0.2.50", "203.0.113.99"):
        with pytest.raises(RateLimited):
            besieged.service.login("alice", PASSWORD, address)

    besieged.service.login("alice", PASSWORD, "192.0.2.50", device_token=cookie)
    besieged.service.login("alice", PASSWORD, "203.0.113.99", device_token=cookie)
    # The password must still be right, and the device's failures have a backoff of their own.
    for _ in range(6):
        with pytest.raises(InvalidCredentials):
            besieged.service.login("alice", "wrong password", "192.0.2.50", device_token=cookie)
    with pytest.raises(RateLimited) as locked:
        besieged.service.login("alice", PASSWORD, "192.0.2.50", device_token=cookie)
    assert locked.value.retry_after_seconds == 60


def test_only_a_live_token_of_the_same_account_is_a_known_device(besieged: World) -> None:
    bobs = besieged.service.login("bob", PASSWORD, "192.0.2.50").refresh_token
    alices = besieged.service.login("alice", PASSWORD, "192.0.2.50").refresh_token
    spent = besieged.service.login("alice", PASSWORD, "192.0.2.50").refresh_token
    besieged.service.refresh(spent)
    revoked = besieged.service.login("alice", PASSWORD, "192.0.2.50").refresh_token
    besieged.service.logout(revoked)
    expiring = besieged.service.login("alice", PASSWORD, "192.0.2.50").refresh_token
    siege(besieged)
    besieged.sessions.tokens[hash_refresh_token(expiring)] = replace(
        besieged.sessions.tokens[hash_refresh_token(expiring)], expires_at=int(besieged.clock.now)
    )

    for token in (bobs, spent, revoked, expiring, "not-a-token", ""):
        with pytest.raises(RateLimited):
            besieged.service.login("alice", PASSWORD, "192.0.2.50", device_token=token)
    besieged.service.login("alice", PASSWORD, "192.0.2.50", device_token=alices)


def test_an_outage_is_not_counted_as_a_failure(alice: World) -> None:
    alice.accounts.outage = True
    for _ in range(8):
        with pytest.raises(DependencyUnavailable):
            alice.service.login("alice", PASSWORD, IP)
    alice.accounts.outage = False
    assert alice.throttle.counts[f"ip#{IP}", T0] == alice.throttle.counts["account#alice", T0] == 0
    assert alice.throttle.failures(f"pair#alice#{IP}") == 0
    alice.service.login("alice", PASSWORD, IP)


def test_a_write_lost_to_a_concurrent_attempt_is_retried(alice: World) -> None:
    alice.throttle.conflicts = 2
    fail(alice, 1)
    assert alice.throttle.failures(f"pair#alice#{IP}") == 1
    alice.throttle.conflicts = 100  # a burst on this very pair: refused, not let through
    with pytest.raises(RateLimited) as refused:
        alice.service.login("alice", PASSWORD, IP)
    assert refused.value.retry_after_seconds == 1
    assert alice.passwords.verified == [alice.accounts.credentials["alice"].password_hash]


def test_counters_outlive_their_window(alice: World) -> None:
    with pytest.raises(InvalidCredentials):
        alice.service.login("alice", "wrong password", IP)
    # DynamoDB may delete at any time after expires_at: never before the window has ended.
    assert all(expiry >= T0 + WINDOW for expiry in alice.throttle.expiries)
    assert alice.throttle.records[f"pair#alice#{IP}"][1] == alice.clock.now + 24 * 3600


# --- signup throttling --------------------------------------------------------------------------


def test_signups_per_address_are_limited_before_hashing() -> None:
    """Issue 14 item 3: each sign-up costs an argon2id hash, and nothing limited them."""
    world = World(ThrottlePolicy(signup_max_per_address=3, signup_window_seconds=3600))
    hour = T0 - T0 % 3600
    for n in range(3):
        world.service.signup(f"user{n}", f"user{n}@example.com", PASSWORD, IP)
    with pytest.raises(RateLimited) as refused:
        world.service.signup("user3", "user3@example.com", PASSWORD, IP)
    assert refused.value.retry_after_seconds == hour + 3600 - world.clock.now
    assert world.passwords.hashed == 3  # refused before the hash
    assert "user3" not in world.accounts.accounts
    # Another address (an IPv6 client by its /64) is not affected; the next window starts afresh.
    world.service.signup("user4", "user4@example.com", PASSWORD, "2001:db8::1")
    with pytest.raises(RateLimited):
        world.service.signup("user5", "user5@example.com", PASSWORD, "::ffff:203.0.113.7")
    world.clock.now = hour + 3600
    world.service.signup("user3", "user3@example.com", PASSWORD, IP)


def test_a_sign_up_that_was_hashed_counts_even_when_refused_after(world: World) -> None:
    world.service.signup("alice", "alice@example.com", PASSWORD, IP)
    with pytest.raises(Conflict):
        world.service.signup("alice", "other@example.com", PASSWORD, IP)
    hour = T0 - T0 % 3600
    assert world.throttle.counts[f"signup#{IP}", hour] == 2


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
