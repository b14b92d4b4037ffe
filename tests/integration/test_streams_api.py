"""The streams service against moto: stream keys, channel settings, the live directory, public
channel state, and the worker-facing life of a broadcast (authorize, start, heartbeat,
disconnect and resume, end).

The HTTP side goes through `TestClient(create_app())`; the worker side calls `StreamService`
on the real repository (still moto) with an injected clock, as the ingest worker does.
"""

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from functions.common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from functions.streams.app import create_app
from letslive.constants import ENV_INGEST_URL, ENV_MEDIA_BASE_URL, Service, Table
from letslive.data.streams import StreamRepository
from letslive.errors import BroadcastNotFound, ChannelBusy, DependencyUnavailable, InvalidStreamKey
from letslive.models.events import DomainEvent
from letslive.models.streams import (
    Broadcast,
    IngestWarning,
    ListPosition,
    PublishGrant,
    RungReport,
    StreamHealth,
)
from letslive.services.events import event_publisher
from letslive.services.pagination import encode_cursor
from letslive.services.streams import StreamService, hash_stream_key
from letslive.services.tokens import AccessTokenIssuer, SigningKey
from letslive.settings import get_settings
from tests.integration.conftest import EventBus
from tests.integration.test_health_api import LambdaContext, http_api_event
from tests.support.clocks import DateClock
from tests.support.problems import assert_problem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MEDIA = "https://media.example.net/hls"
INGEST = "rtmp://ingest.example.net:1935/live"
START = datetime.now(UTC).replace(microsecond=0)
GRACE = 10
LEASE = 12
STALE = 60

# The handlers publish no metric besides the cold start; Powertools warns about that on every call.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


# --- helpers ---------------------------------------------------------------------------------


class Api:
    """The streams API as a client sees it, plus a token for any user."""

    def __init__(self, client: TestClient, key: SigningKey) -> None:
        self.client = client
        self.key = key

    def auth(self, username: str) -> dict[str, str]:
        settings = get_settings()
        issuer = AccessTokenIssuer(self.key, settings.jwt_issuer, settings.jwt_audience, 900)
        return {"authorization": f"Bearer {issuer.issue(uuid.uuid4().hex, username)}"}

    def new_key(self, username: str) -> str:
        response = self.client.post("/streams/me/key", headers=self.auth(username))
        assert response.status_code == 201, response.text
        key: str = response.json()["stream_key"]
        return key

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def channel(self, username: str) -> dict[str, Any]:
        return self.get(f"/streams/{username}")

    def live_names(self, **params: Any) -> list[str]:
        return [item["username"] for item in self.get("/streams/live", **params)["items"]]


@dataclass
class Worker:
    """What the ingest worker holds: the service with its clock."""

    service: StreamService
    clock: DateClock

    def go_live(self, key: str) -> tuple[PublishGrant, Broadcast]:
        grant = self.service.authorize_publish(key)
        assert grant is not None
        return grant, self.service.start_broadcast(grant, self.clock())


def worker_service(clock: DateClock) -> StreamService:
    return StreamService(
        StreamRepository(),
        event_publisher(),
        media_base_url=get_settings().media_base_url,
        reconnect_grace_seconds=GRACE,
        lease_seconds=LEASE,
        live_stale_seconds=STALE,
        clock=clock,
    )


