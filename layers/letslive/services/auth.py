"""Signing up, signing in, refreshing and signing out.

Sessions: a login starts a refresh-token *family*. Each refresh spends the presented token and
issues its successor in the same family; presenting a spent token again means two parties hold
it (theft), so the whole family is revoked. Except within `REUSE_GRACE_SECONDS` of its
spending: a browser that lost the response (a page reloaded while the refresh was in flight)
or two tabs refreshing at once present it again a moment later, and get a sibling successor
instead of being signed out; a thief replaying it would have to do so within those seconds.
Logout revokes the family too. Refresh tokens are opaque random strings; only their SHA-256 is
stored (they carry 256 bits of entropy, so a plain hash is as good as a slow one here). Their
lifetime slides: each rotation gives the family another `refresh_ttl_seconds`.

Failed logins (`ThrottlePolicy`; every refusal is `RateLimited`, 429 with Retry-After):
- per account *and* client address, with exponential backoff: `free_failures` in a row cost
  nothing, each further one locks that pair out twice as long as the last (capped). Locked
  pairs are refused before the password is checked. A failure from one address never locks
  the account out anywhere else, so nobody can lock a streamer out of their own account;
- per address across accounts in a fixed window (credential stuffing);
- per account from every address in a fixed window, high enough that a handful of addresses
  cannot reach it (a botnet can: then only known devices get in);
- a *known device* (the browser presents its refresh cookie: a live token of a live family of
  this very account) is held to neither window: only to its own backoff, keyed by its family.
Every attempt is counted before its password is checked (so a burst of concurrent guesses
cannot all pass a check made before any failed) and taken back on success or an outage.

Sign-ups cost an argon2id hash each; they are counted per client address in a fixed window
before anything is hashed.
"""

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final, NoReturn, Protocol

from letslive.constants import RESERVED_USERNAMES
from letslive.errors import ConfigurationError, InvalidCredentials, InvalidInput, InvalidRefreshToken, RateLimited
from letslive.models.addresses import client_key
from letslive.models.auth import Backoff, IssuedTokens, PublicAccount, Rotation, StoredRefreshToken, normalize_email
from letslive.models.handles import USERNAME_RE
from letslive.services.passwords import Passwords, check_password_policy
from letslive.services.tokens import AccessTokenIssuer

if TYPE_CHECKING:
    from letslive.data.accounts import AccountItem, CredentialItem

REFRESH_TOKEN_BYTES: Final = 32  # 256 bits
# How long a rotated refresh token may be presented again (see above). Auth0 and Okta offer
# the same "reuse interval"; a reload re-sends it within a second or two.
REUSE_GRACE_SECONDS: Final = 10
# Tries at writing a backoff record that concurrent attempts keep changing under us.
BACKOFF_WRITE_ATTEMPTS: Final = 5

BAD_CREDENTIALS: Final = "the username or password is not correct"
INVALID_SESSION: Final = "the refresh token is not valid; sign in again"
REUSED_SESSION: Final = "the refresh token was already used; this session has been revoked, sign in again"


class AccountStore(Protocol):
    def create(self, user_id: str, username: str, email: str, password_hash: str) -> "AccountItem": ...

    def username_for_email(self, email: str) -> str | None: ...

    def credential(self, username: str) -> "CredentialItem | None": ...


class SessionStore(Protocol):
    def token(self, token_hash: str) -> StoredRefreshToken | None: ...

    def start(
        self, family_id: str, token_hash: str, user_id: str, username: str, now: int, expires_at: int
    ) -> None: ...

    def rotate(
        self, old: StoredRefreshToken, new_hash: str, now: int, expires_at: int, *, rotated_since: int | None = None
    ) -> Rotation: ...

    def family_revoked(self, family_id: str) -> bool: ...

    def revoke_family(self, family_id: str) -> None: ...


class ThrottleStore(Protocol):
    def reserve(self, keys: Sequence[str], window_start: int, limit: int, expires_at: int) -> bool: ...

    def release(self, keys: Sequence[str], window_start: int) -> None: ...

    def backoff(self, key: str, now: int) -> Backoff: ...

    def replace(self, key: str, seen: Backoff, failures: int, locked_until: int, expires_at: int) -> Backoff | None: ...

    def clear(self, key: str) -> None: ...


