"""Request and response bodies of the auth service.

Request models carry the shape rules (types, lengths, characters) and every field has an
upper bound, so an oversized value is refused while the request is parsed, before anything is
hashed or stored. Policy rules (reserved names, weak passwords) live in the services.
Passwords are `SecretStr` so that no log or repr ever prints one.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from letslive.constants import RESERVED_USERNAMES
from letslive.models.handles import HANDLE_PATTERN
from letslive.models.schema import email_pattern_excluding, handle_pattern_excluding

# Counted in characters after NFKC (`letslive.services.passwords.check_password_policy`).
PASSWORD_MIN_LENGTH: Final = 10
PASSWORD_MAX_LENGTH: Final = 128
# The handle rule (`letslive.models.handles`), any case: "Alice" signs up as the
# handle `alice` with the display name "Alice".
USERNAME_INPUT_PATTERN: Final = f"^{HANDLE_PATTERN}$"
EMAIL_MAX_LENGTH: Final = 254  # RFC 5321's limit on a forward path
# An opaque refresh token is 43 characters; anything much longer is not one of ours.
REFRESH_TOKEN_MAX_LENGTH: Final = 128
IN_BODY_DESCRIPTION: Final = (
    "also return the refresh token in the body (API clients without a cookie jar); "
    "browsers leave this false and keep it only in the HttpOnly cookie"
)


def normalize_email(value: str) -> str:
    """The canonical form of an email address; `ValueError` when it is not one.

    Syntax only: no DNS lookup (deliverability is proven by mail, not by the resolver).
    """
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # The schema also states the service's rules (reserved names, the password's length) so that
    # clients check them first; what no schema can say (a common password, one containing the
    # username) is a 400 `weak-password`.
    username: str = Field(
        pattern=USERNAME_INPUT_PATTERN,
        description="3-25 letters, digits or underscores; not a reserved name (in any case)",
        json_schema_extra={"pattern": handle_pattern_excluding(RESERVED_USERNAMES)},
    )
    email: str = Field(
        max_length=EMAIL_MAX_LENGTH,
        json_schema_extra={"format": "email", "pattern": email_pattern_excluding(SPECIAL_USE_DOMAIN_NAMES)},
    )
    password: SecretStr = Field(
        min_length=1,
        max_length=PASSWORD_MAX_LENGTH,
        description="10-128 characters (after NFKC), not a common password, not containing the username",
        json_schema_extra={"minLength": PASSWORD_MIN_LENGTH},
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    username: str = Field(min_length=1, max_length=EMAIL_MAX_LENGTH, description="the username or the email")
    password: SecretStr = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    refresh_token_in_body: bool = Field(default=False, description=IN_BODY_DESCRIPTION)


class RefreshRequest(BaseModel):
    """`/auth/refresh` and `/auth/logout`: the token in the body, or else in the refresh cookie."""

    model_config = ConfigDict(extra="forbid", strict=True)

    refresh_token: str | None = Field(default=None, min_length=1, max_length=REFRESH_TOKEN_MAX_LENGTH)


class TokenRefreshRequest(RefreshRequest):
    """`/auth/refresh`: `RefreshRequest`, and whether the new refresh token goes in the body too."""

    refresh_token_in_body: bool = Field(default=False, description=IN_BODY_DESCRIPTION)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(description="seconds until the access token expires")
    # Absent unless asked for: the HttpOnly refresh cookie carries it, out of reach of page script.
    refresh_token: str | None = Field(
        default=None, description="single use; only when the request set `refresh_token_in_body`"
    )


class PublicAccount(BaseModel):
    username: str
    display_name: str
    created_at: datetime


class CallerIdentity(BaseModel):
    user_id: str
    username: str


@dataclass(frozen=True)
class StoredRefreshToken:
    """A refresh token as the data layer returns it (hash only; times in epoch seconds)."""

    token_hash: str
    family_id: str
    user_id: str
    username: str
    used: bool
    expires_at: int
    # When it was spent (rotated); None while unused.
    rotated_at: int | None = None


@dataclass(frozen=True)
class IssuedTokens:
    """The tokens a login or refresh issues; the HTTP layer decides where each one goes."""

    access_token: str
    expires_in: int
    refresh_token: str


@dataclass(frozen=True)
class Backoff:
    """One login-backoff record (an account from one address, or from one known device).

    `failures` consecutive failed logins; none is admitted before `locked_until` (epoch
    seconds). `revision` is the stored write count (None: no record), for conditional writes.
    """

    failures: int = 0
    locked_until: int = 0
    revision: int | None = None


class Rotation(Enum):
    """How an attempt to rotate a refresh token ended."""

    ROTATED = "rotated"
    # The old token had been used first: replayed, or presented by two concurrent refreshes.
    ALREADY_USED = "already-used"
    # The family was revoked (logout, reuse) or has expired: no new token joins it.
    REVOKED = "revoked"
