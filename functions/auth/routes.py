"""`/auth/*`: parse the request, call one `AuthService` method, shape the response."""

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Request, Response
from fastapi.responses import JSONResponse

from functions.auth.addresses import client_address
from functions.common.security import CurrentUser
from letslive.constants import REFRESH_COOKIE, REFRESH_COOKIE_PATH
from letslive.models.auth import (
    CallerIdentity,
    LoginRequest,
    PublicAccount,
    RefreshRequest,
    SignupRequest,
    TokenResponse,
)
from letslive.services.auth import AuthService, auth_service, published_jwks

router = APIRouter(prefix="/auth", tags=["auth"])

JWKS_CACHE_CONTROL = "public, max-age=300"


def service() -> AuthService:
    """The service for this request (a dependency, so tests can swap in one with a fake clock)."""
    return auth_service()


Auth = Annotated[AuthService, Depends(service)]
# No length limit here: a mangled cookie must still let the client log out (and clear it).
RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE)]


def _issue(response: Response, tokens: TokenResponse, auth: AuthService) -> TokenResponse:
    # The web app keeps the refresh token only in this cookie: script cannot read it, other
    # sites cannot send it, and it goes nowhere but the auth routes.
    response.set_cookie(
        REFRESH_COOKIE, tokens.refresh_token, max_age=auth.refresh_ttl_seconds, path=REFRESH_COOKIE_PATH,
        secure=True, httponly=True, samesite="strict",
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 5.1: token responses are never cached
    return tokens


def _clear_cookie(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=True, httponly=True, samesite="strict")


@router.post("/signup", status_code=HTTPStatus.CREATED, response_model=PublicAccount)
def signup(body: SignupRequest, auth: Auth) -> PublicAccount:
    """Create an account. It does not sign in: log in next."""
    return auth.signup(body.username, body.email, body.password.get_secret_value())


@router.post("/login", response_model=TokenResponse)
def login(body: LoginRequest, request: Request, response: Response, auth: Auth) -> TokenResponse:
    """Tokens for a username or email and a password; also sets the refresh cookie."""
    tokens = auth.login(body.username, body.password.get_secret_value(), client_address(request))
    return _issue(response, tokens, auth)


@router.post("/refresh", response_model=TokenResponse)
def refresh(
    response: Response, auth: Auth, cookie: RefreshCookie = None, body: RefreshRequest | None = None
) -> TokenResponse:
    """A new token pair for a refresh token (body, else cookie); the presented one stops working."""
    token = body.refresh_token if body is not None and body.refresh_token else cookie
    return _issue(response, auth.refresh(token), auth)


@router.post("/logout", status_code=HTTPStatus.NO_CONTENT, response_class=Response)
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


@router.get("/me", response_model=CallerIdentity)
def me(user: CurrentUser) -> CallerIdentity:
    """Who the bearer access token says the caller is."""
    return CallerIdentity(user_id=user.user_id, username=user.username)
