"""HTTP routes of clips (the vods service owns recorded media): make one, read it, count a view,
list a channel's, read its chat replay, make its MP4 again, delete one."""

from collections.abc import Callable
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from starlette.convertors import Convertor, register_url_convertor

from functions.common.problems import problem_responses
from functions.common.security import CurrentUser
from functions.vods.routes import BAD_REPLAY_CURSOR, TO
from letslive.models.chat import ChatReplayPage
from letslive.models.clips import CLIP_ID_PATTERN, CLIP_SECONDS_MAX, Clip, ClipList, ClipPage, ClipRequest
from letslive.models.schema import CURSOR_SCHEMA, HANDLE_SCHEMA
from letslive.services.chat.replay import REPLAY_LIMIT_DEFAULT, REPLAY_LIMIT_MAX, ChatReplay, chat_replay
from letslive.services.clips import CLIP_LIMIT_DEFAULT, CLIP_LIMIT_MAX, ClipService, clip_service

INVALID = "the request does not match this document (`validation`)"
UNAUTHORIZED = "missing, expired or invalid access token (`unauthorized`)"
NO_CLIP = "no such clip: never made, or deleted (`clip-not-found`)"
CREATE_PROBLEMS = problem_responses(
    {
        400: "a range the broadcast does not have, yet or any more, or lost (`clip-out-of-range`)",
        401: UNAUTHORIZED,
        404: "no such broadcast, or it has no media (`broadcast-not-found`); its VOD is gone (`vod-not-found`)",
        422: INVALID,
        429: "too many clips from the caller lately (`rate-limited`, with Retry-After)",
    }
)
CLIP_PROBLEMS = problem_responses({404: NO_CLIP, 422: INVALID}, path_parameters=True)
LIST_PROBLEMS = problem_responses(
    {
        400: "a cursor this list did not issue (`invalid-cursor`)",
        404: "a name that cannot be a channel (`channel-not-found`)",
        422: INVALID,
    }
)
TOP_PROBLEMS = problem_responses({404: "a name that cannot be a channel (`channel-not-found`)", 422: INVALID})
NOT_MANAGER = "neither its creator, the channel owner nor one of its moderators (`forbidden`)"
DELETE_PROBLEMS = problem_responses(
    {401: UNAUTHORIZED, 403: NOT_MANAGER, 404: NO_CLIP, 422: INVALID}, path_parameters=True
)
RETRY_PROBLEMS = problem_responses(
    {
        401: UNAUTHORIZED,
        403: NOT_MANAGER,
        404: NO_CLIP,
        409: "its MP4 is ready or being made (`download-not-failed`)",
        422: INVALID,
    },
    path_parameters=True,
)
CHAT_PROBLEMS = problem_responses({400: BAD_REPLAY_CURSOR, 404: NO_CLIP, 422: INVALID}, path_parameters=True)
FROM = "seconds after the clip's start"
CLIP_ID_SCHEMA = {"pattern": f"^{CLIP_ID_PATTERN}$"}


class _ClipIdConvertor(Convertor[str]):
    """Only a clip id matches `/clips/{clip_id}` (anything else is a 404)."""

    regex = CLIP_ID_PATTERN

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("clip_id", _ClipIdConvertor())


