"""Lambda wiring shared by the HTTP services: Powertools around a Mangum-wrapped FastAPI app.

Import cost is the cold-start budget, so FastAPI, Mangum and the app are imported and built on
the first event, not when the handler module is loaded.
"""

import asyncio
import importlib
from typing import TYPE_CHECKING, Any

from functions.common.observability import API_GATEWAY_REQUEST_ID, Observability
from letslive.constants import Service

if TYPE_CHECKING:
    from mangum import Mangum


class HttpEntry:
    """The Lambda handler of one HTTP service; `app_factory` is `"module:function"`."""

    def __init__(self, service: Service, app_factory: str) -> None:
        self.observability = Observability(service.value)
        self.logger = self.observability.logger
        self.tracer = self.observability.tracer
        self.metrics = self.observability.metrics
        self._app_factory = app_factory
        self._asgi: Mangum | None = None
        self.handler = self.observability.entry_point(API_GATEWAY_REQUEST_ID)(self._handle)

    def _build(self) -> "Mangum":
        from mangum import Mangum
        from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

        module_name, _, factory = self._app_factory.partition(":")
        app = getattr(importlib.import_module(module_name), factory)()
        # Problem documents are text; without this Mangum base64-encodes every error body.
        return Mangum(app, lifespan="off", text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, "application/problem+json"])

    def _handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if self._asgi is None:
            self._asgi = self._build()
        _ensure_event_loop()
        response: dict[str, Any] = self._asgi(event, context)
        return response


def _ensure_event_loop() -> None:
    """Mangum runs the app with `asyncio.get_event_loop()`, which raises once a finished
    `asyncio.run` has cleared the thread's loop (and on Python 3.14 whenever none is set)."""
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
