"""`GET /<service>/health` of every HTTP service against moto: through the FastAPI app and
through the real Lambda handler (API Gateway HTTP API payload 2.0 → Powertools → Mangum)."""

import base64
import importlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from moto.core import set_initial_no_auth_action_count

from functions.common.problems import PROBLEM_CONTENT_TYPE
from letslive import __version__
from letslive.constants import SERVICE_TABLES, Service, Table, health_route, table_env_var
from letslive.data.tables import BaseItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The handlers publish no metric besides the cold start; Powertools warns about that on every call.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SERVICES = list(Service)
REQUEST_ID = "Ab1Cd2Ef3Gh4="  # requestContext.requestId: the correlation id of the handler's logs
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def create_app(service: Service) -> FastAPI:
    app: FastAPI = importlib.import_module(f"functions.{service.value}.app").create_app()
    return app


def lambda_handler(service: Service) -> LambdaHandler:
    handler: LambdaHandler = importlib.import_module(f"functions.{service.value}.handler").handler
    return handler


def owned_table(service: Service) -> Table:
    """The service's own table: the first it lists (auth also uses the accounts' users table)."""
    return SERVICE_TABLES[service][0]


@dataclass(frozen=True)
class LambdaContext:
    """What the Lambda runtime passes as `context`, reduced to what Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def http_api_event(method: str, path: str, service: Service) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for the `ANY /<service>/{proxy+}` route."""
    api_id = "a1b2c3d4e5"
    domain = f"{api_id}.execute-api.us-east-1.amazonaws.com"
    now = time.time()
    request_id = REQUEST_ID
    headers = {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate, br",
        "host": domain,
        "user-agent": "pytest/letslive",
        "x-amzn-trace-id": "Root=1-67a0b1c2-0123456789abcdef01234567",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    route_key = f"ANY /{service.value}/{{proxy+}}"
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": headers["user-agent"],
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "pathParameters": {"proxy": path.removeprefix(f"/{service.value}/")},
        "isBase64Encoded": False,
    }


def call_handler(service: Service, path: str) -> dict[str, Any]:
    return lambda_handler(service)(http_api_event("GET", path, service), LambdaContext(f"letslive-{service.value}"))


