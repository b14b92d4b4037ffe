"""Lambda entry point of the users service (API Gateway HTTP API → Mangum → FastAPI)."""

from functions.common.entry import HttpEntry
from letslive.constants import Service

entry = HttpEntry(Service.USERS, "functions.users.app:create_app")
handler = entry.handler
