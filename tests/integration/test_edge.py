"""The local CloudFront stand-in over moto S3 and a real upstream HTTP server."""

import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from letslive.constants import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from localstack.edge import CORS_HEADERS, Edge
from tests.integration.conftest import MEDIA_BUCKET, REGION
from tests.support.edges import serving_edge

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SEGMENT = bytes(range(256)) * 40
IMMUTABLE = "public, max-age=31536000, immutable"
ORIGIN_SECRET = "s3cr3t"
CONFIG = {"websocket_url": "ws://127.0.0.1:4566/_aws/execute-api/w/local", "ingest_url": "rtmp://127.0.0.1:1935/live"}


class Upstream(BaseHTTPRequestHandler):
    """Echoes what it received, as the HTTP API would see it."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _echo(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "body": body.decode(),
                "headers": dict(self.headers),
                "header_names": [name.lower() for name in self.headers],
            }
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
    web = tmp_path / "web"
    (web / "channel").mkdir(parents=True)
    (web / "index.html").write_text("<h1>home</h1>")
    (web / "channel.html").write_text("<h1>channel</h1>")
    # What `next build` exports with `trailingSlash: true`.
    (web / "vod").mkdir()
    (web / "vod" / "index.html").write_text("<h1>vod</h1>")
    (web / "vod" / "index.txt").write_text("rsc payload")
    (web / "404.html").write_text("<h1>not here</h1>")
    (web / ".build.stamp").write_text("")
    (web / "_next" / "static" / "chunks").mkdir(parents=True)
    (web / "_next" / "static" / "chunks" / "main-0a1b2c.js").write_text("console.log(1)")
    (web / "_next" / "static" / "css").mkdir()
    (web / "_next" / "static" / "css" / "0c9d.css").write_text("body{}")
    (web / "_next" / "static" / "media").mkdir()
    (web / "_next" / "static" / "media" / "font.woff2").write_bytes(b"wOF2")
    with serving_edge(
        Upstream,
        web,
        MEDIA_BUCKET,
        REGION,
        "/_aws/execute-api/x/$default",
        config=CONFIG,
        origin_verify=ORIGIN_SECRET,
    ) as server:
        yield server


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
    assert "content-disposition" not in playlist.headers


def test_an_attachment_keeps_its_content_disposition(edge: Edge, s3: "S3Client", media_bucket: str) -> None:
    """A clip's MP4 is stored with `Content-Disposition: attachment`, which CloudFront passes on."""
    disposition = 'attachment; filename="GG - 0123456789abcdef.mp4"'
    s3.put_object(
        Bucket=media_bucket, Key="hls/clips/c1/clip.mp4", Body=b"mp4", ContentType="video/mp4",
        CacheControl=IMMUTABLE, ContentDisposition=disposition,
    )  # fmt: skip
    response = httpx.get(f"{edge.url}/hls/clips/c1/clip.mp4")
    assert (response.headers["content-type"], response.headers["content-disposition"]) == ("video/mp4", disposition)


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


def test_the_api_gets_the_client_address_and_the_origin_secret_as_cloudfront_sends_them(edge: Edge) -> None:
    # What the `/api/*` viewer-request function and the origin's custom header do: a client's own
    # values under those names never reach the API.
    forged = {VIEWER_ADDRESS_HEADER: "203.0.113.9", ORIGIN_VERIFY_HEADER: "guess"}
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3")) as client:
        seen = client.get(f"{edge.url}/api/auth/me", headers=forged).json()
    received = {name.lower(): value for name, value in seen["headers"].items()}
    assert received[VIEWER_ADDRESS_HEADER] == "127.0.0.3"
    assert received[ORIGIN_VERIFY_HEADER] == ORIGIN_SECRET
    assert seen["header_names"].count(VIEWER_ADDRESS_HEADER) == 1
    assert seen["header_names"].count(ORIGIN_VERIFY_HEADER) == 1