def heartbeats_stay_fresh_for_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API reads the directory on the real clock; the worker's clock here is moved by hand
    from START (when the module was imported), so its heartbeats must not go stale while the
    module runs (the staleness rule has its own tests, on the worker's clock)."""
    monkeypatch.setenv("LETSLIVE_LIVE_STALE_SECONDS", "3600")


@pytest.fixture
def api(accounts: SigningKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv(ENV_MEDIA_BASE_URL, MEDIA)
    monkeypatch.setenv(ENV_INGEST_URL, INGEST)
    heartbeats_stay_fresh_for_the_api(monkeypatch)
    with TestClient(create_app()) as client:
        yield Api(client, accounts)


@pytest.fixture
def worker(api: Api) -> Worker:
    clock = DateClock(START)
    return Worker(worker_service(clock), clock)


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["detail-type"] for event in events]


def stream_items(dynamodb: "DynamoDBClient") -> list[dict[str, Any]]:
    pages = dynamodb.get_paginator("scan").paginate(TableName=get_settings().table_name(Table.STREAMS))
    return [item for page in pages for item in page["Items"]]


# The health fields an older worker (or none yet) leaves empty: what the source is and how the
# ladder was made, and where the source is restreamed.
NO_LADDER_REPORT: dict[str, Any] = {
    "video_codec": None,
    "audio_codec": None,
    "keyframe_interval_seconds": None,
    "top_rung": None,
    "top_rung_reason": None,
    "rungs": [],
    "warnings": [],
    "destinations": [],
}


def health(**overrides: Any) -> StreamHealth:
    values: dict[str, Any] = {
        "input_bitrate_kbps": 6000.5,
        "fps": 60.0,
        "width": 1920,
        "height": 1080,
        "transcode_speed": 1.25,
        "last_segment_at": START + timedelta(seconds=3),
    }
    return StreamHealth(**(values | overrides))


# --- POST /streams/me/key --------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(api: Api, dynamodb: "DynamoDBClient") -> None:
    response = api.client.post("/streams/me/key", headers=api.auth("alice"))
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"stream_key", "ingest_url_hint"}
    key = body["stream_key"]
    assert key.startswith("live_")
    assert len(key) == len("live_") + 32
    assert body["ingest_url_hint"] == INGEST

    me = api.client.get("/streams/me", headers=api.auth("alice")).json()
    assert me["has_key"] is True
    assert key not in json.dumps(me)

    items = stream_items(dynamodb)
    dump = json.dumps(items)
    assert key not in dump
    assert key.removeprefix("live_") not in dump
    digest = hashlib.sha256(key.encode()).hexdigest()
    (stored_key,) = [item for item in items if item["pk"]["S"].startswith("KEY#")]
    assert (stored_key["pk"], stored_key["sk"], stored_key["username"]) == (
        {"S": f"KEY#{digest}"},
        {"S": "KEY"},
        {"S": "alice"},
    )
    (channel,) = [item for item in items if item["pk"]["S"] == "CHANNEL#alice"]
    assert channel["key_hash"] == {"S": digest}
    assert channel["title"] == {"S": "alice's stream"}


def test_rotating_the_key_replaces_it_atomically(api: Api, worker: Worker, dynamodb: "DynamoDBClient") -> None:
    first = api.new_key("alice")
    second = api.new_key("alice")
    assert first != second
    keys = [item for item in stream_items(dynamodb) if item["pk"]["S"].startswith("KEY#")]
    assert [item["pk"]["S"] for item in keys] == [f"KEY#{hash_stream_key(second)}"]
    assert worker.service.authorize_publish(first) is None
    assert worker.service.authorize_publish(second) == PublishGrant("alice", hash_stream_key(second))


def test_the_channel_says_when_its_key_was_made_and_a_rotation_renews_it(api: Api, dynamodb: "DynamoDBClient") -> None:
    me = api.auth("alice")
    before = datetime.now(UTC)
    api.new_key("alice")
    first = api.client.get("/streams/me", headers=me).json()
    assert first["has_key"] is True
    created = datetime.fromisoformat(first["key_created_at"])
    assert before <= created <= datetime.now(UTC)
    (channel,) = [item for item in stream_items(dynamodb) if item["pk"]["S"] == "CHANNEL#alice"]
    assert datetime.fromisoformat(channel["key_created_at"]["S"]) == created

    # A settings change keeps it; a rotation renews it.
    patched = api.client.patch("/streams/me", headers=me, json={"title": "Chill"}).json()
    assert patched["key_created_at"] == first["key_created_at"]
    api.new_key("alice")
    rotated = datetime.fromisoformat(api.client.get("/streams/me", headers=me).json()["key_created_at"])
    assert rotated > created


def test_a_key_stored_before_its_creation_time_was_recorded_still_counts(api: Api, dynamodb: "DynamoDBClient") -> None:
    api.new_key("alice")
    dynamodb.update_item(
        TableName=get_settings().table_name(Table.STREAMS),
        Key={"pk": {"S": "CHANNEL#alice"}, "sk": {"S": "CHANNEL"}},
        UpdateExpression="REMOVE key_created_at",
    )
    me = api.client.get("/streams/me", headers=api.auth("alice")).json()
    assert (me["has_key"], me["key_created_at"]) == (True, None)


def test_keys_of_different_channels_open_their_own_channel(api: Api, worker: Worker) -> None:
    alice, bob = api.new_key("alice"), api.new_key("bob")
    assert worker.service.authorize_publish(alice) == PublishGrant("alice", hash_stream_key(alice))
    assert worker.service.authorize_publish(bob) == PublishGrant("bob", hash_stream_key(bob))


def test_the_key_routes_need_a_token(api: Api) -> None:
    for method, path in (
        ("POST", "/streams/me/key"),
        ("GET", "/streams/me"),
        ("PATCH", "/streams/me"),
        ("GET", "/streams/me/health"),
    ):
        assert_problem(api.client.request(method, path, json={}), 401, "unauthorized")
        bad = {"authorization": "Bearer not.a.jwt"}
        assert_problem(api.client.request(method, path, json={}, headers=bad), 401)


# --- GET/PATCH /streams/me -------------------------------------------------------------------


