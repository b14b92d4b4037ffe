"""Powertools in every Lambda: JSON logs carrying a correlation id, X-Ray traces, EMF metrics.

Each entry-point module builds one `Observability` at import, so the runtime reuses it across
invocations, and wraps its handler with `entry_point`, which applies the three decorators in one
fixed order: the logger outermost (the correlation id is set before anything logs), then the
tracer, then the metrics flush (the EMF blob is printed when the handler returns or raises).

The Tracer exists only where traces are recorded: Powertools' `Tracer` loads the X-Ray SDK even
when tracing is off, and outside Lambda its recorder builds a sampler on a botocore session, which
together are the largest single item of a cold start that records no trace (locally, the bench).
Where it is off, `Tracer.capture_lambda_handler` would only open dummy segments, so the handler
is not wrapped at all.
"""

import functools
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.shared import constants as powertools_env
from aws_lambda_powertools.shared.functions import strtobool

from functions.common import snapstart
from letslive.constants import ENV_STAGE, METRIC_STAGE_DIMENSION, POWERTOOLS_NAMESPACE

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

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
        self.service = service
        self.logger = Logger(service=service)
        self.metrics = Metrics(namespace=POWERTOOLS_NAMESPACE, service=service)
        self._tracer: Tracer | None = None
        self._staged = False
        if os.environ.get(LAMBDA_FUNCTION_NAME_ENV):
            route_domain_logs(self.logger)
        snapstart.install()

    @property
    def tracer(self) -> "Tracer":
        """Powertools' Tracer of this service, made (and the X-Ray SDK loaded) on first use."""
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=self.service)
        return self._tracer

    def entry_point(self, correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
        """Decorate a Lambda handler; `correlation_id_path` is a JMESPath into the event."""

        def decorate(handler: Handler) -> Handler:
            flushed = self.metrics.log_metrics(handler, capture_cold_start_metric=True)

            @functools.wraps(flushed)
            def staged(*args: Any, **kwargs: Any) -> Any:
                # Like the ingest worker's, every metric carries the stage (two stages in one
                # account must not add up on one dashboard); it is read on first use, before the
                # cold start metric is captured.
                if not self._staged:
                    self.metrics.set_default_dimensions(**{METRIC_STAGE_DIMENSION: metrics_stage()})
                    self._staged = True
                return flushed(*args, **kwargs)

            traced = self.tracer.capture_lambda_handler(staged) if tracing_enabled() else staged
            # Each wrapper calls through with the same arguments and result.
            return cast("Handler", self.logger.inject_lambda_context(traced, correlation_id_path=correlation_id_path))

        return decorate


def tracing_enabled() -> bool:
    """Whether Powertools' Tracer would record (its own rule): in Lambda, not under SAM or Chalice,
    and not turned off by `POWERTOOLS_TRACE_DISABLED` (the local shape turns it off)."""
    if strtobool(os.environ.get(powertools_env.TRACER_DISABLED_ENV, "false")):
        return False
    in_lambda = os.environ.get(powertools_env.LAMBDA_TASK_ROOT_ENV)
    emulated = os.environ.get(powertools_env.SAM_LOCAL_ENV) or os.environ.get(powertools_env.CHALICE_LOCAL_ENV)
    return bool(in_lambda) and not emulated


def metrics_stage() -> str:
    """The `stage` setting, read from the variable every function is deployed with
    (`infra/constructs/functions.py`) without parsing every other setting (pydantic-settings is a
    sizeable part of a cold start whose request may need no setting); unset, the settings decide."""
    stage = os.environ.get(ENV_STAGE)
    if stage:
        return stage
    from letslive.settings import get_settings

    return get_settings().stage


def route_domain_logs(logger: Logger) -> None:
    """Send the domain package's stdlib log records through `logger`'s JSON handler, so they
    carry the service, the correlation id and the cold start flag like the entry point's own.

    Only in Lambda: it stops `letslive.*` records from propagating to the root logger, which
    the Lambda runtime formats as plain text, and which pytest's `caplog` listens on.
    """
    logging.getLogger(DOMAIN_LOGGER)  # registered now: Powertools only configures loggers that exist
    copy_config_to_registered_loggers(source_logger=logger, include={DOMAIN_LOGGER})
