from collections.abc import Iterable

from fastapi import APIRouter, FastAPI

from functions.common.health import health_router
from functions.common.problems import install_problem_handlers
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
    return app
