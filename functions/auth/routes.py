"""`/auth/*`: parse the request, call one `AuthService` method, shape the response."""

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Request, Response
from fastapi.responses import JSONResponse

from functions.auth.addresses import client_address
from functions.common.problems import problem_responses
from functions.common.security import CurrentUser
from letslive.constants import REFRESH_COOKIE, REFRESH_COOKIE_PATH
from letslive.models.auth import (
    CallerIdentity,
    IssuedTokens,
    LoginRequest,
    PublicAccount,
    RefreshRequest,
    SignupRequest,
    TokenRefreshRequest,
    TokenResponse,
)
from letslive.services.auth import AuthService, auth_service, published_jwks

router = APIRouter(prefix="/auth", tags=["auth"])

INVALID = "the request does not match this document (`validation`)"
SIGNUP_PROBLEMS = problem_responses(
    {
        400: "a reserved username (`invalid-input`) or a weak password (`weak-password`)",
        409: "the username or email is taken (`conflict`)",
        422: INVALID,
        429: "too many sign-ups from this address (`rate-limited`)",
    }
)
LOGIN_PROBLEMS = problem_responses(
    {
        401: "wrong username or password (`invalid-credentials`)",
        422: INVALID,
        429: "too many failed logins (`rate-limited`)",
    }
)
REFRESH_PROBLEMS = problem_responses(
    {401: "unknown, expired, revoked or used refresh token (`invalid-refresh-token`)", 422: INVALID}
)
LOGOUT_PROBLEMS = problem_responses({422: INVALID})
ME_PROBLEMS = problem_responses({401: "missing, expired or invalid access token (`unauthorized`)"})

JWKS_CACHE_CONTROL = "public, max-age=300"


def service() -> AuthService:
    """The service for this request (a dependency, so tests can swap in one with a fake clock)."""
    return auth_service()


Auth = Annotated[AuthService, Depends(service)]
# No length limit here: a mangled cookie must still let the client log out (and clear it).
RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE)]


def _issue(response: Response, tokens: IssuedTokens, auth: AuthService, in_body: bool) -> TokenResponse:
    # The web app keeps the refresh token only in this cookie: script cannot read it, other
    # sites cannot send it, and it goes nowhere but the auth routes. The body carries it only
    # for a client that asked (an API client without a cookie jar).
    response.set_cookie(
        REFRESH_COOKIE, tokens.refresh_token, max_age=auth.refresh_ttl_seconds, path=REFRESH_COOKIE_PATH,
        secure=True, httponly=True, samesite="strict",
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 5.1: token responses are never cached
    return TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token if in_body else None,
    )


def _clear_cookie(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=True, httponly=True, samesite="strict")


@router.post("/signup", status_code=HTTPStatus.CREATED, response_model=PublicAccount, responses=SIGNUP_PROBLEMS)
def signup(body: SignupRequest, request: Request, auth: Auth) -> PublicAccount:
    """Create an account. It does not sign in: log in next. Sign-ups per address are limited (429)."""
    return auth.signup(body.username, body.email, body.password.get_secret_value(), client_address(request))


@router.post("/login", response_model=TokenResponse, response_model_exclude_none=True, responses=LOGIN_PROBLEMS)
def login(
    body: LoginRequest, request: Request, response: Response, auth: Auth, cookie: RefreshCookie = None
) -> TokenResponse:
    """Tokens for a username or email and a password; also sets the refresh cookie.

    A refresh cookie this account's session still honours marks a known device, which failed
    logins from elsewhere cannot lock out."""
    tokens = auth.login(body.username, body.password.get_secret_value(), client_address(request), cookie)
    return _issue(response, tokens, auth, body.refresh_token_in_body)


@router.post("/refresh", response_model=TokenResponse, response_model_exclude_none=True, responses=REFRESH_PROBLEMS)
def refresh(
    response: Response, auth: Auth, cookie: RefreshCookie = None, body: TokenRefreshRequest | None = None
) -> TokenResponse:
    """A new token pair for a refresh token (body, else cookie); the presented one stops working."""
    token = body.refresh_token if body is not None and body.refresh_token else cookie
    return _issue(response, auth.refresh(token), auth, body is not None and body.refresh_token_in_body)


@router.post("/logout", status_code=HTTPStatus.NO_CONTENT, response_class=Response, responses=LOGOUT_PROBLEMS)
def logout(auth: Auth, cookie: RefreshCookie = None, body: RefreshRequest | None = None) -> Response:
    """Revoke the session of the refresh token (body, else cookie) and clear the cookie. Idempotent."""
    auth.logout(body.refresh_token if body is not None and body.refresh_token else cookie)
    response = Response(status_code=HTTPStatus.NO_CONTENT)
    _clear_cookie(response)
    return response


@router.get("/.well-known/jwks.json")
def jwks() -> JSONResponse:
    """The public keys that verify access tokens (any service, any client)."""
    document: dict[str, Any] = published_jwks()
    return JSONResponse(document, headers={"Cache-Control": JWKS_CACHE_CONTROL})


@router.get("/me", response_model=CallerIdentity, responses=ME_PROBLEMS)
def me(user: CurrentUser) -> CallerIdentity:
    """Who the bearer access token says the caller is."""
    return CallerIdentity(user_id=user.user_id, username=user.username)
