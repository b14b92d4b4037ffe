"""The chat's delivery machinery and its neighbours, against moto: fan-out in-process and through
the SQS queue (the real fan-out Lambda handler with SQS events), connections that are Gone,
posts that fail, the throttled viewer count and its way into the streams directory, the
stream's start and end as `system` lines, and the HTTP room settings.

GoneException and other post failures come from botocore's `Stubber` on the real
`ApiGatewayConnections` client: moto's `@connections` API accepts a post to any id.
"""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from fastapi.testclient import TestClient

import functions.chat.events
import functions.streams.events
from functions.chat.routes import chat_router
from functions.common.app import service_app
from letslive.constants import (
    ENV_CHAT_CALLBACK_URL,
    ENV_CHAT_FANOUT_QUEUE_URL,
    ENV_CHAT_FANOUT_THRESHOLD,
    ENV_EVENT_BUS,
    Service,
)
from letslive.data import connections_api
from letslive.data.chat import ChatRepository, ConnectionRepository
from letslive.data.connections_api import ApiGatewayConnections
from letslive.data.streams import StreamRepository
from letslive.errors import DependencyUnavailable
from letslive.models.chat import FanoutBatch
from letslive.models.events import StreamEnded, StreamStarted, ViewerCountChanged
from letslive.services.chat import RoomSettingsService
from letslive.services.events import event_publisher
from letslive.services.streams import StreamService
from letslive.services.tokens import AccessTokenIssuer, SigningKey
from letslive.settings import get_settings, reset_settings
from tests.integration.chat_support import (
    CALLBACK_URL,
    ChatRoom,
    Socket,
    context,
    drain,
    run_fanout,
)
from tests.integration.conftest import REGION, ChatEnv, EventBus
from tests.support.clocks import DateClock
from tests.support.problems import assert_problem

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

CHANNEL = "alice"


def stubbed(chat: ChatRoom) -> Stubber:
    """A Stubber on the client the service's gateway posts with (the real boto3 client)."""
    gateway = chat.service.fanout.gateway
    assert isinstance(gateway, ApiGatewayConnections)
    return Stubber(gateway._client)


def post_ok(stub: Stubber, connection_id: str) -> None:
    stub.add_response("post_to_connection", {}, {"ConnectionId": connection_id, "Data": ANY})


def post_fails(stub: Stubber, connection_id: str, code: str, status: int) -> None:
    stub.add_client_error(
        "post_to_connection",
        service_error_code=code,
        service_message=f"{code} for {connection_id}",
        http_status_code=status,
        expected_params={"ConnectionId": connection_id, "Data": ANY},
    )


def stored_connections(channel: str = CHANNEL) -> set[str]:
    return set(ConnectionRepository().ids(channel))


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def of_type(events: list[dict[str, Any]], detail_type: str) -> list[dict[str, Any]]:
    return [event for event in events if event["detail-type"] == detail_type]


# --- Gone and failing posts (Stubber on the real client) ----------------------------------------


def test_a_connection_that_is_gone_is_dropped_from_the_room(chat: ChatRoom) -> None:
    chat.rewire(concurrency=1)  # one post at a time, in the room's order: the stubs are in order
    bob = chat.join(CHANNEL, "bob")
    carol = chat.join(CHANNEL, "carol")
    gone = chat.join(CHANNEL)
    room = sorted(stored_connections())
    assert set(room) == {bob.connection_id, carol.connection_id, gone.connection_id}

    with stubbed(chat) as stub:
        for connection_id in room:
            if connection_id == gone.connection_id:
                post_fails(stub, connection_id, "GoneException", 410)
            else:
                post_ok(stub, connection_id)
        bob.say("is anyone there?")
        stub.assert_no_pending_responses()

    assert stored_connections() == {bob.connection_id, carol.connection_id}
    assert ConnectionRepository().find(gone.connection_id) is None

    bob.say("second message")  # moto again: the gone connection is not posted to any more
    assert [frame["text"] for frame in carol.inbox()] == ["second message"]
    assert gone.frames() == []


