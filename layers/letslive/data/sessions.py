"""Sign-in sessions in the auth table: refresh tokens, their families, failed-login counters.

Item layout (keys are `pk` / `sk`; every item expires through the `expires_at` TTL):
- `REFRESH#<sha256 of the token>` / `REFRESH`: `RefreshTokenItem`. Only the hash is stored, so
  a leaked table cannot be replayed. `used` flips to true exactly once, when it is rotated.
- `FAMILY#<id>` / `FAMILY`: `FamilyItem`, one per login; every token rotated from that login
  belongs to it, and `revoked` ends them all (logout, or reuse of a rotated token).
- `THROTTLE#<scope>#<key>` / `<window start, epoch seconds>`: `ThrottleItem`, attempts in one
  fixed window (failed logins per address or account, sign-ups per address), kept with atomic
  ADDs: a login is counted before its password is checked and taken back if it succeeds, so
  what stays counted is the failures.
- `BACKOFF#<key>` / `BACKOFF`: `BackoffItem`, consecutive failed logins of one account from one
  address or known device and the lock-out they earned, written with optimistic concurrency
  (`revision`), deleted by a success.

DynamoDB deletes expired items lazily (up to days late), so readers check `expires_at` too.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import cast

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from letslive.constants import Table
from letslive.data.tables import BaseItem, bind, conditional, connection
from letslive.errors import DependencyUnavailable
from letslive.models.auth import Backoff, Rotation, StoredRefreshToken

_REFRESH_SK = "REFRESH"
_FAMILY_SK = "FAMILY"
_BACKOFF_SK = "BACKOFF"


class RefreshTokenItem(BaseItem):
    family_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    username = UnicodeAttribute()
    used = BooleanAttribute(default=False)
    issued_at = NumberAttribute()
    rotated_at = NumberAttribute(null=True)


class FamilyItem(BaseItem):
    user_id = UnicodeAttribute()
    username = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)
    created_at = NumberAttribute()


class ThrottleItem(BaseItem):
    failures = NumberAttribute(default=0)


class BackoffItem(BaseItem):
    failures = NumberAttribute()
    locked_until = NumberAttribute()
    revision = NumberAttribute()


def _at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def _failed_conditions(exc: TransactWriteError) -> list[bool]:
    """Per transaction item, whether its condition failed; empty when it was not a cancellation."""
    if exc.cause_response_code != "TransactionCanceledException":
        return []
    return [reason is not None and reason.code == "ConditionalCheckFailed" for reason in exc.cancellation_reasons]


class SessionRepository:
    def __init__(self) -> None:
        self.tokens = bind(RefreshTokenItem, Table.AUTH)
        self.families = bind(FamilyItem, Table.AUTH)

    def token(self, token_hash: str) -> StoredRefreshToken | None:
        try:
            # Strongly consistent: a token rotated a moment ago must read as used.
            item = self.tokens.get(f"REFRESH#{token_hash}", _REFRESH_SK, consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the refresh token: {exc.msg}") from exc
        return StoredRefreshToken(
            token_hash=token_hash,
            family_id=item.family_id,
            user_id=item.user_id,
            username=item.username,
            used=bool(item.used),
            expires_at=int(item.expires_at.timestamp()) if item.expires_at else 0,
            rotated_at=None if item.rotated_at is None else int(item.rotated_at),
        )

    def start(self, family_id: str, token_hash: str, user_id: str, username: str, now: int, expires_at: int) -> None:
        """A new family (one login) and its first token, written together."""
        family = self.families(
            f"FAMILY#{family_id}", _FAMILY_SK, user_id=user_id, username=username, revoked=False,
            created_at=now, expires_at=_at(expires_at),
        )  # fmt: skip
        token = self._token_item(token_hash, family_id, user_id, username, now, expires_at)
        try:
            with TransactWrite(connection=connection()) as transaction:
                transaction.save(family, condition=self.families.pk.does_not_exist())
                transaction.save(token, condition=self.tokens.pk.does_not_exist())
        except TransactWriteError as exc:
            raise DependencyUnavailable(f"could not start the session: {exc.msg}") from exc

    def rotate(
        self, old: StoredRefreshToken, new_hash: str, now: int, expires_at: int, *, rotated_since: int | None = None
    ) -> Rotation:
        """Mark `old` used and store its successor in one transaction.

        The conditions make it race-safe: of two refreshes presenting the same token, exactly
        one sees `used = false`; and no token is issued into a family revoked meanwhile.
        With `rotated_since`, `old` must instead already have been rotated at or after that
        time (the reuse grace): the new token is a sibling of the successor issued then.
        """
        new = self._token_item(new_hash, old.family_id, old.user_id, old.username, now, expires_at)
        old_key = (f"REFRESH#{old.token_hash}", _REFRESH_SK)
        family = self.families(f"FAMILY#{old.family_id}", _FAMILY_SK)
        tokens = self.tokens
        try:
            # PynamoDB sends condition checks, then puts, then updates: the cancellation reasons
            # come in that order, and `old` is the check in the grace case, the first update otherwise.
            with TransactWrite(connection=connection()) as transaction:
                if rotated_since is None:
                    transaction.update(
                        tokens(*old_key),
                        actions=[tokens.used.set(True), tokens.rotated_at.set(now)],
                        condition=tokens.used == False,  # noqa: E712 - a PynamoDB condition, not a comparison
                    )
                else:
                    transaction.condition_check(
                        tokens,
                        *old_key,
                        condition=(tokens.used == True) & (tokens.rotated_at >= rotated_since),  # noqa: E712
                    )
                transaction.save(new, condition=tokens.pk.does_not_exist())
                # The family lives as long as its newest token.
                transaction.update(
                    family,
                    actions=[self.families.expires_at.set(_at(expires_at))],
                    condition=self.families.revoked == False,  # noqa: E712
                )
        except TransactWriteError as exc:
            failed = _failed_conditions(exc)
            old_index = 0 if rotated_since is not None else 1
            if len(failed) == 3 and failed[old_index]:
                return Rotation.ALREADY_USED
            if len(failed) == 3 and failed[2]:
                return Rotation.REVOKED
            raise DependencyUnavailable(f"could not rotate the refresh token: {exc.msg}") from exc
        return Rotation.ROTATED

    def family_revoked(self, family_id: str) -> bool:
        """Whether the family was revoked (or is gone); strongly consistent, like `token`."""
        try:
            family = self.families.get(f"FAMILY#{family_id}", _FAMILY_SK, consistent_read=True)
        except DoesNotExist:
            return True
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the session: {exc.msg}") from exc
        return bool(family.revoked)

    def revoke_family(self, family_id: str) -> None:
        """Revoke every token of the family; idempotent, and a no-op for a family that is gone."""
        family = self.families(f"FAMILY#{family_id}", _FAMILY_SK)
        revoked = self.families.revoked.set(True)
        conditional(lambda: family.update(actions=[revoked], condition=self.families.pk.exists()), "revoke the session")

    def _token_item(
        self, token_hash: str, family_id: str, user_id: str, username: str, now: int, expires_at: int
    ) -> RefreshTokenItem:
        return cast(
            RefreshTokenItem,
            self.tokens(
                f"REFRESH#{token_hash}", _REFRESH_SK, family_id=family_id, user_id=user_id, username=username,
                used=False, issued_at=now, expires_at=_at(expires_at),
            ),
        )  # fmt: skip


class ThrottleRepository:
    """Attempt counters per key (e.g. `account#alice`, `ip#203.0.113.7`) and window, and login
    backoff records."""

    def __init__(self) -> None:
        self.counters = bind(ThrottleItem, Table.AUTH)
        self.records = bind(BackoffItem, Table.AUTH)

    def reserve(self, keys: Sequence[str], window_start: int, limit: int, expires_at: int) -> bool:
        """Count one attempt against every key, unless one of them already has `limit`.

        Counting before the password is checked (and `release` after a success) keeps a burst
        of concurrent guesses from all passing a check made before any of them failed. Plain
        conditional ADDs rather than one transaction: DynamoDB serializes those on a hot key
        (one busy address), where concurrent transactions would cancel each other.
        """
        counted: list[str] = []
        for key in keys:
            try:
                admitted = self._count(key, window_start, limit, expires_at)
            except DependencyUnavailable:
                self.release(counted, window_start)
                raise
            if not admitted:
                self.release(counted, window_start)
                return False
            counted.append(key)
        return True

    def _count(self, key: str, window_start: int, limit: int, expires_at: int) -> bool:
        counter = self.counters
        return conditional(
            lambda: counter(f"THROTTLE#{key}", str(window_start)).update(
                actions=[counter.failures.add(1), counter.expires_at.set(_at(expires_at))],
                condition=counter.failures.does_not_exist() | (counter.failures < limit),
            ),
            "count the attempt",
        )

    def release(self, keys: Sequence[str], window_start: int) -> None:
        """Take back an attempt counted by `reserve` (it was not a failure)."""
        counter = self.counters
        # Never recreate a counter that expired meanwhile (it would have no TTL).
        condition = counter.pk.exists() & (counter.failures > 0)
        for key in keys:
            item = counter(f"THROTTLE#{key}", str(window_start))
            conditional(
                partial(item.update, actions=[counter.failures.add(-1)], condition=condition),
                "update the login counter",
            )

    # --- backoff records: keys such as `pair#alice#203.0.113.7`, `device#alice#<family id>` ---

    def backoff(self, key: str, now: int) -> Backoff:
        """The record as it stands; one past its `expires_at` (not yet deleted) counts nothing."""
        try:
            item = self.records.get(f"BACKOFF#{key}", _BACKOFF_SK, consistent_read=True)
        except DoesNotExist:
            return Backoff()
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the login backoff: {exc.msg}") from exc
        revision = int(item.revision)
        if item.expires_at is not None and item.expires_at.timestamp() <= now:
            return Backoff(revision=revision)
        return Backoff(int(item.failures), int(item.locked_until), revision)

    def replace(self, key: str, seen: Backoff, failures: int, locked_until: int, expires_at: int) -> Backoff | None:
        """Write the record if it is still as `seen` (its revision); None when another write came first."""
        revision = (seen.revision or 0) + 1
        item = self.records(
            f"BACKOFF#{key}", _BACKOFF_SK, failures=failures, locked_until=locked_until, revision=revision,
            expires_at=_at(expires_at),
        )  # fmt: skip
        records = self.records
        condition = records.pk.does_not_exist() if seen.revision is None else records.revision == seen.revision
        if not conditional(partial(item.save, condition=condition), "write the login backoff"):
            return None
        return Backoff(failures, locked_until, revision)

    def clear(self, key: str) -> None:
        """Zero the record (a successful login). Zeroed rather than deleted: a revision never
        repeats, so a writer that read the record before this cannot overwrite what follows."""
        records = self.records
        item = records(f"BACKOFF#{key}", _BACKOFF_SK)
        actions = [records.failures.set(0), records.locked_until.set(0), records.revision.add(1)]
        conditional(partial(item.update, actions=actions, condition=records.pk.exists()), "clear the login backoff")
