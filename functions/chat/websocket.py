"""Lambda entry points of the chat WebSocket API: `$connect`, `$disconnect`, and every client
action (`send`, moderation, `ping`, `history`, and `$default` for anything else).

Thin: each parses the API Gateway event, calls the chat service, and maps domain errors to a
status (`$connect`: 401/404/429 refuse the handshake) or to a `notice` to the sender. A client
frame can never fail the function: whatever it sends, the answer is 200 and a notice.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.common.observability import API_GATEWAY_REQUEST_ID, Observability
from letslive.constants import ChatMetric, Service
from letslive.errors import ChannelNotFound, ChatRefused, DependencyUnavailable, RateLimited, Unauthorized
from letslive.models.chat import Notice
from letslive.services.chat import ChatService, chat_service, notice_for

observability = Observability(Service.CHAT.value)
logger, metrics = observability.logger, observability.metrics
# API Gateway's request id of the route invocation.
entry_point = observability.entry_point(API_GATEWAY_REQUEST_ID)

OK = {"statusCode": 200}


@cache
def _chat() -> ChatService:
    return chat_service()


def _status(code: int) -> dict[str, int]:
    return {"statusCode": code}


@entry_point
def connect(event: dict[str, Any], context: Any) -> dict[str, int]:
    connection_id = event["requestContext"]["connectionId"]
    query = event.get("queryStringParameters") or {}
    # The TCP peer as API Gateway saw it: clients connect to the WebSocket API directly (chat is
    # not behind our CloudFront), so this is the viewer's own address, and nothing the client
    # sends (`X-Forwarded-For`) can change it.
    source_ip = str((event["requestContext"].get("identity") or {}).get("sourceIp") or "")
    try:
        connection = _chat().connect(connection_id, query.get("channel"), query.get("token"), source_ip)
    except ChannelNotFound:
        return _status(404)
    except RateLimited:
        logger.info("refused: the address holds all its connections to this room", extra={"address": source_ip})
        return _status(429)
    except Unauthorized:
        # A bad or expired token is refused rather than downgraded to read-only, so the client
        # knows to refresh it; without a token the viewer joins read-only.
        return _status(401)
    except DependencyUnavailable:
        logger.exception("could not join the room")
        return _status(503)
    metrics.add_metric(name=ChatMetric.CONNECTIONS, unit=MetricUnit.Count, value=1)
    logger.info("joined", extra={"channel": connection.channel, "chatter": connection.user is not None})
    return OK


@entry_point
def disconnect(event: dict[str, Any], context: Any) -> dict[str, int]:
    try:
        _chat().disconnect(event["requestContext"]["connectionId"])
    except DependencyUnavailable:
        # The connection item still expires by TTL, and a fan-out drops it when it answers Gone.
        logger.exception("could not leave the room")
    return OK


@entry_point
def message(event: dict[str, Any], context: Any) -> dict[str, int]:
    connection_id = event["requestContext"]["connectionId"]
    body = event.get("body")
    frame = body if isinstance(body, str) else ""
    chat = _chat()
    try:
        sent = chat.handle(connection_id, frame)
    except ChatRefused as exc:
        metrics.add_metric(name=ChatMetric.REFUSED, unit=MetricUnit.Count, value=1)
        chat.tell(connection_id, notice_for(exc))
    except DependencyUnavailable:
        logger.exception("chat action failed")
        chat.tell(connection_id, Notice(code="unavailable", text="chat is unavailable right now; try again"))
    else:
        if sent is not None:
            metrics.add_metric(name=ChatMetric.MESSAGES_SENT, unit=MetricUnit.Count, value=1)
    return OK
