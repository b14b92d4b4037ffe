"""The local CloudFront (`localstack.edge.Edge`) over moto's S3 and a stand-in API origin."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from localstack.edge import Edge


@contextmanager
def serving_edge(
    api: type[BaseHTTPRequestHandler], web: Path, bucket: str, region: str, api_path: str = "", **options: Any
) -> Iterator[Edge]:
    """An edge in a thread in front of `bucket` and of `api` served on a loopback port (its
    requests go to `http://127.0.0.1:<port><api_path>`); both stop when the block ends."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), api)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    server = Edge(
        ("127.0.0.1", 0),
        boto3.client("s3", region_name=region),
        bucket,
        f"http://127.0.0.1:{upstream.server_address[1]}{api_path}",
        web,
        **options,
    )
    server.serve_in_thread()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        upstream.shutdown()
        upstream.server_close()
