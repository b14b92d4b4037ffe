"""HTTP routes of the vods service: a channel's VODs, one VOD, deleting one."""

from collections.abc import Callable
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from starlette.convertors import Convertor, register_url_convertor

from functions.common.problems import problem_responses
from functions.common.security import CurrentUser
from letslive.models.chat import ChatReplayPage
from letslive.models.schema import CURSOR_SCHEMA, HANDLE_SCHEMA
from letslive.models.vods import VOD_ID_PATTERN, Vod, VodPage
from letslive.services.chat.replay import REPLAY_LIMIT_DEFAULT, REPLAY_LIMIT_MAX, ChatReplay, chat_replay
from letslive.services.vods import VOD_LIMIT_DEFAULT, VOD_LIMIT_MAX, VodService, vod_service

INVALID = "the request does not match this document (`validation`)"
NO_VOD = "no such VOD: never recorded, deleted or expired (`vod-not-found`); `not-found` for what is no VOD id"
LIST_PROBLEMS = problem_responses(
    {
        400: "a cursor this list did not issue (`invalid-cursor`)",
        404: "a name that cannot be a channel (`channel-not-found`)",
        422: INVALID,
    }
)
VOD_PROBLEMS = problem_responses({404: NO_VOD, 422: INVALID}, path_parameters=True)
# A VOD is never longer than this (a broadcast would have to run for four months).
REPLAY_SECONDS_MAX = 10_000_000
FROM = "seconds after the VOD's start"
TO = "seconds after its start (its end if absent); not after `from`: an empty page"
BAD_REPLAY_CURSOR = "a cursor this replay did not issue (`invalid-cursor`)"
REPLAY_PROBLEMS = problem_responses(
    {
        400: BAD_REPLAY_CURSOR,
        404: NO_VOD,
        422: INVALID,
    },
    path_parameters=True,
)
OWNER_PROBLEMS = problem_responses(
    {
        401: "missing, expired or invalid access token (`unauthorized`)",
        403: "not the channel owner (`forbidden`)",
        404: NO_VOD,
        422: INVALID,
    },
    path_parameters=True,
)
# A VOD id is a uuid4 hex; the schema says so.
VOD_ID_SCHEMA = {"pattern": f"^{VOD_ID_PATTERN}$"}


class _VodIdConvertor(Convertor[str]):
    """Only a VOD id matches `/vods/{vod_id}`: `/vods/health` is never taken for one (a DELETE
    there is a 405, as for any path without that method), anything else is a 404."""

    regex = VOD_ID_PATTERN

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("vod_id", _VodIdConvertor())


def vods_router(
    factory: Callable[[], VodService] = vod_service, replay_factory: Callable[[], ChatReplay] = chat_replay
) -> APIRouter:
    """The routes; the services are built on first use (not at import or app build) and reused."""
    router = APIRouter(prefix="/vods", tags=["vods"])
    shared = cache(factory)
    shared_replay = cache(replay_factory)

    def service() -> VodService:
        return shared()

    def replay() -> ChatReplay:
        return shared_replay()

    Vods = Annotated[VodService, Depends(service)]
    Replay = Annotated[ChatReplay, Depends(replay)]
    Channel = Annotated[str, Query(max_length=100, json_schema_extra=HANDLE_SCHEMA)]
    VodId = Annotated[str, Path(json_schema_extra=VOD_ID_SCHEMA)]
    Limit = Annotated[int, Query(ge=1, le=VOD_LIMIT_MAX, description="VODs per page")]
    Cursor = Annotated[str | None, Query(json_schema_extra=CURSOR_SCHEMA)]

    @router.get("", response_model=VodPage, responses=LIST_PROBLEMS)
    def list_vods(channel: Channel, vods: Vods, limit: Limit = VOD_LIMIT_DEFAULT, cursor: Cursor = None) -> VodPage:
        """A channel's VODs, newest first."""
        return vods.list_vods(channel, limit, cursor or None)

    @router.get("/{vod_id:vod_id}", response_model=Vod, responses=VOD_PROBLEMS)
    def get_vod(vod_id: VodId, vods: Vods) -> Vod:
        """A VOD: its playback URL (HLS), duration, renditions and thumbnail."""
        return vods.get(vod_id)

    @router.get("/{vod_id:vod_id}/chat", response_model=ChatReplayPage, responses=REPLAY_PROBLEMS)
    def vod_chat(
        vod_id: VodId,
        replay: Replay,
        start: Annotated[float, Query(alias="from", ge=0, le=REPLAY_SECONDS_MAX, description=FROM)] = 0.0,
        end: Annotated[float | None, Query(alias="to", gt=0, le=REPLAY_SECONDS_MAX, description=TO)] = None,
        limit: Annotated[int, Query(ge=1, le=REPLAY_LIMIT_MAX, description="messages per page")] = REPLAY_LIMIT_DEFAULT,
        cursor: Cursor = None,
    ) -> ChatReplayPage:
        """The VOD's chat replay: the messages sent from `from` to before `to` seconds after its
        start, oldest first, each with its `offset_seconds` to show it in sync with playback.
        Deleted messages and those of users banned from the channel are left out."""
        return replay.page(vod_id, start, end, limit, cursor or None)

    @router.delete("/{vod_id:vod_id}", status_code=204, response_class=Response, responses=OWNER_PROBLEMS)
    def delete_vod(vod_id: VodId, caller: CurrentUser, vods: Vods) -> Response:
        """Delete one of the caller's VODs."""
        vods.delete(vod_id, caller.username)
        return Response(status_code=204)

    return router
