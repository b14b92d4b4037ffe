"""Lambda entry point of the vods service (API Gateway HTTP API → Mangum → FastAPI)."""

from functions.common.entry import HttpEntry
from letslive.constants import Service

entry = HttpEntry(Service.VODS, "functions.vods.app:create_app")
handler = entry.handler