def _raw(edge: Edge, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request written as is (httpx will not send CONNECT or a made-up method), the answer
    read to the end: status, headers, body."""
    host, port = edge.server_address[:2]
    with socket.create_connection((str(host), port), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def _refused(edge: Edge, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    return _raw(edge, f"{method} {path} HTTP/1.1\r\nHost: edge\r\nContent-Length: 0\r\n\r\n".encode())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("TRACE", "/api/auth/me"),  # `/api/*` allows all but TRACE and CONNECT
        ("CONNECT", "/api/auth/me"),
        ("TRACE", "/"),
        ("TRACE", "/hls/b1/720p/live.m3u8"),
        ("CONNECT", "/hls/b1/720p/seg_1.ts"),
        ("POST", "/hls/b1/720p/seg_1.ts"),  # media: GET and HEAD (and the CORS preflight)
        ("PUT", "/hls/b1/720p/seg_1.ts"),
        ("DELETE", "/hls/b1/720p/seg_1.ts"),
        ("PATCH", "/channel/"),  # the web app: GET and HEAD
        ("DELETE", "/"),
        ("OPTIONS", "/"),
        ("POST", "/config.json"),
    ],
)
def test_a_method_the_behaviour_does_not_allow_gets_cloudfronts_403(edge: Edge, method: str, path: str) -> None:
    status, headers, body = _refused(edge, method, path)
    assert status == 403
    assert headers["content-type"] == "text/html"
    assert headers["x-cache"] == "Error from cloudfront"
    assert b"not configured to allow the HTTP request method" in body
    assert int(headers["content-length"]) == len(body)


def test_a_token_that_is_no_http_method_is_a_400_never_a_501(edge: Edge) -> None:
    for method in ("FOO", "get", "PROPFIND", "TRACK"):
        status, headers, body = _refused(edge, method, "/api/auth/me")
        assert status == 400, method
        assert headers["x-cache"] == "Error from cloudfront"
        assert b"The request could not be satisfied" in body


def test_a_refused_request_never_reaches_the_api_and_its_body_is_not_read_as_a_request(edge: Edge) -> None:
    # A body smuggling a second request after a refused one: the edge closes instead of reading it.
    smuggled = b"GET /api/auth/me HTTP/1.1\r\nHost: edge\r\n\r\n"
    status, headers, body = _raw(
        edge,
        b"TRACE /api/auth/me HTTP/1.1\r\nHost: edge\r\nContent-Length: %d\r\n\r\n%s" % (len(smuggled), smuggled),
    )
    assert status == 403
    assert headers["connection"] == "close"
    assert body.count(b"HTTP/1.1") == 0  # one answer only: the smuggled GET was never served
    assert b'"method"' not in body


def test_a_get_with_a_body_is_refused_as_cloudfront_does(edge: Edge) -> None:
    status, headers, _ = _raw(edge, b"GET /api/auth/me HTTP/1.1\r\nHost: edge\r\nContent-Length: 2\r\n\r\n{}")
    assert status == 403
    assert headers["x-cache"] == "Error from cloudfront"
    status, _, _ = _raw(edge, b"GET /hls/b1/720p/live.m3u8 HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n")
    assert status == 200


def test_allowed_methods_still_pass_on_every_behaviour(edge: Edge) -> None:
    for method in ("GET", "POST", "PATCH"):
        assert httpx.request(method, f"{edge.url}/api/users/me").json()["method"] == method
    assert httpx.head(f"{edge.url}/hls/b1/720p/live.m3u8").status_code == 200
    assert httpx.options(f"{edge.url}/hls/b1/720p/live.m3u8").status_code == 204
    assert httpx.head(f"{edge.url}/vod/").status_code == 200


def test_pages_come_from_the_exported_web_app_and_never_from_outside_it(edge: Edge) -> None:
    assert httpx.get(f"{edge.url}/").text == "<h1>home</h1>"
    assert httpx.get(f"{edge.url}/channel").text == "<h1>channel</h1>"
    assert httpx.get(f"{edge.url}/../../etc/passwd").status_code == 404
    assert httpx.get(f"{edge.url}/%2e%2e/%2e%2e/etc/passwd").status_code == 404
    assert httpx.post(f"{edge.url}/hls/b1/720p/live.m3u8").status_code == 403  # GET/HEAD only, as CloudFront


def test_config_json_is_the_runtime_config_and_never_cached(edge: Edge) -> None:
    response = httpx.get(f"{edge.url}/config.json")
    assert response.status_code == 200
    assert response.json() == CONFIG
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    head = httpx.head(f"{edge.url}/config.json?x=1")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == response.headers["content-length"]
    assert httpx.post(f"{edge.url}/config.json").status_code == 403


def test_without_a_config_there_is_no_config_json(tmp_path: Path) -> None:
    server = Edge(("127.0.0.1", 0), None, "bucket", "http://127.0.0.1:9", tmp_path)
    server.serve_in_thread()
    try:
        assert httpx.get(f"{server.url}/config.json").status_code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_exported_pages_are_directory_indexes_revalidated_and_slash_terminated(edge: Edge) -> None:
    page = httpx.get(f"{edge.url}/vod/?id=abc")
    assert page.status_code == 200
    assert page.text == "<h1>vod</h1>"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    redirect = httpx.get(f"{edge.url}/vod?id=abc")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "/vod/?id=abc"
    assert httpx.get(f"{edge.url}/vod", follow_redirects=True).text == "<h1>vod</h1>"
    payload = httpx.get(f"{edge.url}/vod/index.txt")
    assert payload.headers["content-type"] == "text/plain; charset=utf-8"
    head = httpx.head(f"{edge.url}/vod/")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len("<h1>vod</h1>"))
    assert head.content == b""


def test_hashed_assets_are_immutable_with_their_content_types(edge: Edge) -> None:
    script = httpx.get(f"{edge.url}/_next/static/chunks/main-0a1b2c.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == IMMUTABLE
    assert script.headers["x-content-type-options"] == "nosniff"
    style = httpx.get(f"{edge.url}/_next/static/css/0c9d.css")
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    assert style.headers["cache-control"] == IMMUTABLE
    font = httpx.get(f"{edge.url}/_next/static/media/font.woff2")
    assert font.headers["content-type"] == "font/woff2"


def test_missing_pages_get_the_exported_404_page_and_dotfiles_are_not_served(edge: Edge) -> None:
    missing = httpx.get(f"{edge.url}/nope/")
    assert missing.status_code == 404
    assert missing.text == "<h1>not here</h1>"
    assert missing.headers["content-type"] == "text/html; charset=utf-8"
    assert httpx.get(f"{edge.url}/_next/static/chunks/gone.js").status_code == 404
    assert httpx.get(f"{edge.url}/.build.stamp").status_code == 404
    assert httpx.get(f"{edge.url}/vod/%00").status_code == 404


def test_a_client_that_leaves_mid_response_is_not_reported(edge: Edge, capsys: pytest.CaptureFixture[str]) -> None:
    for error in (BrokenPipeError(), ConnectionResetError()):
        try:
            raise error
        except ConnectionError:
            edge.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr().err == ""
    try:
        raise ValueError("a real fault")
    except ValueError:
        edge.handle_error(None, ("127.0.0.1", 1))
    assert "a real fault" in capsys.readouterr().err
