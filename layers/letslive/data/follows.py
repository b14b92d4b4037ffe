"""The follow graph, in the users table next to the accounts.

Item layout (keys `pk` / `sk`):
- `USER#<follower>` / `FOLLOWS#<followee>`: `FollowEdgeItem`, the relation itself (its
  existence is the truth that the counters and lists mirror);
- `FOLLOWERS#<followee>` / `<followed_at>#<follower>` and `FOLLOWING#<follower>` /
  `<followed_at>#<followee>`: `FollowListItem`s, so that both lists are one query each, newest
  first (`followed_at` is ISO-8601 UTC with microseconds: fixed width, so it sorts as text);
- `followers_count` / `following_count` on the two `USER#<username>` / `ACCOUNT` items.

A follow or unfollow changes all five items in one transaction, conditioned on the edge (so a
repeat is a no-op) and on both accounts (so no counter is created for a missing user): the
counters equal the number of edges however many requests race.
"""

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import NoReturn, cast

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.transactions import TransactWrite

from letslive.constants import Table
from letslive.data.accounts import AccountItem, account_key
from letslive.data.tables import CONDITION_FAILED, BaseItem, Transactions, bind
from letslive.errors import DependencyUnavailable, UserNotFound
from letslive.models.users import FollowEntry, FollowList, FollowPosition, FollowSlice


class FollowEdgeItem(BaseItem):
    follower = UnicodeAttribute()
    followee = UnicodeAttribute()
    followed_at = UTCDateTimeAttribute()


class FollowListItem(BaseItem):
    username = UnicodeAttribute()  # the other end: the follower in FOLLOWERS#, the followee in FOLLOWING#
    followed_at = UTCDateTimeAttribute()


def edge_key(follower: str, followee: str) -> tuple[str, str]:
    return f"USER#{follower}", f"FOLLOWS#{followee}"


def list_partition(kind: FollowList, username: str) -> str:
    return f"{kind.upper()}#{username}"


def list_sort_key(followed_at: datetime, other: str) -> str:
    return f"{followed_at.astimezone(UTC).isoformat(timespec='microseconds')}#{other}"


def _five(reasons: list[str | None]) -> list[str | None]:
    """The reasons of a five-item transaction, padded: a malformed answer must not crash."""
    return (reasons + [None] * 5)[:5]