def test_a_gone_sender_gets_no_error(chat: ChatRoom) -> None:
    viewer = chat.join(CHANNEL)
    with stubbed(chat) as stub:
        post_fails(stub, viewer.connection_id, "GoneException", 410)
        viewer.say("I left already")  # the `anonymous` notice finds the connection Gone
        stub.assert_no_pending_responses()


@pytest.fixture
def gateway(aws_env: dict[str, str]) -> Iterator[ApiGatewayConnections]:
    """The real gateway on a client of its own (the process-wide client cache is left clean)."""
    connections_api._client.cache_clear()
    yield ApiGatewayConnections(CALLBACK_URL, REGION)
    connections_api._client.cache_clear()


def test_the_gateway_maps_post_and_close_outcomes(gateway: ApiGatewayConnections) -> None:
    with Stubber(gateway._client) as stub:
        post_ok(stub, "ok=")
        post_fails(stub, "gone=", "GoneException", 410)
        post_fails(stub, "status=", "SomethingElse", 410)
        post_fails(stub, "forbidden=", "ForbiddenException", 403)
        post_fails(stub, "too-big=", "PayloadTooLargeException", 413)
        stub.add_client_error("delete_connection", "GoneException", http_status_code=410)
        stub.add_client_error("delete_connection", "ForbiddenException", http_status_code=403)

        assert gateway.post("ok=", b"{}") is True
        assert gateway.post("gone=", b"{}") is False
        assert gateway.post("status=", b"{}") is False
        with pytest.raises(DependencyUnavailable):
            gateway.post("forbidden=", b"{}")
        with pytest.raises(DependencyUnavailable):
            gateway.post("too-big=", b"{}")
        gateway.close("gone=")  # closing what is gone is done
        with pytest.raises(DependencyUnavailable):
            gateway.close("forbidden=")
        stub.assert_no_pending_responses()


def test_a_failed_post_in_a_small_room_is_retried_once_for_that_connection_only(chat: ChatRoom) -> None:
    chat.rewire(concurrency=1)
    bob = chat.join(CHANNEL, "bob")
    carol = chat.join(CHANNEL, "carol")
    viewer = chat.join(CHANNEL)
    room = sorted(stored_connections())
    with stubbed(chat) as stub:
        for connection_id in room:
            if connection_id == carol.connection_id:
                post_fails(stub, connection_id, "ForbiddenException", 403)
            else:
                post_ok(stub, connection_id)
        post_ok(stub, carol.connection_id)  # the retry: carol only, and once
        bob.say("through")
        stub.assert_no_pending_responses()
    # A failure is not Gone: the connection stays in the room.
    assert stored_connections() == {bob.connection_id, carol.connection_id, viewer.connection_id}


def test_a_post_that_fails_twice_is_given_up_without_failing_the_handler(chat: ChatRoom) -> None:
    chat.rewire(concurrency=1)
    bob = chat.join(CHANNEL, "bob")
    carol = chat.join(CHANNEL, "carol")
    with stubbed(chat) as stub:
        for connection_id in sorted(stored_connections()):
            if connection_id == carol.connection_id:
                post_fails(stub, connection_id, "ForbiddenException", 403)
            else:
                post_ok(stub, connection_id)
        post_fails(stub, carol.connection_id, "ForbiddenException", 403)
        bob.say("through")  # the handler answers 200 all the same
        stub.assert_no_pending_responses()
    assert stored_connections() == {bob.connection_id, carol.connection_id}


# --- fan-out through SQS ------------------------------------------------------------------------


