"""Lambda entry point of the auth service (API Gateway HTTP API → Mangum → FastAPI)."""

from functions.common.entry import HttpEntry
from letslive.constants import Service

entry = HttpEntry(Service.AUTH, "functions.auth.app:create_app")
handler = entry.handler
