"""The local stand-in for the CloudFront distribution: one origin for the whole platform.

- `/hls/<path>` → the media bucket's object `hls/<path>` (the key layout CloudFront serves in
  AWS), with the object's own `Content-Type`, `Cache-Control` and `Content-Disposition`
  (segments immutable for a year, live playlists `max-age=0, s-maxage=1`), byte ranges,
  ETag/conditional GETs and CORS, as CloudFront's cache and response-headers policies do.
- `/api/<path>` → the HTTP API's `/<path>`: method, body, headers and cookies pass through, no
  caching, as the `/api/*` behaviour does. As its viewer-request function and origin headers do,
  the edge sends the client's address in `VIEWER_ADDRESS_HEADER` and the origin-verify secret in
  `ORIGIN_VERIFY_HEADER`, replacing whatever the client sent under those names.
- `/config.json` → the web app's runtime config (the chat WebSocket URL, the RTMP ingest URL),
  `no-store` (which the web app's CachingOptimized policy overrides with its 1 s minimum TTL); in
  AWS the deployment writes the same file into the web bucket.
- anything else → the statically exported web app (`web/out`), when it has been built: a
  directory's `index.html` (`/channel/?u=x` → `channel/index.html`; `/channel` redirects to
  `/channel/`), the export's `404.html` for what is missing, hashed assets (`/_next/static/`)
  cached for a year as immutable, everything else revalidated (`no-cache`).

Caching, as the distribution's cache policies do (`localstack/edge_cache.py` has the rules): the
edge keeps what CloudFront would keep, for as long (live playlists 1 s, segments a year, a live
thumbnail its 15 s, the web app's files at least the managed CachingOptimized policy's 1 s minimum,
`/api/*` nothing), answers byte ranges and conditional requests from what it keeps, and says so in
`X-Cache` (`Hit`/`Miss`/`Error from cloudfront`) and `Age`. `Edge(cache=False)`, or
`LETSLIVE_EDGE_CACHE=0` in the environment, turns it off (every request goes to the origin), to
compare. In AWS the VOD media consumer invalidates `/hls/broadcasts/<id>/*` once it has deleted a
VOD's objects; here no CloudFront API reaches the edge, so the edge notices that a cached broadcast's
prefix has emptied (one listing per cached broadcast per second) and invalidates it itself.

Methods are refused as the distribution's cache behaviours refuse them (`infra/constructs/cdn.py`):
`/api/*` allows GET, HEAD, OPTIONS, PUT, PATCH, POST and DELETE; the media and the web app GET and
HEAD (the media's CORS preflight is answered too). Any other HTTP method (TRACE, CONNECT, a POST to
a page) gets CloudFront's 403 "not configured to allow the HTTP request method" page, a GET with a
body 403 too, and a token that is no HTTP method at all 400, never a 501.
"""

import json
import mimetypes
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final, Literal

from letslive.constants import ENV_PREFIX, MEDIA_PREFIX, ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from letslive.models.streams import BROADCASTS_MEDIA_DIR
from localstack.edge_cache import (
    CACHING_OPTIMIZED,
    DEFAULT_MAX_BYTES,
    PLAYLIST_POLICY,
    SEGMENT_POLICY,
    CachePolicy,
    EdgeCache,
    Entry,
    Response,
)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, If-None-Match, If-Modified-Since",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, ETag, Age",
    "Access-Control-Max-Age": "86400",
}
# Hop-by-hop headers (RFC 9110 §7.6.1) and what the proxy sets itself.
_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}
# What the distribution itself sends to the API origin: a client's own value never passes.
_EDGE_HEADERS = {VIEWER_ADDRESS_HEADER, ORIGIN_VERIFY_HEADER}
_MAX_API_BODY = 1024 * 1024
# What CloudFront's AllowedMethods.ALLOW_ALL forwards on `/api/*`; TRACE and CONNECT it never does.
API_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"})
# The methods HTTP defines (RFC 9110 §9, RFC 5789): one a behaviour does not allow is CloudFront's
# 403; any other token is refused before a behaviour is chosen, with a 400.
HTTP_METHODS = API_METHODS | {"TRACE", "CONNECT"}
_METHOD_NOT_ALLOWED = (
    "This distribution is not configured to allow the HTTP request method that was used for this request. "
    "The distribution supports only cachable requests."
)
_GET_WITH_BODY = "A GET request with a body is not allowed."
_BAD_REQUEST = "Bad request."
CONFIG_PATH = "/config.json"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# `0`, `false`, `no` or `off`: an edge built without an explicit `cache=` caches nothing.
ENV_EDGE_CACHE: Final = f"{ENV_PREFIX}EDGE_CACHE"
# How often the edge looks for cached broadcasts whose objects are all gone (the stand-in for the
# VOD media consumer's invalidation).
DELETION_POLL_SECONDS: Final = 1.0
# S3 behind OAC, allowed `s3:GetObject` only, answers 403 for a key that does not exist (the local
# S3 says 404); CloudFront caches a 403 only when the origin sends max-age (S3 does not).
MISSING_OBJECT_STATUS: Final = HTTPStatus.FORBIDDEN


