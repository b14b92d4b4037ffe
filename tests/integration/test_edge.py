"""The local CloudFront stand-in over moto S3 and a real upstream HTTP server."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest

from localstack.edge import CORS_HEADERS, Edge
from tests.integration.conftest import MEDIA_BUCKET, REGION

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SEGMENT = bytes(range(256)) * 40
IMMUTABLE = "public, max-age=31536000, immutable"


class Upstream(BaseHTTPRequestHandler):
    """Echoes what it received, as the HTTP API would see it."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _echo(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = json.dumps(
            {"method": self.command, "path": self.path, "body": body.decode(), "headers": dict(self.headers)}
        ).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "letslive_refresh=abc; Path=/auth; HttpOnly")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = _echo


@pytest.fixture
def edge(media_bucket: str, s3: "S3Client", tmp_path: Path) -> Iterator[Edge]:
    s3.put_object(
        Bucket=media_bucket, Key="hls/b1/720p/seg_1.ts", Body=SEGMENT, ContentType="video/mp2t", CacheControl=IMMUTABLE
    )
    s3.put_object(
        Bucket=media_bucket,
        Key="hls/b1/720p/live.m3u8",
        Body=b"#EXTM3U\n",
        ContentType="application/vnd.apple.mpegurl",
        CacheControl="max-age=1",
    )
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    web = tmp_path / "web"
    (web / "channel").mkdir(parents=True)
    (web / "index.html").write_text("<h1>home</h1>")
    (web / "channel.html").write_text("<h1>channel</h1>")
    server = Edge(
        ("127.0.0.1", 0),
        boto3.client("s3", region_name=REGION),
        MEDIA_BUCKET,
        f"http://127.0.0.1:{upstream.server_address[1]}/_aws/execute-api/x/$default",
        web,
    )
    server.serve_in_thread()
    yield server
    server.shutdown()
    server.server_close()
    upstream.shutdown()
    upstream.server_close()


def test_segments_and_playlists_keep_their_cache_headers_with_cors(edge: Edge) -> None:
    segment = httpx.get(f"{edge.url}/hls/b1/720p/seg_1.ts")
    assert segment.status_code == 200
    assert segment.content == SEGMENT
    assert segment.headers["cache-control"] == IMMUTABLE
    assert segment.headers["content-type"] == "video/mp2t"
    assert segment.headers["access-control-allow-origin"] == "*"
    playlist = httpx.get(f"{edge.url}/hls/b1/720p/live.m3u8")
    assert playlist.headers["cache-control"] == "max-age=1"
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"


def test_byte_ranges_head_and_conditional_requests(edge: Edge) -> None:
    url = f"{edge.url}/hls/b1/720p/seg_1.ts"
    ranged = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206
    assert ranged.content == SEGMENT[10:20]
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(SEGMENT)}"
    head = httpx.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(SEGMENT))
    assert httpx.get(url, headers={"If-None-Match": head.headers["etag"]}).status_code == 304


def test_missing_media_is_404_with_cors_and_preflight_is_answered(edge: Edge) -> None:
    missing = httpx.get(f"{edge.url}/hls/b1/720p/nope.ts")
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "*"
    preflight = httpx.options(f"{edge.url}/hls/b1/720p/live.m3u8", headers={"Origin": "http://example.com"})
    assert preflight.status_code == 204
    for name, value in CORS_HEADERS.items():
        assert preflight.headers[name] == value


def test_api_requests_pass_through_with_method_body_headers_and_cookies(edge: Edge) -> None:
    response = httpx.post(
        f"{edge.url}/api/auth/login?x=1",
        json={"username": "alice"},
        headers={"Authorization": "Bearer t", "Cookie": "letslive_refresh=old"},
    )
    assert response.status_code == 201
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/_aws/execute-api/x/$default/auth/login?x=1"
    assert json.loads(seen["body"]) == {"username": "alice"}
    assert seen["headers"]["Authorization"] == "Bearer t"
    assert seen["headers"]["Cookie"] == "letslive_refresh=old"
    assert response.headers["set-cookie"] == "letslive_refresh=abc; Path=/auth; HttpOnly"
    assert httpx.patch(f"{edge.url}/api/users/me", json={}).json()["method"] == "PATCH"


def test_pages_come_from_the_exported_web_app_and_never_from_outside_it(edge: Edge) -> None:
    assert httpx.get(f"{edge.url}/").text == "<h1>home</h1>"
    assert httpx.get(f"{edge.url}/channel").text == "<h1>channel</h1>"
    assert httpx.get(f"{edge.url}/../../etc/passwd").status_code == 404
    assert httpx.get(f"{edge.url}/%2e%2e/%2e%2e/etc/passwd").status_code == 404
    assert httpx.post(f"{edge.url}/hls/b1/720p/live.m3u8").status_code == 405
