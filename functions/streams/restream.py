"""HTTP routes of restream: the streamer's destinations (their keys accepted, never returned)."""

from collections.abc import Callable
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from functions.common.problems import problem_responses
from functions.common.security import CurrentUser
from letslive.models.restream import DestinationList, DestinationsUpdate
from letslive.services.restream import RestreamService, restream_service

UNAUTHORIZED = "missing, expired or invalid access token (`unauthorized`)"
READ_PROBLEMS = problem_responses({401: UNAUTHORIZED})
PUT_PROBLEMS = problem_responses(
    {
        400: "a new destination without its key, an id that is not saved, the same id twice, or a "
        "server that is not a public address (`invalid-destination`)",
        401: UNAUTHORIZED,
        422: "the request does not match this document (`validation`)",
    }
)


def restream_router(factory: Callable[[], RestreamService] = restream_service) -> APIRouter:
    router = APIRouter(prefix="/streams/me/destinations", tags=["restream"])
    shared = cache(factory)

    def service() -> RestreamService:
        return shared()

    Restream = Annotated[RestreamService, Depends(service)]

    @router.get("", response_model=DestinationList, responses=READ_PROBLEMS)
    def get_destinations(caller: CurrentUser, restream: Restream, response: Response) -> DestinationList:
        """Where the caller's broadcasts are forwarded (keys masked). Each one's live status is
        in `GET /streams/me/health`."""
        response.headers["cache-control"] = "no-store"
        return restream.destinations(caller.username)

    @router.put("", response_model=DestinationList, responses=PUT_PROBLEMS)
    def put_destinations(
        update: DestinationsUpdate, caller: CurrentUser, restream: Restream, response: Response
    ) -> DestinationList:
        """Replace the caller's destinations (at most 5): a saved one is named by `id` and keeps
        its key unless `key` is given; one left out is removed. Keys are stored encrypted and
        never returned. A broadcast picks the list up when it starts."""
        response.headers["cache-control"] = "no-store"
        return restream.replace(caller.username, update)

    return router
