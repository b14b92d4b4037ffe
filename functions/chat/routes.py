"""HTTP routes of the chat service: a room's moderation settings for its owner and moderators.
Chatting itself is the WebSocket API (`functions/chat/websocket.py`)."""

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from functions.common.security import CurrentUser
from letslive.models.chat import RoomSettings
from letslive.services.chat import RoomSettingsService, room_settings_service

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid access token (problem+json)"},
    403: {"description": "Not the channel's owner or a moderator (problem+json)"},
    404: {"description": "No such channel (problem+json)"},
}


def chat_router(factory: Callable[[], RoomSettingsService] = room_settings_service) -> APIRouter:
    router = APIRouter(prefix="/chat", tags=["chat"])
    shared = cache(factory)

    def service() -> RoomSettingsService:
        return shared()

    Chat = Annotated[RoomSettingsService, Depends(service)]

    @router.get("/{channel}/settings", response_model=RoomSettings, responses=PROBLEMS)
    def room_settings(channel: str, caller: CurrentUser, chat: Chat) -> RoomSettings:
        """Slow mode, moderators, bans and timeouts in force, and the number of viewers."""
        return chat.settings(channel, caller)

    return router
