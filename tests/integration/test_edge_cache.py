"""The local edge caching as the distribution does, over real HTTP, moto S3 and a hand-moved clock."""

import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from localstack.edge import DELETION_POLL_SECONDS, ENV_EDGE_CACHE, Edge
from tests.integration.conftest import MEDIA_BUCKET, REGION
from tests.support.clocks import Clock
from tests.support.edges import serving_edge
from workers.ingest.uploader import LIVE_PLAYLIST_CACHE, MASTER_CACHE, SEGMENT_CACHE, THUMBNAIL_CACHE

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PLAYLIST = "hls/broadcasts/b1/720p.m3u8"
SEGMENT = "hls/broadcasts/b1/720p_00001.ts"
SEGMENT_BYTES = bytes(range(256)) * 8
HIT, MISS = "Hit from cloudfront", "Miss from cloudfront"


class CountingApi(BaseHTTPRequestHandler):
    """The HTTP API: counts what reaches it, says it may be cached (CachingDisabled ignores that)."""

    seen = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen += 1
        body = str(type(self).seen).encode()
        self.send_response(200)
        self.send_header("Cache-Control", "public, max-age=3600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def put(s3: "S3Client", key: str, body: bytes, cache_control: str, content_type: str = "video/mp2t") -> None:
    s3.put_object(Bucket=MEDIA_BUCKET, Key=key, Body=body, ContentType=content_type, CacheControl=cache_control)


def put_playlist(s3: "S3Client", body: str, key: str = PLAYLIST, cache_control: str = LIVE_PLAYLIST_CACHE) -> None:
    put(s3, key, body.encode(), cache_control, "application/vnd.apple.mpegurl")


@pytest.fixture
def clock() -> Clock:
    return Clock(5000.0)


@pytest.fixture
def web(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    (root / "vod").mkdir(parents=True)
    (root / "vod" / "index.html").write_text("<h1>vod v1</h1>")
    (root / "404.html").write_text("<h1>not here</h1>")
    return root


def _edge(web: Path, clock: Callable[[], float], **options: Any) -> Iterator[Edge]:
    CountingApi.seen = 0
    with serving_edge(
        CountingApi, web, MEDIA_BUCKET, REGION, config={"websocket_url": "ws://x"}, clock=clock, **options
    ) as server:
        yield server


@pytest.fixture
def edge(media_bucket: str, web: Path, clock: Clock) -> Iterator[Edge]:
    """Caching; deleted broadcasts invalidated when the test says (`forget_deleted_broadcasts`)."""
    yield from _edge(web, clock, deletion_poll_seconds=None)


@pytest.fixture
def uncached(media_bucket: str, web: Path, clock: Clock) -> Iterator[Edge]:
    yield from _edge(web, clock, cache=False)


@pytest.fixture
def watching(media_bucket: str, web: Path) -> Iterator[Edge]:
    """Caching on the real clock, looking for deleted broadcasts every second as `make dev`'s edge."""
    yield from _edge(web, time.monotonic)


def test_a_live_playlist_comes_from_the_cache_for_one_second_then_is_refreshed(
    edge: Edge, s3: "S3Client", clock: Clock
) -> None:
    put_playlist(s3, "#EXTM3U\n#v1\n")
    url = f"{edge.url}/{PLAYLIST}"
    first = httpx.get(url)
    assert (first.text, first.headers["x-cache"]) == ("#EXTM3U\n#v1\n", MISS)
    assert first.headers["cache-control"] == LIVE_PLAYLIST_CACHE  # passed on as the origin sent it
    assert "age" not in first.headers
    put_playlist(s3, "#EXTM3U\n#v2\n")  # the next segment listed, within CloudFront's second
    clock.now = 5000.99
    cached = httpx.get(url)
    assert (cached.text, cached.headers["x-cache"], cached.headers["age"]) == ("#EXTM3U\n#v1\n", HIT, "0")
    assert cached.headers["access-control-allow-origin"] == "*"
    clock.now = 5001.0
    refreshed = httpx.get(url)
    assert (refreshed.text, refreshed.headers["x-cache"]) == ("#EXTM3U\n#v2\n", MISS)


def test_without_the_cache_every_request_reaches_the_origin(uncached: Edge, s3: "S3Client") -> None:
    assert not uncached.caching
    put_playlist(s3, "#EXTM3U\n#v1\n")
    url = f"{uncached.url}/{PLAYLIST}"
    assert httpx.get(url).text == "#EXTM3U\n#v1\n"
    put_playlist(s3, "#EXTM3U\n#v2\n")
    response = httpx.get(url)
    assert (response.text, response.headers["x-cache"]) == ("#EXTM3U\n#v2\n", MISS)
    assert uncached.cache.origin_requests == 0  # not even asked


def test_caching_can_be_switched_at_run_time_and_from_the_environment(
    edge: Edge, s3: "S3Client", monkeypatch: pytest.MonkeyPatch
) -> None:
    put_playlist(s3, "#EXTM3U\n#v1\n")
    url = f"{edge.url}/{PLAYLIST}"
    httpx.get(url)
    put_playlist(s3, "#EXTM3U\n#v2\n")
    assert httpx.get(url).text == "#EXTM3U\n#v1\n"
    edge.caching = False
    assert httpx.get(url).text == "#EXTM3U\n#v2\n"
    edge.caching = True
    assert httpx.get(url).headers["x-cache"] == MISS  # what it held was forgotten
    for value, caching in (("0", False), ("off", False), ("1", True)):
        monkeypatch.setenv(ENV_EDGE_CACHE, value)
        assert Edge(("127.0.0.1", 0), None, "b", "http://127.0.0.1:9").caching is caching
    assert Edge(("127.0.0.1", 0), None, "b", "http://127.0.0.1:9", cache=True).caching


def test_s_maxage_max_age_and_the_policies_clamps(edge: Edge, s3: "S3Client", clock: Clock) -> None:
    master = "hls/broadcasts/b1/master.m3u8"
    thumbnail = "hls/broadcasts/b1/thumbnail.jpg"
    put_playlist(s3, "m1", key=master, cache_control=MASTER_CACHE)  # max-age=60, clamped to 1 s
    put(s3, thumbnail, b"\xff\xd8one", THUMBNAIL_CACHE, "image/jpeg")  # max-age=15, honoured (min TTL 0)
    put(s3, SEGMENT, SEGMENT_BYTES, SEGMENT_CACHE)  # a year
    for key in (master, thumbnail, SEGMENT):
        assert httpx.get(f"{edge.url}/{key}").headers["x-cache"] == MISS
    put_playlist(s3, "m2", key=master, cache_control=MASTER_CACHE)
    put(s3, thumbnail, b"\xff\xd8two", THUMBNAIL_CACHE, "image/jpeg")
    clock.now = 5001.0
    assert httpx.get(f"{edge.url}/{master}").text == "m2"
    assert httpx.get(f"{edge.url}/{thumbnail}").content == b"\xff\xd8one"
    clock.now = 5014.99
    assert httpx.get(f"{edge.url}/{thumbnail}").headers["age"] == "14"
    clock.now = 5015.0
    assert httpx.get(f"{edge.url}/{thumbnail}").content == b"\xff\xd8two"
    clock.now = 5000.0 + 364 * 24 * 3600
    assert httpx.get(f"{edge.url}/{SEGMENT}").headers["x-cache"] == HIT


def test_no_store_is_not_cached_under_a_minimum_ttl_of_0(edge: Edge, s3: "S3Client") -> None:
    put_playlist(s3, "a", cache_control="no-store")
    url = f"{edge.url}/{PLAYLIST}"
    httpx.get(url)
    put_playlist(s3, "b", cache_control="no-store")
    assert httpx.get(url).text == "b"
    assert len(edge.cache) == 0


def test_the_query_string_is_not_in_the_cache_key(edge: Edge, s3: "S3Client") -> None:
    put_playlist(s3, "#EXTM3U\n#v1\n")
    assert httpx.get(f"{edge.url}/{PLAYLIST}?v=1").headers["x-cache"] == MISS
    put_playlist(s3, "#EXTM3U\n#v2\n")
    other = httpx.get(f"{edge.url}/{PLAYLIST}?v=2&cb=9")
    assert (other.text, other.headers["x-cache"]) == ("#EXTM3U\n#v1\n", HIT)
    assert edge.cache.cached_keys() == [f"/{PLAYLIST}"]


def test_head_fills_the_cache_and_get_and_head_share_it(edge: Edge, s3: "S3Client") -> None:
    put(s3, SEGMENT, SEGMENT_BYTES, SEGMENT_CACHE)
    head = httpx.head(f"{edge.url}/{SEGMENT}")
    assert (head.status_code, head.content, head.headers["x-cache"]) == (200, b"", MISS)
    assert head.headers["content-length"] == str(len(SEGMENT_BYTES))
    get = httpx.get(f"{edge.url}/{SEGMENT}")
    assert (get.content, get.headers["x-cache"]) == (SEGMENT_BYTES, HIT)
    assert edge.cache.origin_requests == 1


def test_ranges_and_conditional_requests_are_answered_from_the_cache(edge: Edge, s3: "S3Client") -> None:
    put(s3, SEGMENT, SEGMENT_BYTES, SEGMENT_CACHE)
    url = f"{edge.url}/{SEGMENT}"
    etag = httpx.get(url).headers["etag"]
    ranged = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert (ranged.status_code, ranged.content, ranged.headers["x-cache"]) == (206, SEGMENT_BYTES[10:20], HIT)
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(SEGMENT_BYTES)}"
    assert httpx.get(url, headers={"Range": "bytes=-5"}).content == SEGMENT_BYTES[-5:]
    assert httpx.get(url, headers={"Range": "bytes=2040-"}).content == SEGMENT_BYTES[2040:]
    assert httpx.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200  # several: all of it
    unsatisfiable = httpx.get(url, headers={"Range": f"bytes={len(SEGMENT_BYTES)}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{len(SEGMENT_BYTES)}"
    not_modified = httpx.get(url, headers={"If-None-Match": etag})
    assert (not_modified.status_code, not_modified.headers["etag"]) == (304, etag)
    assert not_modified.headers["cache-control"] == SEGMENT_CACHE
    assert httpx.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    last_modified = httpx.get(url).headers["last-modified"]
    assert httpx.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    assert edge.cache.origin_requests == 1


def test_a_missing_object_is_not_cached(edge: Edge, s3: "S3Client") -> None:
    url = f"{edge.url}/{PLAYLIST}"
    missing = httpx.get(url)  # the player asking before the first segment is listed
    assert (missing.status_code, missing.headers["x-cache"]) == (404, "Error from cloudfront")
    put_playlist(s3, "#EXTM3U\n")
    assert httpx.get(url).status_code == 200


def test_the_api_is_never_cached(edge: Edge) -> None:
    answers = [httpx.get(f"{edge.url}/api/streams/live").text for _ in range(3)]
    assert answers == ["1", "2", "3"]
    assert len(edge.cache) == 0


def test_the_web_app_is_kept_for_cachingoptimizeds_minimum_of_a_second(edge: Edge, web: Path, clock: Clock) -> None:
    page = httpx.get(f"{edge.url}/vod/?id=1")
    assert (page.text, page.headers["cache-control"], page.headers["x-cache"]) == ("<h1>vod v1</h1>", "no-cache", MISS)
    (web / "vod" / "index.html").write_text("<h1>vod v2</h1>")
    again = httpx.get(f"{edge.url}/vod/index.html")  # the same object the function names
    assert (again.text, again.headers["x-cache"]) == ("<h1>vod v1</h1>", HIT)
    redirect = httpx.get(f"{edge.url}/vod?id=1")  # the viewer-request function's, never cached
    assert (redirect.status_code, redirect.headers["location"]) == (301, "/vod/?id=1")
    config = httpx.get(f"{edge.url}/config.json")
    assert (config.headers["cache-control"], config.headers["x-cache"]) == ("no-store", MISS)
    assert httpx.get(f"{edge.url}/config.json").headers["x-cache"] == HIT
    assert httpx.get(f"{edge.url}/nope/").status_code == 404  # a missing page: not cached
    clock.now += 1
    assert httpx.get(f"{edge.url}/vod/").text == "<h1>vod v2</h1>"
    assert sorted(edge.cache.cached_keys()) == ["/config.json", "/vod/index.html"]


def test_a_deleted_broadcast_is_invalidated_as_the_vod_media_consumer_does(edge: Edge, s3: "S3Client") -> None:
    other = "hls/broadcasts/b2/720p.m3u8"
    put(s3, SEGMENT, SEGMENT_BYTES, SEGMENT_CACHE)
    put_playlist(s3, "#EXTM3U\n", key=other)
    for key in (SEGMENT, other):
        assert httpx.get(f"{edge.url}/{key}").status_code == 200
    assert edge.forget_deleted_broadcasts() == 0
    s3.delete_object(Bucket=MEDIA_BUCKET, Key=SEGMENT)
    assert httpx.get(f"{edge.url}/{SEGMENT}").headers["x-cache"] == HIT  # until the invalidation
    assert edge.forget_deleted_broadcasts() == 1
    assert httpx.get(f"{edge.url}/{SEGMENT}").status_code == 404
    assert httpx.get(f"{edge.url}/{other}").headers["x-cache"] == HIT


def test_the_edge_invalidates_a_deleted_broadcast_by_itself(watching: Edge, s3: "S3Client") -> None:
    put(s3, SEGMENT, SEGMENT_BYTES, SEGMENT_CACHE)
    assert httpx.get(f"{watching.url}/{SEGMENT}").status_code == 200
    assert httpx.get(f"{watching.url}/{SEGMENT}").headers["x-cache"] == HIT
    s3.delete_object(Bucket=MEDIA_BUCKET, Key=SEGMENT)
    deadline = time.monotonic() + 10 * DELETION_POLL_SECONDS
    while httpx.get(f"{watching.url}/{SEGMENT}").status_code != 404:
        assert time.monotonic() < deadline, "the edge kept serving a deleted broadcast's segment"
        time.sleep(0.1)
