from typing import Any

from fastapi import APIRouter, Response

from letslive.constants import Service, health_route
from letslive.models.health import HealthReport
from letslive.services.health import service_health


def health_router(service: Service) -> APIRouter:
    router = APIRouter(tags=["health"])

    # 503 carries the same report, saying which table did not answer.
    unhealthy: dict[int | str, dict[str, Any]] = {503: {"model": HealthReport, "description": "a table did not answer"}}

    @router.get(health_route(service), response_model=HealthReport, responses=unhealthy)
    def health(response: Response) -> HealthReport:
        """The service's version and whether each of its tables answers (503 when not)."""
        report = service_health(service).check()
        if report.status != "ok":
            response.status_code = 503
        return report

    return router
