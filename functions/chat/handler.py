"""Lambda entry point of the chat HTTP service (room settings), behind the HTTP API."""

from functions.common.entry import HttpEntry
from letslive.constants import Service

entry = HttpEntry(Service.CHAT, "functions.chat.app:create_app")
handler = entry.handler
