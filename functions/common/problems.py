"""Errors as `application/problem+json` (RFC 9457) with a stable `type` per domain error.

Every error leaves as a problem document; no stack trace or exception text of an unexpected
error ever reaches a client.
"""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from functions.common.compat import skip_pydantic_v1_import
from letslive import errors

# Before any route is declared: every service's routes module imports this one first.
skip_pydantic_v1_import()

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://letslive.dev/problems/"
PROBLEM_SCHEMA_NAME = "Problem"
BEARER_REALM = 'Bearer realm="letslive"'

# The body of every error response, as the OpenAPI document states it (`components.schemas`).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "description": "An RFC 9457 problem document; `type` is stable, clients branch on it.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": f"{PROBLEM_TYPE_BASE}<code>"},
        "title": {"type": "string", "description": "the HTTP status phrase"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "what went wrong, for a person"},
        "instance": {"type": "string", "description": "the request path"},
        "errors": {
            "type": "array",
            "description": "422 only: each invalid part of the request (the value itself is never echoed)",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

# Headers some problems carry, as `_domain_error` sets them.
_PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    HTTPStatus.UNAUTHORIZED: {
        "WWW-Authenticate": {"description": BEARER_REALM, "required": True, "schema": {"type": "string"}}
    },
    HTTPStatus.TOO_MANY_REQUESTS: {
        "Retry-After": {
            # Not required: API Gateway's own throttle answer (below) carries none.
            "description": "seconds to wait before trying again (on every problem document)",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}

# Domain error → HTTP status. Subclasses inherit their base's status unless listed.
STATUS_BY_ERROR: dict[type[errors.LetsLiveError], HTTPStatus] = {
    # A well-formed request that the caller's own identity rules out, as a conflict with the
    # target's state (the target is the caller), not as malformed input.
    errors.CannotFollowSelf: HTTPStatus.CONFLICT,
    errors.InvalidInput: HTTPStatus.BAD_REQUEST,
    errors.Unauthorized: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.RateLimited: HTTPStatus.TOO_MANY_REQUESTS,
    errors.DependencyUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.ConfigurationError: HTTPStatus.INTERNAL_SERVER_ERROR,
}


# API Gateway's own answer when a path matches no route, before any function runs (a path
# parameter it will not match, e.g. one holding a line break): its JSON, not a problem.
GATEWAY_NOT_FOUND: dict[str, Any] = {
    "application/json": {
        "schema": {"type": "object", "required": ["message"], "properties": {"message": {"const": "Not Found"}}}
    }
}


# API Gateway's own answer when a route's throttle (`infra/constructs/http_api.py`) refuses a
# request before the function runs.
GATEWAY_THROTTLED: dict[str, Any] = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"const": "Too Many Requests"}},
        }
    }
}


def problem_responses(descriptions: dict[int, str], path_parameters: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: each status it can answer with a problem, and when.
    `path_parameters`: its path has parameters, so API Gateway may answer 404 itself. A 429 may
    also be API Gateway's throttle answer."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {
            "description": description,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}}},
            **({"headers": _PROBLEM_HEADERS[status]} if status in _PROBLEM_HEADERS else {}),
        }
        for status, description in descriptions.items()
    }
    if path_parameters:
        responses[HTTPStatus.NOT_FOUND.value]["content"].update(GATEWAY_NOT_FOUND)
    if HTTPStatus.TOO_MANY_REQUESTS.value in responses:
        responses[HTTPStatus.TOO_MANY_REQUESTS.value]["content"].update(GATEWAY_THROTTLED)
    return responses


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
        headers = {"WWW-Authenticate": BEARER_REALM}
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
