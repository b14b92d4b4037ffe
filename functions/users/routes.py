"""HTTP routes of the users service: profiles and the follow graph."""

from collections.abc import Callable
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from functions.common.problems import problem_responses
from functions.common.security import OPTIONAL_BEARER, CurrentUser, OptionalUser
from letslive.models.schema import CURSOR_SCHEMA, HANDLE_SCHEMA
from letslive.models.users import FollowPage, FollowState, Profile, ProfilePatch, PublicProfile
from letslive.services.users import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, UserService, user_service

UNAUTHORIZED = "missing, expired or invalid access token (`unauthorized`)"
NO_USER = "no such user (`user-not-found`; also any name that cannot be a handle)"
INVALID = "the request does not match this document (`validation`)"
PATCH_PROBLEMS = problem_responses({401: UNAUTHORIZED, 404: "the caller's account is gone", 422: INVALID})
PROFILE_PROBLEMS = problem_responses({401: UNAUTHORIZED, 404: NO_USER, 422: INVALID}, path_parameters=True)
FOLLOW_PROBLEMS = problem_responses(
    {401: UNAUTHORIZED, 404: NO_USER, 409: "the target is the caller (`cannot-follow-self`)", 422: INVALID},
    path_parameters=True,
)
PAGE_PROBLEMS = problem_responses(
    {400: "a cursor this list did not issue (`invalid-cursor`)", 404: NO_USER, 422: INVALID}, path_parameters=True
)


def users_router(factory: Callable[[], UserService] = user_service) -> APIRouter:
    """The routes; the service is built on first use (not at import or app build) and reused."""
    router = APIRouter(prefix="/users", tags=["users"])
    shared = cache(factory)

    def service() -> UserService:
        return shared()

    Users = Annotated[UserService, Depends(service)]
    Limit = Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX, description="entries per page")]
    # The service answers 404 for a name that breaks the handle rule; the schema says the rule.
    Username = Annotated[str, Path(json_schema_extra=HANDLE_SCHEMA)]
    Cursor = Annotated[str | None, Query(json_schema_extra=CURSOR_SCHEMA)]

    # "me" can never be a username (too short), so `/users/me` cannot shadow a real user.
    @router.patch("/me", response_model=Profile, responses=PATCH_PROBLEMS)
    def update_me(patch: ProfilePatch, caller: CurrentUser, users: Users) -> Profile:
        """Change the caller's display name, bio or avatar; absent fields are left as they are."""
        return users.update_profile(caller.username, patch)

    @router.get("/{username}", response_model=PublicProfile, responses=PROFILE_PROBLEMS, openapi_extra=OPTIONAL_BEARER)
    def get_profile(username: Username, caller: OptionalUser, users: Users) -> PublicProfile:
        """A public profile; `followed_by_me` only when the caller is signed in."""
        return users.profile(username, viewer=caller.username if caller else None)

    @router.put("/{username}/follow", response_model=FollowState, responses=FOLLOW_PROBLEMS)
    def follow(username: Username, caller: CurrentUser, users: Users) -> FollowState:
        return users.follow(caller.username, username)

    @router.delete("/{username}/follow", response_model=FollowState, responses=FOLLOW_PROBLEMS)
    def unfollow(username: Username, caller: CurrentUser, users: Users) -> FollowState:
        return users.unfollow(caller.username, username)

    @router.get("/{username}/followers", response_model=FollowPage, responses=PAGE_PROBLEMS)
    def followers(
        username: Username, users: Users, limit: Limit = PAGE_LIMIT_DEFAULT, cursor: Cursor = None
    ) -> FollowPage:
        """Who follows `username`, newest first."""
        return users.followers(username, limit, cursor or None)

    @router.get("/{username}/following", response_model=FollowPage, responses=PAGE_PROBLEMS)
    def following(
        username: Username, users: Users, limit: Limit = PAGE_LIMIT_DEFAULT, cursor: Cursor = None
    ) -> FollowPage:
        """Whom `username` follows, newest first."""
        return users.following(username, limit, cursor or None)

    return router