def test_a_channel_never_set_up_has_defaults(api: Api, dynamodb: "DynamoDBClient") -> None:
    me = api.client.get("/streams/me", headers=api.auth("newbie")).json()
    assert me == {
        "username": "newbie",
        "title": "newbie's stream",
        "category": None,
        "tags": [],
        "has_key": False,
        "key_created_at": None,
        "live": False,
        "started_at": None,
    }
    assert stream_items(dynamodb) == []  # reading does not create the channel


def test_patch_changes_only_the_fields_present(api: Api) -> None:
    me = api.auth("alice")
    body = api.client.patch("/streams/me", headers=me, json={"title": "  Speedrun  ", "tags": ["any-pct", "PB"]})
    assert body.status_code == 200, body.text
    assert (body.json()["title"], body.json()["category"], body.json()["tags"]) == ("Speedrun", None, ["any-pct", "PB"])

    body = api.client.patch("/streams/me", headers=me, json={"category": "Retro games"}).json()
    assert (body["title"], body["category"], body["tags"]) == ("Speedrun", "Retro games", ["any-pct", "PB"])

    body = api.client.patch("/streams/me", headers=me, json={"category": None, "tags": []}).json()
    assert (body["title"], body["category"], body["tags"]) == ("Speedrun", None, [])
    assert body["has_key"] is False

    assert api.client.get("/streams/me", headers=me).json() == body
    public = api.channel("alice")
    assert (public["title"], public["category"], public["tags"]) == ("Speedrun", None, [])


def test_patch_keeps_the_key_and_a_key_keeps_the_settings(api: Api) -> None:
    me = api.auth("alice")
    api.client.patch("/streams/me", headers=me, json={"title": "Chill"})
    api.new_key("alice")
    body = api.client.get("/streams/me", headers=me).json()
    assert (body["title"], body["has_key"]) == ("Chill", True)
    body = api.client.patch("/streams/me", headers=me, json={"tags": ["a"]}).json()
    assert (body["title"], body["has_key"], body["tags"]) == ("Chill", True, ["a"])


INVALID_PATCHES: list[dict[str, Any]] = [
    {"title": ""},
    {"title": "   "},
    {"title": "x" * 141},
    {"title": None},
    {"title": 7},
    {"title": "two\nlines"},
    {"title": "\u202eevil"},
    {"category": "c" * 51},
    {"category": "tab\t"},
    {"tags": None},
    {"tags": "solo"},
    {"tags": [f"t{i}" for i in range(11)]},
    {"tags": [""]},
    {"tags": ["has space"]},
    {"tags": ["under_score"]},
    {"tags": ["x" * 26]},
    {"tags": ["émoji"]},
    {"tags": [1]},
    {"key_hash": "0" * 64},
    {"live": True},
]


def test_an_invalid_patch_is_a_422_and_changes_nothing(api: Api) -> None:
    me = api.auth("alice")
    before = api.client.patch("/streams/me", headers=me, json={"title": "Before"}).json()
    for patch in INVALID_PATCHES:
        response = api.client.patch("/streams/me", headers=me, json=patch)
        assert_problem(response, 422, "validation")
    for raw in (b'{"title": "\\ud800"}', b"[]", b"{not json", b""):
        response = api.client.patch("/streams/me", headers=me | {"content-type": "application/json"}, content=raw)
        assert_problem(response, 422)
    assert api.client.get("/streams/me", headers=me).json() == before


def test_the_longest_valid_values_are_accepted(api: Api) -> None:
    patch = {"title": "é" * 140, "category": "c" * 50, "tags": [f"tag-{i:02d}" + "x" * 18 for i in range(10)]}
    response = api.client.patch("/streams/me", headers=api.auth("alice"), json=patch)
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == patch["tags"]


# --- GET /streams/{username} -----------------------------------------------------------------


