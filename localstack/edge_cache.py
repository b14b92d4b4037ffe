"""The local edge's shared cache: what CloudFront keeps, for how long, under which key.

The rules, from the CloudFront Developer Guide:

- "Manage how long content stays in the cache (expiration)" (`Expiration.html`): the object's TTL is
  the origin's `Cache-Control: s-maxage`, else its `max-age`, else its `Expires` date, clamped to
  the cache policy's [minimum TTL, maximum TTL]; with none of them, the default TTL (the greater of
  it and the minimum TTL). `no-cache`, `no-store` or `private` from the origin: not cached when the
  minimum TTL is 0, kept for the minimum TTL otherwise ("If your minimum TTL is greater than 0,
  CloudFront will cache content for at least the duration specified in the cache policy's minimum
  TTL, even if the Cache-Control: no-cache, no-store, or private directives are present", API
  reference, `CachePolicyConfig`). 307 and 308 are cached only with a `Cache-Control` header
  (`http-3xx-status-codes.html`).
- "How CloudFront processes HTTP 4xx and 5xx status codes from your origin" (`HTTPStatusCodes.html`)
  and "Control how long CloudFront caches errors" (`custom-error-pages-expiration.html`): with no
  custom error response configured (the distribution in `infra/constructs/cdn.py` has none),
  errors are cached for the default error caching minimum TTL, 10 s, or for the origin's
  `max-age`/`s-maxage`/`Expires` if longer (capped at the behaviour's maximum TTL). 404, 405, 410,
  414, 500, 501, 502, 503 and 504 are always cached, 400, 403, 412 and 415 only when the origin sends
  `max-age` or `s-maxage`, 416 never, no other status. `no-store`/`no-cache`/`private` keep 404, 410,
  414 and 501 out of the cache; the other codes ignore them. An expired object whose refresh gets a
  5xx (or no answer) is served as it is for the error caching minimum TTL.
- Only GET and HEAD responses are cached ("CloudFront always caches responses to GET and HEAD
  requests"; OPTIONS only when a behaviour is configured to, and none is). The cache key is the
  path plus what the cache policy names: none of this distribution's policies names a query
  string, header or cookie, so `?v=1` and `?v=2` are one object, as they are to CloudFront.
  (Its playlist and web policies also key on the normalized `Accept-Encoding`, for the variants
  CloudFront compresses; the local edge compresses nothing, so there is one variant.)
- Simultaneous misses of one key are collapsed into one origin request; an object requested
  rarely may be evicted before it expires (here: least recently used first, beyond a byte budget).
- Invalidation (`invalidate`): paths as `CreateInvalidation` takes them, exact or ending in `*`.

Stale-while-revalidate/stale-if-error directives are not modelled (no origin here sends them), nor
revalidation with a conditional request: an expired object is fetched again whole (the same
freshness; only the origin's bytes differ).
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Final, Literal

from infra.constants import MEDIA_MIN_TTL_SECONDS, PLAYLIST_TTL_SECONDS, SEGMENT_TTL_SECONDS

# CloudFront's default error caching minimum TTL ("CloudFront caches error responses for a default
# duration of 10 seconds", `custom-error-pages-expiration.html`); `cdn.py` configures no custom
# error response, so it applies to every error code.
ERROR_CACHING_MIN_TTL: Final = 10.0
ALWAYS_CACHED_ERRORS: Final = frozenset({404, 405, 410, 414, 500, 501, 502, 503, 504})
ERRORS_CACHED_WITH_MAX_AGE: Final = frozenset({400, 403, 412, 415})
# Error codes for which the origin's no-store/no-cache/private keeps the error out of the cache.
ERRORS_HONOURING_NO_STORE: Final = frozenset({404, 410, 414, 501})
CACHED_METHODS: Final = frozenset({"GET", "HEAD"})
_REFUSALS: Final = ("no-store", "no-cache", "private")
# What the local edge may keep in memory (segments are cached for a year).
DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024


@dataclass(frozen=True)
class CachePolicy:
    """A CloudFront cache policy as far as the edge needs it: the TTLs (seconds) and the query
    strings in the cache key (`"none"`, `"all"`, or the names allowed)."""

    name: str
    min_ttl: float
    default_ttl: float
    max_ttl: float
    query_strings: Literal["none", "all"] | frozenset[str] = "none"

    @property
    def caches(self) -> bool:
        return self.max_ttl > 0

    def key(self, path: str, query: str = "") -> str:
        """The cache key of `path?query`: the path, and the query strings the policy keys on."""
        if self.query_strings == "none" or not query:
            return path
        pairs = [part for part in query.split("&") if part]
        if self.query_strings != "all":
            allowed = self.query_strings
            pairs = [part for part in pairs if part.partition("=")[0] in allowed]
        # CloudFront keys on the names and values, not on their order.
        return f"{path}?{'&'.join(sorted(pairs))}" if pairs else path


# The distribution's own policies (`infra/constructs/cdn.py`, TTLs from `infra.constants`).
PLAYLIST_POLICY: Final = CachePolicy("PlaylistCache", MEDIA_MIN_TTL_SECONDS, PLAYLIST_TTL_SECONDS, PLAYLIST_TTL_SECONDS)
SEGMENT_POLICY: Final = CachePolicy("SegmentCache", MEDIA_MIN_TTL_SECONDS, SEGMENT_TTL_SECONDS, SEGMENT_TTL_SECONDS)
# AWS's managed policies the distribution uses ("Use managed cache policies"): the web app's
# default behaviour and `/api/*`.
CACHING_OPTIMIZED: Final = CachePolicy("Managed-CachingOptimized", 1, 86400, 31536000)
CACHING_DISABLED: Final = CachePolicy("Managed-CachingDisabled", 0, 0, 0)


def cache_control(value: str | None) -> dict[str, str | None]:
    """`Cache-Control` directives, lower-cased names, unquoted values."""
    directives: dict[str, str | None] = {}
    for part in (value or "").split(","):
        name, sep, argument = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = argument.strip().strip('"') if sep else None
    return directives


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(int(value or "")))
    except ValueError:
        return None


def declared_seconds(headers: Mapping[str, str], wall_now: float | None = None) -> float | None:
    """How long the origin says a shared cache may keep the response: `s-maxage`, else `max-age`,
    else `Expires` (against the response's `Date`, or the wall clock); None when it says nothing."""
    directives = cache_control(_header(headers, "Cache-Control"))
    for name in ("s-maxage", "max-age"):
        if name in directives and (seconds := _seconds(directives[name])) is not None:
            return seconds
    expires = _header(headers, "Expires")
    if expires is None:
        return None
    try:
        until = parsedate_to_datetime(expires).timestamp()
    except (TypeError, ValueError):
        return 0.0  # an invalid date means "already expired" (RFC 9111 §5.3)
    date = _header(headers, "Date")
    try:
        now = parsedate_to_datetime(date).timestamp() if date else (wall_now or time.time())
    except (TypeError, ValueError):
        now = wall_now or time.time()
    return max(0.0, until - now)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def ttl(policy: CachePolicy, status: int, headers: Mapping[str, str], wall_now: float | None = None) -> float | None:
    """Seconds CloudFront keeps a GET/HEAD response of `status` with `headers` under `policy`;
    None when it is not stored (a TTL of 0 is not stored either: every request goes to the origin)."""
    if not policy.caches:
        return None
    directives = cache_control(_header(headers, "Cache-Control"))
    refused = any(name in directives for name in _REFUSALS)
    declared = declared_seconds(headers, wall_now)
    if status >= 400:
        if status in ERRORS_CACHED_WITH_MAX_AGE:
            if "max-age" not in directives and "s-maxage" not in directives:
                return None
        elif status not in ALWAYS_CACHED_ERRORS:
            return None
        if refused and status in ERRORS_HONOURING_NO_STORE:
            return None
        if declared is None:
            return ERROR_CACHING_MIN_TTL
        return max(min(declared, policy.max_ttl), ERROR_CACHING_MIN_TTL)
    if status == 304:
        return None
    if status in (307, 308) and _header(headers, "Cache-Control") is None:
        return None
    if refused:
        return policy.min_ttl or None
    if declared is None:
        seconds = max(policy.min_ttl, policy.default_ttl)
    else:
        seconds = min(max(declared, policy.min_ttl), policy.max_ttl)
    return seconds or None


@dataclass(frozen=True)
class Response:
    """A whole origin response. `cached_as`: the status CloudFront's caching would see, when the
    local origin answers differently from the AWS one (a missing key: the local S3 says 404, S3
    behind OAC without `s3:ListBucket` says 403). `unreachable`: no answer from the origin."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    cached_as: int | None = None
    unreachable: bool = False

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers.items())


@dataclass
class Entry:
    response: Response
    stored_at: float  # the cache's clock
    expires_at: float

    def age(self, now: float) -> int:
        return max(0, int(now - self.stored_at))


@dataclass
class _Fill:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class EdgeCache:
    """The edge's cache: `serve(policy, key, origin)` answers from a fresh entry or asks `origin`
    once (concurrent misses of the key wait for it) and stores the answer for its TTL.

    `clock` is monotonic seconds (a test moves it by hand); `wall_clock` dates `Expires`."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.clock = clock
        self.wall_clock = wall_clock
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._fills: dict[str, _Fill] = {}
        self.hits = 0  # requests answered from a fresh (or, the origin failing, an expired) entry
        self.origin_requests = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def cached_keys(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def fresh(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self.clock() >= entry.expires_at:
                return None
            self._entries.move_to_end(key)
            return entry

    def serve(self, policy: CachePolicy, key: str, origin: Callable[[], Response]) -> tuple[Response, Entry | None]:
        """The response for `key` and, when it came from the cache, its entry (None: a miss)."""
        if not policy.caches:
            return self._ask(origin), None
        if (entry := self.fresh(key)) is not None:
            self.hits += 1
            return entry.response, entry
        fill = self._join(key)
        try:
            with fill.lock:  # request collapsing: one origin request per key at a time
                if (entry := self.fresh(key)) is not None:
                    self.hits += 1
                    return entry.response, entry
                response = self._ask(origin)
                now = self.clock()
                stale = self._stale(key)
                if stale is not None and (response.unreachable or (response.cached_as or response.status) >= 500):
                    # The expired object, rather than the origin's 5xx, for the error caching minimum TTL.
                    stale.expires_at = now + ERROR_CACHING_MIN_TTL
                    self.hits += 1
                    return stale.response, stale
                seconds = None if response.unreachable else self.ttl_of(policy, response)
                if seconds is None:
                    self._drop(key)
                else:
                    self._store(key, Entry(response, now, now + seconds))
                return response, None
        finally:
            self._leave(key)

    def ttl_of(self, policy: CachePolicy, response: Response) -> float | None:
        return ttl(policy, response.cached_as or response.status, response.headers, self.wall_clock())

    def invalidate(self, paths: Iterable[str]) -> int:
        """Drop what `paths` name (`/a/b` exactly, `/a/*` everything under `/a/`, query strings
        included); how many entries went."""
        exact: set[str] = set()
        prefixes: list[str] = []
        for path in paths:
            if path.endswith("*"):
                prefixes.append(path[:-1])
            else:
                exact.add(path)
        with self._lock:
            doomed = [
                key
                for key in self._entries
                if key.partition("?")[0] in exact or any(key.startswith(prefix) for prefix in prefixes)
            ]
            for key in doomed:
                self._remove(key)
        return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    # --- internals -------------------------------------------------------------------------
    def _ask(self, origin: Callable[[], Response]) -> Response:
        self.origin_requests += 1
        return origin()

    def _join(self, key: str) -> _Fill:
        with self._lock:
            fill = self._fills.setdefault(key, _Fill())
            fill.users += 1
            return fill

    def _leave(self, key: str) -> None:
        with self._lock:
            fill = self._fills[key]
            fill.users -= 1
            if not fill.users:
                del self._fills[key]

    def _stale(self, key: str) -> Entry | None:
        with self._lock:
            return self._entries.get(key)

    def _drop(self, key: str) -> None:
        with self._lock:
            if key in self._entries:
                self._remove(key)

    def _store(self, key: str, entry: Entry) -> None:
        with self._lock:
            if key in self._entries:
                self._remove(key)
            if entry.response.size > self.max_bytes:
                return
            self._entries[key] = entry
            self._bytes += entry.response.size
            while self._bytes > self.max_bytes:  # least recently used first
                self._remove(next(iter(self._entries)))

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.response.size
