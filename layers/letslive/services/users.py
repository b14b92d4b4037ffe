"""Profiles and the follow graph: who a user is, whom they follow, and who follows them.

The rules live here; storage is behind `AccountStore` / `FollowStore` (DynamoDB in
`letslive.data`), events behind `EventPublisher`.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol

from letslive.errors import CannotFollowSelf, UserNotFound
from letslive.models.events import UserFollowed
from letslive.models.handles import USERNAME_RE, normalize_username
from letslive.models.streams import ListPosition
from letslive.models.users import (
    FollowList,
    FollowPage,
    FollowPosition,
    FollowSlice,
    FollowState,
    Profile,
    ProfilePatch,
    PublicProfile,
)
from letslive.services.events import EventPublisher, publish_after_commit
from letslive.services.pagination import check_limit, decode_cursor, encode_cursor

logger = logging.getLogger(__name__)

PAGE_LIMIT_DEFAULT: Final = 20
PAGE_LIMIT_MAX: Final = 100


def follow_listing(kind: FollowList, username: str) -> str:
    return f"{kind}:{username}"


def encode_follow_cursor(kind: FollowList, username: str, position: FollowPosition) -> str:
    """A cursor (`letslive.services.pagination`) for the entries of one user's list after `position`."""
    return encode_cursor(follow_listing(kind, username), ListPosition(position.followed_at, position.username))


def decode_follow_cursor(cursor: str, kind: FollowList, username: str) -> FollowPosition:
    """The position in `cursor`; `InvalidCursor` unless it was issued for this very list (not
    another user's, nor the other direction)."""
    position = decode_cursor(cursor, follow_listing(kind, username), USERNAME_RE)
    return FollowPosition(followed_at=position.at, username=position.key)


# --- the service -----------------------------------------------------------------------------


class AccountStore(Protocol):
    def profile(self, username: str, consistent_read: bool = False) -> Profile | None: ...

    def update_profile(self, username: str, patch: ProfilePatch) -> Profile | None: ...


class FollowStore(Protocol):
    def is_following(self, follower: str, followee: str) -> bool: ...

    def follow(self, follower: str, followee: str, followed_at: datetime) -> bool: ...

    def unfollow(self, follower: str, followee: str) -> bool: ...

    def page(self, kind: FollowList, username: str, limit: int, after: FollowPosition | None) -> FollowSlice: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UserService:
    def __init__(
        self,
        accounts: AccountStore,
        follows: FollowStore,
        events: EventPublisher,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.accounts = accounts
        self.follows = follows
        self.events = events
        self._clock = clock

    def profile(self, username: str, viewer: str | None = None) -> PublicProfile:
        """A user's public profile; with a signed-in `viewer`, whether they follow this user."""
        name = normalize_username(username)
        profile = self.accounts.profile(name)
        if profile is None:
            raise UserNotFound(f"there is no user named {name}")
        followed_by_me = None
        if viewer is not None:
            me = viewer.lower()
            followed_by_me = me != name and self.follows.is_following(me, name)
        return PublicProfile(**profile.model_dump(), followed_by_me=followed_by_me)

    def update_profile(self, username: str, patch: ProfilePatch) -> Profile:
        profile = self.accounts.update_profile(username.lower(), patch)
        if profile is None:
            raise UserNotFound("your account does not exist")
        return profile

    def follow(self, follower: str, username: str) -> FollowState:
        """Follow `username`; following again changes nothing. Emits `UserFollowed` once per new follow."""
        me, name = follower.lower(), normalize_username(username)
        if me == name:
            raise CannotFollowSelf("you cannot follow yourself")
        followed_at = self._clock()
        created = self.follows.follow(me, name, followed_at)
        if created:
            self._publish(UserFollowed(follower=me, followee=name, followed_at=followed_at))
        return FollowState(following=True, followers_count=self._followers_count(name))

    def unfollow(self, follower: str, username: str) -> FollowState:
        """Stop following `username`; unfollowing someone not followed changes nothing."""
        me, name = follower.lower(), normalize_username(username)
        if me == name:
            raise CannotFollowSelf("you cannot follow or unfollow yourself")
        self.follows.unfollow(me, name)
        # Also the 404 for an unknown target, which the no-op path never touched.
        return FollowState(following=False, followers_count=self._followers_count(name))

    def followers(self, username: str, limit: int = PAGE_LIMIT_DEFAULT, cursor: str | None = None) -> FollowPage:
        return self._page("followers", username, limit, cursor)

    def following(self, username: str, limit: int = PAGE_LIMIT_DEFAULT, cursor: str | None = None) -> FollowPage:
        return self._page("following", username, limit, cursor)

    def _page(self, kind: FollowList, username: str, limit: int, cursor: str | None) -> FollowPage:
        name = normalize_username(username)
        check_limit(limit, PAGE_LIMIT_MAX)
        after = None if cursor is None else decode_follow_cursor(cursor, kind, name)
        if self.accounts.profile(name) is None:
            raise UserNotFound(f"there is no user named {name}")
        page = self.follows.page(kind, name, limit, after)
        next_cursor = None if page.last is None else encode_follow_cursor(kind, name, page.last)
        return FollowPage(items=page.entries, next_cursor=next_cursor)

    def _followers_count(self, name: str) -> int:
        # Strongly consistent, so the caller sees the count their own change produced.
        profile = self.accounts.profile(name, consistent_read=True)
        if profile is None:
            raise UserNotFound(f"there is no user named {name}")
        return profile.followers_count

    def _publish(self, event: UserFollowed) -> None:
        publish_after_commit(self.events, event)


def user_service() -> UserService:
    """The service on its configured backends (DynamoDB, EventBridge)."""
    from letslive.data.accounts import AccountRepository
    from letslive.data.follows import FollowRepository
    from letslive.services.events import event_publisher

    return UserService(AccountRepository(), FollowRepository(), event_publisher())
