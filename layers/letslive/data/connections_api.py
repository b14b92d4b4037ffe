"""Pushing to WebSocket clients through API Gateway's `@connections` management API.

`ApiGatewayConnections` posts with boto3: the backend of the chat service's seam,
`letslive.services.chat.fanout.ConnectionGateway`. Real AWS uses the stage's callback URL as
is; an emulator serves the same API under its LocalStack-compatible path,
`<endpoint>/_aws/execute-api/<api id>/<stage>`.
"""

from typing import Any, Final
from urllib.parse import urlsplit

from letslive.data import aws
from letslive.errors import ConfigurationError, DependencyUnavailable

# Concurrent posts per process: a fan-out's bounded pool, and as many pooled HTTP connections.
POST_CONCURRENCY: Final = 32


def management_endpoint(callback_url: str, emulator_endpoint: str | None) -> str:
    if emulator_endpoint is None:
        return callback_url.rstrip("/")
    parts = urlsplit(callback_url)
    api_id = parts.hostname.split(".", 1)[0] if parts.hostname else ""
    stage = parts.path.strip("/")
    if not api_id or not stage:
        raise ConfigurationError(f"not a WebSocket callback URL: {callback_url!r}")
    return f"{emulator_endpoint.rstrip('/')}/_aws/execute-api/{api_id}/{stage}"


@aws.cached_client
def _client(endpoint: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=region,
        # A post is small and the pool is bounded; a slow one must not hold a worker for long.
        config=Config(
            max_pool_connections=POST_CONCURRENCY,
            connect_timeout=2,
            read_timeout=5,
            retries={"mode": "standard", "total_max_attempts": 3},
        ),
    )


class ApiGatewayConnections:
    def __init__(self, endpoint: str, region: str) -> None:
        self._client = _client(endpoint, region)

    def post(self, connection_id: str, data: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if _gone(exc):
                return False
            raise DependencyUnavailable(f"could not post to a connection: {exc}") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"could not post to a connection: {exc}") from exc
        return True

    def close(self, connection_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if not _gone(exc):
                raise DependencyUnavailable(f"could not close a connection: {exc}") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"could not close a connection: {exc}") from exc


def _gone(exc: Any) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return bool(error.get("Code") == "GoneException" or status == 410)


def connection_gateway() -> ApiGatewayConnections:
    from letslive.settings import get_settings

    settings = get_settings()
    endpoint = management_endpoint(settings.required("chat_callback_url"), settings.aws_endpoint_url)
    return ApiGatewayConnections(endpoint, settings.region)
