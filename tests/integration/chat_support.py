"""What the chat integration tests share: API Gateway WebSocket events for the real Lambda
handlers, what moto's `@connections` API received per connection, the fan-out queue as a
fan-out worker sees it (SQS events), and EventBridge events as a consumer receives them.

Deliveries are read back from moto's `apigatewaymanagementapi` backend: it keeps every post to
a connection as one byte string (payloads appended), which `Socket.frames` splits back into
the JSON events the client received.
"""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import boto3
import pytest
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

import functions.chat.events
import functions.chat.fanout
import functions.chat.websocket
from letslive.constants import ChatAction
from letslive.data import connections_api
from letslive.data.chat import ChatRepository, ConnectionRepository
from letslive.data.connections_api import POST_CONCURRENCY, connection_gateway
from letslive.data.fanout_queue import fanout_queue
from letslive.services.chat import ChatLimits, ChatService, Fanout
from letslive.services.chat import _AccountDirectory as AccountDirectory
from letslive.services.chat.fanout import BATCH_SIZE
from letslive.services.events import event_publisher
from letslive.services.tokens import AccessTokenIssuer, SigningKey, verifier_from_settings
from letslive.settings import get_settings
from tests.integration.conftest import REGION
from tests.integration.test_health_api import LambdaContext
from tests.support.clocks import DateClock

API_ID = "abc123"
STAGE = "local"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
CALLBACK_URL = f"https://{DOMAIN}/{STAGE}"
FANOUT_QUEUE = "letslive-test-chat-fanout"
# The client address of every connection unless a test gives another.
SOURCE_IP = "203.0.113.7"

Frame = dict[str, Any]


# --- API Gateway WebSocket events ---------------------------------------------------------------


def new_connection_id() -> str:
    """Shaped like API Gateway's: 12 bytes of base64, ending in `=`."""
    return uuid.uuid4().hex[:15] + "="


def _request_context(
    connection_id: str,
    route_key: str,
    event_type: Literal["CONNECT", "MESSAGE", "DISCONNECT"],
    source_ip: str = SOURCE_IP,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    request_id = uuid.uuid4().hex[:16] + "="
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": int(now.timestamp() * 1000),
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "identity": {"sourceIp": source_ip, "userAgent": "Mozilla/5.0 (pytest)"},
        "requestId": request_id,
        "domainName": DOMAIN,
        "connectionId": connection_id,
        "apiId": API_ID,
    }
    if event_type == "MESSAGE":
        context["messageId"] = uuid.uuid4().hex[:16] + "="
    if event_type == "DISCONNECT":
        context["disconnectStatusCode"] = 1001
        context["disconnectReason"] = "Going away"
    return context


def connect_event(
    connection_id: str, query: dict[str, str] | None, source_ip: str = SOURCE_IP, forwarded_for: str = SOURCE_IP
) -> dict[str, Any]:
    headers = {
        "Host": DOMAIN,
        "Origin": "https://letslive.example.net",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "X-Forwarded-For": forwarded_for,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": _request_context(connection_id, "$connect", "CONNECT", source_ip),
        "isBase64Encoded": False,
    }
    if query:  # API Gateway leaves both out when there is no query string
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()}
    return event


def route_for(body: str) -> str:
    """API Gateway's route selection (`$request.body.action`): a known action, else `$default`."""
    try:
        action = json.loads(body).get("action")
    except (ValueError, AttributeError):
        return "$default"
    return str(action) if action in {value.value for value in ChatAction} else "$default"


def message_event(connection_id: str, body: str) -> dict[str, Any]:
    return {
        "requestContext": _request_context(connection_id, route_for(body), "MESSAGE"),
        "body": body,
        "isBase64Encoded": False,
    }


def disconnect_event(connection_id: str) -> dict[str, Any]:
    headers = {"Host": DOMAIN, "x-api-key": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": _request_context(connection_id, "$disconnect", "DISCONNECT"),
        "isBase64Encoded": False,
    }


def context(name: str) -> LambdaContext:
    return LambdaContext(f"letslive-chat-{name}")


# --- what connections received --------------------------------------------------------------


def posted(connection_id: str) -> list[Frame]:
    """Every payload moto's `@connections` API received for `connection_id`, in order."""
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]
    # moto keys a connection by its path segment as sent, percent-encoded (`=` is `%3D`).
    connection = backend.connections.get(quote(connection_id, safe=""))
    data = connection.data.decode() if connection is not None else ""
    decoder = json.JSONDecoder()
    frames: list[Frame] = []
    position = 0
    while position < len(data):
        frame, position = decoder.raw_decode(data, position)
        frames.append(frame)
    return frames


@dataclass
class Socket:
    """One client's WebSocket: what it sends through the handlers, what it received."""

    chat: "ChatRoom"
    connection_id: str
    user: str | None
    seen: int = 0

    def send_raw(self, body: str) -> dict[str, Any]:
        response: dict[str, Any] = functions.chat.websocket.message(
            message_event(self.connection_id, body), context("message")
        )
        assert response == {"statusCode": 200}, response
        return response

    def send(self, action: str, **fields: Any) -> None:
        self.send_raw(json.dumps({"action": action, **fields}))

    def say(self, text: str, nonce: str | None = None) -> None:
        if nonce is None:
            self.send("send", text=text)
        else:
            self.send("send", text=text, nonce=nonce)

    def close(self) -> None:
        response = functions.chat.websocket.disconnect(disconnect_event(self.connection_id), context("disconnect"))
        assert response == {"statusCode": 200}

    def frames(self) -> list[Frame]:
        """Everything received since the connection opened."""
        return posted(self.connection_id)

    def inbox(self) -> list[Frame]:
        """What arrived since the last call."""
        frames = self.frames()
        new, self.seen = frames[self.seen :], len(frames)
        return new

    def only(self) -> Frame:
        """The one frame that arrived since the last call."""
        new = self.inbox()
        assert len(new) == 1, new
        return new[0]

    def notice(self) -> Frame:
        frame = self.only()
        assert frame["type"] == "notice", frame
        return frame


