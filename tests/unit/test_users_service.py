"""`UserService` rules on in-memory stores: names, self-follows, events, counts, pages."""

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from letslive.errors import CannotFollowSelf, DependencyUnavailable, InvalidCursor, InvalidInput, UserNotFound
from letslive.models.events import DomainEvent, UserFollowed
from letslive.models.handles import normalize_username
from letslive.models.users import FollowEntry, FollowList, FollowPosition, FollowSlice, Profile, ProfilePatch
from letslive.services.users import UserService, decode_follow_cursor, encode_follow_cursor

START = datetime(2026, 3, 1, tzinfo=UTC)


def profile(username: str) -> Profile:
    return Profile(
        username=username,
        display_name=username.title(),
        bio="",
        avatar_url=None,
        followers_count=0,
        following_count=0,
        live=False,
        created_at=START,
    )


@dataclass
class Accounts:
    profiles: dict[str, Profile] = field(default_factory=dict)
    consistent_reads: list[str] = field(default_factory=list)

    def profile(self, username: str, consistent_read: bool = False) -> Profile | None:
        if consistent_read:
            self.consistent_reads.append(username)
        return self.profiles.get(username)

    def update_profile(self, username: str, patch: ProfilePatch) -> Profile | None:
        current = self.profiles.get(username)
        if current is None:
            return None
        updated = current.model_copy(update=patch.model_dump(exclude_unset=True))
        self.profiles[username] = updated
        return updated


@dataclass
class Follows:
    """Edges plus counters on `accounts`, as the DynamoDB repository keeps them."""

    accounts: Accounts
    edges: dict[tuple[str, str], datetime] = field(default_factory=dict)
    calls: int = 0

    def _bump(self, follower: str, followee: str, delta: int) -> None:
        accounts = self.accounts.profiles
        accounts[follower] = accounts[follower].model_copy(
            update={"following_count": accounts[follower].following_count + delta}
        )
        accounts[followee] = accounts[followee].model_copy(
            update={"followers_count": accounts[followee].followers_count + delta}
        )

    def is_following(self, follower: str, followee: str) -> bool:
        self.calls += 1
        return (follower, followee) in self.edges

    def follow(self, follower: str, followee: str, followed_at: datetime) -> bool:
        self.calls += 1
        if follower not in self.accounts.profiles or followee not in self.accounts.profiles:
            raise UserNotFound("no such user")
        if (follower, followee) in self.edges:
            return False
        self.edges[(follower, followee)] = followed_at
        self._bump(follower, followee, 1)
        return True

    def unfollow(self, follower: str, followee: str) -> bool:
        self.calls += 1
        if self.edges.pop((follower, followee), None) is None:
            return False
        self._bump(follower, followee, -1)
        return True

    def page(self, kind: FollowList, username: str, limit: int, after: FollowPosition | None) -> FollowSlice:
        self.calls += 1
        if kind == "followers":
            rows = [(at, a) for (a, b), at in self.edges.items() if b == username]
        else:
            rows = [(at, b) for (a, b), at in self.edges.items() if a == username]
        rows.sort(reverse=True)
        if after is not None:
            rows = [row for row in rows if row < (after.followed_at, after.username)]
        entries = [FollowEntry(username=name, display_name=None, followed_at=at) for at, name in rows[: limit + 1]]
        last = FollowPosition(entries[limit - 1].followed_at, entries[limit - 1].username)
        return FollowSlice(entries=entries[:limit], last=last if len(entries) > limit else None)


@dataclass
class Bus:
    events: list[DomainEvent] = field(default_factory=list)
    broken: bool = False

    def publish(self, event: DomainEvent) -> None:
        if self.broken:
            raise DependencyUnavailable("bus down")
        self.events.append(event)


@dataclass
class World:
    accounts: Accounts
    follows: Follows
    bus: Bus
    service: UserService


@pytest.fixture
def world() -> World:
    accounts = Accounts({name: profile(name) for name in ("alice", "bob", "carol")})
    follows = Follows(accounts)
    bus = Bus()
    ticks = itertools.count()
    service = UserService(accounts, follows, bus, clock=lambda: START + timedelta(seconds=next(ticks)))
    return World(accounts, follows, bus, service)


