"""Who is calling: the bearer access token, verified by the one shared verifier."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from letslive.errors import Unauthorized
from letslive.services.tokens import AccessClaims, AccessTokenVerifier, verifier_from_settings


@lru_cache(maxsize=1)
def _verifier() -> AccessTokenVerifier:
    return verifier_from_settings()


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_user(request: Request) -> AccessClaims:
    """The verified caller; `401` when the token is missing or not valid."""
    token = _bearer(request)
    if token is None:
        raise Unauthorized("an access token is required")
    return _verifier().verify(token)


def optional_user(request: Request) -> AccessClaims | None:
    """The verified caller if a token is presented (a bad token is still a `401`)."""
    return current_user(request) if _bearer(request) is not None else None


CurrentUser = Annotated[AccessClaims, Depends(current_user)]
OptionalUser = Annotated[AccessClaims | None, Depends(optional_user)]
