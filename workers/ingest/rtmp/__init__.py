"""A small, strict, publish-only RTMP server for OBS and other encoders, and an FLV writer.

`RtmpServer(authorizer, limits).start(host, port)` accepts publishers; `authorizer.authorize`
decides on each `publish` and returns the `PublishSession` that gets the stream, whose callbacks
may end it with `PublishRejected`. The protocol itself is `RtmpSession`, a pure state machine
(`session.py`); `connection.py` drives it over asyncio streams.
"""

from workers.ingest.rtmp.amf0 import UNDEFINED, AmfValue, EcmaArray
from workers.ingest.rtmp.errors import AmfError, HandshakeError, LimitExceeded, ProtocolError, RtmpError
from workers.ingest.rtmp.flv import FlvWriter, Sink, TagType
from workers.ingest.rtmp.limits import RtmpLimits
from workers.ingest.rtmp.publish import (
    EndReason,
    InMemoryAuthorizer,
    PublishAuthorizer,
    PublishRejected,
    PublishSession,
)
from workers.ingest.rtmp.server import RtmpServer
from workers.ingest.rtmp.session import RtmpSession

__all__ = [
    "UNDEFINED",
    "AmfError",
    "AmfValue",
    "EcmaArray",
    "EndReason",
    "FlvWriter",
    "HandshakeError",
    "InMemoryAuthorizer",
    "LimitExceeded",
    "ProtocolError",
    "PublishAuthorizer",
    "PublishRejected",
    "PublishSession",
    "RtmpError",
    "RtmpLimits",
    "RtmpServer",
    "RtmpSession",
    "Sink",
    "TagType",
]
