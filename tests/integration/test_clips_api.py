"""Clips against moto (DynamoDB, S3, EventBridge): clipping a live broadcast and a VOD's range,
the clip's own media outliving the VOD, the rules (range, rate limit, who may delete), listing
and views. The broadcast's recording is written to the bucket as the ingest worker writes it
(playlists and segment objects); media itself is played in the e2e tests."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from functions.vods.app import create_app
from letslive.constants import MEDIA_PREFIX
from letslive.data.chat import ChatRepository
from letslive.data.clips import ClipRepository
from letslive.data.storage import S3MediaStorage
from letslive.errors import DependencyUnavailable
from letslive.media.playlists import Segment, live_playlist, parse_media_playlist, vod_playlist
from letslive.models.chat import Ban
from letslive.models.events import ClipDeleted, VodDeleted
from letslive.models.streams import Broadcast
from letslive.services.recordings import broadcast_prefix, finalize_recording
from letslive.services.storage import media_storage
from letslive.services.streams import stream_service
from letslive.services.tokens import SigningKey
from letslive.services.vods import vod_media_cleaner, vod_service
from tests.integration.conftest import EventBus
from tests.integration.test_vods_api import auth
from tests.support.problems import assert_problem

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

RUNGS = ("720p", "360p")
MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=3300000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"\n720p.m3u8\n'
    '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"\n360p.m3u8\n'
)


@pytest.fixture
def api(accounts: SigningKey, media_bucket: str, event_bus: EventBus) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def go_live(username: str) -> Broadcast:
    streams = stream_service()
    grant = streams.authorize_publish(streams.create_key(username).stream_key)
    assert grant is not None
    return streams.start_broadcast(grant, datetime.now(UTC))


def record(broadcast: Broadcast, seconds: int) -> None:
    """`seconds` 1 s segments on every rung, stored as the worker stores them: the segment
    objects, the live window and the open recording (no full chunk yet)."""
    store, prefix = media_storage(), broadcast_prefix(broadcast.broadcast_id)
    store.put(f"{prefix}/master.m3u8", MASTER.encode(), "application/vnd.apple.mpegurl", "no-cache")
    for rung in RUNGS:
        segments = [
            Segment(f"{rung}_{n:06d}.ts", 1.0, n, broadcast.started_at + timedelta(seconds=n)) for n in range(seconds)
        ]
        for segment in segments:
            store.put(f"{prefix}/{segment.uri}", f"{rung}#{segment.sequence}".encode(), "video/mp2t", "immutable")
        store.put(f"{prefix}/{rung}.m3u8", live_playlist(segments, 6).encode(), "application/vnd.apple.mpegurl", "")
        text = vod_playlist(segments).replace("#EXT-X-ENDLIST\n", "")
        store.put(f"{prefix}/event_{rung}.m3u8", text.encode(), "application/vnd.apple.mpegurl", "")


def end_with_vod(broadcast: Broadcast) -> None:
    stream_service().end_broadcast(broadcast.broadcast_id, datetime.now(UTC))
    recording = finalize_recording(media_storage(), broadcast.broadcast_id)
    assert recording is not None
    vod_service().record_vod(broadcast, recording.duration_seconds, recording.rungs, recording.playback_key, None)


def clip(api: TestClient, key: SigningKey, user: str, **body: Any) -> Any:
    return api.post("/clips", json=body, headers=auth(key, user))


def made(api: TestClient, key: SigningKey, user: str, **body: Any) -> dict[str, Any]:
    response = clip(api, key, user, **body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def clip_media(clip_id: str, rung: str) -> list[tuple[Segment, bytes]]:
    """The clip's playlist of `rung`, each segment with its stored bytes."""
    store, prefix = media_storage(), f"{MEDIA_PREFIX}/clips/{clip_id}"
    playlist = parse_media_playlist(store.get(f"{prefix}/{rung}.m3u8").decode())
    return [(segment, store.get(f"{prefix}/{segment.uri}")) for segment in playlist.segments]