def test_an_unknown_channel_is_offline_not_missing(api: Api) -> None:
    assert api.channel("NoSuchStreamer") == {
        "username": "nosuchstreamer",
        "live": False,
        "title": "nosuchstreamer's stream",
        "category": None,
        "tags": [],
        "started_at": None,
        "viewer_count": 0,
        "thumbnail_url": None,
        "playback_url": None,
        "broadcast_id": None,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/streams/ab",
        "/streams/" + "a" * 26,
        "/streams/al-ice",
        "/streams/al.ice",
        "/streams/al%20ice",
        "/streams/alice%00",
        "/streams/%E2%84%AAevin",  # KELVIN SIGN, which str.lower() turns into "k"
        "/streams/%ED%A0%80abc",  # an encoded lone surrogate
        "/streams/" + "x" * 5000,
    ],
)
def test_a_malformed_channel_name_is_a_404_never_a_500(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE


# --- the worker: authorize_publish -----------------------------------------------------------


def test_authorize_publish_with_the_right_wrong_and_rotated_key(api: Api, worker: Worker) -> None:
    key = api.new_key("alice")
    assert worker.service.authorize_publish(key) == PublishGrant("alice", hash_stream_key(key))
    for wrong in ("", key + "x", key[:-1], key.upper(), "live_" + "A" * 32, "x" * 10_000, "live_ü", "a/b", "k\x00"):
        assert worker.service.authorize_publish(wrong) is None, wrong
    rotated = api.new_key("alice")
    assert worker.service.authorize_publish(key) is None
    assert worker.service.authorize_publish(rotated) is not None


def test_a_key_rotated_between_authorize_and_start_cannot_start(api: Api, worker: Worker) -> None:
    grant = worker.service.authorize_publish(api.new_key("alice"))
    assert grant is not None
    api.new_key("alice")
    with pytest.raises(InvalidStreamKey):
        worker.service.start_broadcast(grant, worker.clock())
    assert api.channel("alice")["live"] is False


# --- the worker: a whole broadcast ------------------------------------------------------------


def test_a_broadcast_from_start_to_end(
    api: Api, worker: Worker, event_bus: EventBus, dynamodb: "DynamoDBClient"
) -> None:
    key = api.new_key("alice")
    api.client.patch("/streams/me", headers=api.auth("alice"), json={"title": "Live now", "category": "Chess"})
    assert api.live_names() == []

    grant, broadcast = worker.go_live(key)
    assert (broadcast.username, broadcast.parts, broadcast.resumed) == ("alice", 1, False)
    assert (broadcast.title, broadcast.category, broadcast.started_at) == ("Live now", "Chess", START)
    playback = f"{MEDIA}/broadcasts/{broadcast.broadcast_id}/master.m3u8"

    state = api.channel("alice")
    assert state == {
        "username": "alice",
        "live": True,
        "title": "Live now",
        "category": "Chess",
        "tags": [],
        "started_at": state["started_at"],
        "viewer_count": 0,
        "thumbnail_url": None,
        "playback_url": playback,
        "broadcast_id": broadcast.broadcast_id,
    }
    assert datetime.fromisoformat(state["started_at"]) == START
    (listed,) = api.get("/streams/live")["items"]
    assert listed == {
        "username": "alice",
        "title": "Live now",
        "category": "Chess",
        "tags": [],
        "viewer_count": 0,
        "thumbnail_url": None,
        "started_at": listed["started_at"],
        "playback_url": playback,
    }
    me = api.auth("alice")
    assert api.client.get("/streams/me", headers=me).json()["live"] is True

    # Before the first heartbeat the health report exists, with nulls.
    report = api.client.get("/streams/me/health", headers=me).json()
    assert (report["broadcast_id"], report["fps"], report["updated_at"]) == (broadcast.broadcast_id, None, None)

    worker.clock.advance(4)
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, health()) is True
    report = api.client.get("/streams/me/health", headers=me).json()
    assert report == {
        "broadcast_id": broadcast.broadcast_id,
        "started_at": report["started_at"],
        "playback_url": playback,
        "viewer_count": 0,
        "input_bitrate_kbps": 6000.5,
        "fps": 60.0,
        "width": 1920,
        "height": 1080,
        "resolution": "1920x1080",
        "transcode_speed": 1.25,
        "last_segment_at": report["last_segment_at"],
        **NO_LADDER_REPORT,
        "updated_at": report["updated_at"],
    }
    assert datetime.fromisoformat(report["last_segment_at"]) == START + timedelta(seconds=3)
    assert datetime.fromisoformat(report["updated_at"]) == START + timedelta(seconds=4)
    assert_problem(api.client.get("/streams/me/health", headers=api.auth("bob")), 404, "not-live")

    assert worker.service.set_thumbnail(broadcast.broadcast_id, f"broadcasts/{broadcast.broadcast_id}/thumb.jpg")
    thumbnail = f"{MEDIA}/broadcasts/{broadcast.broadcast_id}/thumb.jpg"
    assert api.channel("alice")["thumbnail_url"] == thumbnail
    assert api.get("/streams/live")["items"][0]["thumbnail_url"] == thumbnail

    ended = worker.service.end_broadcast(broadcast.broadcast_id, worker.clock.advance(60))
    assert ended.ended_at == START + timedelta(seconds=64)
    assert (ended.broadcast_id, ended.title, ended.category) == (broadcast.broadcast_id, "Live now", "Chess")
    assert ended.thumbnail_key == f"broadcasts/{broadcast.broadcast_id}/thumb.jpg"  # kept for the VOD

    state = api.channel("alice")
    assert (state["live"], state["started_at"], state["playback_url"], state["thumbnail_url"]) == (
        False,
        None,
        None,
        None,
    )
    assert state["title"] == "Live now"  # settings outlive the broadcast
    assert api.live_names() == []
    # Out of the sparse index itself, not just filtered from the answer.
    assert [item for item in stream_items(dynamodb) if "gsi1pk" in item or "gsi1sk" in item] == []
    assert_problem(api.client.get("/streams/me/health", headers=me), 404, "not-live")
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, health()) is False

    events = event_bus.received()
    assert kinds(events) == ["StreamStarted", "StreamEnded"]
    started, stopped = (event["detail"] for event in events)
    assert started["username"] == stopped["username"] == "alice"
    assert started["broadcast_id"] == stopped["broadcast_id"] == broadcast.broadcast_id
    assert datetime.fromisoformat(started["started_at"]) == START
    assert datetime.fromisoformat(stopped["ended_at"]) == START + timedelta(seconds=64)

    # Ending again changes nothing and emits nothing.
    again = worker.service.end_broadcast(broadcast.broadcast_id, worker.clock.advance(30))
    assert again.ended_at == ended.ended_at
    assert event_bus.received() == []


