"""HTTP routes of the streams service: the streamer's key and settings, the live directory,
public channel state."""

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from functions.common.security import CurrentUser
from letslive.models.streams import (
    ChannelPatch,
    ChannelState,
    LivePage,
    MyChannel,
    StreamHealthReport,
    StreamKeyCreated,
)
from letslive.services.streams import LIVE_LIMIT_DEFAULT, LIVE_LIMIT_MAX, StreamService, stream_service

PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request, e.g. an invalid cursor (problem+json)"},
    401: {"description": "Missing or invalid access token (problem+json)"},
    404: {"description": "No such channel, or not live (problem+json)"},
    422: {"description": "Invalid request (problem+json)"},
}


def streams_router(factory: Callable[[], StreamService] = stream_service) -> APIRouter:
    """The routes; the service is built on first use (not at import or app build) and reused."""
    router = APIRouter(prefix="/streams", tags=["streams"])
    shared = cache(factory)

    def service() -> StreamService:
        return shared()

    Streams = Annotated[StreamService, Depends(service)]
    Limit = Annotated[int, Query(ge=1, le=LIVE_LIMIT_MAX, description="channels per page")]
    Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]

    # "me" and "live" can never be usernames (too short / reserved), so these cannot shadow a channel.
    @router.post("/me/key", response_model=StreamKeyCreated, status_code=201, responses=PROBLEMS)
    def create_key(caller: CurrentUser, streams: Streams, response: Response) -> StreamKeyCreated:
        """Create or rotate the caller's stream key. The key is in this response only; the old
        one stops working at once (a live session on it is cut off)."""
        response.headers["cache-control"] = "no-store"
        return streams.create_key(caller.username)

    @router.get("/me", response_model=MyChannel, responses=PROBLEMS)
    def get_me(caller: CurrentUser, streams: Streams) -> MyChannel:
        """The caller's channel settings and whether a stream key exists (never the key)."""
        return streams.my_channel(caller.username)

    @router.patch("/me", response_model=MyChannel, responses=PROBLEMS)
    def update_me(patch: ChannelPatch, caller: CurrentUser, streams: Streams) -> MyChannel:
        """Change the title, category or tags; absent fields are left as they are."""
        return streams.update_channel(caller.username, patch)

    @router.get("/me/health", response_model=StreamHealthReport, responses=PROBLEMS)
    def get_health(caller: CurrentUser, streams: Streams) -> StreamHealthReport:
        """The caller's live session: input bitrate, fps, resolution, transcode speed (404 `not-live`)."""
        return streams.health(caller.username)

    @router.get("/live", response_model=LivePage, responses=PROBLEMS)
    def live(streams: Streams, limit: Limit = LIVE_LIMIT_DEFAULT, cursor: Cursor = None) -> LivePage:
        """Channels live now, most recently started first."""
        return streams.live(limit, cursor)

    @router.get("/{username}", response_model=ChannelState, responses=PROBLEMS)
    def get_channel(username: str, streams: Streams) -> ChannelState:
        """A channel's public state and, while live, its playback URL."""
        return streams.channel(username)

    return router