@dataclass(frozen=True)
class Behaviour:
    """A cache behaviour of the distribution: its path pattern, cache policy and whether its
    response-headers policy adds CORS."""

    pattern: str
    policy: CachePolicy
    cors: bool


PLAYLISTS = Behaviour(f"/{MEDIA_PREFIX}/*.m3u8", PLAYLIST_POLICY, cors=True)
MEDIA = Behaviour(f"/{MEDIA_PREFIX}/*", SEGMENT_POLICY, cors=True)
WEB = Behaviour("*", CACHING_OPTIMIZED, cors=False)


def caching_from_environment() -> bool:
    return os.environ.get(ENV_EDGE_CACHE, "1").strip().lower() not in ("0", "false", "no", "off")


# Content types by suffix, independent of the host's mime.types (which may lack some or differ).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
}


class EdgeHandler(BaseHTTPRequestHandler):
    server: "Edge"
    protocol_version = "HTTP/1.1"
    error_content_type = "text/plain"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- routing -------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.headers.get("Content-Length", "0").strip() not in ("", "0") or "Transfer-Encoding" in self.headers:
            self._cloudfront_error(HTTPStatus.FORBIDDEN, _GET_WITH_BODY)
            return
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_OPTIONS(self) -> None:
        if self.path.startswith("/api/"):
            self._proxy()
        elif self.path.startswith(f"/{MEDIA_PREFIX}/"):
            self._reply(HTTPStatus.NO_CONTENT, {**CORS_HEADERS, "Content-Length": "0"})
        else:
            self._refuse_method()

    def do_POST(self) -> None:
        self._only_api()

    def do_PUT(self) -> None:
        self._only_api()

    def do_PATCH(self) -> None:
        self._only_api()

    def do_DELETE(self) -> None:
        self._only_api()

    def _only_api(self) -> None:
        if self.path.startswith("/api/"):
            self._proxy()
        else:
            self._refuse_method()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The base class answers a method without a `do_<METHOD>` (TRACE, CONNECT, any token)
        # with 501; CloudFront refuses it instead.
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            self._refuse_method()
            return
        super().send_error(code, message, explain)

    def _refuse_method(self) -> None:
        if self.command in HTTP_METHODS:
            self._cloudfront_error(HTTPStatus.FORBIDDEN, _METHOD_NOT_ALLOWED)
        else:
            self._cloudfront_error(HTTPStatus.BAD_REQUEST, _BAD_REQUEST)

    def _route(self, head: bool) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith(f"/{MEDIA_PREFIX}/"):
            behaviour = PLAYLISTS if path.endswith(".m3u8") else MEDIA
            self._cached(behaviour, path, query, head, lambda: self._media(path.removeprefix("/")))
        elif path.startswith("/api/"):
            self._proxy()  # CachingDisabled: never through the cache
        elif path == CONFIG_PATH and self.server.config is not None:
            self._cached(WEB, path, query, head, self._config)
        else:
            self._static(path, query, head)

    # --- the cache ---------------------------------------------------------------------------
    def _cached(self, behaviour: Behaviour, path: str, query: str, head: bool, origin: Callable[[], Response]) -> None:
        """Answers a GET or HEAD of `behaviour` from the edge's cache, or from `origin`."""
        edge = self.server
        if edge.caching:
            response, entry = edge.cache.serve(behaviour.policy, behaviour.policy.key(path, query), origin)
        else:
            response, entry = origin(), None
        self._send(response, head, behaviour.cors, entry)

    def _send(self, response: Response, head: bool, cors: bool, entry: Entry | None) -> None:
        """A stored (or just fetched) whole response, as the viewer asked for it: a 304 for a
        matching validator, a byte range, or all of it."""
        status, headers, body = response.status, dict(response.headers), response.body
        if status == HTTPStatus.OK:
            if self._not_modified(headers):
                status, body = HTTPStatus.NOT_MODIFIED, b""
                kept = ("ETag", "Cache-Control", "Last-Modified", "Expires")
                headers = {name: value for name, value in headers.items() if name in kept}
            elif (wanted := _byte_range(self.headers.get("Range"), len(body))) is not None:
                if not isinstance(wanted, tuple):
                    headers = {**_TEXT, "Content-Range": f"bytes */{len(body)}"}
                    status, body = HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"range not satisfiable"
                else:
                    first, last = wanted
                    headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
                    status, body = HTTPStatus.PARTIAL_CONTENT, body[first : last + 1]
        if status >= HTTPStatus.BAD_REQUEST:
            headers["X-Cache"] = "Error from cloudfront"
        else:
            headers["X-Cache"] = "Hit from cloudfront" if entry is not None else "Miss from cloudfront"
        if entry is not None:
            headers["Age"] = str(entry.age(self.server.cache.clock()))
        # 304: no body, as before (a length of 0 that no client reads as the object's).
        self._reply(HTTPStatus(status), {**(CORS_HEADERS if cors else {}), **headers, "Content-Length": str(len(body))})
        if not head and body:
            self.wfile.write(body)

    def _not_modified(self, headers: dict[str, str]) -> bool:
        """RFC 9110 §13.1.2 and §13.1.3: If-None-Match (weak comparison), else If-Modified-Since."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            etag = headers.get("ETag", "").removeprefix("W/")
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return bool(etag) and (etag in tags or "*" in tags)
        since, modified = self.headers.get("If-Modified-Since"), headers.get("Last-Modified")
        if since is None or modified is None:
            return False
        try:
            return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False

    # --- /config.json ------------------------------------------------------------------------
    def _config(self) -> Response:
        data = json.dumps(self.server.config).encode()
        return Response(HTTPStatus.OK, {"Content-Type": "application/json", "Cache-Control": "no-store"}, data)

    # --- /hls/* from S3 --------------------------------------------------------------------
    def _media(self, key: str) -> Response:
        """The whole object (a HEAD or a range is answered from it, as from CloudFront's cache)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            obj = self.server.s3.get_object(Bucket=self.server.bucket, Key=key)
            body = obj["Body"]
            try:
                data = body.read()
            finally:
                body.close()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 502))
            if status in (HTTPStatus.NOT_FOUND, HTTPStatus.FORBIDDEN) or error.get("Code") in ("NoSuchKey", "404"):
                # CloudFront with OAC answers 403 for a missing key; a player only needs "not there".
                return _text(HTTPStatus.NOT_FOUND, "not found", cached_as=MISSING_OBJECT_STATUS)
            return _text(HTTPStatus.BAD_GATEWAY, "origin error", cached_as=status)
        except BotoCoreError:
            return Response(HTTPStatus.BAD_GATEWAY, dict(_TEXT), b"origin error", unreachable=True)
        headers = {
            "Content-Type": obj.get("ContentType") or "application/octet-stream",
            "ETag": obj.get("ETag", ""),
            "Accept-Ranges": "bytes",
        }
        if obj.get("CacheControl"):
            headers["Cache-Control"] = obj["CacheControl"]
        if obj.get("ContentDisposition"):  # a clip's MP4 is saved, not played in the tab
            headers["Content-Disposition"] = obj["ContentDisposition"]
        if obj.get("LastModified"):
            headers["Last-Modified"] = obj["LastModified"].strftime("%a, %d %b %Y %H:%M:%S GMT")
        return Response(HTTPStatus.OK, headers, data)

    # --- /api/* to the HTTP API --------------------------------------------------------------
    def _proxy(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_API_BODY:
            self._text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
            return
        body = self.rfile.read(length) if length else None
        target = self.server.api_url + self.path.removeprefix("/api")
        request = urllib.request.Request(target, data=body, method=self.command)  # noqa: S310
        for name, value in self.headers.items():
            if name.lower() not in _NOT_FORWARDED | _EDGE_HEADERS:
                request.add_header(name, value)
        request.add_header(VIEWER_ADDRESS_HEADER, self.client_address[0])
        if self.server.origin_verify:
            request.add_header(ORIGIN_VERIFY_HEADER, self.server.origin_verify)
        try:
            response = urllib.request.urlopen(request, timeout=60)  # noqa: S310
        except urllib.error.HTTPError as error:
            response = error
        except OSError:
            self._text(HTTPStatus.BAD_GATEWAY, "the API did not answer")
            return
        with response:
            payload = response.read()
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() not in _NOT_FORWARDED:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    # --- the web app -------------------------------------------------------------------------
    def _static(self, path: str, query: str, head: bool) -> None:
        root = self.server.web_root
        if root is None or not root.is_dir():
            self._text(HTTPStatus.NOT_FOUND, "the web app is not built")
            return
        # The viewer-request function's part (`infra/constructs/cloudfront/web_request.js`), before
        # the cache: the redirect to a page's canonical address, and a folder's `index.html` as the
        # object (and cache key) a slash-terminated address names.
        candidate = self._candidate(root.resolve(), path)
        if candidate is not None and not path.endswith("/") and (candidate / "index.html").is_file():
            # `trailingSlash: true`: the page's canonical address ends with a slash.
            location = path + "/" + (f"?{query}" if query else "")
            self._reply(HTTPStatus.MOVED_PERMANENTLY, {"Location": location, "Content-Length": "0"})
            return
        key = path + "index.html" if path.endswith("/") else path
        self._cached(WEB, key, query, head, lambda: self._web_object(root.resolve(), path))

    @staticmethod
    def _candidate(base: Path, path: str) -> Path | None:
        """The export's file or folder `path` names; None outside the export, for dotfiles (build
        stamps and the like) and for what cannot be a path (e.g. an encoded NUL byte)."""
        relative = urllib.parse.unquote(path).lstrip("/")
        try:
            candidate = (base / relative).resolve()
        except (ValueError, OSError):
            return None
        if not candidate.is_relative_to(base) or any(part.startswith(".") for part in Path(relative).parts):
            return None
        return candidate

    def _web_object(self, base: Path, path: str) -> Response:
        candidate = self._candidate(base, path)
        if candidate is not None:
            for option in (candidate / "index.html", candidate, candidate.with_name(candidate.name + ".html")):
                if option.is_file():
                    return _file(option, HTTPStatus.OK, immutable=path.startswith("/_next/static/"))
        # The web bucket, like the media one, answers a missing key with a 403 CloudFront does not cache.
        page = base / "404.html"
        if page.is_file():
            return _file(page, HTTPStatus.NOT_FOUND, immutable=False, cached_as=MISSING_OBJECT_STATUS)
        return _text(HTTPStatus.NOT_FOUND, "not found", cached_as=MISSING_OBJECT_STATUS)

    # --- responses -----------------------------------------------------------------------------
    def _reply(self, status: HTTPStatus, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _cloudfront_error(self, status: HTTPStatus, message: str) -> None:
        """CloudFront's own error page. The connection closes: a refused request's body is
        never read, so it must not be taken for the next request."""
        page = (
            '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">\n'
            '<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">\n'
            "<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n"
            f"<H1>{status.value} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n"
            f'<HR noshade size="1px">\n{message}\n<BR clear="all">\n'
            '<HR noshade size="1px">\n<PRE>\nGenerated by cloudfront (CloudFront)\n</PRE>\n</BODY></HTML>\n'
        ).encode()
        headers = {
            "Content-Type": "text/html",
            "Content-Length": str(len(page)),
            "X-Cache": "Error from cloudfront",
            "Connection": "close",
        }
        self._reply(status, headers)
        if self.command != "HEAD":
            self.wfile.write(page)

    def _text(self, status: HTTPStatus, text: str, cors: bool = False) -> None:
        data = text.encode()
        headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(data))}
        self._reply(status, {**(CORS_HEADERS if cors else {}), **headers})
        if self.command != "HEAD":
            self.wfile.write(data)


