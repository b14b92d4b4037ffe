"""Every service answers through the emulator's API Gateway, backed by the deployed tables."""

import httpx
import pytest

from letslive import __version__
from letslive.constants import SERVICE_TABLES, Service, health_route
from tests.e2e.conftest import LocalPlatform


@pytest.mark.parametrize("service", list(Service))
def test_service_health_through_api_gateway(platform: LocalPlatform, service: Service) -> None:
    response = httpx.get(platform.deployment.http_api_url + health_route(service), timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == service.value
    assert body["version"] == __version__
    assert body["status"] == "ok"
    assert set(body["checks"]) == {f"table:{t.value}" for t in SERVICE_TABLES[service]}
    assert all(check["ok"] for check in body["checks"].values())


def test_unknown_route_is_a_problem_document(platform: LocalPlatform) -> None:
    response = httpx.get(platform.deployment.http_api_url + "/users/no-such-route", timeout=30)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def test_ingest_worker_sees_the_deployed_table_and_bucket(platform: LocalPlatform) -> None:
    response = httpx.get(platform.worker_health_url, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == "ingest"
    assert body["status"] == "ok", body


def test_the_edge_serves_the_api_and_the_media_bucket(platform: LocalPlatform) -> None:
    health = httpx.get(f"{platform.edge_url}/api{health_route(Service.USERS)}", timeout=30)
    assert health.status_code == 200, health.text
    assert health.json()["service"] == Service.USERS.value
    missing = httpx.get(f"{platform.edge_url}/hls/broadcasts/nope/master.m3u8", timeout=30)
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "*"
