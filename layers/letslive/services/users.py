"""Profiles and the follow graph: who a user is, whom they follow, and who follows them.

The rules live here; storage is behind `AccountStore` / `FollowStore` (DynamoDB in
`letslive.data`), events behind `EventPublisher`.
"""

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from letslive.errors import CannotFollowSelf, InvalidCursor, InvalidInput, UserNotFound
from letslive.events import EventPublisher, publish_after_commit
from letslive.models.events import UserFollowed
from letslive.models.users import (
    USERNAME_RE,
    FollowList,
    FollowPage,
    FollowPosition,
    FollowSlice,
    FollowState,
    Profile,
    ProfilePatch,
    PublicProfile,
)

logger = logging.getLogger(__name__)

PAGE_LIMIT_DEFAULT: Final = 20
PAGE_LIMIT_MAX: Final = 100

# ASCII only, and matched before lower-casing: `str.lower()` (and `re.IGNORECASE`) map the
# Kelvin sign U+212A to "k", which would let a look-alike name resolve to a real account.
_HANDLE_RE: Final = re.compile(r"[A-Za-z0-9_]{3,25}")


def normalize_username(raw: str) -> str:
    """The stored (lower-case) handle; `UserNotFound` for anything that cannot be one."""
    if not _HANDLE_RE.fullmatch(raw):
        raise UserNotFound("there is no such user")
    return raw.lower()


# --- cursors ---------------------------------------------------------------------------------

CURSOR_VERSION: Final = 1
CURSOR_MAX_LENGTH: Final = 300
_CURSOR_RE: Final = re.compile(r"[A-Za-z0-9_-]+")


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def encode_cursor(kind: FollowList, username: str, position: FollowPosition) -> str:
    """An opaque, url-safe token for "the entries of `kind` of `username` after `position`"."""
    payload = {
        "v": CURSOR_VERSION,
        "list": f"{kind}:{username}",
        "at": _timestamp(position.followed_at),
        "user": position.username,
    }
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, kind: FollowList, username: str) -> FollowPosition:
    """The position in `cursor`, or `InvalidCursor`.

    Only a cursor this service issued for this very list is accepted: it names its list (so a
    cursor from another user's list, or from the other direction, is refused), and it must be
    byte-for-byte the canonical encoding of what it decodes to (so no edited variant passes).
    """
    invalid = InvalidCursor("the cursor is not valid for this list")
    if len(cursor) > CURSOR_MAX_LENGTH or not _CURSOR_RE.fullmatch(cursor):
        raise invalid
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):  # bad base64, bad UTF-8, bad JSON
        raise invalid from None
    if not isinstance(payload, dict) or set(payload) != {"v", "list", "at", "user"}:
        raise invalid
    at, user = payload["at"], payload["user"]
    if payload["v"] != CURSOR_VERSION or payload["list"] != f"{kind}:{username}":
        raise invalid
    if not isinstance(at, str) or not isinstance(user, str) or not USERNAME_RE.fullmatch(user):
        raise invalid
    try:
        followed_at = datetime.fromisoformat(at)
    except ValueError:
        raise invalid from None
    if followed_at.utcoffset() != timedelta(0):
        raise invalid
    position = FollowPosition(followed_at=followed_at, username=user)
    if encode_cursor(kind, username, position) != cursor:
        raise invalid
    return position


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
        if not 1 <= limit <= PAGE_LIMIT_MAX:
            raise InvalidInput(f"limit must be between 1 and {PAGE_LIMIT_MAX}")
        after = None if cursor is None else decode_cursor(cursor, kind, name)
        if self.accounts.profile(name) is None:
            raise UserNotFound(f"there is no user named {name}")
        page = self.follows.page(kind, name, limit, after)
        next_cursor = None if page.last is None else encode_cursor(kind, name, page.last)
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
    from letslive.events import event_publisher

    return UserService(AccountRepository(), FollowRepository(), event_publisher())
