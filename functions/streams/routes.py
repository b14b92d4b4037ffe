"""HTTP routes of the streams service: the streamer's key and settings, the live directory,
public channel state."""

from collections.abc import Callable
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from functions.common.problems import problem_responses
from functions.common.security import CurrentUser
from letslive.models.schema import CURSOR_SCHEMA, HANDLE_SCHEMA
from letslive.models.streams import (
    ChannelPatch,
    ChannelState,
    LivePage,
    MyChannel,
    StreamHealthReport,
    StreamKeyCreated,
)
from letslive.services.streams import LIVE_LIMIT_DEFAULT, LIVE_LIMIT_MAX, StreamService, stream_service

UNAUTHORIZED = "missing, expired or invalid access token (`unauthorized`)"
INVALID = "the request does not match this document (`validation`)"
MINE_PROBLEMS = problem_responses({401: UNAUTHORIZED})
PATCH_PROBLEMS = problem_responses({401: UNAUTHORIZED, 422: INVALID})
HEALTH_PROBLEMS = problem_responses({401: UNAUTHORIZED, 404: "the caller is not live (`not-live`)"})
LIVE_PROBLEMS = problem_responses({400: "a cursor this list did not issue (`invalid-cursor`)", 422: INVALID})
CHANNEL_PROBLEMS = problem_responses(
    {404: "a name that cannot be a channel (`channel-not-found`); any valid one is a channel", 422: INVALID},
    path_parameters=True,
)


def streams_router(factory: Callable[[], StreamService] = stream_service) -> APIRouter:
    """The routes; the service is built on first use (not at import or app build) and reused."""
    router = APIRouter(prefix="/streams", tags=["streams"])
    shared = cache(factory)

    def service() -> StreamService:
        return shared()

    Streams = Annotated[StreamService, Depends(service)]
    Limit = Annotated[int, Query(ge=1, le=LIVE_LIMIT_MAX, description="channels per page")]
    Cursor = Annotated[str | None, Query(json_schema_extra=CURSOR_SCHEMA)]
    # The service answers 404 for a name that breaks the handle rule; the schema says the rule.
    Username = Annotated[str, Path(json_schema_extra=HANDLE_SCHEMA)]

    # "me" and "live" can never be usernames (too short / reserved), so these cannot shadow a channel.
    @router.post("/me/key", response_model=StreamKeyCreated, status_code=201, responses=MINE_PROBLEMS)
    def create_key(caller: CurrentUser, streams: Streams, response: Response) -> StreamKeyCreated:
        """Create or rotate the caller's stream key. The key is in this response only; the old
        one stops working at once (a live session on it is cut off)."""
        response.headers["cache-control"] = "no-store"
        return streams.create_key(caller.username)

    @router.get("/me", response_model=MyChannel, responses=MINE_PROBLEMS)
    def get_me(caller: CurrentUser, streams: Streams) -> MyChannel:
        """The caller's channel settings and whether a stream key exists (never the key)."""
        return streams.my_channel(caller.username)

    @router.patch("/me", response_model=MyChannel, responses=PATCH_PROBLEMS)
    def update_me(patch: ChannelPatch, caller: CurrentUser, streams: Streams) -> MyChannel:
        """Change the title, category or tags; absent fields are left as they are."""
        return streams.update_channel(caller.username, patch)

    @router.get("/me/health", response_model=StreamHealthReport, responses=HEALTH_PROBLEMS)
    def get_health(caller: CurrentUser, streams: Streams) -> StreamHealthReport:
        """The caller's live session: input bitrate, fps, resolution, transcode speed (404 `not-live`)."""
        return streams.health(caller.username)

    @router.get("/live", response_model=LivePage, responses=LIVE_PROBLEMS)
    def live(streams: Streams, limit: Limit = LIVE_LIMIT_DEFAULT, cursor: Cursor = None) -> LivePage:
        """Channels live now, most recently started first."""
        return streams.live(limit, cursor or None)

    @router.get("/{username}", response_model=ChannelState, responses=CHANNEL_PROBLEMS)
    def get_channel(username: Username, streams: Streams) -> ChannelState:
        """A channel's public state and, while live, its playback URL."""
        return streams.channel(username)

    return router
