"""HTTP routes of the chat service: a room's moderation settings for its owner and moderators.
Chatting itself is the WebSocket API (`functions/chat/websocket.py`)."""

from collections.abc import Callable
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends

from functions.common.problems import problem_responses
from functions.common.security import CurrentUser
from letslive.models.chat import RoomSettings
from letslive.services.chat import RoomSettingsService, room_settings_service

PROBLEMS = problem_responses(
    {
        401: "missing, expired or invalid access token (`unauthorized`)",
        403: "not the channel's owner or a moderator (`forbidden`)",
        404: "no such channel (`channel-not-found`)",
        422: "the request does not match this document (`validation`)",
    },
    path_parameters=True,
)


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