def test_media_urls_are_paths_without_a_media_base_url(accounts: SigningKey, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MEDIA_BASE_URL, raising=False)
    heartbeats_stay_fresh_for_the_api(monkeypatch)
    with TestClient(create_app()) as client:
        api = Api(client, accounts)
        clock = DateClock(START)
        worker = Worker(worker_service(clock), clock)
        _, broadcast = worker.go_live(api.new_key("alice"))
        assert api.channel("alice")["playback_url"] == f"broadcasts/{broadcast.broadcast_id}/master.m3u8"
        # A full bucket key is stored under the media prefix like a path.
        worker.service.set_thumbnail(broadcast.broadcast_id, f"hls/broadcasts/{broadcast.broadcast_id}/t.jpg")
        assert api.channel("alice")["thumbnail_url"] == f"broadcasts/{broadcast.broadcast_id}/t.jpg"
        body = client.post("/streams/me/key", headers=api.auth("bob")).json()
        assert body["ingest_url_hint"] == "rtmp://127.0.0.1:1935/live"


def test_a_second_publisher_is_refused(api: Api, worker: Worker, event_bus: EventBus) -> None:
    key = api.new_key("alice")
    grant, broadcast = worker.go_live(key)
    worker.clock.advance(5)
    assert worker.service.authorize_publish(key) is None
    with pytest.raises(ChannelBusy):
        worker.service.start_broadcast(grant, worker.clock())
    assert api.channel("alice")["playback_url"].endswith(f"/{broadcast.broadcast_id}/master.m3u8")
    assert kinds(event_bus.received()) == ["StreamStarted"]