_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def _text(status: HTTPStatus, text: str, cached_as: int | None = None) -> Response:
    return Response(status, dict(_TEXT), text.encode(), cached_as=cached_as)


def _file(file: Path, status: HTTPStatus, immutable: bool, cached_as: int | None = None) -> Response:
    content_type = (
        CONTENT_TYPES.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    )
    headers = {
        "Content-Type": content_type,
        "Cache-Control": IMMUTABLE if immutable and status == HTTPStatus.OK else REVALIDATE,
        "X-Content-Type-Options": "nosniff",
    }
    return Response(status, headers, file.read_bytes(), cached_as=cached_as)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """The one byte range `Range` asks of `size` bytes as (first, last); "unsatisfiable"; None to
    send everything (no header, several ranges or one that does not parse, RFC 9110 §14.2)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header.removeprefix("bytes=").strip().partition("-")
    if not sep or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()):
        return None
    if last and not last.isdigit():
        return None
    if not first:  # the last N bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length and size else "unsatisfiable"
    start = int(first)
    end = int(last) if last else start
    if end < start:  # invalid: ignored
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(int(last) if last else size - 1, size - 1)


class Edge(ThreadingHTTPServer):
    """`Edge(("127.0.0.1", 8088), s3_client, bucket, api_url, web_root, config, origin_verify)`;
    `serve_in_thread()`.

    `config` is served as `/config.json` (the web app's runtime config), when given;
    `origin_verify` is the secret sent to the API as the distribution's origin header. `cache`:
    whether the edge caches as CloudFront does (default: `LETSLIVE_EDGE_CACHE`, on unless `0`);
    `caching` switches it at run time. `clock` (monotonic seconds) is the cache's, for tests;
    `deletion_poll_seconds` None: deleted broadcasts are forgotten only when asked
    (`forget_deleted_broadcasts`)."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        s3: Any,
        bucket: str,
        api_url: str,
        web_root: Path | None = None,
        config: dict[str, Any] | None = None,
        origin_verify: str | None = None,
        *,
        cache: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        cache_bytes: int = DEFAULT_MAX_BYTES,
        deletion_poll_seconds: float | None = DELETION_POLL_SECONDS,
    ) -> None:
        super().__init__(address, EdgeHandler)
        self.origin_verify = origin_verify
        self.s3 = s3
        self.bucket = bucket
        self.api_url = api_url.rstrip("/")
        self.web_root = web_root
        self.config = config
        self.cache = EdgeCache(clock=clock, max_bytes=cache_bytes)
        self._caching = caching_from_environment() if cache is None else cache
        self.deletion_poll_seconds = deletion_poll_seconds
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def caching(self) -> bool:
        return self._caching

    @caching.setter
    def caching(self, on: bool) -> None:
        """Switches the cache; what it held is forgotten either way."""
        self._caching = on
        self.cache.clear()

    def forget_deleted_broadcasts(self) -> int:
        """Invalidates `/hls/broadcasts/<id>/*` for each cached broadcast none of whose objects
        is left in the bucket (in AWS the VOD media consumer's invalidation); how many."""
        from botocore.exceptions import BotoCoreError, ClientError

        root = f"/{MEDIA_PREFIX}/{BROADCASTS_MEDIA_DIR}/"
        prefixes = {
            root + key.removeprefix(root).split("/", 1)[0] + "/"
            for key in self.cache.cached_keys()
            if key.startswith(root) and "/" in key.removeprefix(root)
        }
        gone = 0
        for prefix in sorted(prefixes):
            try:
                listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix.removeprefix("/"), MaxKeys=1)
            except (BotoCoreError, ClientError):
                continue
            if not listed.get("KeyCount"):
                self.cache.invalidate([prefix + "*"])
                gone += 1
        return gone

    def _watch_deletions(self, every: float) -> None:
        while not self._stopping.wait(every):
            if self.s3 is not None and self._caching:
                self.forget_deleted_broadcasts()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that left mid-response (a player cancelling a segment, a page navigating
        # away) is not an error worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="edge", daemon=True)
        thread.start()
        if self._watcher is None and self.deletion_poll_seconds is not None:
            self._watcher = threading.Thread(
                target=self._watch_deletions, args=(self.deletion_poll_seconds,), name="edge-deletions", daemon=True
            )
            self._watcher.start()
        return thread

    def server_close(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        super().server_close()
