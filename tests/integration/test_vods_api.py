"""The vods service against moto: recording a VOD (the ingest worker), listing, playing,
deleting, expiry.

The HTTP side goes through `TestClient(create_app())` (real clock); VODs are recorded through
`VodService` on the real repository with an injected clock, as the ingest worker does.
"""

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from functions.vods.app import create_app
from letslive.constants import ENV_MEDIA_BASE_URL, Service
from letslive.data.streams import StreamRepository
from letslive.data.vods import VodRepository
from letslive.errors import InvalidInput
from letslive.models.streams import Broadcast, ListPosition
from letslive.models.vods import VodRung
from letslive.services.events import event_publisher
from letslive.services.pagination import encode_cursor
from letslive.services.streams import StreamService, generate_stream_key, hash_stream_key
from letslive.services.tokens import AccessTokenIssuer, SigningKey
from letslive.services.vods import VodService
from letslive.settings import get_settings
from tests.integration.conftest import EventBus
from tests.integration.test_health_api import LambdaContext, http_api_event
from tests.support.problems import assert_problem

MEDIA = "https://media.example.net/hls"
START = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
RUNGS = [
    VodRung(name="source", height=1080, bandwidth=6_600_000),
    VodRung(name="720p", height=720, bandwidth=3_300_000),
    VodRung(name="480p", height=480, bandwidth=1_500_000),
]

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def auth(key: SigningKey, username: str) -> dict[str, str]:
    settings = get_settings()
    issuer = AccessTokenIssuer(key, settings.jwt_issuer, settings.jwt_audience, 900)
    return {"authorization": f"Bearer {issuer.issue(uuid.uuid4().hex, username)}"}


def broadcast(username: str, started_at: datetime, title: str = "A stream") -> Broadcast:
    return Broadcast(
        broadcast_id=uuid.uuid4().hex,
        username=username,
        key_hash="0" * 64,
        started_at=started_at,
        title=title,
        category="Chess",
        ended_at=started_at + timedelta(hours=1),
    )


def recorder(clock_now: datetime | None = None, retention_days: int = 30) -> VodService:
    """The worker's VOD service; by default its clock is the real one (VODs fresh for the API)."""
    clock = (lambda: clock_now) if clock_now is not None else (lambda: datetime.now(UTC))
    return VodService(
        VodRepository(),
        event_publisher(),
        media_base_url=get_settings().media_base_url,
        retention_days=retention_days,
        clock=clock,
    )


def record(service: VodService, b: Broadcast, duration: float = 3600.0) -> str:
    vod = service.record_vod(b, duration, RUNGS, f"broadcasts/{b.broadcast_id}/vod.m3u8", None)
    return vod.vod_id