def test_a_room_above_the_threshold_fans_out_through_the_queue(
    chat_env: ChatEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handlers' own service (`chat_service()`): the threshold comes from the environment.
    monkeypatch.setenv(ENV_CHAT_FANOUT_THRESHOLD, "2")
    reset_settings()
    chat = ChatRoom(chat_env.keys, DateClock(datetime.now(UTC)), monkeypatch, chat_env.queue, own_service=False)
    bob = chat.join(CHANNEL, "bob")
    carol = chat.join(CHANNEL, "carol")
    chat_env.queue.take()  # the viewer-count recount
    viewer = chat.join(CHANNEL)
    assert chat_env.queue.take() == []

    assert chat.service.fanout.threshold == 2
    bob.say("to the big room")
    assert bob.frames() == carol.frames() == viewer.frames() == []  # nothing posted in the route handler
    (queued,) = chat_env.queue.take()
    assert queued.delay_seconds == 0
    batch = FanoutBatch.model_validate(queued.task)
    assert batch.channel == CHANNEL
    assert sorted(batch.connection_ids) == sorted([bob.connection_id, carol.connection_id, viewer.connection_id])
    assert batch.attempt == 0

    assert run_fanout([queued.record]) == {"batchItemFailures": []}
    for socket in (bob, carol, viewer):
        (frame,) = socket.frames()
        assert (frame["type"], frame["user"], frame["text"]) == ("message", "bob", "to the big room")
    assert chat_env.queue.take() == []


def test_a_big_room_is_cut_into_batches_and_a_malformed_record_is_dropped(chat: ChatRoom) -> None:
    chat.rewire(threshold=2, batch_size=2)
    sockets = [chat.join(CHANNEL, user) for user in ("alice", "bob", "carol", "dave", "erin")]
    chat.queue.take()
    alice = sockets[0]

    alice.say("hello everyone")
    queued = chat.queue.take()
    batches = [FanoutBatch.model_validate(item.task) for item in queued]
    assert sorted(len(batch.connection_ids) for batch in batches) == [1, 2, 2]
    ids = [connection_id for batch in batches for connection_id in batch.connection_ids]
    assert sorted(ids) == sorted(socket.connection_id for socket in sockets)
    assert len({batch.payload for batch in batches}) == 1

    records = [item.record for item in queued]
    malformed = dict(records[0], messageId=str(uuid.uuid4()), body="{not json")
    wrong_shape = dict(records[0], messageId=str(uuid.uuid4()), body=json.dumps({"kind": "deliver", "channel": "x"}))
    response = run_fanout([malformed, *records, wrong_shape])

    assert response == {"batchItemFailures": []}  # dropped, not retried
    for socket in sockets:
        (frame,) = socket.frames()
        assert (frame["user"], frame["text"], frame["badges"]) == ("alice", "hello everyone", ["broadcaster"])
    assert chat.queue.take() == []


def test_a_failing_post_in_a_batch_is_retried_for_the_failed_ids_only(chat: ChatRoom) -> None:
    chat.rewire(threshold=1, batch_size=10, concurrency=1)
    bob, carol, dave = (chat.join(CHANNEL, user) for user in ("bob", "carol", "dave"))
    chat.queue.take()
    bob.say("retry me")
    (queued,) = chat.queue.take()
    room = sorted(FanoutBatch.model_validate(queued.task).connection_ids)
    failing = carol.connection_id

    with stubbed(chat) as stub:
        for connection_id in room:
            if connection_id == failing:
                post_fails(stub, connection_id, "ForbiddenException", 403)
            else:
                post_ok(stub, connection_id)
        assert run_fanout([queued.record]) == {"batchItemFailures": []}  # the retry is queued instead
        stub.assert_no_pending_responses()

    (retry,) = chat.queue.take()
    assert retry.delay_seconds == 1
    batch = FanoutBatch.model_validate(retry.task)
    assert batch.connection_ids == [failing]
    assert batch.attempt == 1
    assert batch.payload == FanoutBatch.model_validate(queued.task).payload

    assert run_fanout([retry.record]) == {"batchItemFailures": []}
    (frame,) = carol.frames()
    assert frame["text"] == "retry me"
    assert bob.frames() == dave.frames() == []  # their posts were the stubbed ones: none again
    assert chat.queue.take() == []


def test_a_batch_gives_up_after_its_last_attempt(chat: ChatRoom) -> None:
    carol = chat.join(CHANNEL, "carol")
    chat.queue.take()
    last = FanoutBatch(channel=CHANNEL, connection_ids=[carol.connection_id], payload='{"type":"pong"}', attempt=2)
    with stubbed(chat) as stub:
        post_fails(stub, carol.connection_id, "ForbiddenException", 403)
        report = chat.service.fanout.deliver_batch(last)
    assert report.failed == [carol.connection_id]
    assert chat.queue.take() == []


def test_a_record_that_fails_is_reported_back_to_sqs_alone(chat: ChatRoom) -> None:
    chat.rewire(concurrency=1)
    bob = chat.join(CHANNEL, "bob")
    carol = chat.join(CHANNEL, "carol")
    chat.queue.take()
    good = FanoutBatch(channel=CHANNEL, connection_ids=[bob.connection_id], payload='{"type":"pong"}')
    bad = FanoutBatch(channel=CHANNEL, connection_ids=[carol.connection_id], payload='{"type":"pong"}')
    sqs = boto3.client("sqs", region_name=REGION)
    for task in (good, bad):
        sqs.send_message(QueueUrl=chat.queue.url, MessageBody=task.model_dump_json())
    records = [item.record for item in chat.queue.take()]
    records.sort(key=lambda record: 0 if bob.connection_id in record["body"] else 1)
    sqs.delete_queue(QueueUrl=chat.queue.url)  # a failed post cannot be queued again: the record fails

    with stubbed(chat) as stub:
        post_ok(stub, bob.connection_id)
        post_fails(stub, carol.connection_id, "ForbiddenException", 403)
        response = run_fanout(records)
    assert response == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}


