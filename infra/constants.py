"""Infrastructure names the tests and the local tooling read back (stack names, output keys).

Runtime names (tables, env vars, routes) live in `letslive.constants`, which the CDK app,
the Lambdas, the worker and the tests all import.
"""

from typing import Final

from letslive.constants import Table

APP_NAME: Final = "LetsLive"

# Context keys (cdk.json / `-c key=value`).
CTX_LOCAL: Final = "local"
CTX_STAGE: Final = "stage"
CTX_LAMBDA_PYTHON: Final = "lambdaPython"
CTX_MEDIA_BASE_URL: Final = "mediaBaseUrl"
CTX_INGEST_URL: Final = "ingestUrl"
CTX_VOD_RETENTION_DAYS: Final = "vodRetentionDays"

# Stack outputs.
OUTPUT_HTTP_API_ID: Final = "HttpApiId"
OUTPUT_HTTP_API_URL: Final = "HttpApiUrl"
OUTPUT_MEDIA_BUCKET: Final = "MediaBucketName"
OUTPUT_EVENT_BUS: Final = "EventBusName"
OUTPUT_WEBSOCKET_API_ID: Final = "WebSocketApiId"
OUTPUT_WEBSOCKET_URL: Final = "WebSocketUrl"
OUTPUT_WEBSOCKET_STAGE: Final = "WebSocketStage"


def stack_name(stage: str, unit: str) -> str:
    return f"{APP_NAME}-{stage}-{unit}"


def table_output(table: Table) -> str:
    """Output key carrying a table's physical name, e.g. `StreamsTableName`."""
    return f"{table.value.capitalize()}TableName"
