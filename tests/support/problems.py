"""What every error response of the HTTP API is: an RFC 9457 problem document."""

from typing import Any

from httpx import Response

from functions.common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE


def assert_problem(response: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a `status` problem document (of type `code`, when given); its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["type"] == PROBLEM_TYPE_BASE + code
    return body
