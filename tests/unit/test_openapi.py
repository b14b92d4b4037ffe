from functions.openapi import DOCUMENT, build_document, render
from letslive.constants import Service, health_route


def test_committed_openapi_document_is_current() -> None:
    assert DOCUMENT.read_text() == render(), "openapi.json is stale: run `make openapi`"


def test_document_covers_every_service() -> None:
    paths = build_document()["paths"]
    assert {health_route(service) for service in Service} <= set(paths)