@pytest.mark.parametrize(
    ("raw", "name"), [("alice", "alice"), ("ALICE", "alice"), ("a_1", "a_1"), ("Z" * 25, "z" * 25)]
)
def test_usernames_are_matched_case_insensitively(raw: str, name: str) -> None:
    assert normalize_username(raw) == name


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ab",
        "a" * 26,
        "al-ice",
        "al ice",
        "alice\n",
        "\u212aelvin",
        "ālice",
        "alice\x00",
        "\uff41\uff4c\uff49\uff43\uff45",
        "../etc",
    ],
)
def test_impossible_usernames_are_unknown_users(raw: str) -> None:
    with pytest.raises(UserNotFound):
        normalize_username(raw)


def test_a_follow_emits_one_event_and_returns_the_new_count(world: World) -> None:
    state = world.service.follow("alice", "Bob")
    assert (state.following, state.followers_count) == (True, 1)
    assert world.bus.events == [UserFollowed(follower="alice", followee="bob", followed_at=START)]
    # The count is read back consistently, so the caller sees their own change.
    assert world.accounts.consistent_reads == ["bob"]


def test_following_again_emits_nothing_and_counts_nothing(world: World) -> None:
    world.service.follow("alice", "bob")
    again = world.service.follow("ALICE", "bob")
    assert (again.following, again.followers_count) == (True, 1)
    assert len(world.bus.events) == 1


def test_following_yourself_is_refused_before_any_write(world: World) -> None:
    for follow in (world.service.follow, world.service.unfollow):
        with pytest.raises(CannotFollowSelf) as caught:
            follow("alice", "ALICE")
        assert isinstance(caught.value, InvalidInput)  # so it is a 400
    assert world.follows.calls == 0
    assert world.bus.events == []


def test_following_an_unknown_user_is_404_without_an_event(world: World) -> None:
    with pytest.raises(UserNotFound):
        world.service.follow("alice", "nobody")
    with pytest.raises(UserNotFound):
        world.service.follow("alice", "no-such!")
    assert world.bus.events == []


def test_unfollowing_someone_not_followed_is_a_no_op_but_an_unknown_user_is_404(world: World) -> None:
    state = world.service.unfollow("alice", "bob")
    assert (state.following, state.followers_count) == (False, 0)
    with pytest.raises(UserNotFound):
        world.service.unfollow("alice", "nobody")


def test_a_broken_bus_does_not_undo_or_fail_a_follow(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.bus.broken = True
    state = world.service.follow("alice", "bob")
    assert (state.following, state.followers_count) == (True, 1)
    assert "could not publish UserFollowed" in caplog.text


def test_followed_by_me_only_for_signed_in_callers(world: World) -> None:
    world.service.follow("alice", "bob")
    assert world.service.profile("bob").followed_by_me is None
    assert "followed_by_me" not in world.service.profile("bob").model_dump()
    assert world.service.profile("bob", viewer="alice").followed_by_me is True
    assert world.service.profile("bob", viewer="carol").followed_by_me is False
    calls = world.follows.calls
    assert world.service.profile("bob", viewer="bob").followed_by_me is False
    assert world.follows.calls == calls  # no lookup for oneself


def test_unknown_profile_is_404(world: World) -> None:
    with pytest.raises(UserNotFound):
        world.service.profile("nobody")


def test_updating_a_missing_account_is_404(world: World) -> None:
    with pytest.raises(UserNotFound):
        world.service.update_profile("ghost", ProfilePatch(bio="x"))
    assert world.service.update_profile("alice", ProfilePatch(bio="x")).bio == "x"


def test_pages_carry_a_cursor_only_while_more_entries_follow(world: World) -> None:
    for name in ("alice", "carol"):
        world.service.follow(name, "bob")
    first = world.service.followers("bob", limit=1)
    assert [e.username for e in first.items] == ["carol"]
    assert first.next_cursor is not None
    assert decode_follow_cursor(first.next_cursor, "followers", "bob").username == "carol"
    second = world.service.followers("BOB", limit=1, cursor=first.next_cursor)
    assert [e.username for e in second.items] == ["alice"]
    assert second.next_cursor is None


def test_a_bad_cursor_is_refused_before_any_read(world: World) -> None:
    foreign = encode_follow_cursor("followers", "carol", FollowPosition(START, "alice"))
    for cursor in ("junk", foreign):
        with pytest.raises(InvalidCursor):
            world.service.followers("bob", cursor=cursor)
    assert world.follows.calls == 0


@pytest.mark.parametrize("limit", [0, -5, 101])
def test_the_limit_is_bounded_in_the_service_too(world: World, limit: int) -> None:
    with pytest.raises(InvalidInput):
        world.service.following("bob", limit=limit)


def test_lists_of_unknown_users_are_404(world: World) -> None:
    with pytest.raises(UserNotFound):
        world.service.following("nobody")
