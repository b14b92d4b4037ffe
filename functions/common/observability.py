"""Powertools in every Lambda: JSON logs carrying a correlation id, X-Ray traces, EMF metrics.

Each entry-point module builds one `Observability` at import, so the runtime reuses it across
invocations, and wraps its handler with `entry_point`, which applies the three decorators in one
fixed order: the logger outermost (the correlation id is set before anything logs), then the
tracer, then the metrics flush (the EMF blob is printed when the handler returns or raises).
"""

import functools
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from letslive.constants import METRIC_STAGE_DIMENSION, POWERTOOLS_NAMESPACE

# Where each trigger carries the id that ties one request's log lines together.
API_GATEWAY_REQUEST_ID = correlation_paths.API_GATEWAY_HTTP  # the HTTP and the WebSocket API alike
EVENTBRIDGE_EVENT_ID = correlation_paths.EVENT_BRIDGE
CLOUDFORMATION_REQUEST_ID = "RequestId"  # a custom resource's request

# The domain package logs through stdlib loggers under this name.
DOMAIN_LOGGER = "letslive"
# Set by the Lambda runtime; absent in tests and local tools.
LAMBDA_FUNCTION_NAME_ENV = "AWS_LAMBDA_FUNCTION_NAME"

Handler = TypeVar("Handler", bound=Callable[..., Any])


class Observability:
    """The Logger, Tracer and Metrics of one service's Lambda entry point."""

    def __init__(self, service: str) -> None:
        self.logger = Logger(service=service)
        self.tracer = Tracer(service=service)
        self.metrics = Metrics(namespace=POWERTOOLS_NAMESPACE, service=service)
        self._staged = False
        if os.environ.get(LAMBDA_FUNCTION_NAME_ENV):
            route_domain_logs(self.logger)

    def entry_point(self, correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
        """Decorate a Lambda handler; `correlation_id_path` is a JMESPath into the event."""

        def decorate(handler: Handler) -> Handler:
            flushed = self.metrics.log_metrics(handler, capture_cold_start_metric=True)

            @functools.wraps(flushed)
            def staged(*args: Any, **kwargs: Any) -> Any:
                # Like the ingest worker's, every metric carries the stage (two stages in one
                # account must not add up on one dashboard); the settings are read on first use,
                # before the cold start metric is captured.
                if not self._staged:
                    # Imported here: pydantic-settings is ~0.1 s of a cold start's import budget.
                    from letslive.settings import get_settings

                    self.metrics.set_default_dimensions(**{METRIC_STAGE_DIMENSION: get_settings().stage})
                    self._staged = True
                return flushed(*args, **kwargs)

            traced = self.tracer.capture_lambda_handler(staged)
            # Each wrapper calls through with the same arguments and result.
            return cast("Handler", self.logger.inject_lambda_context(traced, correlation_id_path=correlation_id_path))

        return decorate


def route_domain_logs(logger: Logger) -> None:
    """Send the domain package's stdlib log records through `logger`'s JSON handler, so they
    carry the service, the correlation id and the cold start flag like the entry point's own.

    Only in Lambda: it stops `letslive.*` records from propagating to the root logger, which
    the Lambda runtime formats as plain text, and which pytest's `caplog` listens on.
    """
    logging.getLogger(DOMAIN_LOGGER)  # registered now: Powertools only configures loggers that exist
    copy_config_to_registered_loggers(source_logger=logger, include={DOMAIN_LOGGER})