@pytest.fixture
def client(accounts: SigningKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(ENV_MEDIA_BASE_URL, MEDIA)
    with TestClient(create_app()) as test_client:
        yield test_client


# --- recording (the worker) and GET /vods/{id} -------------------------------------------------


def test_a_broadcast_becomes_a_vod(client: TestClient, accounts: SigningKey, event_bus: EventBus) -> None:
    """From the stream service's end of a broadcast to a playable VOD and one `VodReady`."""
    streams = StreamService(StreamRepository(), event_publisher(), clock=lambda: START)
    key = generate_stream_key()
    StreamRepository().replace_key("alice", hash_stream_key(key), START)
    grant = streams.authorize_publish(key)
    assert grant is not None
    started = streams.start_broadcast(grant, START)
    streams.set_thumbnail(started.broadcast_id, f"hls/broadcasts/{started.broadcast_id}/thumb.jpg")
    ended = streams.end_broadcast(started.broadcast_id, START + timedelta(minutes=90))

    before = datetime.now(UTC)
    vod = recorder().record_vod(ended, 5399.5, RUNGS, f"broadcasts/{ended.broadcast_id}/vod.m3u8", ended.thumbnail_key)
    assert vod.vod_id == ended.broadcast_id

    response = client.get(f"/vods/{vod.vod_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "vod_id": ended.broadcast_id,
        "username": "alice",
        "title": "alice's stream",
        "category": None,
        "started_at": body["started_at"],
        "duration_seconds": 5399.5,
        "rungs": [rung.model_dump() for rung in RUNGS],
        "playback_url": f"{MEDIA}/broadcasts/{ended.broadcast_id}/vod.m3u8",
        "thumbnail_url": f"{MEDIA}/broadcasts/{ended.broadcast_id}/thumb.jpg",
        "expires_at": body["expires_at"],
    }
    assert datetime.fromisoformat(body["started_at"]) == START
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(days=30) - timedelta(seconds=5) <= expires_at <= datetime.now(UTC) + timedelta(days=30)
    assert vod.model_dump(mode="json") == body

    ready = [event for event in event_bus.received() if event["detail-type"] == "VodReady"]
    assert len(ready) == 1
    detail = ready[0]["detail"]
    assert (detail["username"], detail["vod_id"], detail["broadcast_id"]) == ("alice", vod.vod_id, vod.vod_id)
    assert detail["duration_seconds"] == 5399.5
    assert detail["playback_path"] == f"broadcasts/{vod.vod_id}/vod.m3u8"
    assert datetime.fromisoformat(detail["started_at"]) == START


def test_recording_a_vod_twice_keeps_the_first_and_emits_once(client: TestClient, event_bus: EventBus) -> None:
    b = broadcast("alice", START)
    service = recorder()
    first = service.record_vod(b, 60.0, RUNGS, f"broadcasts/{b.broadcast_id}/vod.m3u8", None)
    again = service.record_vod(b, 99.0, RUNGS[:1], f"broadcasts/{b.broadcast_id}/other.m3u8", None)
    assert again == first
    assert client.get(f"/vods/{b.broadcast_id}").json()["duration_seconds"] == 60.0
    assert [event["detail-type"] for event in event_bus.received()] == ["VodReady"]


@pytest.mark.parametrize(
    ("duration", "rungs", "path"),
    [
        (float("nan"), RUNGS, "broadcasts/x/vod.m3u8"),
        (-1.0, RUNGS, "broadcasts/x/vod.m3u8"),
        (10.0, [], "broadcasts/x/vod.m3u8"),
        (10.0, RUNGS, "/abs/vod.m3u8"),
        (10.0, RUNGS, "broadcasts/../secret"),
        (10.0, RUNGS, "https://evil.example/vod.m3u8"),
    ],
)
def test_record_vod_refuses_bad_input(
    client: TestClient, duration: float, rungs: list[VodRung], path: str, event_bus: EventBus
) -> None:
    with pytest.raises(InvalidInput):
        recorder().record_vod(broadcast("alice", START), duration, rungs, path, None)
    assert event_bus.received() == []


@pytest.mark.parametrize("vod_id", ["nope", "0" * 31, "0" * 33, "A" * 32, "..%2F..", "x" * 5000])
def test_a_malformed_or_unknown_vod_is_a_404(client: TestClient, vod_id: str) -> None:
    assert_problem(client.get(f"/vods/{vod_id}"), 404)
    assert_problem(client.get(f"/vods/{uuid.uuid4().hex}"), 404, "vod-not-found")


def test_an_expired_vod_is_gone_before_dynamodb_removes_it(client: TestClient, accounts: SigningKey) -> None:
    # Recorded 31 days ago with a 30-day retention: the item is still in the table.
    old = broadcast("alice", START)
    record(recorder(clock_now=datetime.now(UTC) - timedelta(days=31)), old)
    fresh = broadcast("alice", START + timedelta(days=1))
    record(recorder(), fresh)
    assert VodRepository().get(old.broadcast_id) is not None
    assert_problem(client.get(f"/vods/{old.broadcast_id}"), 404, "vod-not-found")
    assert_problem(client.delete(f"/vods/{old.broadcast_id}", headers=auth(accounts, "alice")), 404)
    listed = client.get("/vods", params={"channel": "alice"}).json()
    assert [item["vod_id"] for item in listed["items"]] == [fresh.broadcast_id]


# --- GET /vods?channel= ----------------------------------------------------------------------


def test_a_channels_vods_are_newest_first_and_page_with_a_cursor(client: TestClient) -> None:
    service = recorder()
    ids = [record(service, broadcast("alice", START + timedelta(days=i))) for i in range(5)]
    record(service, broadcast("bob", START + timedelta(days=10)))
    # An expired one in the middle is skipped without shortening a page.
    record(recorder(clock_now=datetime.now(UTC) - timedelta(days=40)), broadcast("alice", START + timedelta(hours=36)))
    newest_first = ids[::-1]

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"channel": "Alice", "limit": 2} | ({"cursor": cursor} if cursor else {})
        response = client.get("/vods", params=params)
        assert response.status_code == 200, response.text
        pages.append([item["vod_id"] for item in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    everything = client.get("/vods", params={"channel": "alice"}).json()
    assert [item["vod_id"] for item in everything["items"]] == newest_first
    assert everything["next_cursor"] is None
    assert everything["items"][0]["playback_url"] == f"{MEDIA}/broadcasts/{ids[-1]}/vod.m3u8"


def test_an_unknown_channel_has_no_vods(client: TestClient) -> None:
    assert client.get("/vods", params={"channel": "nobody_here"}).json() == {"items": [], "next_cursor": None}


def test_listing_needs_a_valid_channel(client: TestClient) -> None:
    assert_problem(client.get("/vods"), 422, "validation")
    for bad in ("ab", "al-ice", "x" * 101, "%E2%84%AAevin"):
        response = client.get("/vods", params={"channel": bad})
        assert response.status_code in (404, 422), (bad, response.text)
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE


def test_a_bad_cursor_is_a_400(client: TestClient) -> None:
    service = recorder()
    for i in range(3):
        record(service, broadcast("alice", START + timedelta(days=i)))
    cursor = client.get("/vods", params={"channel": "alice", "limit": 1}).json()["next_cursor"]
    assert cursor is not None
    bad_cursors = [
        "garbage",
        cursor[:-2],
        encode_cursor("vods:bob", ListPosition(START, uuid.uuid4().hex)),
        encode_cursor("live", ListPosition(START, "alice")),
        encode_cursor("vods:alice", ListPosition(START, "not-a-vod-id")),
    ]
    for bad in bad_cursors:
        response = client.get("/vods", params={"channel": "alice", "cursor": bad})
        assert_problem(response, 400, "invalid-cursor")
    # The same cursor on another channel's list is refused too.
    assert_problem(client.get("/vods", params={"channel": "bob", "cursor": cursor}), 400, "invalid-cursor")
    # An empty one is no cursor: the first page.
    assert client.get("/vods", params={"channel": "alice", "limit": 1, "cursor": ""}).json()["next_cursor"] == cursor
    for limit in ("0", "101"):
        assert_problem(client.get("/vods", params={"channel": "alice", "limit": limit}), 422)


# --- DELETE /vods/{id} -----------------------------------------------------------------------


def test_only_the_owner_deletes_a_vod(client: TestClient, accounts: SigningKey) -> None:
    vod_id = record(recorder(), broadcast("alice", START))
    assert_problem(client.delete(f"/vods/{vod_id}"), 401, "unauthorized")
    assert_problem(client.delete(f"/vods/{vod_id}", headers={"authorization": "Bearer x.y.z"}), 401)
    assert_problem(client.delete(f"/vods/{vod_id}", headers=auth(accounts, "mallory")), 403, "forbidden")
    assert client.get(f"/vods/{vod_id}").status_code == 200

    response = client.delete(f"/vods/{vod_id}", headers=auth(accounts, "alice"))
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(client.get(f"/vods/{vod_id}"), 404, "vod-not-found")
    assert_problem(client.delete(f"/vods/{vod_id}", headers=auth(accounts, "alice")), 404, "vod-not-found")
    assert client.get("/vods", params={"channel": "alice"}).json()["items"] == []
    assert VodRepository().get(vod_id) is None


@pytest.fixture
def event_loop_for_mangum() -> Iterator[None]:
    """Mangum runs each event with `asyncio.get_event_loop()`, as on Lambda's main thread; a test
    that ran `asyncio.run` earlier in this process leaves no current loop, so give it one."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


def test_the_lambda_handler_lists_vods(client: TestClient, event_loop_for_mangum: None) -> None:
    from functions.vods.handler import handler

    vod_id = record(recorder(), broadcast("alice", START))
    event = http_api_event("GET", "/vods", Service.VODS)
    event["rawQueryString"] = "channel=alice&limit=5"
    response = handler(event, LambdaContext("letslive-vods"))
    assert response["statusCode"] == 200, response
    assert [item["vod_id"] for item in json.loads(response["body"])["items"]] == [vod_id]

    missing = handler(http_api_event("GET", f"/vods/{uuid.uuid4().hex}", Service.VODS), LambdaContext("x"))
    assert missing["statusCode"] == 404
    assert json.loads(missing["body"])["type"] == PROBLEM_TYPE_BASE + "vod-not-found"
