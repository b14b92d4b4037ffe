from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI

from functions.common.health import health_router
from functions.common.problems import PROBLEM_SCHEMA, PROBLEM_SCHEMA_NAME, install_problem_handlers, problem_responses
from letslive import __version__
from letslive.constants import Service


def service_app(service: Service, routers: Iterable[APIRouter] = ()) -> FastAPI:
    """A FastAPI app for one HTTP service: its routers, its health route, problem errors."""
    app = FastAPI(
        title=f"Let's Live {service.value} API",
        version=__version__,
        openapi_url=f"/{service.value}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    app.include_router(health_router(service))
    for router in routers:
        app.include_router(router)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    # Routes reference the problem schema by name (their error responses are
    # application/problem+json, not a response model), so the document must define it.
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {})[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
            for item in document.get("paths", {}).values():
                for operation in item.values():
                    if "requestBody" in operation:
                        _document_unparsable_body(operation["responses"])
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customize


def _document_unparsable_body(responses: dict[str, Any]) -> None:
    # Any route with a body answers 400 `bad-request` to one that is not JSON at all (before
    # validation, which answers 422 for JSON of the wrong shape).
    what = "a body that is not JSON (`bad-request`)"
    if "400" in responses:
        responses["400"]["description"] += f"; or {what}"
    else:
        responses["400"] = problem_responses({HTTPStatus.BAD_REQUEST.value: what})[HTTPStatus.BAD_REQUEST.value]
