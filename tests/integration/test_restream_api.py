"""Restream destinations against moto (DynamoDB and KMS): saving, masking, sealing, the rules,
and each destination's status in the streamer's health report."""

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from fastapi.testclient import TestClient

from functions.streams.app import create_app
from letslive.constants import ENV_RESTREAM_ALLOW_PRIVATE_HOSTS, ENV_RESTREAM_KEY, RESTREAM_KEY_PURPOSE, Table
from letslive.data.destinations import destinations_key
from letslive.models.restream import DestinationStatus, ForwardTarget
from letslive.models.streams import StreamHealth
from letslive.services.restream import restream_service
from letslive.services.tokens import SigningKey
from tests.integration.test_streams_api import Api, Worker, heartbeats_stay_fresh_for_the_api, worker_service
from tests.support.clocks import DateClock
from tests.support.problems import assert_problem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

PATH = "/streams/me/destinations"
TWITCH_KEY = "live_123456789_AbCdEfGhIjKlMnOpQrStUvWxYz0123"
YOUTUBE_KEY = "abcd-efgh-ijkl-mnop-qrst"


@pytest.fixture
def restream_key(accounts: SigningKey, monkeypatch: pytest.MonkeyPatch) -> str:
    key_id: str = boto3.client("kms").create_key(Description="restream keys")["KeyMetadata"]["Arn"]
    monkeypatch.setenv(ENV_RESTREAM_KEY, key_id)
    return key_id