def test_a_viewer_clips_the_last_seconds_of_a_live_broadcast(api: TestClient, accounts: SigningKey) -> None:
    broadcast = go_live("alice")
    record(broadcast, 40)

    clip = made(api, accounts, "bob", broadcast_id=broadcast.broadcast_id, seconds=10, title="What a move")

    assert (clip["channel"], clip["creator"], clip["title"], clip["views"]) == ("alice", "bob", "What a move", 0)
    assert (clip["start_seconds"], clip["duration_seconds"]) == (30.0, 10.0)
    assert clip["playback_url"] == f"clips/{clip['clip_id']}/master.m3u8"
    for rung in RUNGS:  # every rung, the same instants, the broadcast's own segments
        media = clip_media(clip["clip_id"], rung)
        assert [body for _, body in media] == [f"{rung}#{n}".encode() for n in range(30, 40)]
        first_at = media[0][0].program_date_time
        assert first_at is not None
        assert abs(first_at - (broadcast.started_at + timedelta(seconds=30))) < timedelta(milliseconds=1)
    master = media_storage().get(f"{MEDIA_PREFIX}/clips/{clip['clip_id']}/master.m3u8").decode()
    assert master == MASTER
    assert api.get(f"/clips/{clip['clip_id']}").json() == clip
    # Untitled, a clip takes the broadcast's title; the default length is 30 s.
    default = made(api, accounts, "bob", broadcast_id=broadcast.broadcast_id)
    assert (default["title"], default["duration_seconds"]) == (broadcast.title, 30.0)


def test_a_vod_range_is_clipped_to_whole_segments_and_outlives_the_vod(
    api: TestClient, accounts: SigningKey, event_bus: EventBus
) -> None:
    broadcast = go_live("alice")
    record(broadcast, 60)
    end_with_vod(broadcast)

    clip = made(api, accounts, "bob", broadcast_id=broadcast.broadcast_id, start_seconds=20.5, seconds=12)

    # 20.5 s to 32.5 s, widened to the segments covering it: 20 s to 33 s.
    assert (clip["start_seconds"], clip["duration_seconds"]) == (20.0, 13.0)
    assert [body for _, body in clip_media(clip["clip_id"], "360p")] == [f"360p#{n}".encode() for n in range(20, 33)]
    # The VOD is deleted, and its media with it: the clip's stays, and it still plays.
    api.delete(f"/vods/{broadcast.broadcast_id}", headers=auth(accounts, "alice"))
    (deleted,) = [e for e in event_bus.received() if e["detail-type"] == "VodDeleted"]
    vod_media_cleaner().remove(VodDeleted.model_validate(deleted["detail"]))
    assert len(clip_media(clip["clip_id"], "720p")) == 13
    assert api.get(f"/clips/{clip['clip_id']}").status_code == 200
    # And no new clip can be made from it.
    assert_problem(clip_of(api, accounts, broadcast), 404, "vod-not-found")


def clip_of(api: TestClient, key: SigningKey, broadcast: Broadcast, **body: Any) -> Any:
    return clip(api, key, "bob", broadcast_id=broadcast.broadcast_id, **body)


def test_ranges_the_broadcast_does_not_have_are_refused(api: TestClient, accounts: SigningKey) -> None:
    broadcast = go_live("alice")
    assert_problem(clip_of(api, accounts, broadcast), 404, "broadcast-not-found")  # no media yet
    record(broadcast, 20)
    assert_problem(clip_of(api, accounts, broadcast, start_seconds=20), 400, "clip-out-of-range")
    assert_problem(clip(api, accounts, "bob", broadcast_id=uuid.uuid4().hex), 404, "broadcast-not-found")
    # A live broadcast shorter than the clip: all it has.
    assert made(api, accounts, "bob", broadcast_id=broadcast.broadcast_id, seconds=60)["duration_seconds"] == 20.0


@pytest.mark.parametrize(
    "body",
    [
        {"seconds": 4.9},
        {"seconds": 60.5},
        {"start_seconds": -1},
        {"broadcast_id": "not-an-id"},
        {"title": ""},
        {"title": "x" * 101},
        {"seconds": "30"},
        {"extra": 1},
    ],
)
def test_malformed_clip_requests_are_invalid(api: TestClient, accounts: SigningKey, body: dict[str, Any]) -> None:
    assert_problem(clip(api, accounts, "bob", **({"broadcast_id": uuid.uuid4().hex} | body)), 422, "validation")


