"""A clip's MP4 download against moto (DynamoDB, S3, EventBridge) with real media: segments made
by FFmpeg as the ingest worker cuts them, the clip made through the API, its `ClipCreated` event
handed to the consumer's Lambda handler, the MP4 read back with ffprobe. Faults as they come: a
store failing mid-read (the invocation fails and its retry starts over), a second delivery, a
clip deleted before its consumer ran or while it remuxes, segments that are not media, an event
that never came or every attempt failing, then the download made again."""

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from functions.vods import downloads, media
from functions.vods.app import create_app
from letslive.constants import MEDIA_PREFIX
from letslive.data.clips import ClipRepository
from letslive.data.events import EventBridgePublisher
from letslive.data.storage import S3MediaStorage, s3_media_storage
from letslive.errors import DependencyUnavailable
from letslive.media.playlists import Segment, live_playlist, parse_media_playlist, vod_playlist
from letslive.models.clips import ClipDownloadUpdate, ClipRecord
from letslive.models.events import ClipCreated
from letslive.services.clip_downloads import ClipDownloads, attachment_name
from letslive.services.clips import DOWNLOAD_STALE, ClipService
from letslive.services.recordings import broadcast_prefix
from letslive.services.storage import media_storage
from letslive.services.tokens import SigningKey
from tests.integration.conftest import EventBus
from tests.integration.test_clips_api import MASTER, RUNGS, go_live, made
from tests.integration.test_health_api import LambdaContext
from tests.integration.test_vods_api import auth
from tests.support.problems import assert_problem

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SEGMENTS = 12
CONTEXT = LambdaContext("letslive-vods-clip-downloads")


@pytest.fixture(scope="module")
def segment_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """12 one-second MPEG-TS segments (H.264 + AAC, a keyframe each), as the ladder cuts them."""
    out = tmp_path_factory.mktemp("segments")
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(SEGMENTS),
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
            "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
            "-hls_segment_filename", str(out / "seg%03d.ts"), str(out / "index.m3u8"),
        ],
        check=True,
    )  # fmt: skip
    files = sorted(out.glob("seg*.ts"))
    assert len(files) == SEGMENTS
    return files


@pytest.fixture
def api(accounts: SigningKey, media_bucket: str, event_bus: EventBus) -> Iterator[TestClient]:
    downloads._downloads.cache_clear()
    with TestClient(create_app()) as client:
        yield client
    downloads._downloads.cache_clear()


def record_media(broadcast_id: str, files: list[Path], started_at: datetime) -> None:
    """The broadcast's recording as the worker stores it, every rung the real segments."""
    store, prefix = media_storage(), broadcast_prefix(broadcast_id)
    store.put(f"{prefix}/master.m3u8", MASTER.encode(), "application/vnd.apple.mpegurl", "no-cache")
    for rung in RUNGS:
        segments = [Segment(f"{rung}_{n:06d}.ts", 1.0, n, started_at + timedelta(seconds=n)) for n in range(len(files))]
        for segment, path in zip(segments, files, strict=True):
            store.put(f"{prefix}/{segment.uri}", path.read_bytes(), "video/mp2t", "immutable")
        store.put(f"{prefix}/{rung}.m3u8", live_playlist(segments, 6).encode(), "application/vnd.apple.mpegurl", "")
        text = vod_playlist(segments).replace("#EXT-X-ENDLIST\n", "")
        store.put(f"{prefix}/event_{rung}.m3u8", text.encode(), "application/vnd.apple.mpegurl", "")


def created_event(event_bus: EventBus) -> dict[str, Any]:
    (event,) = [e for e in event_bus.received() if e["detail-type"] == "ClipCreated"]
    return event


