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

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from letslive.services.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH

# The handle rule, `[a-z0-9_]{3,25}` matched case-insensitively: "Alice" signs up as the
# handle `alice` with the display name "Alice".
USERNAME_INPUT_PATTERN: Final = r"^[A-Za-z0-9_]{3,25}$"
EMAIL_MAX_LENGTH: Final = 254  # RFC 5321's limit on a forward path
# An opaque refresh token is 43 characters; anything much longer is not one of ours.
REFRESH_TOKEN_MAX_LENGTH: Final = 128


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

    username: str = Field(pattern=USERNAME_INPUT_PATTERN, description="3-25 letters, digits or underscores")
    email: str = Field(max_length=EMAIL_MAX_LENGTH)
    password: SecretStr = Field(
        min_length=1, max_length=PASSWORD_MAX_LENGTH, description="10-128 characters, not a common password"
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    username: str = Field(min_length=1, max_length=EMAIL_MAX_LENGTH, description="the username or the email")
    password: SecretStr = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class RefreshRequest(BaseModel):
    """`/auth/refresh` and `/auth/logout`: the token in the body, or else in the refresh cookie."""

    model_config = ConfigDict(extra="forbid", strict=True)

    refresh_token: str | None = Field(default=None, min_length=1, max_length=REFRESH_TOKEN_MAX_LENGTH)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str = Field(description="single use: each refresh returns a new one")


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


class Rotation(Enum):
    """How an attempt to rotate a refresh token ended."""

    ROTATED = "rotated"
    # The old token had been used first: replayed, or presented by two concurrent refreshes.
    ALREADY_USED = "already-used"
    # The family was revoked (logout, reuse) or has expired: no new token joins it.
    REVOKED = "revoked"