def test_clips_need_a_signed_in_viewer_and_are_rate_limited(
    api: TestClient, accounts: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    broadcast = go_live("alice")
    record(broadcast, 10)
    assert_problem(api.post("/clips", json={"broadcast_id": broadcast.broadcast_id}), 401, "unauthorized")
    for _ in range(10):
        made(api, accounts, "bob", broadcast_id=broadcast.broadcast_id, seconds=5)
    refused = clip_of(api, accounts, broadcast, seconds=5)
    assert_problem(refused, 429, "rate-limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 600
    made(api, accounts, "carol", broadcast_id=broadcast.broadcast_id, seconds=5)  # a limit per user


def test_a_channels_clips_are_listed_newest_first_and_count_their_views(api: TestClient, accounts: SigningKey) -> None:
    broadcast = go_live("alice")
    record(broadcast, 10)
    ids = [made(api, accounts, "bob", broadcast_id=broadcast.broadcast_id, seconds=5)["clip_id"] for _ in range(3)]
    first = api.get("/clips", params={"channel": "alice", "limit": 2}).json()
    assert [c["clip_id"] for c in first["items"]] == ids[::-1][:2]
    rest = api.get("/clips", params={"channel": "alice", "limit": 2, "cursor": first["next_cursor"]}).json()
    assert ([c["clip_id"] for c in rest["items"]], rest["next_cursor"]) == ([ids[0]], None)
    assert api.get("/clips", params={"channel": "bob"}).json() == {"items": [], "next_cursor": None}
    for expected in (1, 2):
        assert api.post(f"/clips/{ids[0]}/views").json()["views"] == expected
    assert api.get(f"/clips/{ids[0]}").json()["views"] == 2
    assert_problem(api.post(f"/clips/{'0' * 16}/views"), 404, "clip-not-found")
    assert_problem(api.get("/clips/not-a-clip"), 404)


def test_the_creator_the_channel_owner_or_a_moderator_deletes_a_clip_and_its_media(
    api: TestClient, accounts: SigningKey, event_bus: EventBus, s3: "S3Client", media_bucket: str
) -> None:
    broadcast = go_live("alice")
    record(broadcast, 10)
    mine = made(api, accounts, "bob", broadcast_id=broadcast.broadcast_id, seconds=5)["clip_id"]
    theirs = made(api, accounts, "carol", broadcast_id=broadcast.broadcast_id, seconds=5)["clip_id"]
    assert_problem(api.delete(f"/clips/{theirs}", headers=auth(accounts, "bob")), 403, "forbidden")
    # A moderator of the channel's chat may delete any of its clips, unless banned.
    rooms, now = ChatRepository(), datetime.now(UTC)
    rooms.add_moderator("alice", "dave", "alice", now)
    rooms.add_moderator("alice", "erin", "alice", now)
    rooms.ban(Ban("alice", "erin", "alice", now, None))
    assert_problem(api.delete(f"/clips/{theirs}", headers=auth(accounts, "erin")), 403, "forbidden")
    by_moderator = made(api, accounts, "carol", broadcast_id=broadcast.broadcast_id, seconds=5)["clip_id"]
    assert api.delete(f"/clips/{by_moderator}", headers=auth(accounts, "dave")).status_code == 204
    assert_problem(api.delete(f"/clips/{mine}"), 401, "unauthorized")
    assert api.delete(f"/clips/{mine}", headers=auth(accounts, "bob")).status_code == 204
    assert api.delete(f"/clips/{theirs}", headers=auth(accounts, "alice")).status_code == 204  # the owner
    for clip_id in (mine, theirs):
        assert_problem(api.get(f"/clips/{clip_id}"), 404, "clip-not-found")
    # Each deletion published ClipDeleted; its consumer removes the clip's media, only its.
    deleted = [
        ClipDeleted.model_validate(e["detail"]) for e in event_bus.received() if e["detail-type"] == "ClipDeleted"
    ]
    assert sorted(d.clip_id for d in deleted) == sorted([mine, theirs, by_moderator])
    for event in deleted:
        assert vod_media_cleaner().remove(event).objects == 2 * 5 + 3  # segments, rung playlists, master
    left = s3.list_objects_v2(Bucket=media_bucket, Prefix=f"{MEDIA_PREFIX}/clips/").get("KeyCount")
    assert left == 0
    assert s3.list_objects_v2(Bucket=media_bucket, Prefix=broadcast_prefix(broadcast.broadcast_id))["KeyCount"] > 0
    assert_problem(api.delete(f"/clips/{mine}", headers=auth(accounts, "bob")), 404, "clip-not-found")


@pytest.mark.parametrize("fails", ["copy", "record"])
def test_a_clip_that_fails_midway_leaves_no_media_behind(
    api: TestClient, accounts: SigningKey, event_bus: EventBus, s3: "S3Client", media_bucket: str,
    monkeypatch: pytest.MonkeyPatch, fails: str,
) -> None:  # fmt: skip
    """S3 failing on the 7th segment copy (as a timed-out CopyObject does), or the record's write
    failing after every copy: the caller gets a 503 to retry, and what was copied goes through
    `ClipDeleted`, whose consumer removes it; no clip is listed."""
    broadcast = go_live("alice")
    record(broadcast, 20)
    event_bus.received()
    copies: list[str] = []
    real_copy = S3MediaStorage.copy

    def failing_copy(self: S3MediaStorage, source_key: str, key: str, content_type: str, cache_control: str) -> None:
        copies.append(key)
        if fails == "copy" and len(copies) == 7:
            raise DependencyUnavailable(f"copying {source_key}: Read timeout on endpoint URL")
        real_copy(self, source_key, key, content_type, cache_control)

    def failing_create(self: ClipRepository, record: Any) -> None:
        raise DependencyUnavailable("could not store the clip: ProvisionedThroughputExceededException")

    monkeypatch.setattr(S3MediaStorage, "copy", failing_copy)
    if fails == "record":
        monkeypatch.setattr(ClipRepository, "create", failing_create)
    response = clip(api, accounts, "bob", broadcast_id=broadcast.broadcast_id, seconds=10)
    assert_problem(response, 503, "dependency-unavailable")
    clips = f"{MEDIA_PREFIX}/clips/"
    assert s3.list_objects_v2(Bucket=media_bucket, Prefix=clips)["KeyCount"] > 0  # what was copied
    (event,) = [e for e in event_bus.received() if e["detail-type"] == "ClipDeleted"]
    orphan = ClipDeleted.model_validate(event["detail"])
    assert orphan.media_prefix == f"{clips}{orphan.clip_id}"
    assert vod_media_cleaner().remove(orphan).objects > 0
    assert s3.list_objects_v2(Bucket=media_bucket, Prefix=clips)["KeyCount"] == 0
    assert api.get("/clips", params={"channel": "alice"}).json()["items"] == []
    assert s3.list_objects_v2(Bucket=media_bucket, Prefix=broadcast_prefix(broadcast.broadcast_id))["KeyCount"] > 0


def test_a_clip_deleted_event_names_only_its_own_directory(api: TestClient) -> None:
    forged = ClipDeleted(
        channel="alice", clip_id="0" * 16, media_prefix=f"{MEDIA_PREFIX}/broadcasts", deleted_at=datetime.now(UTC)
    )
    with pytest.raises(Exception, match="its own prefix"):
        vod_media_cleaner().remove(forged)


def test_a_channels_most_viewed_clips_come_first_and_a_late_count_never_moves_one_back(
    api: TestClient, accounts: SigningKey
) -> None:
    broadcast = go_live("alice")
    record(broadcast, 10)
    ids = [made(api, accounts, "bob", broadcast_id=broadcast.broadcast_id, seconds=5)["clip_id"] for _ in range(3)]
    for clip_id, views in ((ids[1], 3), (ids[0], 1)):
        for _ in range(views):
            api.post(f"/clips/{clip_id}/views")

    def top(**params: Any) -> list[tuple[str, int]]:
        items = api.get("/clips/top", params={"channel": "alice"} | params).json()["items"]
        return [(item["clip_id"], item["views"]) for item in items]

    assert top() == [(ids[1], 3), (ids[0], 1), (ids[2], 0)]
    assert top(limit=1) == [(ids[1], 3)]
    # Two views counted at once may rank in either order: the lower count never wins.
    ClipRepository()._rank(ids[0], "alice", 0)
    assert top()[1] == (ids[0], 1)
    assert api.delete(f"/clips/{ids[1]}", headers=auth(accounts, "alice")).status_code == 204
    assert top() == [(ids[0], 1), (ids[2], 0)]
    assert api.get("/clips/top", params={"channel": "bob"}).json() == {"items": []}