@dataclass(frozen=True)
class ThrottlePolicy:
    """The numbers of the login and sign-up throttles (`letslive.settings`, `LETSLIVE_LOGIN_*`,
    `LETSLIVE_SIGNUP_*`); the defaults are the settings' defaults."""

    free_failures: int = 5
    backoff_base_seconds: int = 60
    backoff_max_seconds: int = 3600
    backoff_reset_seconds: int = 24 * 3600
    window_seconds: int = 15 * 60
    address_max_failures: int = 100
    account_max_failures: int = 300
    signup_window_seconds: int = 3600
    signup_max_per_address: int = 10

    def lockout_seconds(self, failures: int) -> int:
        """How long `failures` consecutive failures lock their pair out: 0 while free, then the
        base doubling with each further failure, up to the cap."""
        excess = failures - self.free_failures
        if excess <= 0:
            return 0
        # Capping the exponent first keeps a long run of failures from making a huge integer.
        return min(self.backoff_base_seconds << min(excess - 1, 32), self.backoff_max_seconds)


@dataclass(frozen=True)
class _Reservation:
    """What a login attempt counted before its password was checked, to take back after."""

    backoff_key: str
    before: Backoff
    written: Backoff
    windows: tuple[str, ...]
    window_start: int


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        accounts: AccountStore,
        sessions: SessionStore,
        throttle: ThrottleStore,
        passwords: Passwords,
        issuer: AccessTokenIssuer,
        refresh_ttl_seconds: int,
        throttle_policy: ThrottlePolicy = ThrottlePolicy(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._throttle = throttle
        self._passwords = passwords
        self._issuer = issuer
        self.refresh_ttl_seconds = refresh_ttl_seconds
        self._policy = throttle_policy
        self._clock = clock

    # --- signup --------------------------------------------------------------------------------

    def signup(self, username: str, email: str, password: str, client_address: str) -> PublicAccount:
        """Create an account (or raise `InvalidInput`, `WeakPassword`, `Conflict`, `RateLimited`);
        it does not sign in."""
        handle = username.lower()
        if not USERNAME_RE.fullmatch(handle):
            raise InvalidInput("the username must be 3-25 letters, digits or underscores")
        if handle in RESERVED_USERNAMES:
            raise InvalidInput("that username is reserved")
        try:
            email = normalize_email(email)
        except ValueError:
            raise InvalidInput("the email address is not valid") from None
        check_password_policy(password, handle)
        # Counted before the hash and never taken back: the hash is what a flood would cost us.
        now = int(self._clock())
        window = self._policy.signup_window_seconds
        window_start = now - now % window
        key = f"signup#{client_key(client_address)}"
        if not self._throttle.reserve(
            (key,), window_start, self._policy.signup_max_per_address, window_start + 2 * window
        ):
            raise RateLimited(
                "too many sign-ups from this address; try again later",
                retry_after_seconds=window_start + window - now,
            )
        account = self._accounts.create(uuid.uuid4().hex, username, email, self._passwords.hash(password))
        return PublicAccount(
            username=account.username, display_name=account.display_name, created_at=account.created_at
        )

    # --- login ---------------------------------------------------------------------------------

    def login(
        self, identifier: str, password: str, client_address: str, device_token: str | None = None
    ) -> IssuedTokens:
        """Tokens for a username (or email) and password; `InvalidCredentials` or `RateLimited`.

        `device_token` is the refresh token the client holds, if any (the browser's cookie): a
        live one of this account makes the attempt a known device's.
        """
        now = int(self._clock())
        username = self._username_for(identifier)
        reservation = self._reserve(username, client_address, device_token, now)
        try:
            credential = self._accounts.credential(username)
            # Runs a full verification even when there is no account, so both fail equally slowly.
            valid = self._passwords.verify(credential.password_hash if credential else None, password)
        except BaseException:
            self._undo(reservation, now)  # an outage is not a wrong password
            raise
        if credential is None or not valid:
            raise InvalidCredentials(BAD_CREDENTIALS)
        self._throttle.clear(reservation.backoff_key)
        self._throttle.release(reservation.windows, reservation.window_start)
        return self._start_session(str(credential.user_id), username, now)

    def _known_device(self, device_token: str | None, username: str, now: int) -> str | None:
        """The session family of `device_token` when it is a live token of `username`'s."""
        if not device_token:
            return None
        stored = self._sessions.token(hash_refresh_token(device_token))
        if stored is None or stored.used or stored.expires_at <= now or stored.username != username:
            return None
        return None if self._sessions.family_revoked(stored.family_id) else stored.family_id

    def _reserve(self, username: str, client_address: str, device_token: str | None, now: int) -> _Reservation:
        """Count this attempt as a failure everywhere it would count, or raise `RateLimited`."""
        policy = self._policy
        family = self._known_device(device_token, username, now)
        address = client_key(client_address)
        windows: tuple[tuple[str, int], ...] = ()
        if family is not None:
            backoff_key = f"device#{username}#{family}"
        else:
            backoff_key = f"pair#{username}#{address}"
            windows = (
                (f"ip#{address}", policy.address_max_failures),
                (f"account#{username}", policy.account_max_failures),
            )
        before, written = self._count_failure(backoff_key, now)
        window = policy.window_seconds
        window_start = now - now % window
        counted: list[str] = []
        for key, limit in windows:
            try:
                admitted = self._throttle.reserve((key,), window_start, limit, window_start + 2 * window)
            except BaseException:
                self._undo(_Reservation(backoff_key, before, written, tuple(counted), window_start), now)
                raise
            if not admitted:
                self._undo(_Reservation(backoff_key, before, written, tuple(counted), window_start), now)
                raise RateLimited(
                    "too many failed logins; try again later", retry_after_seconds=window_start + window - now
                )
            counted.append(key)
        return _Reservation(backoff_key, before, written, tuple(counted), window_start)

    def _count_failure(self, key: str, now: int) -> tuple[Backoff, Backoff]:
        """Record one more failure on `key`'s backoff unless it is locked (`RateLimited`); the
        record before and after. Optimistic: a concurrent attempt's write makes this one re-read."""
        policy = self._policy
        for _ in range(BACKOFF_WRITE_ATTEMPTS):
            before = self._throttle.backoff(key, now)
            if before.locked_until > now:
                raise RateLimited(
                    "too many failed logins; try again later", retry_after_seconds=before.locked_until - now
                )
            failures = before.failures + 1
            written = self._throttle.replace(
                key, before, failures, now + policy.lockout_seconds(failures), now + policy.backoff_reset_seconds
            )
            if written is not None:
                return before, written
        # Only a burst of concurrent attempts on this very pair gets here.
        raise RateLimited("too many concurrent logins; try again", retry_after_seconds=1)

    def _undo(self, reservation: _Reservation, now: int) -> None:
        """Take back what `_reserve` counted: the attempt did not fail (an outage, a refusal)."""
        before = reservation.before
        self._throttle.replace(
            reservation.backoff_key, reservation.written, before.failures, before.locked_until,
            now + self._policy.backoff_reset_seconds,
        )  # fmt: skip
        self._throttle.release(reservation.windows, reservation.window_start)

    def _username_for(self, identifier: str) -> str:
        """The handle an identifier names: itself lower-cased, or the owner of an email.

        An email nobody owns stays as it is, so its failures are counted all the same.
        """
        identifier = identifier.strip()
        if "@" not in identifier:
            return identifier.lower()
        try:
            email = normalize_email(identifier)
        except ValueError:
            return identifier.lower()
        return self._accounts.username_for_email(email) or email.lower()

    # --- refresh and logout --------------------------------------------------------------------

    def refresh(self, refresh_token: str | None) -> IssuedTokens:
        """Spend a refresh token for a new pair; a spent one revokes its family (`InvalidRefreshToken`)
        unless it was spent within the reuse grace."""
        if not refresh_token:
            raise InvalidRefreshToken("a refresh token is required")
        now = int(self._clock())
        stored = self._sessions.token(hash_refresh_token(refresh_token))
        if stored is None or stored.expires_at <= now:
            raise InvalidRefreshToken(INVALID_SESSION)
        grace_since = now - REUSE_GRACE_SECONDS
        if stored.used and (stored.rotated_at is None or stored.rotated_at < grace_since):
            return self._replayed(stored)
        successor = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
        rotate = partial(
            self._sessions.rotate, stored, hash_refresh_token(successor), now, now + self.refresh_ttl_seconds
        )
        # A token spent a moment ago (also by a concurrent request between our read and our
        # write) gets a sibling successor; the condition re-checks the time of that spending.
        outcome = rotate(rotated_since=grace_since) if stored.used else rotate()
        if outcome is Rotation.ALREADY_USED and not stored.used:
            outcome = rotate(rotated_since=grace_since)
        if outcome is Rotation.ALREADY_USED:
            return self._replayed(stored)
        if outcome is Rotation.REVOKED:
            raise InvalidRefreshToken(INVALID_SESSION)
        return self._token_response(stored.user_id, stored.username, successor)

    def _replayed(self, stored: StoredRefreshToken) -> NoReturn:
        self._sessions.revoke_family(stored.family_id)
        raise InvalidRefreshToken(REUSED_SESSION)

    def logout(self, refresh_token: str | None) -> None:
        """Revoke the session the refresh token belongs to; unknown or missing tokens are a no-op."""
        if not refresh_token:
            return
        stored = self._sessions.token(hash_refresh_token(refresh_token))
        if stored is not None:
            self._sessions.revoke_family(stored.family_id)

    # --- tokens --------------------------------------------------------------------------------

    def _start_session(self, user_id: str, username: str, now: int) -> IssuedTokens:
        refresh_token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
        self._sessions.start(
            uuid.uuid4().hex, hash_refresh_token(refresh_token), user_id, username, now,
            now + self.refresh_ttl_seconds,
        )  # fmt: skip
        return self._token_response(user_id, username, refresh_token)

    def _token_response(self, user_id: str, username: str, refresh_token: str) -> IssuedTokens:
        return IssuedTokens(
            access_token=self._issuer.issue(user_id, username),
            expires_in=self._issuer.ttl_seconds,
            refresh_token=refresh_token,
        )


def published_jwks() -> dict[str, Any]:
    """The public keys access tokens verify with (`LETSLIVE_JWKS`, set at deploy time)."""
    from letslive.settings import get_settings

    try:
        document = json.loads(get_settings().required("jwks"))
    except ValueError as exc:
        raise ConfigurationError("LETSLIVE_JWKS is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ConfigurationError("LETSLIVE_JWKS is not a JWKS document")
    return document


def auth_service(clock: Callable[[], float] = time.time) -> AuthService:
    """The service wired to DynamoDB, the signing key secret and the settings.

    Cheap to call per request: settings, bound tables, the signing key and the password
    hasher are each built once per process.
    """
    from letslive.data.accounts import AccountRepository
    from letslive.data.sessions import SessionRepository, ThrottleRepository
    from letslive.services.passwords import default_passwords
    from letslive.services.signing_keys import load_signing_key
    from letslive.settings import get_settings

    settings = get_settings()
    issuer = AccessTokenIssuer(
        load_signing_key(settings.required("signing_key_secret")),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
        clock=clock,
    )
    return AuthService(
        AccountRepository(),
        SessionRepository(),
        ThrottleRepository(),
        default_passwords(),
        issuer,
        refresh_ttl_seconds=settings.refresh_token_ttl_days * 24 * 3600,
        throttle_policy=ThrottlePolicy(
            free_failures=settings.login_free_failures,
            backoff_base_seconds=settings.login_backoff_base_seconds,
            backoff_max_seconds=settings.login_backoff_max_seconds,
            backoff_reset_seconds=settings.login_backoff_reset_seconds,
            window_seconds=settings.login_window_seconds,
            address_max_failures=settings.login_address_max_failures,
            account_max_failures=settings.login_account_max_failures,
            signup_window_seconds=settings.signup_window_seconds,
            signup_max_per_address=settings.signup_max_per_address,
        ),
        clock=clock,
    )
