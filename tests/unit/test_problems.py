"""Every error leaves a service as an RFC 9457 problem with a stable `type`, and nothing internal leaks."""

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import BaseModel, Field

from functions.common.app import service_app
from functions.common.problems import PROBLEM_CONTENT_TYPE
from letslive import __version__, errors
from letslive.constants import Service

TYPE_BASE = "https://letslive.dev/problems/"
# The stdlib phrase: "Unprocessable Entity" on 3.11/3.12, "Unprocessable Content" from 3.13.
UNPROCESSABLE = HTTPStatus.UNPROCESSABLE_ENTITY.phrase
SECRET = "s3cr3t-value-9f2c"  # planted in inputs and exception texts; must never come back


class NoSuchChannel(errors.NotFound):
    """A domain error defined elsewhere: inherits its base's status, keeps its own code."""

    code = "no-such-channel"


class Signup(BaseModel):
    username: str = Field(min_length=3, max_length=25, pattern=r"^[a-z0-9_]+$")
    age: int = Field(ge=13)


# name → (error raised, expected status, expected title, expected code)
DOMAIN_CASES: dict[str, tuple[errors.LetsLiveError, int, str, str]] = {
    "invalid-input": (errors.InvalidInput("username is too short"), 400, "Bad Request", "invalid-input"),
    "unauthorized": (errors.Unauthorized("token expired"), 401, "Unauthorized", "unauthorized"),
    "forbidden": (errors.Forbidden("not your channel"), 403, "Forbidden", "forbidden"),
    "not-found": (errors.NotFound("no such user"), 404, "Not Found", "not-found"),
    "conflict": (errors.Conflict("username taken"), 409, "Conflict", "conflict"),
    "rate-limited": (errors.RateLimited("slow down", retry_after_seconds=7), 429, "Too Many Requests", "rate-limited"),
    "subclass": (NoSuchChannel("no channel named x"), 404, "Not Found", "no-such-channel"),
}

# Server-side faults: status and a generic detail, never the exception's own text.
HIDDEN_CASES: dict[str, tuple[errors.LetsLiveError, int, str, str]] = {
    "configuration": (
        errors.ConfigurationError(f"LETSLIVE_AUTH_TABLE is not set {SECRET}"),
        500,
        "Internal Server Error",
        "configuration",
    ),
    "dependency": (
        errors.DependencyUnavailable(f"table auth-prod-{SECRET}: connect timeout"),
        503,
        "Service Unavailable",
        "dependency-unavailable",
    ),
    "base": (errors.LetsLiveError(f"something {SECRET}"), 500, "Internal Server Error", "error"),
}


def build_app() -> FastAPI:
    router = APIRouter(prefix="/auth/test")

    @router.get("/domain/{name}")
    def domain(name: str) -> None:
        raise {**DOMAIN_CASES, **HIDDEN_CASES}[name][0]

    @router.get("/items")
    def items(limit: int = Query(ge=1, le=100)) -> dict[str, int]:
        return {"limit": limit}

    @router.post("/signup")
    def signup(body: Signup) -> dict[str, str]:
        return {"username": body.username}

    @router.get("/http")
    def http() -> None:
        raise HTTPException(status_code=403, detail="admins only")

    @router.get("/crash")
    def crash() -> None:
        raise RuntimeError(f"database password is {SECRET}")

    return service_app(Service.AUTH, [router])


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(build_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def assert_problem(response: Response, status: int, title: str, code: str, path: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert body["type"] == f"{TYPE_BASE}{code}"
    assert body["status"] == status
    assert body["title"] == title
    assert body["instance"] == path
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


@pytest.mark.parametrize("name", list(DOMAIN_CASES))
def test_domain_errors_become_problems_with_their_detail(client: TestClient, name: str) -> None:
    error, status, title, code = DOMAIN_CASES[name]
    path = f"/auth/test/domain/{name}"
    body = assert_problem(client.get(path), status, title, code, path)
    assert body["detail"] == error.detail


def test_rate_limited_sets_retry_after(client: TestClient) -> None:
    response = client.get("/auth/test/domain/rate-limited")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


def test_other_errors_send_no_retry_after(client: TestClient) -> None:
    assert "retry-after" not in client.get("/auth/test/domain/conflict").headers


@pytest.mark.parametrize("name", list(HIDDEN_CASES))
def test_server_side_domain_errors_hide_their_detail(client: TestClient, name: str) -> None:
    _, status, title, code = HIDDEN_CASES[name]
    path = f"/auth/test/domain/{name}"
    response = client.get(path)
    body = assert_problem(response, status, title, code, path)
    assert body["detail"] == title
    assert SECRET not in response.text
    assert "LETSLIVE_" not in response.text


def test_query_validation_is_a_422_problem_without_the_rejected_value(client: TestClient) -> None:
    response = client.get("/auth/test/items", params={"limit": SECRET})
    body = assert_problem(response, 422, UNPROCESSABLE, "validation", "/auth/test/items")
    assert body["detail"] == "the request is not valid"
    assert [issue["loc"] for issue in body["errors"]] == [["query", "limit"]]
    assert body["errors"][0]["type"] == "int_parsing"
    assert body["errors"][0]["msg"]
    assert set(body["errors"][0]) == {"loc", "msg", "type"}
    assert SECRET not in response.text


def test_body_validation_lists_every_issue_without_echoing_the_body(client: TestClient) -> None:
    response = client.post("/auth/test/signup", json={"username": f"Bad Name {SECRET}", "age": 7})
    body = assert_problem(response, 422, UNPROCESSABLE, "validation", "/auth/test/signup")
    assert sorted(tuple(issue["loc"]) for issue in body["errors"]) == [("body", "age"), ("body", "username")]
    assert all(set(issue) == {"loc", "msg", "type"} for issue in body["errors"])
    assert SECRET not in response.text


def test_malformed_json_is_a_422_problem(client: TestClient) -> None:
    response = client.post(
        "/auth/test/signup", content=f'{{"username": "{SECRET}"', headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, UNPROCESSABLE, "validation", "/auth/test/signup")
    assert SECRET not in response.text


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/auth/nope"), 404, "Not Found", "not-found", "/auth/nope")
    assert body["detail"] == "Not Found"


def test_wrong_method_is_a_405_problem_keeping_the_allow_header(client: TestClient) -> None:
    response = client.delete("/auth/test/items")
    assert_problem(response, 405, "Method Not Allowed", "method-not-allowed", "/auth/test/items")
    assert response.headers["allow"] == "GET"


def test_http_exception_keeps_its_status_and_detail(client: TestClient) -> None:
    body = assert_problem(client.get("/auth/test/http"), 403, "Forbidden", "forbidden", "/auth/test/http")
    assert body["detail"] == "admins only"


def test_unexpected_error_is_a_generic_500_without_internals(client: TestClient) -> None:
    response = client.get("/auth/test/crash")
    body = assert_problem(response, 500, "Internal Server Error", "internal", "/auth/test/crash")
    assert body["detail"] == "an unexpected error occurred"
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    for leak in (SECRET, "RuntimeError", "Traceback", "database password", ".py"):
        assert leak not in response.text


def test_service_app_metadata() -> None:
    app = build_app()
    assert app.version == __version__
    assert app.openapi_url == "/auth/openapi.json"
    assert app.docs_url is None
    assert app.redoc_url is None