def probe(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    info: dict[str, Any] = json.loads(result.stdout)
    return info


def packets(path: Path, stream: str) -> list[str]:
    """Each packet's size and keyframe flag: equal lists mean the same frames, copied."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=size,flags", "-of", "csv=p=0",
         str(path)],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    return [",".join(line.split(",")[:2]) for line in result.stdout.split()]


def clip_from(
    api: TestClient, accounts: SigningKey, files: list[Path], channel: str = "alice", **body: Any
) -> dict[str, Any]:
    broadcast = go_live(channel)
    record_media(broadcast.broadcast_id, files, broadcast.started_at)
    return made(api, accounts, "bob", broadcast_id=broadcast.broadcast_id, **body)


def mp4_key(clip_id: str) -> str:
    return f"{MEDIA_PREFIX}/clips/{clip_id}/clip.mp4"


def test_a_new_clip_gets_an_mp4_remuxed_from_its_best_rung(
    api: TestClient, accounts: SigningKey, event_bus: EventBus, segment_files: list[Path], s3: "S3Client",
    media_bucket: str, tmp_path: Path,
) -> None:  # fmt: skip
    clip = clip_from(api, accounts, segment_files, seconds=5, start_seconds=4, title='Clutch "1v3"/win')
    assert clip["download"] == {"state": "pending", "progress": 0.0, "url": None, "size_bytes": None, "reason": None}
    event = created_event(event_bus)
    assert event["detail"]["clip_id"] == clip["clip_id"]

    downloads.handler(event, CONTEXT)

    shown = api.get(f"/clips/{clip['clip_id']}").json()["download"]
    assert (shown["state"], shown["progress"], shown["reason"]) == ("ready", 1.0, None)
    assert shown["url"] == f"clips/{clip['clip_id']}/clip.mp4"
    stored = s3.get_object(Bucket=media_bucket, Key=mp4_key(clip["clip_id"]))
    assert (stored["ContentType"], stored["ContentLength"]) == ("video/mp4", shown["size_bytes"])
    assert stored["ContentDisposition"] == f'attachment; filename="Clutch 1v3win - {clip["clip_id"]}.mp4"'
    mp4 = tmp_path / "clip.mp4"
    mp4.write_bytes(stored["Body"].read())

    info = probe(mp4)
    assert info["format"]["format_name"].startswith("mov,mp4")
    video, audio = (next(s for s in info["streams"] if s["codec_type"] == kind) for kind in ("video", "audio"))
    assert (video["codec_name"], video["width"], video["height"], audio["codec_name"]) == ("h264", 320, 180, "aac")
    assert abs(float(info["format"]["duration"]) - clip["duration_seconds"]) < 0.1
    assert float(info["format"]["start_time"]) < 0.1  # starts at 0, not at the broadcast's clock
    # The frames are the clip's segments', copied: the same packets, byte counts and keyframes.
    segments = parse_media_playlist(
        media_storage().get(f"{MEDIA_PREFIX}/clips/{clip['clip_id']}/720p.m3u8").decode()
    ).segments
    joined = tmp_path / "joined.ts"
    joined.write_bytes(
        b"".join(media_storage().get(f"{MEDIA_PREFIX}/clips/{clip['clip_id']}/{s.uri}") for s in segments)
    )
    assert packets(mp4, "v:0") == packets(joined, "v:0")
    assert len(packets(mp4, "a:0")) == len(packets(joined, "a:0"))
    # It plays through: every frame decodes.
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(mp4), "-f", "null", "-"], capture_output=True, text=True
    )
    assert (decoded.returncode, decoded.stderr) == (0, "")


def test_a_store_failing_mid_read_fails_the_invocation_and_the_retry_makes_it(
    api: TestClient, accounts: SigningKey, event_bus: EventBus, segment_files: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The 4th segment read fails as a timed-out S3 read does (`DependencyUnavailable`): the
    handler raises (Lambda retries the asynchronous invocation), the clip shows its progress so
    far, and the redelivery starts over and finishes."""
    clip = clip_from(api, accounts, segment_files, seconds=10, start_seconds=0)
    event = created_event(event_bus)
    real_get = S3MediaStorage.get
    reads: list[str] = []

    def flaky_get(self: S3MediaStorage, key: str) -> bytes:
        if key.endswith(".ts"):
            reads.append(key)
            if len(reads) == 4:
                raise DependencyUnavailable(f"reading {key}: Read timeout on endpoint URL")
        return real_get(self, key)

    monkeypatch.setattr(S3MediaStorage, "get", flaky_get)
    with pytest.raises(DependencyUnavailable):
        downloads.handler(event, CONTEXT)
    assert api.get(f"/clips/{clip['clip_id']}").json()["download"]["state"] == "remuxing"

    downloads.handler(event, CONTEXT)
    download = api.get(f"/clips/{clip['clip_id']}").json()["download"]
    assert download["state"] == "ready"
    assert download["size_bytes"] == len(media_storage().get(mp4_key(clip["clip_id"])))


def test_a_second_delivery_or_a_deleted_clip_changes_nothing(
    api: TestClient, accounts: SigningKey, event_bus: EventBus, segment_files: list[Path], s3: "S3Client",
    media_bucket: str,
) -> None:  # fmt: skip
    clip = clip_from(api, accounts, segment_files, seconds=5)
    event = created_event(event_bus)
    downloads.handler(event, CONTEXT)
    first = s3.head_object(Bucket=media_bucket, Key=mp4_key(clip["clip_id"]))
    assert downloads._downloads().build(ClipCreated.model_validate(event["detail"])) is None
    assert s3.head_object(Bucket=media_bucket, Key=mp4_key(clip["clip_id"]))["ETag"] == first["ETag"]

    gone = clip_from(api, accounts, segment_files, channel="carol", seconds=5)
    gone_event = created_event(event_bus)
    assert api.delete(f"/clips/{gone['clip_id']}", headers=auth(accounts, "bob")).status_code == 204
    # An earlier run stored the MP4 and died before it could find the record gone.
    s3.put_object(Bucket=media_bucket, Key=mp4_key(gone["clip_id"]), Body=b"an MP4 left by a run cut short")
    downloads.handler(gone_event, CONTEXT)
    listed = s3.list_objects_v2(Bucket=media_bucket, Prefix=mp4_key(gone["clip_id"]))
    assert listed["KeyCount"] == 0


def test_a_clip_deleted_while_its_mp4_is_remuxed_is_left_with_no_mp4(
    api: TestClient, accounts: SigningKey, event_bus: EventBus, segment_files: list[Path], s3: "S3Client",
    media_bucket: str,
) -> None:  # fmt: skip
    """The creator deletes the clip halfway through, and the deletion's consumer empties the
    clip's directory before the MP4 is stored: the race that would leave an MP4 no record names."""
    clip = clip_from(api, accounts, segment_files, seconds=10, start_seconds=0)
    event = created_event(event_bus)
    repository = ClipRepository()
    real_set = repository.set_download
    deleted: list[int] = []

    def deleting_halfway(clip_id: str, download: Any) -> bool:
        if download.progress >= 0.5 and not deleted:
            deleted.append(api.delete(f"/clips/{clip_id}", headers=auth(accounts, "bob")).status_code)
            (gone,) = [e for e in event_bus.received() if e["detail-type"] == "ClipDeleted"]
            media.handler(gone, CONTEXT)
        return real_set(clip_id, download)

    repository.set_download = deleting_halfway  # type: ignore[method-assign]
    assert ClipDownloads(repository, s3_media_storage()).build(ClipCreated.model_validate(event["detail"])) is None
    assert deleted == [204]
    listed = s3.list_objects_v2(Bucket=media_bucket, Prefix=f"{MEDIA_PREFIX}/clips/{clip['clip_id']}/")
    assert listed["KeyCount"] == 0


def test_segments_that_are_not_media_fail_the_download_with_its_reason(
    api: TestClient, accounts: SigningKey, event_bus: EventBus, tmp_path: Path
) -> None:
    """Not retried (it would fail the same way): the clip says why; it still plays as HLS."""
    junk = []
    for n in range(SEGMENTS):
        path = tmp_path / f"junk{n}.ts"
        path.write_bytes(bytes(range(256)) * 40)
        junk.append(path)
    clip = clip_from(api, accounts, junk, seconds=5)
    downloads.handler(created_event(event_bus), CONTEXT)
    download = api.get(f"/clips/{clip['clip_id']}").json()["download"]
    assert (download["state"], download["url"]) == ("failed", None)
    assert "could not be remuxed" in download["reason"] or "no video" in download["reason"]


def test_progress_is_recorded_as_it_goes(
    api: TestClient, accounts: SigningKey, event_bus: EventBus, segment_files: list[Path]
) -> None:
    clip_from(api, accounts, segment_files, seconds=10, start_seconds=0)
    repository = ClipRepository()
    seen: list[tuple[str, float]] = []
    real_set = repository.set_download

    def recording_set(clip_id: str, download: Any) -> bool:
        seen.append((download.state, download.progress))
        return real_set(clip_id, download)

    repository.set_download = recording_set  # type: ignore[method-assign]
    ClipDownloads(repository, s3_media_storage()).build(ClipCreated.model_validate(created_event(event_bus)["detail"]))
    states = [state for state, _ in seen]
    assert (states[0], states[-1]) == ("remuxing", "ready")
    fractions = [fraction for _, fraction in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(fractions) >= 5  # steps of 10 %: the bar moves


def test_a_download_that_never_moves_is_shown_as_failed(api: TestClient, accounts: SigningKey) -> None:
    """An event lost, or every attempt of the consumer failed: after `DOWNLOAD_STALE` the clip
    says so instead of preparing forever."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    record = ClipRecord(
        clip_id="0123456789abcdef", title="t", channel="alice", creator="bob", broadcast_id="b" * 32,
        start_seconds=0, duration_seconds=5, created_at=created, playback_path="clips/0123456789abcdef/master.m3u8",
        starts_at=created,
    )  # fmt: skip
    ClipRepository().create(record)
    service = ClipService(ClipRepository(), None, None, None, None, None, clock=lambda: created + DOWNLOAD_STALE)  # type: ignore[arg-type]
    assert service.get(record.clip_id).download.state == "pending"
    later = ClipService(ClipRepository(), None, None, None, None, None, clock=lambda: created + 2 * DOWNLOAD_STALE)  # type: ignore[arg-type]
    download = later.get(record.clip_id).download
    assert (download.state, download.url) == ("failed", None)
    assert "plays as HLS" in str(download.reason)


def test_the_attachment_name_is_the_title_made_safe() -> None:
    assert attachment_name('GG\r\nwp; "x"', "abc") == 'attachment; filename="GGwp x - abc.mp4"'
    assert attachment_name("🎮🎮", "abc") == 'attachment; filename="clip - abc.mp4"'


def test_a_download_whose_every_attempt_failed_is_made_again_by_the_clips_managers(
    api: TestClient, accounts: SigningKey, event_bus: EventBus, segment_files: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Every attempt of the consumer (the invocation and Lambda's two retries) times out reading
    S3, so the clip stays `remuxing`; 15 minutes later it shows `failed`, and its creator has it
    made again. A publish that times out changes nothing."""
    clip_id = clip_from(api, accounts, segment_files, seconds=5)["clip_id"]
    event = created_event(event_bus)
    real_get = S3MediaStorage.get

    def timing_out(self: S3MediaStorage, key: str) -> bytes:
        if key.endswith(".ts"):
            raise DependencyUnavailable(f"reading {key}: Read timeout on endpoint URL")
        return real_get(self, key)

    with monkeypatch.context() as patch:
        patch.setattr(S3MediaStorage, "get", timing_out)
        for _ in range(3):
            with pytest.raises(DependencyUnavailable):
                downloads.handler(event, CONTEXT)
    retry, bob = f"/clips/{clip_id}/download", auth(accounts, "bob")
    assert_problem(api.post(retry, headers=bob), 409, "download-not-failed")  # it may still move
    repository = ClipRepository()
    stuck = repository.get(clip_id)
    assert stuck is not None
    assert stuck.download_state == "remuxing"
    long_ago = datetime.now(UTC) - DOWNLOAD_STALE - timedelta(seconds=1)  # 15 minutes pass
    repository.set_download(clip_id, ClipDownloadUpdate("remuxing", stuck.download_progress, long_ago))
    assert api.get(f"/clips/{clip_id}").json()["download"]["state"] == "failed"

    assert_problem(api.post(retry), 401, "unauthorized")
    assert_problem(api.post(retry, headers=auth(accounts, "carol")), 403, "forbidden")
    assert_problem(api.post("/clips/0123456789abcdef/download", headers=bob), 404, "clip-not-found")

    def bus_timing_out(self: EventBridgePublisher, event: object) -> None:
        raise DependencyUnavailable("PutEvents: Read timeout on endpoint URL")

    with monkeypatch.context() as patch:
        patch.setattr(EventBridgePublisher, "publish", bus_timing_out)
        assert_problem(api.post(retry, headers=bob), 503, "dependency-unavailable")
    assert api.get(f"/clips/{clip_id}").json()["download"]["state"] == "failed"
    assert event_bus.received() == []

    response = api.post(retry, headers=bob)
    assert response.status_code == 202, response.text
    assert response.json()["download"] == {
        "state": "pending", "progress": 0.0, "url": None, "size_bytes": None, "reason": None
    }  # fmt: skip
    assert_problem(api.post(retry, headers=auth(accounts, "alice")), 409, "download-not-failed")
    again = created_event(event_bus)
    assert again["detail"] == event["detail"]
    downloads.handler(again, CONTEXT)
    download = api.get(f"/clips/{clip_id}").json()["download"]
    assert download["state"] == "ready"
    assert download["size_bytes"] == len(media_storage().get(mp4_key(clip_id)))
    assert_problem(api.post(retry, headers=auth(accounts, "alice")), 409, "download-not-failed")