def test_two_workers_racing_to_start_a_channel_start_it_once(
    api: Api, worker: Worker, event_bus: EventBus, dynamodb: "DynamoDBClient", monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read the channel offline; only the first conditional write wins."""
    key = api.new_key("alice")
    grant = worker.service.authorize_publish(key)
    assert grant is not None
    other = worker_service(worker.clock)
    offline = other.streams.channel("alice", consistent_read=True)
    first = worker.service.start_broadcast(grant, worker.clock())
    monkeypatch.setattr(other.streams, "channel", lambda username, consistent_read=False: offline)
    with pytest.raises(ChannelBusy):
        other.start_broadcast(grant, worker.clock())
    broadcasts = [item for item in stream_items(dynamodb) if item["pk"]["S"].startswith("BROADCAST#")]
    assert [item["pk"]["S"] for item in broadcasts] == [f"BROADCAST#{first.broadcast_id}"]
    assert kinds(event_bus.received()) == ["StreamStarted"]
    assert api.channel("alice")["playback_url"].endswith(f"/{first.broadcast_id}/master.m3u8")


def test_a_reconnect_within_the_grace_period_resumes_the_broadcast(
    api: Api, worker: Worker, event_bus: EventBus
) -> None:
    key = api.new_key("alice")
    _, broadcast = worker.go_live(key)
    dropped = worker.service.mark_disconnected(broadcast.broadcast_id, worker.clock.advance(30))
    assert dropped.disconnected_at == START + timedelta(seconds=30)
    # Still live while the grace period runs, and the key is accepted again.
    assert api.channel("alice")["live"] is True
    assert api.live_names() == ["alice"]
    worker.clock.advance(GRACE - 1)
    grant = worker.service.authorize_publish(key)
    assert grant is not None
    resumed = worker.service.start_broadcast(grant, worker.clock())
    assert (resumed.broadcast_id, resumed.parts, resumed.resumed) == (broadcast.broadcast_id, 2, True)
    assert resumed.disconnected_at is None
    assert resumed.started_at == START
    # The grace timer of the dropped session fires: the broadcast goes on.
    still = worker.service.end_broadcast(broadcast.broadcast_id, worker.clock.advance(2), only_if_disconnected=True)
    assert still.ended_at is None
    assert api.channel("alice")["live"] is True
    assert worker.service.authorize_publish(key) is None  # a resumed session holds the channel again
    assert kinds(event_bus.received()) == ["StreamStarted"]


def test_a_reconnect_after_the_grace_period_starts_a_new_broadcast(
    api: Api, worker: Worker, event_bus: EventBus
) -> None:
    key = api.new_key("alice")
    grant, old = worker.go_live(key)
    worker.clock.advance(25)
    assert worker.service.heartbeat(old.broadcast_id, grant.key_hash, health()) is True
    worker.service.mark_disconnected(old.broadcast_id, worker.clock.advance(5))
    # Marking again keeps the first drop time (the grace period does not slide).
    again = worker.service.mark_disconnected(old.broadcast_id, worker.clock.advance(5))
    assert again.disconnected_at == START + timedelta(seconds=30)
    # The worker waiting out the grace period heartbeats: it is alive, and ends the broadcast.
    assert worker.service.heartbeat(old.broadcast_id, grant.key_hash, health()) is True
    worker.clock.advance(GRACE - 5)  # exactly the grace period after the drop
    _, new = worker.go_live(key)
    assert new.broadcast_id != old.broadcast_id
    assert (new.parts, new.resumed, new.started_at) == (1, False, worker.clock())
    ended = worker.service.end_broadcast(old.broadcast_id, worker.clock())  # the late grace timer
    assert ended.ended_at == worker.clock()  # ended by the new publish, not again now
    assert api.channel("alice")["playback_url"].endswith(f"/{new.broadcast_id}/master.m3u8")
    events = event_bus.received()
    assert kinds(events) == ["StreamStarted", "StreamEnded", "StreamStarted"]
    assert [e["detail"]["broadcast_id"] for e in events] == [old.broadcast_id, old.broadcast_id, new.broadcast_id]


def test_the_grace_timer_ends_a_broadcast_nobody_resumed(api: Api, worker: Worker, event_bus: EventBus) -> None:
    _, broadcast = worker.go_live(api.new_key("alice"))
    worker.service.mark_disconnected(broadcast.broadcast_id, worker.clock.advance(30))
    ended = worker.service.end_broadcast(broadcast.broadcast_id, worker.clock.advance(GRACE), only_if_disconnected=True)
    assert ended.ended_at == worker.clock()
    assert api.channel("alice")["live"] is False
    assert kinds(event_bus.received()) == ["StreamStarted", "StreamEnded"]


def test_a_dead_workers_publisher_resumes_its_broadcast_after_the_lease(
    api: Api, worker: Worker, event_bus: EventBus
) -> None:
    """A worker that died without marking its broadcast disconnected (SIGKILL): its channel is
    held for the lease after the last heartbeat (a second publisher is refused), then the same
    key resumes the broadcast as a new part (on another worker) and the dead session is cut off."""
    key = api.new_key("alice")
    grant, old = worker.go_live(key)
    worker.clock.advance(LEASE - 2)
    assert worker.service.heartbeat(old.broadcast_id, grant.key_hash, health(), part=1) is True
    worker.clock.advance(LEASE - 1)
    assert worker.service.authorize_publish(key) is None  # heard from within the lease
    worker.clock.advance(1)
    grant, resumed = worker.go_live(key)
    assert (resumed.broadcast_id, resumed.parts, resumed.resumed) == (old.broadcast_id, 2, True)
    assert worker.service.heartbeat(old.broadcast_id, grant.key_hash, health(), part=1) is False
    assert worker.service.heartbeat(old.broadcast_id, grant.key_hash, health(), part=2) is True
    # The dead part's late "publisher dropped" changes nothing for the new part.
    assert worker.service.mark_disconnected(old.broadcast_id, worker.clock(), part=1).disconnected_at is None
    assert kinds(event_bus.received()) == ["StreamStarted"]


def test_heartbeat_says_stop_once_the_key_is_rotated(api: Api, worker: Worker) -> None:
    grant, broadcast = worker.go_live(api.new_key("alice"))
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, health()) is True
    api.new_key("alice")
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, health()) is False
    # The rejected heartbeat stored nothing.
    assert api.channel("alice")["live"] is True  # live until the worker ends it
    assert worker.service.heartbeat(uuid.uuid4().hex, grant.key_hash, health()) is False
    assert worker.service.heartbeat("not-an-id", grant.key_hash, health()) is False


def ladder_report(**overrides: Any) -> StreamHealth:
    """A heartbeat of the current worker: the measurements and what the ladder made of them."""
    values: dict[str, Any] = {
        "video_codec": "h264",
        "audio_codec": "aac",
        "keyframe_interval_seconds": 4.0,
        "top_rung": "re-encoded",
        "top_rung_reason": "keyframes every 4 s, segments are 1 s",
        "rungs": [
            RungReport(name="1080p", width=1920, height=1080, fps=60.0, copied=False),
            RungReport(name="720p", width=1280, height=720, fps=30.0, copied=False),
            RungReport(name="360p", width=640, height=360, fps=30.0, copied=False),
        ],
        "warnings": [
            IngestWarning(
                code="keyframe-interval",
                message="Your keyframes are 4 s apart, so the source is re-encoded and viewers wait longer.",
                setting="OBS → Settings → Output → Keyframe Interval: 1 s",
            ),
            IngestWarning(code="frame-rate-capped", message="720p and below are sent at 30 fps."),
        ],
    }
    return health(**(values | overrides))


def the_health_fields(report: dict[str, Any]) -> dict[str, Any]:
    return {name: report[name] for name in StreamHealth.model_fields}


def test_the_ladder_report_of_a_heartbeat_comes_back_exactly(
    api: Api, worker: Worker, dynamodb: "DynamoDBClient"
) -> None:
    grant, broadcast = worker.go_live(api.new_key("alice"))
    sent = ladder_report()
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, sent) is True

    response = api.client.get("/streams/me/health", headers=api.auth("alice"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert the_health_fields(report) == sent.model_dump(mode="json")
    assert StreamHealth.model_validate(the_health_fields(report)) == sent
    assert report["resolution"] == "1920x1080"
    # Stored as typed maps, not as an opaque document.
    (channel,) = [item for item in stream_items(dynamodb) if item["pk"]["S"] == "CHANNEL#alice"]
    stored = channel["health"]["M"]
    assert stored["rungs"]["L"][0]["M"]["copied"] == {"BOOL": False}
    assert stored["warnings"]["L"][1]["M"]["code"] == {"S": "frame-rate-capped"}

    # Each heartbeat replaces the last: a warning that no longer applies goes away.
    copied = ladder_report(
        keyframe_interval_seconds=1.0,
        top_rung="copied",
        top_rung_reason="H.264 at 1080p with keyframes every 1 s",
        rungs=[RungReport(name="1080p", width=1920, height=1080, fps=60.0, copied=True)],
        warnings=[],
    )
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, copied) is True
    report = api.client.get("/streams/me/health", headers=api.auth("alice")).json()
    assert the_health_fields(report) == copied.model_dump(mode="json")


def test_a_heartbeat_of_an_older_worker_still_works(api: Api, worker: Worker, dynamodb: "DynamoDBClient") -> None:
    grant, broadcast = worker.go_live(api.new_key("alice"))
    newer_only = NO_LADDER_REPORT
    # Sent without the newer fields...
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, health()) is True
    report = api.client.get("/streams/me/health", headers=api.auth("alice")).json()
    assert the_health_fields(report) == health().model_dump(mode="json")
    assert {name: report[name] for name in newer_only} == newer_only

    # ...and stored by an older layer, whose map has no such attributes at all.
    dynamodb.update_item(
        TableName=get_settings().table_name(Table.STREAMS),
        Key={"pk": {"S": "CHANNEL#alice"}, "sk": {"S": "CHANNEL"}},
        UpdateExpression="SET health = :health",
        ExpressionAttributeValues={":health": {"M": {"fps": {"N": "30"}, "width": {"N": "1280"}}}},
    )
    report = api.client.get("/streams/me/health", headers=api.auth("alice")).json()
    assert (report["fps"], report["resolution"], report["input_bitrate_kbps"]) == (30.0, None, None)
    assert {name: report[name] for name in newer_only} == newer_only


def test_a_stored_report_this_version_cannot_read_keeps_its_measurements(
    api: Api, worker: Worker, dynamodb: "DynamoDBClient", caplog: pytest.LogCaptureFixture
) -> None:
    """A newer worker (mid-deploy) may store a warning code this version does not know."""
    grant, broadcast = worker.go_live(api.new_key("alice"))
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, ladder_report()) is True
    dynamodb.update_item(
        TableName=get_settings().table_name(Table.STREAMS),
        Key={"pk": {"S": "CHANNEL#alice"}, "sk": {"S": "CHANNEL"}},
        UpdateExpression="SET health.warnings[0].code = :code",
        ExpressionAttributeValues={":code": {"S": "something-new"}},
    )
    response = api.client.get("/streams/me/health", headers=api.auth("alice"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["fps"], report["resolution"], report["transcode_speed"]) == (60.0, "1920x1080", 1.25)
    assert (report["top_rung"], report["rungs"], report["warnings"]) == (None, [], [])
    assert "stored stream health not understood" in caplog.text


def test_the_new_key_after_a_rotation_can_take_over_once_the_old_session_ends(api: Api, worker: Worker) -> None:
    _, broadcast = worker.go_live(api.new_key("alice"))
    new_key = api.new_key("alice")
    assert worker.service.authorize_publish(new_key) is None  # the old session still holds the channel
    worker.service.end_broadcast(broadcast.broadcast_id, worker.clock.advance(1))
    _, second = worker.go_live(new_key)
    assert second.broadcast_id != broadcast.broadcast_id


def test_unknown_broadcasts_are_not_found(api: Api, worker: Worker) -> None:
    for broadcast_id in (uuid.uuid4().hex, "../etc", ""):
        with pytest.raises(BroadcastNotFound):
            worker.service.end_broadcast(broadcast_id, worker.clock())
        with pytest.raises(BroadcastNotFound):
            worker.service.mark_disconnected(broadcast_id, worker.clock())
    assert worker.service.set_thumbnail(uuid.uuid4().hex, "broadcasts/x/t.jpg") is False


def test_a_failing_event_bus_does_not_fail_a_started_broadcast(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenBus:
        def publish(self, event: DomainEvent) -> None:
            raise DependencyUnavailable("bus down")

    key = api.new_key("alice")
    service = StreamService(StreamRepository(), BrokenBus(), clock=DateClock(START))
    grant = service.authorize_publish(key)
    assert grant is not None
    service.start_broadcast(grant, START)
    assert api.channel("alice")["live"] is True
    assert "could not publish StreamStarted" in caplog.text


# --- GET /streams/live -----------------------------------------------------------------------


def test_the_directory_is_newest_first_and_pages_with_a_cursor(api: Api, worker: Worker) -> None:
    names = [f"streamer_{i}" for i in range(5)]
    for name in names:
        worker.clock.advance(60)
        worker.go_live(api.new_key(name))
    newest_first = names[::-1]
    assert api.live_names() == newest_first

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        body = api.get("/streams/live", limit=2, **({"cursor": cursor} if cursor else {}))
        pages.append([item["username"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    assert api.get("/streams/live", limit=5)["next_cursor"] is None  # exactly one page: no cursor


def test_a_channel_that_ends_leaves_the_directory(api: Api, worker: Worker) -> None:
    worker.go_live(api.new_key("alice"))
    worker.clock.advance(1)
    _, bob = worker.go_live(api.new_key("bob"))
    worker.service.end_broadcast(bob.broadcast_id, worker.clock.advance(1))
    assert api.live_names() == ["alice"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "a" * 301,
        "eyJ2IjoxfQ",  # {"v":1}
        encode_cursor("vods:alice", ListPosition(START, "alice")),  # another listing
        encode_cursor("live", ListPosition(START, "Not A Name")),
    ],
)
def test_a_bad_cursor_is_a_400(api: Api, cursor: str) -> None:
    assert_problem(api.client.get("/streams/live", params={"cursor": cursor}), 400, "invalid-cursor")


def test_an_empty_cursor_is_the_first_page(api: Api) -> None:
    # What a client sends for "no cursor yet" when it always sets the parameter.
    first = api.client.get("/streams/live")
    assert first.status_code == 200
    assert api.client.get("/streams/live", params={"cursor": ""}).json() == first.json()


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_a_bad_limit_is_a_422(api: Api, limit: str) -> None:
    assert_problem(api.client.get("/streams/live", params={"limit": limit}), 422, "validation")


@pytest.fixture
def event_loop_for_mangum() -> Iterator[None]:
    """Mangum runs each event with `asyncio.get_event_loop()`, as on Lambda's main thread; a test
    that ran `asyncio.run` earlier in this process leaves no current loop, so give it one."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


def test_the_lambda_handler_serves_the_directory(api: Api, worker: Worker, event_loop_for_mangum: None) -> None:
    from functions.streams.handler import handler

    worker.go_live(api.new_key("alice"))
    event = http_api_event("GET", "/streams/live", Service.STREAMS)
    event["rawQueryString"] = "limit=5"
    response = handler(event, LambdaContext("letslive-streams"))
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert [item["username"] for item in body["items"]] == ["alice"]
    assert body["items"][0]["playback_url"].startswith(MEDIA + "/broadcasts/")

    missing = handler(http_api_event("GET", "/streams/me/health", Service.STREAMS), LambdaContext("x"))
    assert missing["statusCode"] == 401
    assert json.loads(missing["body"])["type"] == PROBLEM_TYPE_BASE + "unauthorized"


def test_a_reconnect_with_a_rotated_key_starts_a_new_broadcast(api: Api, worker: Worker) -> None:
    """Rotation ends the old key's sessions: it does not carry on the broadcast they fed."""
    _, old = worker.go_live(api.new_key("alice"))
    worker.service.mark_disconnected(old.broadcast_id, worker.clock.advance(30))
    new_key = api.new_key("alice")
    grant, new = worker.go_live(new_key)
    assert new.broadcast_id != old.broadcast_id
    assert (new.resumed, new.key_hash) == (False, grant.key_hash)
    assert worker.service.end_broadcast(old.broadcast_id, worker.clock()).ended_at == worker.clock()
