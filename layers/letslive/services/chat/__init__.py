"""Live chat: rooms, their rules and moderation (`rooms`), and the fan-out (`fanout`)."""

from letslive.services.chat.fanout import Fanout, FanoutReport
from letslive.services.chat.rooms import ChatLimits, ChatService, notice_for, parse_action
from letslive.services.chat.settings import RoomSettingsService, room_settings_service

__all__ = [
    "ChatLimits",
    "ChatService",
    "Fanout",
    "FanoutReport",
    "RoomSettingsService",
    "chat_service",
    "notice_for",
    "parse_action",
    "room_settings_service",
]


class _AccountDirectory:
    """Display names from the accounts' users table (read-only; `SERVICE_READ_TABLES`)."""

    def __init__(self) -> None:
        from letslive.data.accounts import AccountRepository

        self._accounts = AccountRepository()

    def display_name(self, username: str) -> str | None:
        profile = self._accounts.profile(username)
        return None if profile is None else profile.display_name


def chat_service() -> ChatService:
    """The service wired to DynamoDB, API Gateway's `@connections`, SQS and EventBridge."""
    from letslive.data.chat import ChatRepository, ConnectionRepository
    from letslive.data.connections_api import connection_gateway
    from letslive.data.fanout_queue import fanout_queue
    from letslive.services.events import event_publisher
    from letslive.services.tokens import verifier_from_settings
    from letslive.settings import get_settings

    settings = get_settings()
    connections = ConnectionRepository()
    queue = fanout_queue()
    fanout = Fanout(connections, connection_gateway(), queue, threshold=settings.chat_fanout_threshold)
    limits = ChatLimits(connections_per_address=settings.chat_connections_per_address)
    return ChatService(
        connections,
        ChatRepository(),
        _AccountDirectory(),
        verifier_from_settings(),
        fanout,
        event_publisher(),
        queue,
        limits,
    )
