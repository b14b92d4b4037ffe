"""HTTP routes of the vods service: a channel's VODs, one VOD, deleting one."""

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from functions.common.security import CurrentUser
from letslive.models.vods import Vod, VodPage
from letslive.services.vods import VOD_LIMIT_DEFAULT, VOD_LIMIT_MAX, VodService, vod_service

PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request, e.g. an invalid cursor (problem+json)"},
    404: {"description": "No such VOD or channel, or the VOD expired (problem+json)"},
    422: {"description": "Invalid request (problem+json)"},
}
OWNER_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    401: {"description": "Missing or invalid access token (problem+json)"},
    403: {"description": "Not the channel owner (problem+json)"},
}


def vods_router(factory: Callable[[], VodService] = vod_service) -> APIRouter:
    """The routes; the service is built on first use (not at import or app build) and reused."""
    router = APIRouter(prefix="/vods", tags=["vods"])
    shared = cache(factory)

    def service() -> VodService:
        return shared()

    Vods = Annotated[VodService, Depends(service)]
    Channel = Annotated[str, Query(max_length=100, description="the channel's username")]
    Limit = Annotated[int, Query(ge=1, le=VOD_LIMIT_MAX, description="VODs per page")]
    Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]

    @router.get("", response_model=VodPage, responses=PROBLEMS)
    def list_vods(channel: Channel, vods: Vods, limit: Limit = VOD_LIMIT_DEFAULT, cursor: Cursor = None) -> VodPage:
        """A channel's VODs, newest first."""
        return vods.list_vods(channel, limit, cursor)

    @router.get("/{vod_id}", response_model=Vod, responses=PROBLEMS)
    def get_vod(vod_id: str, vods: Vods) -> Vod:
        """A VOD: its playback URL (HLS), duration, renditions and thumbnail."""
        return vods.get(vod_id)

    @router.delete("/{vod_id}", status_code=204, response_class=Response, responses=OWNER_PROBLEMS)
    def delete_vod(vod_id: str, caller: CurrentUser, vods: Vods) -> Response:
        """Delete one of the caller's VODs."""
        vods.delete(vod_id, caller.username)
        return Response(status_code=204)

    return router
