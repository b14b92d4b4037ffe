"""Lambda entry point of the streams service (API Gateway HTTP API → Mangum → FastAPI)."""

from functions.common.entry import HttpEntry
from letslive.constants import Service

entry = HttpEntry(Service.STREAMS, "functions.streams.app:create_app")
handler = entry.handler
