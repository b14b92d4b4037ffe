"""The local edge's cache rule: CloudFront's TTLs, error caching, keys, collapsing and eviction."""

import threading
import time
from collections.abc import Callable

import pytest

from infra.constants import MEDIA_MIN_TTL_SECONDS, PLAYLIST_TTL_SECONDS, SEGMENT_TTL_SECONDS
from localstack.edge_cache import (
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    ERROR_CACHING_MIN_TTL,
    PLAYLIST_POLICY,
    SEGMENT_POLICY,
    CachePolicy,
    EdgeCache,
    Response,
    declared_seconds,
    ttl,
)
from tests.support.clocks import Clock
from workers.ingest.uploader import (
    EVENT_CACHE,
    LIVE_PLAYLIST_CACHE,
    MASTER_CACHE,
    SEGMENT_CACHE,
    THUMBNAIL_CACHE,
)

YEAR = 365 * 24 * 3600
# A policy with a minimum, to see the clamping from below and `no-cache` kept for the minimum.
CLAMPED = CachePolicy("Clamped", min_ttl=5, default_ttl=60, max_ttl=100)


def cc(value: str) -> dict[str, str]:
    return {"Cache-Control": value}


def test_the_media_policies_are_the_cdn_constructs() -> None:
    assert (PLAYLIST_POLICY.min_ttl, PLAYLIST_POLICY.default_ttl, PLAYLIST_POLICY.max_ttl) == (
        MEDIA_MIN_TTL_SECONDS,
        PLAYLIST_TTL_SECONDS,
        PLAYLIST_TTL_SECONDS,
    )
    assert (SEGMENT_POLICY.min_ttl, SEGMENT_POLICY.default_ttl, SEGMENT_POLICY.max_ttl) == (0, YEAR, YEAR)
    assert SEGMENT_TTL_SECONDS == YEAR
    assert (CACHING_OPTIMIZED.min_ttl, CACHING_OPTIMIZED.default_ttl, CACHING_OPTIMIZED.max_ttl) == (1, 86400, YEAR)
    assert not CACHING_DISABLED.caches


def test_what_the_uploader_sends_is_kept_as_cloudfront_keeps_it() -> None:
    assert ttl(PLAYLIST_POLICY, 200, cc(LIVE_PLAYLIST_CACHE)) == 1  # s-maxage=1 over max-age=0
    assert ttl(PLAYLIST_POLICY, 200, cc(MASTER_CACHE)) == 1  # max-age=60 clamped to the max TTL
    assert ttl(PLAYLIST_POLICY, 200, cc(EVENT_CACHE)) == 1  # s-maxage=5 clamped
    assert ttl(SEGMENT_POLICY, 200, cc(SEGMENT_CACHE)) == YEAR
    assert ttl(SEGMENT_POLICY, 200, cc(THUMBNAIL_CACHE)) == 15


def test_s_maxage_wins_over_max_age_which_wins_over_expires() -> None:
    expires = {"Expires": "Thu, 01 Jan 2099 00:00:00 GMT", "Date": "Thu, 01 Jan 2099 00:00:30 GMT"}
    assert ttl(CLAMPED, 200, {"Cache-Control": "max-age=10, s-maxage=20", **expires}) == 20
    assert ttl(CLAMPED, 200, {"Cache-Control": "s-maxage=20, max-age=10"}) == 20
    assert ttl(CLAMPED, 200, {"Cache-Control": "max-age=10", **expires}) == 10
    in_40 = {"Expires": "Thu, 01 Jan 2099 00:00:40 GMT", "Date": "Thu, 01 Jan 2099 00:00:00 GMT"}
    assert ttl(CLAMPED, 200, in_40) == 40
    assert declared_seconds({"Expires": "not a date"}) == 0  # already expired
    assert declared_seconds({"cache-control": "public"}) is None


def test_the_ttl_is_clamped_to_the_policy_and_defaults_without_a_directive() -> None:
    assert ttl(CLAMPED, 200, cc("max-age=1")) == 5  # up to the minimum
    assert ttl(CLAMPED, 200, cc("s-maxage=1000")) == 100  # down to the maximum
    assert ttl(CLAMPED, 200, cc("public")) == 60  # the default
    assert ttl(CLAMPED, 200, {}) == 60
    assert ttl(CachePolicy("MinAboveDefault", 90, 60, 100), 200, {}) == 90  # the greater of min and default
    assert ttl(PLAYLIST_POLICY, 200, cc("max-age=0")) is None  # a TTL of 0: every request to the origin
    assert ttl(CACHING_OPTIMIZED, 200, cc("max-age=0")) == 1


def test_no_store_no_cache_and_private_are_respected_only_with_a_minimum_ttl_of_0() -> None:
    for directive in ("no-store", "no-cache", "private", "public, no-cache, s-maxage=30", 'private="x"'):
        assert ttl(PLAYLIST_POLICY, 200, cc(directive)) is None, directive
        assert ttl(SEGMENT_POLICY, 200, cc(directive)) is None, directive
        assert ttl(CLAMPED, 200, cc(directive)) == 5, directive  # the minimum TTL
        assert ttl(CACHING_OPTIMIZED, 200, cc(directive)) == 1, directive


