"""Errors as `application/problem+json` (RFC 9457) with a stable `type` per domain error.

Every error leaves as a problem document; no stack trace or exception text of an unexpected
error ever reaches a client.
"""

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from letslive import errors

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://letslive.dev/problems/"

# Domain error → HTTP status. Subclasses inherit their base's status.
STATUS_BY_ERROR: dict[type[errors.LetsLiveError], HTTPStatus] = {
    errors.InvalidInput: HTTPStatus.BAD_REQUEST,
    errors.Unauthorized: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.RateLimited: HTTPStatus.TOO_MANY_REQUESTS,
    errors.DependencyUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.ConfigurationError: HTTPStatus.INTERNAL_SERVER_ERROR,
}


def status_for(exc: errors.LetsLiveError) -> HTTPStatus:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def problem(
    status: HTTPStatus,
    code: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: object,
) -> JSONResponse:
    body: dict[str, object] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": status.phrase,
        "status": status.value,
        "detail": detail,
        **extensions,
    }
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status.value, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.LetsLiveError)
    status = status_for(exc)
    headers = None
    if isinstance(exc, errors.RateLimited):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    elif status == HTTPStatus.UNAUTHORIZED:
        headers = {"WWW-Authenticate": 'Bearer realm="letslive"'}
    # Configuration faults are ours, not the caller's: say nothing about the internals.
    detail = exc.detail if status < HTTPStatus.INTERNAL_SERVER_ERROR else status.phrase
    return problem(status, exc.code, detail, request.url.path, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only location, message and type: the rejected input is not echoed back.
    issues = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY, "validation", "the request is not valid", request.url.path, errors=issues
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    code = status.phrase.lower().replace(" ", "-")
    return problem(status, code, str(exc.detail), request.url.path, dict(exc.headers or {}))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    from aws_lambda_powertools import Logger

    Logger().exception("unhandled error", extra={"path": request.url.path})
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    return problem(status, "internal", "an unexpected error occurred", request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.LetsLiveError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
