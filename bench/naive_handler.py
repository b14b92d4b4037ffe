"""A deliberately naive Lambda handler, the baseline for `bench/coldstart.py`.

Everything is imported and built when the module loads, as many Lambda handlers are written:
FastAPI and Mangum, Powertools Logger/Tracer/Metrics (instantiated, with the X-Ray SDK imported
as an enabled Tracer would), PynamoDB with a model, boto3 with a DynamoDB client, and the app.
It serves the same app as `functions.streams.handler`, so the two differ only in eagerness.
"""

import os
from typing import Any

import aws_xray_sdk.core  # type: ignore[import-untyped]  # noqa: F401  # what an enabled Tracer loads
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI
from mangum import Mangum
from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from functions.common.app import service_app
from letslive.constants import POWERTOOLS_NAMESPACE, Service, Table, table_env_var

logger = Logger(service="naive")
tracer = Tracer(service="naive")
metrics = Metrics(namespace=POWERTOOLS_NAMESPACE, service="naive")
dynamodb = boto3.client("dynamodb", region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


class StreamItem(Model):
    class Meta:
        table_name = os.environ.get(table_env_var(Table.STREAMS), "streams")
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        host = os.environ.get("LETSLIVE_AWS_ENDPOINT_URL")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(null=True)


app: FastAPI = service_app(Service.STREAMS)
asgi = Mangum(app, lifespan="off")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = asgi(event, context)
    return response