class FollowRepository:
    def __init__(
        self,
        max_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.edges = bind(FollowEdgeItem, Table.USERS)
        self.lists = bind(FollowListItem, Table.USERS)
        self.accounts = bind(AccountItem, Table.USERS)
        self._transactions = Transactions(max_attempts, sleep)
        self._max_attempts = max_attempts

    def is_following(self, follower: str, followee: str) -> bool:
        # Consistent: a client that just followed reloads the profile and must see it.
        return self._edge(follower, followee, consistent_read=True) is not None

    def follow(self, follower: str, followee: str, followed_at: datetime) -> bool:
        """Create the follow; False when it already existed. `UserNotFound` if either account is missing."""
        at = followed_at.astimezone(UTC)
        edge = self.edges(*edge_key(follower, followee), follower=follower, followee=followee, followed_at=at)
        in_followers = self.lists(
            list_partition("followers", followee), list_sort_key(at, follower), username=follower, followed_at=at
        )
        in_following = self.lists(
            list_partition("following", follower), list_sort_key(at, followee), username=followee, followed_at=at
        )

        def write(tx: TransactWrite) -> None:
            tx.save(edge, condition=self.edges.pk.does_not_exist())
            tx.save(in_followers)
            tx.save(in_following)
            self._add_to_counts(tx, follower, followee, 1)

        # Reasons come back in request order: pynamodb sends puts before updates.
        reasons = self._transact(write)
        if reasons is None:
            return True
        edge_reason, _, _, follower_reason, followee_reason = _five(reasons)
        if edge_reason == CONDITION_FAILED:
            return False
        self._raise_for_accounts(follower, followee, follower_reason, followee_reason, reasons)

    def unfollow(self, follower: str, followee: str) -> bool:
        """Remove the follow; False when there was none."""
        for _ in range(self._max_attempts):
            edge = self._edge(follower, followee, consistent_read=True)
            if edge is None:
                return False
            at = edge.followed_at

            def write(tx: TransactWrite, at: datetime = at) -> None:
                # Pinned to the follow we read: the list keys embed its time, and a racing
                # unfollow + re-follow would have made a new one with other keys.
                tx.delete(self.edges(*edge_key(follower, followee)), condition=self.edges.followed_at == at)
                tx.delete(self.lists(list_partition("followers", followee), list_sort_key(at, follower)))
                tx.delete(self.lists(list_partition("following", follower), list_sort_key(at, followee)))
                self._add_to_counts(tx, follower, followee, -1)

            # Reasons come back in request order: pynamodb sends deletes before updates.
            reasons = self._transact(write)
            if reasons is None:
                return True
            edge_reason, _, _, follower_reason, followee_reason = _five(reasons)
            if edge_reason == CONDITION_FAILED:
                continue  # the edge changed since we read it: look again
            self._raise_for_accounts(follower, followee, follower_reason, followee_reason, reasons)
        raise DependencyUnavailable("the follow kept changing; try again")

    def page(self, kind: FollowList, username: str, limit: int, after: FollowPosition | None) -> FollowSlice:
        """Up to `limit` entries of a list, newest first, strictly after `after`."""
        partition = list_partition(kind, username)
        start = None
        if after is not None:
            start = {"pk": {"S": partition}, "sk": {"S": list_sort_key(after.followed_at, after.username)}}
        try:
            # One extra item tells whether another page exists, so the last page has no cursor.
            items = list(
                self.lists.query(partition, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start)
            )
            names = self._display_names(item.username for item in items[:limit])
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the {kind} list: {exc.msg}") from exc
        entries = [
            FollowEntry(username=item.username, display_name=names.get(item.username), followed_at=item.followed_at)
            for item in items[:limit]
        ]
        last = FollowPosition(entries[-1].followed_at, entries[-1].username) if len(items) > limit else None
        return FollowSlice(entries=entries, last=last)

    # --- internals ----------------------------------------------------------------------------

    def _edge(self, follower: str, followee: str, consistent_read: bool) -> FollowEdgeItem | None:
        try:
            return cast(FollowEdgeItem, self.edges.get(*edge_key(follower, followee), consistent_read=consistent_read))
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the follow: {exc.msg}") from exc

    def _display_names(self, usernames: Iterable[str]) -> dict[str, str]:
        keys = {account_key(name) for name in usernames}
        if not keys:
            return {}
        found = self.accounts.batch_get(keys, attributes_to_get=["pk", "sk", "username", "display_name"])
        return {item.username: item.display_name for item in found}

    def _add_to_counts(self, tx: TransactWrite, follower: str, followee: str, delta: int) -> None:
        # ADD is atomic server-side; the condition keeps a missing account from being created
        # as a bare counter item.
        exists = self.accounts.pk.exists()
        tx.update(
            self.accounts(*account_key(follower)), actions=[self.accounts.following_count.add(delta)], condition=exists
        )
        tx.update(
            self.accounts(*account_key(followee)), actions=[self.accounts.followers_count.add(delta)], condition=exists
        )

    def _raise_for_accounts(
        self,
        follower: str,
        followee: str,
        follower_reason: str | None,
        followee_reason: str | None,
        reasons: list[str | None],
    ) -> NoReturn:
        if followee_reason == CONDITION_FAILED:
            raise UserNotFound(f"there is no user named {followee}")
        if follower_reason == CONDITION_FAILED:
            raise UserNotFound("your account does not exist")
        raise DependencyUnavailable(f"the follow transaction was cancelled: {reasons}")

    def _transact(self, write: Callable[[TransactWrite], None]) -> list[str | None] | None:
        return self._transactions.run(write, "follow")
