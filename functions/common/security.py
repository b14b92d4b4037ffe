"""Who is calling: the bearer access token, verified by the one shared verifier.

The verifier (PyJWT and `cryptography`) is imported when a request first presents a token, not
when the routes are declared: a cold start whose request carries none never loads it. The claims
type is named only for type checkers; FastAPI never reads the type of a `Depends` parameter.
"""

from functools import lru_cache
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from letslive.errors import Unauthorized

if TYPE_CHECKING:
    from letslive.services.tokens import AccessClaims, AccessTokenVerifier

BEARER_SCHEME = "bearer"
# Declares the scheme in the OpenAPI document (and which routes take it); the 401 itself is
# ours (`auto_error=False`), so it is a problem document like every other error.
_bearer = HTTPBearer(scheme_name=BEARER_SCHEME, bearerFormat="JWT", auto_error=False)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

# `security` of a route that works with or without a token (the empty requirement: none).
OPTIONAL_BEARER: dict[str, object] = {"security": [{}]}


@lru_cache(maxsize=1)
def _verifier() -> "AccessTokenVerifier":
    from letslive.services.tokens import verifier_from_settings

    return verifier_from_settings()


def current_user(credentials: Bearer) -> "AccessClaims":
    """The verified caller; `401` when the token is missing or not valid."""
    if credentials is None:
        raise Unauthorized("an access token is required")
    return _verifier().verify(credentials.credentials)


def optional_user(credentials: Bearer) -> "AccessClaims | None":
    """The verified caller if a token is presented (a bad token is still a `401`)."""
    return current_user(credentials) if credentials is not None else None


CurrentUser = Annotated["AccessClaims", Depends(current_user)]
OptionalUser = Annotated["AccessClaims | None", Depends(optional_user)]
