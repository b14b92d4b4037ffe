"""HTTP routes of the users service: profiles and the follow graph."""

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from functions.common.security import CurrentUser, OptionalUser
from letslive.models.users import FollowPage, FollowState, Profile, ProfilePatch, PublicProfile
from letslive.services.users import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, UserService, user_service

PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (problem+json)"},
    401: {"description": "Missing or invalid access token (problem+json)"},
    404: {"description": "No such user (problem+json)"},
    422: {"description": "Invalid request (problem+json)"},
}


def users_router(factory: Callable[[], UserService] = user_service) -> APIRouter:
    """The routes; the service is built on first use (not at import or app build) and reused."""
    router = APIRouter(prefix="/users", tags=["users"])
    shared = cache(factory)

    def service() -> UserService:
        return shared()

    Users = Annotated[UserService, Depends(service)]
    Limit = Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX, description="entries per page")]
    Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]

    # "me" can never be a username (too short), so `/users/me` cannot shadow a real user.
    @router.patch("/me", response_model=Profile, responses=PROBLEMS)
    def update_me(patch: ProfilePatch, caller: CurrentUser, users: Users) -> Profile:
        """Change the caller's display name, bio or avatar; absent fields are left as they are."""
        return users.update_profile(caller.username, patch)

    @router.get("/{username}", response_model=PublicProfile, responses=PROBLEMS)
    def get_profile(username: str, caller: OptionalUser, users: Users) -> PublicProfile:
        """A public profile; `followed_by_me` only when the caller is signed in."""
        return users.profile(username, viewer=caller.username if caller else None)

    @router.put("/{username}/follow", response_model=FollowState, responses=PROBLEMS)
    def follow(username: str, caller: CurrentUser, users: Users) -> FollowState:
        return users.follow(caller.username, username)

    @router.delete("/{username}/follow", response_model=FollowState, responses=PROBLEMS)
    def unfollow(username: str, caller: CurrentUser, users: Users) -> FollowState:
        return users.unfollow(caller.username, username)

    @router.get("/{username}/followers", response_model=FollowPage, responses=PROBLEMS)
    def followers(username: str, users: Users, limit: Limit = PAGE_LIMIT_DEFAULT, cursor: Cursor = None) -> FollowPage:
        """Who follows `username`, newest first."""
        return users.followers(username, limit, cursor)

    @router.get("/{username}/following", response_model=FollowPage, responses=PROBLEMS)
    def following(username: str, users: Users, limit: Limit = PAGE_LIMIT_DEFAULT, cursor: Cursor = None) -> FollowPage:
        """Whom `username` follows, newest first."""
        return users.following(username, limit, cursor)

    return router
