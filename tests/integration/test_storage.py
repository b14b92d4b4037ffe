"""`S3MediaStorage` against moto: objects round-trip with their HTTP metadata; `ping` sees the bucket."""

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING

import pytest

from letslive.data.aws import client, reset_clients
from letslive.data.storage import S3MediaStorage
from letslive.errors import ConfigurationError, DependencyUnavailable
from letslive.services.storage import media_storage
from letslive.settings import reset_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SEGMENT = bytes(range(256)) * 64  # binary, not valid UTF-8: must come back byte for byte
PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n"


@pytest.fixture
def storage(media_bucket: str) -> S3MediaStorage:
    return S3MediaStorage(media_bucket, probe_timeout_seconds=1.0)


@pytest.mark.parametrize(
    ("key", "body", "content_type", "cache_control"),
    [
        ("live/chan1/1080p/seg_000042.ts", SEGMENT, "video/mp2t", "public, max-age=31536000, immutable"),
        ("live/chan1/1080p/index.m3u8", PLAYLIST, "application/vnd.apple.mpegurl", "public, max-age=1"),
    ],
)
def test_put_then_get_round_trips_body_and_metadata(
    storage: S3MediaStorage, s3: "S3Client", key: str, body: bytes, content_type: str, cache_control: str
) -> None:
    storage.put(key, body, content_type, cache_control)

    assert storage.get(key) == body
    head = s3.head_object(Bucket=storage.bucket, Key=key)
    assert head["ContentType"] == content_type
    assert head["CacheControl"] == cache_control
    assert head["ContentLength"] == len(body)


def test_put_overwrites(storage: S3MediaStorage) -> None:
    storage.put("live/chan1/index.m3u8", b"old", "application/vnd.apple.mpegurl", "max-age=1")
    storage.put("live/chan1/index.m3u8", b"new", "application/vnd.apple.mpegurl", "max-age=1")
    assert storage.get("live/chan1/index.m3u8") == b"new"


def test_objects_land_in_the_configured_bucket(storage: S3MediaStorage, s3: "S3Client") -> None:
    storage.put("thumbs/chan1.jpg", b"\xff\xd8\xff", "image/jpeg", "max-age=60")
    listed = s3.list_objects_v2(Bucket=storage.bucket)
    assert [item["Key"] for item in listed.get("Contents", [])] == ["thumbs/chan1.jpg"]


def test_ping_is_quiet_when_the_bucket_exists(storage: S3MediaStorage) -> None:
    storage.ping()  # raises on failure


def test_ping_raises_dependency_unavailable_for_a_missing_bucket(media_bucket: str) -> None:
    missing = S3MediaStorage("letslive-no-such-bucket", probe_timeout_seconds=1.0)
    with pytest.raises(DependencyUnavailable) as raised:
        missing.ping()
    assert "bucket letslive-no-such-bucket" in raised.value.detail


def test_ping_raises_once_the_bucket_is_deleted(storage: S3MediaStorage, s3: "S3Client") -> None:
    storage.ping()
    s3.delete_bucket(Bucket=storage.bucket)
    with pytest.raises(DependencyUnavailable):
        storage.ping()


def test_media_storage_uses_the_configured_bucket_and_probe_timeout(
    media_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LETSLIVE_PROBE_TIMEOUT_SECONDS", "0.75")
    storage = media_storage()
    assert isinstance(storage, S3MediaStorage)
    assert storage.bucket == media_bucket
    storage.put("k", b"v", "text/plain", "no-store")
    assert storage.get("k") == b"v"
    assert storage._probe_timeout == 0.75


def test_media_storage_without_a_bucket_is_a_configuration_error(aws: None) -> None:
    with pytest.raises(ConfigurationError, match="LETSLIVE_MEDIA_BUCKET"):
        media_storage()


def test_clients_follow_the_endpoint_seam_and_are_cached_until_reset(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LETSLIVE_AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("LETSLIVE_REGION", "eu-west-1")
    first = client("s3")
    assert first.meta.endpoint_url == "http://127.0.0.1:4566"
    assert first.meta.region_name == "eu-west-1"
    assert client("s3") is first

    monkeypatch.delenv("LETSLIVE_AWS_ENDPOINT_URL")
    reset_settings()
    assert client("s3") is first  # still cached: settings alone do not rebuild clients
    reset_clients()
    assert client("s3") is not first
    assert client("s3").meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"


def test_probe_clients_have_the_probe_timeouts(aws: None) -> None:
    probe = client("s3", 0.5)
    assert probe is not client("s3")
    assert probe.meta.config.connect_timeout == 0.5
    assert probe.meta.config.read_timeout == 0.5


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_s3_probe_makes_a_single_attempt(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # No moto here: a real connection to a loopback port nobody listens on is refused at once.
    monkeypatch.setenv("LETSLIVE_AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    storage = S3MediaStorage("letslive-media", probe_timeout_seconds=0.5)
    attempts: list[str] = []
    client("s3", 0.5).meta.events.register(
        "before-send.s3.HeadBucket", lambda request, **_: attempts.append(request.url)
    )

    with pytest.raises(DependencyUnavailable, match="bucket letslive-media"):
        storage.ping()
    assert len(attempts) == 1


class FaultyEndpoint:
    """A loopback "S3" that misbehaves as endpoints do: `stall` accepts connections and never
    answers; `status` answers every request with that HTTP status (S3's error XML)."""

    def __init__(self, mode: str, status: int = 503) -> None:
        self.mode = mode
        self.status = status
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if self.mode == "stall":
                self.held.append(conn)
                continue
            with conn:
                conn.settimeout(2)
                request = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        request += chunk
                body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                head = f"HTTP/1.1 {self.status} Error\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                with contextlib.suppress(OSError):
                    conn.sendall(head.encode() + body)

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


@pytest.mark.parametrize("fault", ["refused", "stall", "500", "503"])
def test_every_storage_failure_is_dependency_unavailable_within_the_timeout(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """No moto: real sockets that refuse, hang or answer 5xx. The uploader retries only
    `DependencyUnavailable`, so nothing else may escape, and a stall must not hang a thread."""
    endpoint = (
        None
        if fault == "refused"
        else FaultyEndpoint("stall" if fault == "stall" else "status", int(fault) if fault.isdigit() else 503)
    )
    port = closed_port() if endpoint is None else endpoint.port
    monkeypatch.setenv("LETSLIVE_AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    storage = S3MediaStorage("letslive-media", probe_timeout_seconds=0.5, timeout_seconds=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(DependencyUnavailable, match=r"storing hls/x\.ts"):
            storage.put("hls/x.ts", b"G", "video/mp2t", "no-cache")
        with pytest.raises(DependencyUnavailable, match=r"reading hls/x\.ts"):
            storage.get("hls/x.ts")
    finally:
        if endpoint is not None:
            endpoint.close()
    assert time.monotonic() - started < 5, "one attempt each, bounded by the timeout"
