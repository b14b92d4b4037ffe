"""A small, strict, publish-only RTMP server for OBS and other encoders, and an FLV writer.

`RtmpServer(authorizer, limits).start(host, port)` accepts publishers; `authorizer.authorize`
decides on each `publish` and returns the `PublishSession` that gets the stream.
"""

from workers.ingest.rtmp.amf0 import UNDEFINED, AmfValue, EcmaArray
from workers.ingest.rtmp.errors import AmfError, HandshakeError, LimitExceeded, ProtocolError, RtmpError
from workers.ingest.rtmp.flv import FlvWriter, Sink, TagType
from workers.ingest.rtmp.limits import RtmpLimits
from workers.ingest.rtmp.publish import EndReason, InMemoryAuthorizer, PublishAuthorizer, PublishSession
from workers.ingest.rtmp.server import RtmpServer

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
    "PublishSession",
    "RtmpError",
    "RtmpLimits",
    "RtmpServer",
    "Sink",
    "TagType",
]
