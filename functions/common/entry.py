"""Lambda wiring shared by the HTTP services: Powertools around a Mangum-wrapped FastAPI app.

A cold start pays for the module import and the first event together, so what is built is what
that event needs, once per sandbox: FastAPI, Mangum and the app on the first event; settings,
AWS clients, the token verifier when a request first needs them (`letslive`).

With SnapStart (the AWS shape) the first event's work moves to the snapshot instead: a
before-snapshot hook builds the app and sends it one request that reaches no route (no AWS call,
nothing unique made), so every restored sandbox starts with it built. See
`functions.common.snapstart` for what is re-made after a restore.
"""

import asyncio
import importlib
from typing import TYPE_CHECKING, Any, Final

from functions.common import compat, snapstart
from functions.common.observability import API_GATEWAY_REQUEST_ID, Observability
from letslive.constants import Service

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer
    from mangum import Mangum

# Imported before the snapshot: what most first requests go on to load (the settings, the token
# verifier's JWT and crypto libraries, PynamoDB and botocore). Importing makes no client and
# calls nothing: AWS is still reached through the services only.
SNAPSHOT_IMPORTS: Final = ("letslive.settings", "letslive.services.tokens", "letslive.data.tables")
# A path no service routes (every route is under `/<service>`): a 404 from the router itself.
PRIMING_PATH: Final = "/_snapstart"


class HttpEntry:
    """The Lambda handler of one HTTP service; `app_factory` is `"module:function"`."""

    def __init__(self, service: Service, app_factory: str) -> None:
        self.service = service
        self.observability = Observability(service.value)
        self.logger = self.observability.logger
        self.metrics = self.observability.metrics
        self._app_factory = app_factory
        self._asgi: Mangum | None = None
        self.handler = self.observability.entry_point(API_GATEWAY_REQUEST_ID)(self._handle)
        snapstart.before_snapshot(self.prime)

    @property
    def tracer(self) -> "Tracer":
        return self.observability.tracer

    def _build(self) -> "Mangum":
        from mangum import Mangum
        from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

        compat.import_fastapi()  # before anything imports it
        from functions.common.problems import PROBLEM_CONTENT_TYPE

        module_name, _, factory = self._app_factory.partition(":")
        app = getattr(importlib.import_module(module_name), factory)()
        # Problem documents are text; without this Mangum base64-encodes every error body.
        return Mangum(app, lifespan="off", text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, PROBLEM_CONTENT_TYPE])

    def asgi(self) -> "Mangum":
        """The Mangum-wrapped app, built on the first call in this sandbox."""
        if self._asgi is None:
            self._asgi = self._build()
        return self._asgi

    def _handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        asgi = self.asgi()
        _ensure_event_loop()
        response: dict[str, Any] = asgi(event, context)
        return response

    def prime(self) -> None:
        """Build now what the first event would (SnapStart's before-snapshot hook).

        The priming request goes to the app directly, not through the handler: Powertools would
        log it and count it as the cold start, which belongs to the first real event.
        """
        asgi = self.asgi()
        _ensure_event_loop()
        context: Any = _PrimingContext()  # Mangum only passes it on to the app's scope
        asgi(priming_event(self.service), context)
        for module in SNAPSHOT_IMPORTS:
            importlib.import_module(module)


class _PrimingContext:
    function_name = "snapstart-priming"
    aws_request_id = "snapstart-priming"


def priming_event(service: Service, path: str = PRIMING_PATH) -> dict[str, Any]:
    """An HTTP API (payload 2.0) `GET path` on the service's route."""
    route_key = f"ANY /{service.value}/{{proxy+}}"
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "snapstart.invalid"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "routeKey": route_key,
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def _ensure_event_loop() -> None:
    """Mangum runs the app with `asyncio.get_event_loop()`, which raises once a finished
    `asyncio.run` has cleared the thread's loop (and on Python 3.14 whenever none is set)."""
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
