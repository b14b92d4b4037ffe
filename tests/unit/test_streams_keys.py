"""Stream keys: random, shown once, stored and looked up only as their SHA-256."""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from letslive.models.events import DomainEvent
from letslive.models.streams import Channel
from letslive.services.streams import (
    STREAM_KEY_PREFIX,
    StreamService,
    generate_stream_key,
    hash_stream_key,
    plausible_stream_key,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_key_is_prefixed_url_safe_and_192_bits() -> None:
    key = generate_stream_key()
    assert re.fullmatch(r"live_[A-Za-z0-9_-]{32}", key)
    assert key.startswith(STREAM_KEY_PREFIX)
    assert plausible_stream_key(key)


def test_keys_do_not_repeat() -> None:
    keys = {generate_stream_key() for _ in range(2000)}
    assert len(keys) == 2000


def test_the_hash_is_the_sha256_hex_of_the_key() -> None:
    key = "live_abc"
    assert hash_stream_key(key) == hashlib.sha256(b"live_abc").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_stream_key(key))
    assert hash_stream_key(key) != hash_stream_key("live_abd")
    assert hash_stream_key("live_ABC") != hash_stream_key(key)  # case matters


def test_implausible_keys_are_refused_before_any_lookup() -> None:
    for bad in ("", " ", "live_a b", "live_ü", "a" * 129, "key\x00", "key?x=1", "a/b"):
        assert not plausible_stream_key(bad), bad
    assert plausible_stream_key("a" * 128)


@dataclass
class Store:
    """Just enough of `StreamStore` for keys: what was stored, and lookups by hash."""

    key_owner: dict[str, str] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def replace_key(self, username: str, key_hash: str, now: datetime) -> None:
        self.key_owner = {h: u for h, u in self.key_owner.items() if u != username} | {key_hash: username}
        self.channels[username] = Channel(username, f"{username}'s stream", None, (), key_hash)

    def username_for_key(self, key_hash: str) -> str | None:
        self.lookups.append(key_hash)
        return self.key_owner.get(key_hash)

    def channel(self, username: str, consistent_read: bool = False) -> Channel | None:
        return self.channels.get(username)


class Bus:
    def publish(self, event: DomainEvent) -> None:
        raise AssertionError("keys emit no events")


def service(store: Store, keys: list[str]) -> StreamService:
    supply = iter(keys)
    return StreamService(store, Bus(), clock=lambda: NOW, new_key=lambda: next(supply))  # type: ignore[arg-type]


def test_creating_a_key_stores_only_its_hash() -> None:
    store = Store()
    created = service(store, ["live_first"]).create_key("Alice")
    assert created.stream_key == "live_first"
    assert created.ingest_url_hint == "rtmp://127.0.0.1:1935/live"
    assert store.key_owner == {hash_stream_key("live_first"): "alice"}
    assert "live_first" not in repr(store)


def test_only_the_latest_key_authorizes() -> None:
    store = Store()
    streams = service(store, ["live_first", "live_second"])
    streams.create_key("alice")
    streams.create_key("alice")
    assert streams.authorize_publish("live_first") is None
    grant = streams.authorize_publish("live_second")
    assert grant is not None
    assert (grant.username, grant.key_hash) == ("alice", hash_stream_key("live_second"))


def test_an_implausible_key_is_not_even_looked_up() -> None:
    store = Store()
    streams = service(store, [])
    assert streams.authorize_publish("x" * 10_000) is None
    assert streams.authorize_publish("") is None
    assert store.lookups == []
    assert streams.authorize_publish("live_unknown") is None
    assert store.lookups == [hash_stream_key("live_unknown")]