def test_nothing_is_cached_under_caching_disabled() -> None:
    assert ttl(CACHING_DISABLED, 200, cc("max-age=3600")) is None
    assert ttl(CACHING_DISABLED, 404, {}) is None


def test_redirects_307_and_308_need_a_cache_control_header() -> None:
    assert ttl(CLAMPED, 301, {}) == 60
    assert ttl(CLAMPED, 307, {}) is None
    assert ttl(CLAMPED, 308, cc("max-age=30")) == 30
    assert ttl(CLAMPED, 304, cc("max-age=30")) is None


def test_errors_are_cached_for_the_default_error_caching_minimum_ttl_of_10_s() -> None:
    assert ERROR_CACHING_MIN_TTL == 10
    for status in (404, 405, 410, 414, 500, 501, 502, 503, 504):
        assert ttl(SEGMENT_POLICY, status, {}) == 10, status
        assert ttl(SEGMENT_POLICY, status, cc("max-age=3")) == 10, status  # the greater one
    assert ttl(SEGMENT_POLICY, 404, cc("max-age=30")) == 30
    assert ttl(PLAYLIST_POLICY, 404, cc("max-age=30")) == 10  # capped at the max TTL (1), then the 10 s floor
    # Cached only with max-age or s-maxage: S3 behind OAC answers a missing key with such a 403.
    for status in (400, 403, 412, 415):
        assert ttl(SEGMENT_POLICY, status, {}) is None, status
        assert ttl(SEGMENT_POLICY, status, {"Expires": "Thu, 01 Jan 2099 00:00:00 GMT"}) is None, status
        assert ttl(SEGMENT_POLICY, status, cc("s-maxage=60")) == 60, status
    for status in (401, 409, 416, 429):
        assert ttl(SEGMENT_POLICY, status, cc("max-age=60")) is None, status


def test_no_store_keeps_only_some_errors_out_of_the_cache() -> None:
    for status in (404, 410, 414, 501):
        assert ttl(SEGMENT_POLICY, status, cc("no-store")) is None, status
    for status in (405, 500, 502, 503, 504):
        assert ttl(SEGMENT_POLICY, status, cc("no-cache, no-store, private")) == 10, status
    assert ttl(SEGMENT_POLICY, 403, cc("no-store, max-age=20")) == 20


def test_the_cache_key_is_the_path_and_the_query_strings_the_policy_names() -> None:
    assert PLAYLIST_POLICY.key("/hls/b/720p.m3u8", "v=1") == "/hls/b/720p.m3u8"
    assert PLAYLIST_POLICY.key("/hls/b/720p.m3u8", "v=1") == PLAYLIST_POLICY.key("/hls/b/720p.m3u8", "v=2")
    every = CachePolicy("All", 0, 1, 1, query_strings="all")
    assert every.key("/p", "b=2&a=1") == every.key("/p", "a=1&b=2") == "/p?a=1&b=2"
    assert every.key("/p", "a=1") != every.key("/p", "a=2")
    some = CachePolicy("Some", 0, 1, 1, query_strings=frozenset({"rung"}))
    assert some.key("/p", "rung=720p&cb=123") == some.key("/p", "cb=456&rung=720p") == "/p?rung=720p"
    assert some.key("/p", "cb=1") == "/p"


def _origin(responses: list[Response]) -> tuple[list[int], Callable[[], Response]]:
    calls: list[int] = []

    def origin() -> Response:
        calls.append(1)
        return responses[min(len(calls), len(responses)) - 1]

    return calls, origin


def test_a_live_playlist_is_served_from_the_cache_for_a_second_then_refreshed() -> None:
    clock = Clock()
    cache = EdgeCache(clock=clock)
    versions = [Response(200, cc(LIVE_PLAYLIST_CACHE), f"v{n}".encode()) for n in (1, 2)]
    calls, origin = _origin(versions)
    key = "/hls/b/720p.m3u8"
    response, entry = cache.serve(PLAYLIST_POLICY, key, origin)
    assert (response.body, entry) == (b"v1", None)
    clock.now += 0.999
    response, entry = cache.serve(PLAYLIST_POLICY, key, origin)
    assert response.body == b"v1"
    assert entry is not None
    assert entry.age(clock.now) == 0
    assert len(calls) == 1
    clock.now = 1001.0  # exactly a second after it was stored: expired
    response, entry = cache.serve(PLAYLIST_POLICY, key, origin)
    assert (response.body, entry, len(calls)) == (b"v2", None, 2)


