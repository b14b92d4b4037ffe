"""The local stand-in for the CloudFront distribution: one origin for the whole platform.

- `/hls/<path>` → the media bucket's object `hls/<path>` (the key layout CloudFront serves in
  AWS), with the object's own `Content-Type` and `Cache-Control` (segments immutable for a year,
  live playlists `max-age=0, s-maxage=1`), byte ranges, ETag/conditional GETs and CORS, as CloudFront's
  cache and response-headers policies do.
- `/api/<path>` → the HTTP API's `/<path>`: method, body, headers and cookies pass through, no
  caching, as the `/api/*` behaviour does. As its viewer-request function and origin headers do,
  the edge sends the client's address in `VIEWER_ADDRESS_HEADER` and the origin-verify secret in
  `ORIGIN_VERIFY_HEADER`, replacing whatever the client sent under those names.
- `/config.json` → the web app's runtime config (the chat WebSocket URL, the RTMP ingest URL),
  never cached; in AWS the deployment writes the same file into the web bucket.
- anything else → the statically exported web app (`web/out`), when it has been built: a
  directory's `index.html` (`/channel/?u=x` → `channel/index.html`; `/channel` redirects to
  `/channel/`), the export's `404.html` for what is missing, hashed assets (`/_next/static/`)
  cached for a year as immutable, everything else revalidated (`no-cache`).

Methods are refused as the distribution's cache behaviours refuse them (`infra/constructs/cdn.py`):
`/api/*` allows GET, HEAD, OPTIONS, PUT, PATCH, POST and DELETE; the media and the web app GET and
HEAD (the media's CORS preflight is answered too). Any other HTTP method (TRACE, CONNECT, a POST to
a page) gets CloudFront's 403 "not configured to allow the HTTP request method" page, a GET with a
body 403 too, and a token that is no HTTP method at all 400, never a 501.
"""

import json
import mimetypes
import shutil
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from letslive.constants import MEDIA_PREFIX, ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER

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
        path = self.path.split("?", 1)[0]
        if path.startswith(f"/{MEDIA_PREFIX}/"):
            self._media(path.removeprefix("/"), head)
        elif path.startswith("/api/"):
            self._proxy()
        elif path == CONFIG_PATH and self.server.config is not None:
            self._config(head)
        else:
            self._static(path, head)

    # --- /config.json ------------------------------------------------------------------------
    def _config(self, head: bool) -> None:
        data = json.dumps(self.server.config).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data)), "Cache-Control": "no-store"}
        self._reply(HTTPStatus.OK, headers)
        if not head:
            self.wfile.write(data)

    # --- /hls/* from S3 --------------------------------------------------------------------
    def _media(self, key: str, head: bool) -> None:
        from botocore.exceptions import ClientError

        request: dict[str, Any] = {"Bucket": self.server.bucket, "Key": key}
        for header, param in (("Range", "Range"), ("If-None-Match", "IfNoneMatch")):
            if self.headers.get(header):
                request[param] = self.headers[header]
        try:
            obj = (self.server.s3.head_object if head else self.server.s3.get_object)(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 502))
            if status == HTTPStatus.NOT_MODIFIED or error.get("Code") == "304":
                self._reply(HTTPStatus.NOT_MODIFIED, {**CORS_HEADERS, "Content-Length": "0"})
            elif status in (HTTPStatus.NOT_FOUND, HTTPStatus.FORBIDDEN) or error.get("Code") in ("NoSuchKey", "404"):
                # CloudFront with OAC answers 403 for a missing key; a player only needs "not there".
                self._text(HTTPStatus.NOT_FOUND, "not found", cors=True)
            elif status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
                self._text(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "range not satisfiable", cors=True)
            else:
                self._text(HTTPStatus.BAD_GATEWAY, "origin error", cors=True)
            return
        headers = {
            **CORS_HEADERS,
            "Content-Type": obj.get("ContentType") or "application/octet-stream",
            "Content-Length": str(obj["ContentLength"]),
            "ETag": obj.get("ETag", ""),
            "Accept-Ranges": "bytes",
        }
        if obj.get("CacheControl"):
            headers["Cache-Control"] = obj["CacheControl"]
        if obj.get("LastModified"):
            headers["Last-Modified"] = obj["LastModified"].strftime("%a, %d %b %Y %H:%M:%S GMT")
        status = HTTPStatus.PARTIAL_CONTENT if obj.get("ContentRange") else HTTPStatus.OK
        if obj.get("ContentRange"):
            headers["Content-Range"] = obj["ContentRange"]
        self._reply(status, headers)
        if not head:
            body = obj["Body"]
            try:
                shutil.copyfileobj(body, self.wfile)
            finally:
                body.close()

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
    def _static(self, path: str, head: bool) -> None:
        root = self.server.web_root
        if root is None or not root.is_dir():
            self._text(HTTPStatus.NOT_FOUND, "the web app is not built")
            return
        base = root.resolve()
        relative = urllib.parse.unquote(path).lstrip("/")
        try:
            candidate = (base / relative).resolve()
        except (ValueError, OSError):  # e.g. an encoded NUL byte
            self._not_found(base, head)
            return
        # Nothing outside the export, and no dotfiles (build stamps and the like).
        if not candidate.is_relative_to(base) or any(part.startswith(".") for part in Path(relative).parts):
            self._not_found(base, head)
            return
        if candidate.is_dir() and not path.endswith("/") and (candidate / "index.html").is_file():
            # `trailingSlash: true`: the page's canonical address ends with a slash.
            query = self.path.partition("?")[2]
            location = path + "/" + (f"?{query}" if query else "")
            self._reply(HTTPStatus.MOVED_PERMANENTLY, {"Location": location, "Content-Length": "0"})
            return
        for option in (candidate / "index.html", candidate, candidate.with_name(candidate.name + ".html")):
            if option.is_file():
                self._file(option, HTTPStatus.OK, head, immutable=path.startswith("/_next/static/"))
                return
        self._not_found(base, head)

    def _not_found(self, base: Path, head: bool) -> None:
        page = base / "404.html"
        if page.is_file():
            self._file(page, HTTPStatus.NOT_FOUND, head, immutable=False)
        else:
            self._text(HTTPStatus.NOT_FOUND, "not found")

    def _file(self, file: Path, status: HTTPStatus, head: bool, immutable: bool) -> None:
        data = file.read_bytes()
        content_type = (
            CONTENT_TYPES.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        )
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "Cache-Control": IMMUTABLE if immutable and status == HTTPStatus.OK else REVALIDATE,
            "X-Content-Type-Options": "nosniff",
        }
        self._reply(status, headers)
        if not head:
            self.wfile.write(data)

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


class Edge(ThreadingHTTPServer):
    """`Edge(("127.0.0.1", 8088), s3_client, bucket, api_url, web_root, config, origin_verify)`;
    `serve_in_thread()`.

    `config` is served as `/config.json` (the web app's runtime config), when given;
    `origin_verify` is the secret sent to the API as the distribution's origin header."""

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
    ) -> None:
        super().__init__(address, EdgeHandler)
        self.origin_verify = origin_verify
        self.s3 = s3
        self.bucket = bucket
        self.api_url = api_url.rstrip("/")
        self.web_root = web_root
        self.config = config

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
        return thread
