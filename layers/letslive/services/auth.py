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

Failed logins are throttled per account and per client address in fixed windows: once either
has `max_failures` in the current window, every login for it is refused, right password or
not, until the window ends.
"""

import hashlib
import ipaddress
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final, NoReturn, Protocol

from letslive.constants import RESERVED_USERNAMES
from letslive.errors import ConfigurationError, InvalidCredentials, InvalidInput, InvalidRefreshToken, RateLimited
from letslive.models.auth import PublicAccount, Rotation, StoredRefreshToken, TokenResponse, normalize_email
from letslive.services.passwords import Passwords, check_password_policy
from letslive.services.tokens import AccessTokenIssuer

if TYPE_CHECKING:
    from letslive.data.accounts import AccountItem, CredentialItem

USERNAME_RE: Final = re.compile(r"[a-z0-9_]{3,25}")
REFRESH_TOKEN_BYTES: Final = 32  # 256 bits
# How long a rotated refresh token may be presented again (see above). Auth0 and Okta offer
# the same "reuse interval"; a reload re-sends it within a second or two.
REUSE_GRACE_SECONDS: Final = 10

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

    def revoke_family(self, family_id: str) -> None: ...


class ThrottleStore(Protocol):
    def reserve(self, keys: Sequence[str], window_start: int, limit: int, expires_at: int) -> bool: ...

    def release(self, keys: Sequence[str], window_start: int) -> None: ...


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    window_seconds: int = 15 * 60


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_key(address: str) -> str:
    """The throttling key of a client address.

    IPv6 clients are keyed by their /64: one subscriber usually holds a whole /64 and could
    otherwise take a fresh address for every guess.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


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

    def signup(self, username: str, email: str, password: str) -> PublicAccount:
        """Create an account (or raise `InvalidInput`, `WeakPassword`, `Conflict`); it does not sign in."""
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
        account = self._accounts.create(uuid.uuid4().hex, username, email, self._passwords.hash(password))
        return PublicAccount(
            username=account.username, display_name=account.display_name, created_at=account.created_at
        )

    # --- login ---------------------------------------------------------------------------------

    def login(self, identifier: str, password: str, client_address: str) -> TokenResponse:
        """Tokens for a username (or email) and password; `InvalidCredentials` or `RateLimited`."""
        now = int(self._clock())
        username = self._username_for(identifier)
        keys = (f"account#{username}", f"ip#{client_key(client_address)}")
        window = self._policy.window_seconds
        window_start = now - now % window
        # The attempt counts as a failure from here on, unless it turns out not to be one.
        if not self._throttle.reserve(keys, window_start, self._policy.max_failures, window_start + 2 * window):
            raise RateLimited(
                "too many failed logins; try again later", retry_after_seconds=window_start + window - now
            )
        try:
            credential = self._accounts.credential(username)
            # Runs a full verification even when there is no account, so both fail equally slowly.
            valid = self._passwords.verify(credential.password_hash if credential else None, password)
        except BaseException:
            self._throttle.release(keys, window_start)  # an outage is not a wrong password
            raise
        if credential is None or not valid:
            raise InvalidCredentials(BAD_CREDENTIALS)
        self._throttle.release(keys, window_start)
        return self._start_session(str(credential.user_id), username, now)

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

    def refresh(self, refresh_token: str | None) -> TokenResponse:
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

    def _start_session(self, user_id: str, username: str, now: int) -> TokenResponse:
        refresh_token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
        self._sessions.start(
            uuid.uuid4().hex, hash_refresh_token(refresh_token), user_id, username, now,
            now + self.refresh_ttl_seconds,
        )  # fmt: skip
        return self._token_response(user_id, username, refresh_token)

    def _token_response(self, user_id: str, username: str, refresh_token: str) -> TokenResponse:
        return TokenResponse(
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
    from letslive.data.secrets import load_signing_key
    from letslive.data.sessions import SessionRepository, ThrottleRepository
    from letslive.services.passwords import default_passwords
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
        clock=clock,
    )