def test_an_object_without_a_ttl_is_not_stored_and_an_uncacheable_answer_drops_the_old_one() -> None:
    clock = Clock()
    cache = EdgeCache(clock=clock)
    calls, origin = _origin([Response(200, cc("max-age=15"), b"a"), Response(200, cc("no-store"), b"b")])
    cache.serve(SEGMENT_POLICY, "/t", origin)
    clock.now += 15
    assert cache.serve(SEGMENT_POLICY, "/t", origin)[0].body == b"b"
    assert cache.serve(SEGMENT_POLICY, "/t", origin)[1] is None
    assert len(calls) == 3
    assert len(cache) == 0


def test_a_missing_object_is_not_cached_as_the_403_s3_answers_it_with() -> None:
    clock = Clock()
    cache = EdgeCache(clock=clock)
    calls, origin = _origin([Response(404, {}, b"not found", cached_as=403), Response(200, cc("max-age=60"), b"x")])
    assert cache.serve(SEGMENT_POLICY, "/s", origin)[0].status == 404
    assert cache.serve(SEGMENT_POLICY, "/s", origin)[0].status == 200
    calls, origin = _origin([Response(503, {}, b"slow down"), Response(200, cc("max-age=60"), b"x")])
    assert cache.serve(SEGMENT_POLICY, "/e", origin)[0].status == 503
    clock.now = 1009.9
    assert cache.serve(SEGMENT_POLICY, "/e", origin)[0].status == 503
    clock.now = 1010.0
    assert cache.serve(SEGMENT_POLICY, "/e", origin)[0].status == 200
    assert len(calls) == 2


def test_an_expired_object_is_served_while_the_origin_fails() -> None:
    clock = Clock()
    cache = EdgeCache(clock=clock)
    answers = [
        Response(200, cc(LIVE_PLAYLIST_CACHE), b"old"),
        Response(502, {}, b"", unreachable=True),
        Response(200, cc(LIVE_PLAYLIST_CACHE), b"new"),
    ]
    calls, origin = _origin(answers)
    cache.serve(PLAYLIST_POLICY, "/p", origin)
    clock.now = 1001.0
    response, entry = cache.serve(PLAYLIST_POLICY, "/p", origin)
    assert (response.body, entry is not None) == (b"old", True)
    clock.now = 1001.0 + ERROR_CACHING_MIN_TTL - 0.01
    assert cache.serve(PLAYLIST_POLICY, "/p", origin)[0].body == b"old"
    clock.now = 1001.0 + ERROR_CACHING_MIN_TTL
    assert cache.serve(PLAYLIST_POLICY, "/p", origin)[0].body == b"new"
    assert len(calls) == 3


def test_simultaneous_misses_make_one_origin_request() -> None:
    cache = EdgeCache()
    started = threading.Event()
    calls: list[int] = []

    def slow_origin() -> Response:
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return Response(200, cc(SEGMENT_CACHE), b"segment")

    bodies: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: bodies.append(cache.serve(SEGMENT_POLICY, "/s", slow_origin)[0].body))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert bodies == [b"segment"] * 8
    assert len(calls) == 1


def test_disabled_caching_asks_the_origin_every_time() -> None:
    cache = EdgeCache()
    calls, origin = _origin([Response(200, cc("max-age=3600"), b"x")])
    for _ in range(3):
        assert cache.serve(CACHING_DISABLED, "/api/x", origin)[1] is None
    assert len(calls) == 3


def test_the_least_recently_used_objects_go_first_beyond_the_byte_budget() -> None:
    cache = EdgeCache(max_bytes=3000)
    headers = cc(SEGMENT_CACHE)
    size = Response(200, headers, b"x" * 1000).size
    assert size < 1100
    for name in ("a", "b"):
        cache.serve(SEGMENT_POLICY, f"/{name}", lambda: Response(200, headers, b"x" * 1000))
    assert cache.fresh("/a") is not None  # now the most recently used
    cache.serve(SEGMENT_POLICY, "/c", lambda: Response(200, headers, b"x" * 1000))
    assert sorted(cache.cached_keys()) == ["/a", "/c"]
    cache.serve(SEGMENT_POLICY, "/huge", lambda: Response(200, headers, b"x" * 5000))
    assert "/huge" not in cache.cached_keys()


@pytest.mark.parametrize(
    ("paths", "left"),
    [
        (["/hls/broadcasts/b1/*"], ["/hls/broadcasts/b2/720p.m3u8"]),
        (["/hls/broadcasts/b1/720p.m3u8"], ["/hls/broadcasts/b1/seg_1.ts", "/hls/broadcasts/b2/720p.m3u8"]),
        (["/*"], []),
    ],
)
def test_invalidation_takes_exact_paths_and_prefixes(paths: list[str], left: list[str]) -> None:
    cache = EdgeCache()
    for key in ("/hls/broadcasts/b1/720p.m3u8", "/hls/broadcasts/b1/seg_1.ts", "/hls/broadcasts/b2/720p.m3u8"):
        cache.serve(SEGMENT_POLICY, key, lambda: Response(200, cc(SEGMENT_CACHE), b"x"))
    cache.invalidate(paths)
    assert sorted(cache.cached_keys()) == left
