"""A deliberately naive Lambda handler, the baseline for `bench/coldstart.py`.

The same app as `functions.streams.handler`: the streams router and the health route, the problem
handlers, Mangum with the same text types, and Powertools' logger, tracer and metrics wrapped in
the same order with the same `stage` dimension. What differs is only when things are built: here
everything is, when the module loads, as many Lambda handlers are written. The settings are
parsed, Powertools' Tracer made (it loads the X-Ray SDK whether tracing is on or not), the stream
service built on its backends with the AWS clients they use, then the FastAPI app and Mangum.
"""

import asyncio
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

from functions.common.app import service_app
from functions.common.problems import PROBLEM_CONTENT_TYPE
from functions.streams.routes import streams_router
from letslive.constants import METRIC_STAGE_DIMENSION, POWERTOOLS_NAMESPACE, Service
from letslive.data.aws import client
from letslive.data.tables import connection
from letslive.services.streams import StreamService, stream_service
from letslive.settings import get_settings

SERVICE = Service.STREAMS

settings = get_settings()
logger = Logger(service=SERVICE.value)
tracer = Tracer(service=SERVICE.value)
metrics = Metrics(namespace=POWERTOOLS_NAMESPACE, service=SERVICE.value)
metrics.set_default_dimensions(**{METRIC_STAGE_DIMENSION: settings.stage})

# The service on DynamoDB (PynamoDB models bound to the table) and EventBridge, and the clients
# its repository's transactions and its event publisher go on to use.
streams: StreamService = stream_service()
dynamodb = connection().client
events = client("events")

app: FastAPI = service_app(SERVICE, routers=[streams_router(lambda: streams)])
asgi = Mangum(app, lifespan="off", text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, PROBLEM_CONTENT_TYPE])
asyncio.set_event_loop(asyncio.new_event_loop())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = asgi(event, context)
    return response