# --- the fan-out queue --------------------------------------------------------------------------


@dataclass(frozen=True)
class Queued:
    task: dict[str, Any]
    delay_seconds: int
    record: dict[str, Any]


@dataclass
class FanoutQueue:
    url: str
    name: str = FANOUT_QUEUE

    def take(self) -> list[Queued]:
        """Every task on the queue (delayed ones included), removed from it, each with the delay it
        was sent with and as the SQS record a fan-out worker is invoked with.

        moto holds a delayed message back for its delay in real time; a test does not wait: the
        delay is read from moto's queue and then lifted.
        """
        queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].get_queue(self.name)
        delays: dict[str, int] = {}
        for message in queue._messages:
            sent_ms = message.sent_timestamp or 0
            delays[message.id] = round((message.delayed_until - sent_ms) / 1000) if message.delayed_until else 0
            message.delayed_until = 0
        sqs = boto3.client("sqs", region_name=REGION)
        taken: list[Queued] = []
        while batch := sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        ):
            for message in batch:
                taken.append(Queued(json.loads(message["Body"]), delays[message["MessageId"]], self.record(message)))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return taken

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:{self.name}",
            "awsRegion": REGION,
        }


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def run_fanout(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The fan-out worker invoked by SQS with these records; its partial batch response."""
    response: dict[str, Any] = functions.chat.fanout.handler(sqs_event(records), context("fanout"))
    return response


# --- the chat ---------------------------------------------------------------------------------


@dataclass
class ChatRoom:
    """The chat's Lambda handlers, run against moto with one `ChatService` whose clock the test
    moves (the handlers' cached factories are patched to return it); with `own_service=False`
    the handlers build theirs as in Lambda (`chat_service()`, real time)."""

    keys: SigningKey
    clock: DateClock
    monkeypatch: pytest.MonkeyPatch
    queue: FanoutQueue
    own_service: bool = True
    _service: ChatService | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.own_service:
            return
        self.rewire()
        for module in (functions.chat.websocket, functions.chat.fanout, functions.chat.events):
            self.monkeypatch.setattr(module, "_chat", lambda: self.service)

    @property
    def service(self) -> ChatService:
        if self._service is None:
            return functions.chat.websocket._chat()
        return self._service

    def rewire(
        self,
        *,
        threshold: int | None = None,
        batch_size: int = BATCH_SIZE,
        concurrency: int = POST_CONCURRENCY,
        limits: ChatLimits | None = None,
    ) -> ChatService:
        """The service as `chat_service()` wires it, with this test's clock and fan-out knobs."""
        connections = ConnectionRepository(clock=self.clock.timestamp)
        queue = fanout_queue()
        fanout = Fanout(
            connections,
            connection_gateway(),
            queue,
            threshold=threshold if threshold is not None else get_settings().chat_fanout_threshold,
            batch_size=batch_size,
            concurrency=concurrency,
        )
        self._service = ChatService(
            connections,
            ChatRepository(),
            AccountDirectory(),
            verifier_from_settings(),
            fanout,
            event_publisher(),
            queue,
            limits,
            self.clock,
        )
        return self._service

    def token(self, username: str) -> str:
        settings = get_settings()
        issuer = AccessTokenIssuer(self.keys, settings.jwt_issuer, settings.jwt_audience, 900)
        return issuer.issue(uuid.uuid4().hex, username)

    def open(
        self,
        channel: str | None,
        user: str | None = None,
        *,
        token: str | None = None,
        source_ip: str = SOURCE_IP,
        forwarded_for: str = SOURCE_IP,
    ) -> tuple[int, Socket]:
        """`$connect` with `?channel=...&token=...` from `source_ip`; the status and the socket."""
        connection_id = new_connection_id()
        query: dict[str, str] = {}
        if channel is not None:
            query["channel"] = channel
        if token is None and user is not None:
            token = self.token(user)
        if token is not None:
            query["token"] = token
        event = connect_event(connection_id, query, source_ip, forwarded_for)
        response = functions.chat.websocket.connect(event, context("connect"))
        return response["statusCode"], Socket(self, connection_id, user)

    def join(self, channel: str, user: str | None = None) -> Socket:
        status, socket = self.open(channel, user)
        assert status == 200, status
        return socket


def drain(*sockets: Socket) -> None:
    for socket in sockets:
        socket.inbox()


def messages(frames: list[Frame]) -> list[Frame]:
    return [frame for frame in frames if frame["type"] == "message"]


# The handlers' cached factories, as imported (a test may patch the module attributes).
CACHED_SERVICES = (functions.chat.websocket._chat, functions.chat.fanout._chat, functions.chat.events._chat)


def forget_chat_caches() -> Iterator[None]:
    """The handlers' cached services and the `@connections` clients (not in `forget_cached_aws`)."""
    for cached in CACHED_SERVICES:
        cached.cache_clear()
    connections_api._client.cache_clear()
    yield
    for cached in CACHED_SERVICES:
        cached.cache_clear()
    connections_api._client.cache_clear()