# --- the viewer count ---------------------------------------------------------------------------


def test_joins_publish_the_viewer_count_at_most_every_5_seconds_and_a_recount_follows(
    chat: ChatRoom, chat_env: ChatEnv
) -> None:
    start = chat.clock.now
    bob = chat.join(CHANNEL, "bob")
    (published,) = of_type(chat_env.bus.received(), "ViewerCountChanged")
    assert published["source"] == "letslive"
    assert published["detail"]["username"] == CHANNEL
    assert published["detail"]["viewers"] == 1
    assert datetime.fromisoformat(published["detail"]["counted_at"]) == start
    assert chat.queue.take() == []

    chat.clock.advance(1)
    chat.join(CHANNEL, "carol")
    chat.clock.advance(1)
    chat.join(CHANNEL)
    chat.join("bob")  # another room has its own turn
    events = of_type(chat_env.bus.received(), "ViewerCountChanged")
    assert [(event["detail"]["username"], event["detail"]["viewers"]) for event in events] == [("bob", 1)]
    queued = chat.queue.take()
    assert [(item.task, item.delay_seconds) for item in queued] == [({"kind": "recount", "channel": CHANNEL}, 5)]

    chat.clock.advance(4)  # the recount runs when its delay is over
    assert run_fanout([queued[0].record]) == {"batchItemFailures": []}
    (recount,) = of_type(chat_env.bus.received(), "ViewerCountChanged")
    assert recount["detail"]["viewers"] == 3
    assert datetime.fromisoformat(recount["detail"]["counted_at"]) == start + timedelta(seconds=6)

    chat.clock.advance(5)
    bob.close()
    (left,) = of_type(chat_env.bus.received(), "ViewerCountChanged")
    assert left["detail"]["viewers"] == 2


