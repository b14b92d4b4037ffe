"""What the Lambdas tell CloudWatch: the EMF blobs Powertools prints on stdout at the end of an
invocation (namespace, dimensions, the business metrics the dashboard reads), and the JSON log
lines of the domain package carrying the request's correlation id."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider import cold_start
from fastapi import APIRouter, FastAPI

from functions.common.entry import HttpEntry
from functions.common.observability import DOMAIN_LOGGER, LAMBDA_FUNCTION_NAME_ENV, Observability
from letslive.constants import (
    ENV_STAGE,
    METRIC_STAGE_DIMENSION,
    POWERTOOLS_NAMESPACE,
    ChatMetric,
    Service,
)
from tests.integration.chat_support import ChatRoom
from tests.integration.test_health_api import REQUEST_ID, LambdaContext, http_api_event

pytestmark = [
    # Invocations that add no metric of their own make Powertools warn.
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
    # Powertools keeps default dimensions process-wide; a second `Observability` re-sets the stage.
    pytest.mark.filterwarnings("ignore:Dimension 'stage' has already been added"),
]

CHANNEL = "alice"
PROBE_METRIC = "ProbeCalls"


def emf_blobs(out: str) -> list[dict[str, Any]]:
    """The EMF documents among the stdout lines (each is one JSON object with `_aws`)."""
    blobs = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs


def metric_values(blobs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Every metric's values across the blobs, by name."""
    found: dict[str, list[Any]] = {}
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return found


def directive(blob: dict[str, Any]) -> dict[str, Any]:
    (only,) = blob["_aws"]["CloudWatchMetrics"]
    assert isinstance(only, dict)
    return only


# --- the HTTP entry -----------------------------------------------------------------------------

probe_entry: HttpEntry | None = None


def create_probe_app() -> FastAPI:
    """A route that records a business metric through its entry's Metrics, as a service would."""
    router = APIRouter()

    @router.get("/streams/probe")
    def probe() -> dict[str, bool]:
        assert probe_entry is not None
        probe_entry.metrics.add_metric(name=PROBE_METRIC, unit=MetricUnit.Count, value=1)
        return {"ok": True}

    app = FastAPI()
    app.include_router(router)
    return app


@pytest.fixture
def probe(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpEntry]:
    global probe_entry
    monkeypatch.setenv(ENV_STAGE, "staging")
    probe_entry = HttpEntry(Service.STREAMS, f"{__name__}:create_probe_app")
    monkeypatch.setattr(cold_start, "is_cold_start", True)  # as in a fresh Lambda process
    yield probe_entry
    probe_entry = None


def call(entry: HttpEntry, path: str) -> dict[str, Any]:
    response: dict[str, Any] = entry.handler(
        http_api_event("GET", path, Service.STREAMS), LambdaContext("letslive-streams")
    )
    return response


def test_the_http_entry_flushes_a_routes_metrics_with_service_and_stage(
    probe: HttpEntry, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert call(probe, "/streams/probe")["statusCode"] == 200

    blobs = emf_blobs(capsys.readouterr().out)
    (probe_blob,) = [blob for blob in blobs if PROBE_METRIC in blob]
    spec = directive(probe_blob)
    assert spec["Namespace"] == POWERTOOLS_NAMESPACE
    assert sorted(spec["Dimensions"][0]) == sorted(["service", METRIC_STAGE_DIMENSION])
    assert (probe_blob["service"], probe_blob[METRIC_STAGE_DIMENSION]) == ("streams", "staging")
    assert spec["Metrics"] == [{"Name": PROBE_METRIC, "Unit": "Count"}]
    assert probe_blob[PROBE_METRIC] == [1.0]


def test_the_http_entry_counts_the_cold_start_once(probe: HttpEntry, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    call(probe, "/streams/no/such/route")
    call(probe, "/streams/no/such/route")  # warm, and it adds no metric: nothing to print

    blobs = emf_blobs(capsys.readouterr().out)
    assert metric_values(blobs) == {"ColdStart": [1.0]}
    (cold,) = blobs
    assert directive(cold)["Namespace"] == POWERTOOLS_NAMESPACE
    assert (cold["service"], cold["function_name"]) == ("streams", "letslive-streams")


# --- the chat send path -------------------------------------------------------------------------


def chat_metrics(capsys: pytest.CaptureFixture[str]) -> dict[str, list[Any]]:
    blobs = emf_blobs(capsys.readouterr().out)
    for blob in blobs:
        spec = directive(blob)
        assert spec["Namespace"] == POWERTOOLS_NAMESPACE
        assert blob["service"] == Service.CHAT.value
        if "ColdStart" not in blob:
            assert sorted(spec["Dimensions"][0]) == sorted(["service", METRIC_STAGE_DIMENSION])
            assert blob[METRIC_STAGE_DIMENSION]
    return metric_values(blobs)


def test_a_sent_message_is_counted_once_and_a_refusal_or_resend_is_not(
    chat: ChatRoom, capsys: pytest.CaptureFixture[str]
) -> None:
    bob = chat.join(CHANNEL, "bob")
    viewer = chat.join(CHANNEL)
    capsys.readouterr()

    bob.say("hello", nonce="n-1")
    assert chat_metrics(capsys) == {ChatMetric.MESSAGES_SENT: [1.0]}

    bob.say("hello", nonce="n-1")  # the client's retry: the same message, answered again
    assert chat_metrics(capsys) == {}

    viewer.say("let me in")  # anonymous viewers read only
    assert chat_metrics(capsys) == {ChatMetric.REFUSED: [1.0]}

    bob.send("ping")
    assert chat_metrics(capsys) == {}


def test_joining_a_room_is_counted(chat: ChatRoom, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    chat.join(CHANNEL, "bob")
    assert chat_metrics(capsys).get(ChatMetric.CONNECTIONS) == [1.0]


# --- domain logs in Lambda ----------------------------------------------------------------------


@pytest.fixture
def domain_logger() -> Iterator[logging.Logger]:
    """The domain package's parent logger, put back as it was (pytest's `caplog` relies on it
    propagating to the root logger)."""
    logger = logging.getLogger(DOMAIN_LOGGER)
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield logger
    logger.handlers[:], logger.propagate = saved[0], saved[1]
    logger.setLevel(saved[2])


def test_in_lambda_domain_logs_are_json_with_the_correlation_id(
    aws_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    domain_logger: logging.Logger,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(LAMBDA_FUNCTION_NAME_ENV, "letslive-probe")
    stream = io.StringIO()
    observability = Observability("probe")
    observability.logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]

    @observability.entry_point("requestContext.requestId")
    def handler(event: dict[str, Any], context: Any) -> None:
        logging.getLogger(f"{DOMAIN_LOGGER}.services.probe").warning("could not do the thing")

    handler({"requestContext": {"requestId": REQUEST_ID}}, LambdaContext("letslive-probe"))

    (line,) = [json.loads(line) for line in stream.getvalue().splitlines() if "could not do the thing" in line]
    assert line["level"] == "WARNING"
    assert line["service"] == "probe"
    assert line["correlation_id"] == REQUEST_ID
    assert line["name"] == f"{DOMAIN_LOGGER}.services.probe"
    assert domain_logger.propagate is False


def test_outside_lambda_domain_logs_are_left_to_the_root_logger(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, domain_logger: logging.Logger
) -> None:
    monkeypatch.delenv(LAMBDA_FUNCTION_NAME_ENV, raising=False)
    Observability("probe")
    assert domain_logger.propagate is True
