"""The local stand-in for the CloudFront distribution: one origin for the whole platform.

- `/hls/<path>` → the media bucket's object `hls/<path>` (the key layout CloudFront serves in
  AWS), with the object's own `Content-Type` and `Cache-Control` (segments immutable for a year,
  live playlists `max-age=1`), byte ranges, ETag/conditional GETs and CORS, as CloudFront's
  cache and response-headers policies do.
- `/api/<path>` → the HTTP API's `/<path>`: method, body, headers and cookies pass through, no
  caching, as the `/api/*` behaviour does.
- anything else → the statically exported web app (`web/out`), when it has been built.
"""

import mimetypes
import shutil
import threading
import urllib.error
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from letslive.constants import MEDIA_PREFIX

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, If-None-Match, If-Modified-Since",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, ETag, Age",
    "Access-Control-Max-Age": "86400",
}
# Hop-by-hop headers (RFC 9110 §7.6.1) and what the proxy sets itself.
_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}
_MAX_API_BODY = 1024 * 1024


class EdgeHandler(BaseHTTPRequestHandler):
    server: "Edge"
    protocol_version = "HTTP/1.1"
    error_content_type = "text/plain"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- routing -------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_OPTIONS(self) -> None:
        if self.path.startswith("/api/"):
            self._proxy()
            return
        self._reply(HTTPStatus.NO_CONTENT, {**CORS_HEADERS, "Content-Length": "0"})

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
            self._text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed")

    def _route(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith(f"/{MEDIA_PREFIX}/"):
            self._media(path.removeprefix("/"), head)
        elif path.startswith("/api/"):
            self._proxy()
        else:
            self._static(path, head)

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
            if name.lower() not in _NOT_FORWARDED:
                request.add_header(name, value)
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
        candidate = (root / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(root.resolve()):
            self._text(HTTPStatus.NOT_FOUND, "not found")
            return
        for option in (candidate, candidate / "index.html", candidate.with_suffix(".html")):
            if option.is_file():
                data = option.read_bytes()
                content_type = mimetypes.guess_type(option.name)[0] or "application/octet-stream"
                self._reply(HTTPStatus.OK, {"Content-Type": content_type, "Content-Length": str(len(data))})
                if not head:
                    self.wfile.write(data)
                return
        self._text(HTTPStatus.NOT_FOUND, "not found")

    # --- responses -----------------------------------------------------------------------------
    def _reply(self, status: HTTPStatus, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _text(self, status: HTTPStatus, text: str, cors: bool = False) -> None:
        data = text.encode()
        headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(data))}
        self._reply(status, {**(CORS_HEADERS if cors else {}), **headers})
        if self.command != "HEAD":
            self.wfile.write(data)


class Edge(ThreadingHTTPServer):
    """`Edge(("127.0.0.1", 8088), s3_client, bucket, api_url, web_root)`; `serve_in_thread()`."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], s3: Any, bucket: str, api_url: str, web_root: Path | None = None
    ) -> None:
        super().__init__(address, EdgeHandler)
        self.s3 = s3
        self.bucket = bucket
        self.api_url = api_url.rstrip("/")
        self.web_root = web_root

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="edge", daemon=True)
        thread.start()
        return thread