def test_the_viewer_count_consumer_needs_no_event_bus(
    accounts: SigningKey, event_bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CDK gives the streams events function the streams table only: storing a count publishes
    nothing, so it must not need the bus configured."""
    streams = StreamService(StreamRepository(), event_publisher())
    grant = streams.authorize_publish(streams.create_key("alice").stream_key)
    assert grant is not None
    started = datetime.now(UTC)
    streams.start_broadcast(grant, started)
    monkeypatch.delenv(ENV_EVENT_BUS)
    reset_settings()
    functions.streams.events._streams.cache_clear()
    detail = {"username": "alice", "viewers": 4, "counted_at": (started + timedelta(seconds=1)).isoformat()}

    functions.streams.events.handler({"detail-type": "ViewerCountChanged", "detail": detail}, context("counts"))

    assert StreamRepository().channel("alice").viewer_count == 4  # type: ignore[union-attr]


def test_viewer_counts_reach_the_streams_directory_only_while_live_and_newer(
    accounts: SigningKey, event_bus: EventBus
) -> None:
    functions.streams.events._streams.cache_clear()
    streams = StreamService(StreamRepository(), event_publisher())
    key = streams.create_key("alice").stream_key
    grant = streams.authorize_publish(key)
    assert grant is not None
    started = datetime.now(UTC)
    broadcast = streams.start_broadcast(grant, started)
    event_bus.received()

    def count(viewers: int, seconds: float, username: str = "alice") -> dict[str, Any]:
        at = started + timedelta(seconds=seconds)
        event_publisher().publish(ViewerCountChanged(username=username, viewers=viewers, counted_at=at))
        (event,) = event_bus.received()
        functions.streams.events.handler(event, context("viewer-counts"))
        return event

    count(7, 10)
    assert streams.channel("alice").viewer_count == 7
    count(3, 5)  # an older count arrives late: ignored
    assert streams.channel("alice").viewer_count == 7
    count(4, 10)  # the same instant is not newer
    assert streams.channel("alice").viewer_count == 7
    count(5, 20)
    assert streams.channel("alice").viewer_count == 5
    assert [item.viewer_count for item in streams.live().items] == [5]

    count(9, 30, username="bob")  # offline (never live): nothing stored, nothing created
    assert StreamRepository().channel("bob") is None
    count(9, 30, username="Not A Channel!")  # malformed: dropped, not retried

    streams.end_broadcast(broadcast.broadcast_id, started + timedelta(seconds=40))
    event_bus.received()
    count(11, 50)
    assert streams.channel("alice").viewer_count == 0
    assert StreamRepository().channel("alice").viewer_count == 0  # type: ignore[union-attr]

    functions.streams.events.handler(
        {"detail-type": "StreamStarted", "detail": {"username": "alice"}}, context("viewer-counts")
    )
    functions.streams.events.handler(
        {"detail-type": "ViewerCountChanged", "detail": {"username": "alice"}}, context("viewer-counts")
    )
    functions.streams.events._streams.cache_clear()


# --- stream started / ended ---------------------------------------------------------------------


def test_the_stream_starting_and_ending_is_a_system_line_in_the_room(chat: ChatRoom, chat_env: ChatEnv) -> None:
    viewer = chat.join(CHANNEL)
    bob = chat.join(CHANNEL, "bob")
    other_room = chat.join("carol")
    started = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    chat.clock.advance(10)
    chat_env.bus.received()

    event_publisher().publish(StreamStarted(username=CHANNEL, broadcast_id="b-123", started_at=started))
    (event,) = chat_env.bus.received()
    functions.chat.events.handler(event, context("events"))
    expected = {
        "type": "system",
        "kind": "stream-started",
        "text": "alice is live",
        "data": {"broadcast_id": "b-123", "started_at": started.isoformat()},
    }
    assert viewer.only() == expected
    assert bob.only() == expected
    assert other_room.frames() == []
    # Going live counts the room at once (the streams directory just reset its count to 0).
    (count,) = of_type(chat_env.bus.received(), "ViewerCountChanged")
    assert count["detail"]["viewers"] == 2

    ended = started + timedelta(hours=2)
    event_publisher().publish(StreamEnded(username=CHANNEL, broadcast_id="b-123", started_at=started, ended_at=ended))
    (event,) = chat_env.bus.received()
    functions.chat.events.handler(event, context("events"))
    assert viewer.only() == {
        "type": "system",
        "kind": "stream-ended",
        "text": "alice ended the stream",
        "data": {"broadcast_id": "b-123", "ended_at": ended.isoformat()},
    }
    assert bob.inbox()[0]["kind"] == "stream-ended"
    assert of_type(chat_env.bus.received(), "ViewerCountChanged") == []


def test_events_the_chat_does_not_handle_are_ignored(chat: ChatRoom) -> None:
    viewer = chat.join(CHANNEL)
    events: list[dict[str, Any]] = [
        {"detail-type": "UserFollowed", "detail": {"follower": "a", "followee": "alice"}},
        {"detail-type": "StreamStarted", "detail": {"username": CHANNEL}},  # malformed
        {"detail-type": "StreamEnded", "detail": None},
        {"id": "no-type"},
    ]
    for event in events:
        functions.chat.events.handler(event, context("events"))
    assert viewer.frames() == []


# --- HTTP: GET /chat/{channel}/settings --------------------------------------------------------


@pytest.fixture
def settings_api(chat: ChatRoom, chat_env: ChatEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The chat HTTP service as its Lambda runs it: tables and JWKS, no WebSocket stage, queue or bus.
    Its service reads the room's clock, so a timeout the test lets run out is over for it too."""
    app = service_app(
        Service.CHAT,
        routers=[chat_router(lambda: RoomSettingsService(ChatRepository(), ConnectionRepository(), chat.clock))],
    )
    for name in (ENV_CHAT_CALLBACK_URL, ENV_CHAT_FANOUT_QUEUE_URL, ENV_EVENT_BUS):
        monkeypatch.delenv(name)
    reset_settings()
    with TestClient(app) as client:
        yield client


def bearer(keys: SigningKey, username: str) -> dict[str, str]:
    settings = get_settings()
    token = AccessTokenIssuer(keys, settings.jwt_issuer, settings.jwt_audience, 900).issue(uuid.uuid4().hex, username)
    return {"authorization": f"Bearer {token}"}


def arrange_room(chat: ChatRoom) -> tuple[Socket, datetime]:
    alice = chat.join(CHANNEL, "alice")
    for user in ("bob", "carol", "dave"):
        chat.join(CHANNEL, user)
    chat.join(CHANNEL)
    alice.send("mod", user="dave")
    alice.send("mod", user="bob")
    alice.send("slow", seconds=10)
    alice.send("ban", user="erin")
    alice.send("timeout", user="carol", seconds=600)
    alice.send("timeout", user="erin_two", seconds=1)  # over by the time anyone looks
    drain(alice)
    return alice, chat.clock.now


def test_the_owner_and_moderators_see_the_room_settings(
    chat: ChatRoom, chat_env: ChatEnv, settings_api: TestClient
) -> None:
    _, at = arrange_room(chat)
    chat.clock.advance(2)

    for user in ("alice", "dave"):
        response = settings_api.get("/chat/Alice/settings", headers=bearer(chat_env.keys, user))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body == {
            "channel": "alice",
            "slow_seconds": 10,
            "moderators": ["bob", "dave"],
            "bans": [
                {"user": "carol", "by": "alice", "at": iso(at), "until": iso(at + timedelta(seconds=600))},
                {"user": "erin", "by": "alice", "at": iso(at), "until": None},
            ],
            "viewers": 5,
        }


def test_other_users_may_not_see_the_room_settings(chat: ChatRoom, chat_env: ChatEnv, settings_api: TestClient) -> None:
    arrange_room(chat)
    assert_problem(settings_api.get("/chat/alice/settings", headers=bearer(chat_env.keys, "carol")), 403)
    assert_problem(settings_api.get("/chat/alice/settings", headers=bearer(chat_env.keys, "erin")), 403)
    assert_problem(settings_api.get("/chat/alice/settings"), 401)
    assert_problem(settings_api.get("/chat/alice/settings", headers={"authorization": "Bearer nope"}), 401)
    # Not a channel name: nobody owns it.
    assert settings_api.get("/chat/bad name!/settings", headers=bearer(chat_env.keys, "alice")).status_code == 404


def test_a_room_never_used_has_default_settings(chat_env: ChatEnv, settings_api: TestClient) -> None:
    response = settings_api.get("/chat/bob/settings", headers=bearer(chat_env.keys, "bob"))
    assert response.status_code == 200, response.text
    assert response.json() == {"channel": "bob", "slow_seconds": 0, "moderators": [], "bans": [], "viewers": 0}
