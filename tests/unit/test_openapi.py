import json
import re
import unicodedata
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from functions.common.problems import GATEWAY_NOT_FOUND, GATEWAY_THROTTLED, PROBLEM_CONTENT_TYPE, problem
from functions.openapi import DOCUMENT, build_document, render
from letslive.constants import RESERVED_USERNAMES, Service, health_route
from letslive.models import schema, text
from letslive.models.users import AVATAR_URL_MAX, DISPLAY_NAME_MAX, FollowPosition, clean_avatar_url, clean_display_name
from letslive.services.users import encode_follow_cursor


def test_committed_openapi_document_is_current() -> None:
    assert DOCUMENT.read_text() == render(), "openapi.json is stale: run `make openapi`"


def test_document_covers_every_service() -> None:
    paths = build_document()["paths"]
    assert {health_route(service) for service in Service} <= set(paths)


# --- every error is documented as the problem document it is ----------------------------------

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@cache
def _document() -> dict[str, Any]:
    return build_document()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = _document()
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_every_error_response_is_a_problem_document() -> None:
    for path, method, op in _operations():
        for status, response in op["responses"].items():
            if status.startswith("4"):
                content = dict(response["content"])
                assert content.pop(PROBLEM_CONTENT_TYPE) == {"schema": PROBLEM_REF}, (method, path, status)
                # API Gateway's own JSON: a 404 for a path it cannot route, its throttle's 429.
                gateway = {"404": GATEWAY_NOT_FOUND if "{" in path else {}, "429": GATEWAY_THROTTLED}.get(status, {})
                assert content in ({}, gateway), (method, path, status)


def test_401_and_429_state_their_headers() -> None:
    for path, method, op in _operations():
        responses = op["responses"]
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"], (method, path)
        if "429" in responses:
            assert "Retry-After" in responses["429"]["headers"], (method, path)


def test_routes_that_take_a_token_declare_the_bearer_scheme_and_401() -> None:
    document = _document()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"
    }  # fmt: skip
    secured = {(method, path) for path, method, op in _operations() if op.get("security")}
    assert ("patch", "/users/me") in secured
    assert ("post", "/streams/me/key") in secured
    for path, method, op in _operations():
        if (method, path) in secured:
            assert "401" in op["responses"], (method, path)
    # A profile is public; a token only adds `followed_by_me`.
    assert {} in document["paths"]["/users/{username}"]["get"]["security"]


def test_the_problem_schema_describes_what_the_handlers_send() -> None:
    body = json.loads(bytes(problem(HTTPStatus.TOO_MANY_REQUESTS, "rate-limited", "slow down", "/auth/login").body))
    schema = _document()["components"]["schemas"]["Problem"]
    assert set(schema["required"]) <= set(body) <= set(schema["properties"])


def test_links_name_existing_operations_and_parameters() -> None:
    document = _document()
    operations = {op["operationId"]: op for _, _, op in _operations()}
    links = [
        link for _, _, op in _operations() for r in op["responses"].values() for link in r.get("links", {}).values()
    ]
    assert len(links) >= 10
    for link in links:
        target = operations[link["operationId"]]
        names = {p["name"] for p in target.get("parameters", [])}
        assert set(link.get("parameters", {})) <= names, link
    assert "LogIn" in document["paths"]["/auth/signup"]["post"]["responses"]["201"]["links"]


# --- the request schemas promise nothing the validators refuse ---------------------------------


def test_cursor_schema_matches_the_issued_cursors() -> None:
    issued = encode_follow_cursor(
        "followers", "bob", FollowPosition(followed_at=datetime(2026, 3, 1, tzinfo=UTC), username="alice_01")
    )
    assert re.fullmatch(schema.CURSOR_SCHEMA["pattern"], issued)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(schema.HTTPS_URL_PATTERN, fullmatch=True).filter(lambda url: len(url) <= AVATAR_URL_MAX))
def test_every_https_url_the_schema_allows_is_accepted_unchanged_in_length(url: str) -> None:
    assert len(clean_avatar_url(url)) <= AVATAR_URL_MAX


LINE = schema.line_schema(DISPLAY_NAME_MAX, blank=False)["pattern"]


@settings(max_examples=300, deadline=None)
@given(st.from_regex(LINE, fullmatch=True).filter(lambda name: len(name) <= DISPLAY_NAME_MAX))
def test_every_display_name_the_schema_allows_is_accepted(name: str) -> None:
    # NFC can lengthen a few compatibility characters; any other name the schema allows passes.
    assume(len(unicodedata.normalize("NFC", name.strip())) <= DISPLAY_NAME_MAX)
    assert clean_display_name(name)


@pytest.mark.parametrize("name", ["", "   ", "a\u202eb", "a\nb", "a\x00"])
def test_display_names_the_schema_refuses_are_refused(name: str) -> None:
    assert not re.fullmatch(LINE, name)
    with pytest.raises(ValueError, match="display name"):
        clean_display_name(name)


def test_the_text_patterns_refuse_exactly_the_characters_the_validators_refuse() -> None:
    line = re.compile(schema.line_schema(10, blank=True)["pattern"])
    multiline = re.compile(schema.text_schema(10)["pattern"])
    for code in range(0x110000):
        ch = chr(code)
        if unicodedata.category(ch) == "Cs":
            continue  # cannot occur in JSON text: the parser refuses it first
        assert bool(line.fullmatch(ch)) is not text.has_forbidden(ch, line=True), hex(code)
        allowed = "\n\r"  # the bio keeps line breaks (CRLF and CR become LF)
        assert bool(multiline.fullmatch(ch)) is not text.has_forbidden(ch, line=False, allowed=allowed), hex(code)


def test_the_signup_username_pattern_excludes_reserved_names_in_any_case() -> None:
    pattern = _document()["components"]["schemas"]["SignupRequest"]["properties"]["username"]["pattern"]
    for name in RESERVED_USERNAMES:
        assert not re.fullmatch(pattern, name)
        assert not re.fullmatch(pattern, name.upper())
    for name in ("alice", "admin2", "me_me", "Live_1", "ADMINS"):
        assert re.fullmatch(pattern, name)