def clips_router(
    factory: Callable[[], ClipService] = clip_service, replay_factory: Callable[[], ChatReplay] = chat_replay
) -> APIRouter:
    router = APIRouter(prefix="/clips", tags=["clips"])
    shared = cache(factory)
    shared_replay = cache(replay_factory)

    def service() -> ClipService:
        return shared()

    def replay() -> ChatReplay:
        return shared_replay()

    Clips = Annotated[ClipService, Depends(service)]
    Replay = Annotated[ChatReplay, Depends(replay)]
    ClipId = Annotated[str, Path(json_schema_extra=CLIP_ID_SCHEMA)]
    Channel = Annotated[str, Query(max_length=100, json_schema_extra=HANDLE_SCHEMA)]
    Limit = Annotated[int, Query(ge=1, le=CLIP_LIMIT_MAX, description="clips per page")]
    Cursor = Annotated[str | None, Query(json_schema_extra=CURSOR_SCHEMA)]

    @router.post("", response_model=Clip, status_code=201, responses=CREATE_PROBLEMS)
    def create_clip(request: ClipRequest, caller: CurrentUser, clips: Clips) -> Clip:
        """Clip `seconds` (5-60, default 30) of a broadcast: the last ones of a live broadcast, or
        from `start_seconds` (a range of its VOD). The clip is whole 1 s segments, so it starts up
        to a second early and ends up to a second late; it plays at once and outlives the VOD."""
        return clips.create(caller.username, request)

    @router.get("", response_model=ClipPage, responses=LIST_PROBLEMS)
    def list_clips(
        channel: Channel, clips: Clips, limit: Limit = CLIP_LIMIT_DEFAULT, cursor: Cursor = None
    ) -> ClipPage:
        """A channel's clips, newest first."""
        return clips.list_clips(channel, limit, cursor or None)

    @router.get("/top", response_model=ClipList, responses=TOP_PROBLEMS)
    def most_viewed(channel: Channel, clips: Clips, limit: Limit = CLIP_LIMIT_DEFAULT) -> ClipList:
        """A channel's most viewed clips, the most viewed first (its top `limit`, one page)."""
        return clips.most_viewed(channel, limit)

    @router.get("/{clip_id:clip_id}", response_model=Clip, responses=CLIP_PROBLEMS)
    def get_clip(clip_id: ClipId, clips: Clips) -> Clip:
        """A clip: its title, channel, creator, views and playback URL (HLS)."""
        return clips.get(clip_id)

    @router.post("/{clip_id:clip_id}/views", response_model=Clip, responses=CLIP_PROBLEMS)
    def count_view(clip_id: ClipId, clips: Clips) -> Clip:
        """Count one view (the clip page does, once per load); the clip with its new count."""
        return clips.count_view(clip_id)

    @router.get("/{clip_id:clip_id}/chat", response_model=ChatReplayPage, responses=CHAT_PROBLEMS)
    def clip_chat(
        clip_id: ClipId,
        replay: Replay,
        start: Annotated[float, Query(alias="from", ge=0, le=CLIP_SECONDS_MAX, description=FROM)] = 0.0,
        end: Annotated[float | None, Query(alias="to", gt=0, le=CLIP_SECONDS_MAX + 1, description=TO)] = None,
        limit: Annotated[int, Query(ge=1, le=REPLAY_LIMIT_MAX, description="messages per page")] = REPLAY_LIMIT_DEFAULT,
        cursor: Cursor = None,
    ) -> ChatReplayPage:
        """The clip's chat replay, kept as long as the clip (after its VOD is gone too): the
        messages sent from `from` to before `to` seconds after the clip's start, oldest first,
        each with its `offset_seconds` from the clip's start. Deleted messages and those of users
        banned from the channel are left out."""
        return replay.clip_page(clip_id, start, end, limit, cursor or None)

    @router.post("/{clip_id:clip_id}/download", response_model=Clip, status_code=202, responses=RETRY_PROBLEMS)
    def retry_download(clip_id: ClipId, caller: CurrentUser, clips: Clips) -> Clip:
        """Make the clip's MP4 again after it failed (`download.state` is `failed`): its creator,
        the channel's owner or one of its moderators. The clip comes back with its download
        `pending`; poll it as after making the clip."""
        return clips.retry_download(clip_id, caller.username)

    @router.delete("/{clip_id:clip_id}", status_code=204, response_class=Response, responses=DELETE_PROBLEMS)
    def delete_clip(clip_id: ClipId, caller: CurrentUser, clips: Clips) -> Response:
        """Delete a clip: its creator, the channel's owner or one of its moderators. Its media goes too."""
        clips.delete(clip_id, caller.username)
        return Response(status_code=204)

    return router