def invoke(service: Service, path: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, lower-cased headers and JSON body, decoded as API Gateway decodes it for the client."""
    response = call_handler(service, path)
    headers = {name.lower(): value for name, value in response["headers"].items()}
    raw = response["body"]
    body: dict[str, Any] = json.loads(base64.b64decode(raw) if response["isBase64Encoded"] else raw)
    return response["statusCode"], headers, body


# --- through the FastAPI app ----------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_health_is_ok_when_the_owned_table_answers(service: Service, tables: dict[Table, str]) -> None:
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        response = client.get(health_route(service))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["service"] == service.value
    assert body["version"] == __version__
    assert body["status"] == "ok"
    assert set(body["checks"]) == {f"table:{table.value}" for table in SERVICE_TABLES[service]}
    for check in body["checks"].values():
        assert check["ok"] is True
        assert check["error"] is None
        assert check["latency_ms"] >= 0


@pytest.mark.parametrize("service", SERVICES)
def test_health_is_503_degraded_when_the_owned_table_is_gone(
    service: Service, tables: dict[Table, str], dynamodb: "DynamoDBClient"
) -> None:
    table = owned_table(service)
    dynamodb.delete_table(TableName=tables[table])

    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        response = client.get(health_route(service))

    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "degraded"
    assert body["version"] == __version__
    check = body["checks"][f"table:{table.value}"]
    assert check["ok"] is False
    assert check["error"].startswith(f"table {table.value}:")


@pytest.mark.parametrize("service", SERVICES)
def test_health_ignores_tables_the_service_does_not_own(
    service: Service, tables: dict[Table, str], dynamodb: "DynamoDBClient"
) -> None:
    for table, name in tables.items():
        if table not in SERVICE_TABLES[service]:
            dynamodb.delete_table(TableName=name)

    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        response = client.get(health_route(service))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("service", SERVICES)
def test_health_is_503_when_the_table_is_not_configured(
    service: Service, tables: dict[Table, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    table = owned_table(service)
    monkeypatch.delenv(table_env_var(table))

    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        response = client.get(health_route(service))

    assert response.status_code == 503, response.text
    check = response.json()["checks"][f"table:{table.value}"]
    assert check["ok"] is False
    assert table_env_var(table) in check["error"]


@pytest.mark.parametrize("table_status", ["CREATING", "UPDATING", "DELETING"])
def test_health_is_503_while_the_table_is_not_active(
    tables: dict[Table, str], monkeypatch: pytest.MonkeyPatch, table_status: str
) -> None:
    # moto creates tables ACTIVE at once; the other states are reached only by patching DescribeTable.
    monkeypatch.setattr(BaseItem, "describe_table", classmethod(lambda cls: {"TableStatus": table_status}))

    with TestClient(create_app(Service.STREAMS), raise_server_exceptions=False) as client:
        response = client.get(health_route(Service.STREAMS))

    assert response.status_code == 503, response.text
    assert response.json()["checks"]["table:streams"]["error"] == f"table streams is {table_status}"


def test_health_is_503_degraded_when_dynamodb_rejects_the_credentials(tables: dict[Table, str]) -> None:
    @set_initial_no_auth_action_count(0)  # from here on moto authenticates every call: "testing" is unknown
    def get_health() -> tuple[int, str]:
        with TestClient(create_app(Service.AUTH), raise_server_exceptions=False) as client:
            response = client.get(health_route(Service.AUTH))
        return response.status_code, response.text

    status, text = get_health()
    assert status == 503, text
    assert json.loads(text)["checks"]["table:auth"]["ok"] is False


# --- through the real Lambda handler ----------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_lambda_handler_serves_health(service: Service, tables: dict[Table, str]) -> None:
    status, headers, body = invoke(service, health_route(service))

    assert status == 200, body
    assert headers["content-type"] == "application/json"
    assert body["service"] == service.value
    assert body["version"] == __version__
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        f"table:{table.value}": True for table in SERVICE_TABLES[service]
    }


@pytest.mark.parametrize("service", SERVICES)
def test_lambda_handler_logs_with_the_api_gateway_request_id(service: Service, aws_env: dict[str, str]) -> None:
    entry = importlib.import_module(f"functions.{service.value}.handler").entry
    entry.logger.set_correlation_id(None)  # the logger outlives invocations: forget earlier tests' id
    invoke(service, f"/{service.value}/no/such/route")
    assert entry.logger.get_correlation_id() == REQUEST_ID


@pytest.mark.parametrize("service", SERVICES)
def test_lambda_handler_reports_a_missing_table_as_503(
    service: Service, tables: dict[Table, str], dynamodb: "DynamoDBClient"
) -> None:
    dynamodb.delete_table(TableName=tables[owned_table(service)])

    status, _, body = invoke(service, health_route(service))

    assert status == 503, body
    assert body["status"] == "degraded"


@pytest.mark.parametrize("service", SERVICES)
def test_lambda_handler_answers_an_unknown_route_with_a_404_problem(service: Service, aws_env: dict[str, str]) -> None:
    path = f"/{service.value}/no/such/route"
    status, headers, body = invoke(service, path)

    assert status == 404, body
    assert headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert body == {
        "type": "https://letslive.dev/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "instance": path,
    }


def test_lambda_handler_sends_problem_bodies_as_text(aws_env: dict[str, str]) -> None:
    response = call_handler(Service.AUTH, "/auth/no-such-route")
    assert response["statusCode"] == 404
    assert response["isBase64Encoded"] is False
    assert json.loads(response["body"])["status"] == 404