@pytest.fixture
def api(accounts: SigningKey, restream_key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    heartbeats_stay_fresh_for_the_api(monkeypatch)
    with TestClient(create_app()) as client:
        yield Api(client, accounts)


def twitch(**overrides: Any) -> dict[str, Any]:
    return {"name": "Twitch", "url": "rtmp://live.twitch.tv/app", "key": TWITCH_KEY} | overrides


def youtube(**overrides: Any) -> dict[str, Any]:
    return {"name": "YouTube", "url": "rtmps://a.rtmps.youtube.com:443/live2/", "key": YOUTUBE_KEY} | overrides


def put(api: Api, user: str, *destinations: dict[str, Any]) -> Any:
    return api.client.put(PATH, json={"destinations": list(destinations)}, headers=api.auth(user))


def saved(api: Api, user: str, *destinations: dict[str, Any]) -> list[dict[str, Any]]:
    response = put(api, user, *destinations)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    items: list[dict[str, Any]] = response.json()["destinations"]
    return items


def test_destinations_are_saved_with_their_keys_masked_and_sealed(api: Api, dynamodb: "DynamoDBClient") -> None:
    items = saved(api, "alice", twitch(), youtube(enabled=False))
    assert [(d["name"], d["url"], d["key_hint"], d["enabled"]) for d in items] == [
        ("Twitch", "rtmp://live.twitch.tv/app", "••••0123", True),
        ("YouTube", "rtmps://a.rtmps.youtube.com:443/live2", "••••qrst", False),
    ]
    listed = api.client.get(PATH, headers=api.auth("alice"))
    assert listed.json() == {"destinations": items, "max": 5}
    for body in (
        listed.text,
        put(api, "alice", *({k: d[k] for k in ("id", "name", "url", "enabled")} for d in items)).text,
    ):
        assert TWITCH_KEY not in body
        assert YOUTUBE_KEY not in body
    # What DynamoDB holds: ciphertext, opened only by KMS with the channel's context.
    pk, sk = destinations_key("alice")
    table = f"letslive-test-{Table.STREAMS.value}"
    raw = dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    assert TWITCH_KEY not in str(raw)
    sealed = raw["destinations"]["L"][0]["M"]["sealed_key"]["S"]
    kms = boto3.client("kms")
    context = {"purpose": RESTREAM_KEY_PURPOSE, "channel": "alice"}
    assert kms.decrypt(CiphertextBlob=base64.b64decode(sealed), EncryptionContext=context)["Plaintext"] == (
        TWITCH_KEY.encode()
    )
    with pytest.raises(kms.exceptions.InvalidCiphertextException):  # another channel's context
        kms.decrypt(CiphertextBlob=base64.b64decode(sealed), EncryptionContext={**context, "channel": "mallory"})
    # The worker's view: the enabled ones, keys opened.
    assert restream_service().forward_targets("alice") == [
        ForwardTarget(items[0]["id"], "Twitch", "rtmp://live.twitch.tv/app", TWITCH_KEY)
    ]
    assert TWITCH_KEY not in repr(restream_service().forward_targets("alice"))


def test_a_put_replaces_the_list_keeping_saved_keys_unless_given(api: Api) -> None:
    first, second = saved(api, "alice", twitch(), youtube())
    # Renamed, disabled, key kept; YouTube left out (removed); a custom one added.
    items = saved(
        api,
        "alice",
        {"id": first["id"], "name": "Twitch (main)", "url": first["url"], "enabled": False},
        {"name": "Mine", "url": "rtmp://rtmp.example.net/live", "key": "k1"},
    )
    assert [(d["id"] == first["id"], d["name"], d["key_hint"], d["enabled"]) for d in items] == [
        (True, "Twitch (main)", "••••0123", False),
        (False, "Mine", "••••k1", True),
    ]
    assert second["id"] not in {d["id"] for d in items}
    # A new key for a saved destination replaces the old one.
    items = saved(api, "alice", {"id": first["id"], "name": "Twitch", "url": first["url"], "key": "live_new_key_9999"})
    assert items[0]["key_hint"] == "••••9999"
    assert restream_service().forward_targets("alice")[0].key == "live_new_key_9999"
    # An unchanged destination keeps its time; an empty list removes them all.
    again = saved(api, "alice", {"id": first["id"], "name": "Twitch", "url": first["url"]})
    assert again[0]["updated_at"] == items[0]["updated_at"]
    assert saved(api, "alice") == []
    assert restream_service().forward_targets("alice") == []


def test_the_worker_reading_again_and_again_opens_each_key_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live broadcast reads its destinations every few seconds: KMS is asked once per key."""
    first, second = saved(api, "alice", twitch(), youtube())
    service = restream_service()
    opened: list[str] = []
    real_open = service.sealer.open

    def counting_open(sealed: str, channel: str) -> str:
        opened.append(sealed)
        return real_open(sealed, channel)

    monkeypatch.setattr(service.sealer, "open", counting_open)
    reads = [service.forward_targets("alice") for _ in range(5)]
    assert all(read == reads[0] for read in reads)
    assert [t.key for t in reads[0]] == [TWITCH_KEY, YOUTUBE_KEY]
    assert len(opened) == 2
    # A new key is a new sealed key: opened once too; the kept one is not opened again.
    saved(api, "alice", twitch(id=first["id"], key="live_rotated_0000"), youtube(id=second["id"], key=None))
    assert [t.key for t in service.forward_targets("alice")] == ["live_rotated_0000", YOUTUBE_KEY]
    assert len(opened) == 3


def test_each_channel_has_its_own_destinations(api: Api) -> None:
    (alices,) = saved(api, "alice", twitch())
    assert api.client.get(PATH, headers=api.auth("bob")).json()["destinations"] == []
    # Bob cannot reach Alice's destination (and its key) by its id.
    response = put(api, "bob", {"id": alices["id"], "name": "x", "url": alices["url"]})
    assert_problem(response, 400, "invalid-destination")


@pytest.mark.parametrize(
    ("destinations", "detail"),
    [
        ([{"name": "Twitch", "url": "rtmp://live.twitch.tv/app"}], "needs its stream key"),
        ([twitch(id="0123456789ab")], "no saved destination"),
        ([twitch(url="rtmp://127.0.0.1/live")], "public address"),
        ([twitch(url="rtmp://localhost:1935/live")], "public address"),
        ([twitch(url="rtmp://169.254.169.254/latest")], "public address"),
        ([twitch(url="rtmps://10.0.0.7/app")], "public address"),
    ],
)
def test_destinations_that_cannot_be_saved_are_refused(api: Api, destinations: list[Any], detail: str) -> None:
    body = assert_problem(put(api, "alice", *destinations), 400, "invalid-destination")
    assert detail in body["detail"]
    assert api.client.get(PATH, headers=api.auth("alice")).json()["destinations"] == []


def test_a_saved_id_given_twice_is_refused(api: Api) -> None:
    (item,) = saved(api, "alice", twitch())
    twice = {"id": item["id"], "name": "Twitch", "url": item["url"]}
    assert_problem(put(api, "alice", twice, twice), 400, "invalid-destination")


@pytest.mark.parametrize(
    "destination",
    [
        twitch(url="http://live.twitch.tv/app"),
        twitch(url="rtmp://live.twitch.tv"),
        twitch(url="rtmp://user:pw@live.twitch.tv/app"),
        twitch(url="rtmp://live.twitch.tv/app?key=1"),
        twitch(url="rtmp://live.twitch.tv:99999/app"),
        twitch(url="rtmp://[::1]/app"),
        twitch(url="rtmp://live.twitch.tv/" + "a" * 300),
        twitch(key="has space"),
        twitch(key="a/b"),
        twitch(key="k" * 257),
        twitch(name=""),
        twitch(name="x" * 41),
        twitch(name="bad\nname"),
        twitch(id="not-an-id"),
    ],
)
def test_malformed_destinations_are_invalid(api: Api, destination: dict[str, Any]) -> None:
    assert_problem(put(api, "alice", destination), 422, "validation")


def test_at_most_five_destinations(api: Api) -> None:
    assert len(saved(api, "alice", *(twitch(name=f"D{i}") for i in range(5)))) == 5
    assert_problem(put(api, "alice", *(twitch(name=f"D{i}") for i in range(6))), 422, "validation")


def test_destinations_need_a_signed_in_streamer(api: Api) -> None:
    assert_problem(api.client.get(PATH), 401, "unauthorized")
    assert_problem(api.client.put(PATH, json={"destinations": [twitch()]}), 401, "unauthorized")


def test_private_servers_are_accepted_where_allowed(
    accounts: SigningKey, restream_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_RESTREAM_ALLOW_PRIVATE_HOSTS, "true")
    with TestClient(create_app()) as client:
        api = Api(client, accounts)
        assert saved(api, "alice", twitch(url="rtmp://127.0.0.1:1935/live"))[0]["url"] == "rtmp://127.0.0.1:1935/live"


def test_the_health_report_carries_each_destinations_status(api: Api) -> None:
    clock = DateClock(datetime.now(UTC))
    worker = Worker(worker_service(clock), clock)
    grant, broadcast = worker.go_live(api.new_key("alice"))
    statuses = [
        DestinationStatus(id="0123456789ab", name="Twitch", state="live", attempts=1, bitrate_kbps=6012.5),
        DestinationStatus(
            id="ba9876543210",
            name="YouTube",
            state="retrying",
            reason="Connection refused",
            attempts=3,
            retry_in_seconds=8.0,
            dropped_seconds=12.5,
        ),
    ]
    assert worker.service.heartbeat(broadcast.broadcast_id, grant.key_hash, StreamHealth(destinations=statuses))
    report = api.client.get("/streams/me/health", headers=api.auth("alice")).json()
    assert [DestinationStatus.model_validate(item) for item in report["destinations"]] == statuses
