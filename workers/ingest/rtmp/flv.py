"""FLV output: a publish's metadata, audio and video as an FLV byte stream (FLV spec v10.1, annex E).

RTMP audio and video message bodies are FLV AUDIODATA/VIDEODATA as they are, so a tag is the
11-byte tag header, the body, and the previous-tag-size. This is what the worker pipes into
FFmpeg (`ffmpeg -f flv -i pipe:0`).
"""

import inspect
from collections.abc import Awaitable, Callable, Mapping
from enum import IntEnum
from typing import Final

from workers.ingest.rtmp import amf0
from workers.ingest.rtmp.amf0 import AmfValue, EcmaArray

FLV_VERSION: Final = 1
HEADER_SIZE: Final = 9
TAG_HEADER_SIZE: Final = 11
MAX_TAG_BODY: Final = 0xFFFFFF  # DataSize is 24 bits
_FLAG_AUDIO: Final = 0x04
_FLAG_VIDEO: Final = 0x01

# Anything that takes bytes: `file.write`, `bytearray.extend`, or an async function (e.g. one
# that writes to a subprocess's stdin and drains it). An awaitable result is awaited.
Sink = Callable[[bytes], Awaitable[object] | object]


class TagType(IntEnum):
    AUDIO = 8
    VIDEO = 9
    SCRIPT_DATA = 18


def file_header(*, audio: bool = True, video: bool = True) -> bytes:
    """The FLV header and PreviousTagSize0 (always 0)."""
    flags = (_FLAG_AUDIO if audio else 0) | (_FLAG_VIDEO if video else 0)
    return b"FLV" + bytes((FLV_VERSION, flags)) + HEADER_SIZE.to_bytes(4, "big") + bytes(4)


def encode_tag(tag_type: TagType, timestamp_ms: int, body: bytes) -> bytes:
    """One tag and its PreviousTagSize. The timestamp's upper 8 bits go in TimestampExtended."""
    if len(body) > MAX_TAG_BODY:
        raise ValueError(f"FLV tag body of {len(body)} bytes, at most {MAX_TAG_BODY}")
    timestamp = timestamp_ms & 0xFFFFFFFF
    header = (
        bytes((tag_type,))
        + len(body).to_bytes(3, "big")
        + (timestamp & 0xFFFFFF).to_bytes(3, "big")
        + bytes((timestamp >> 24,))
        + bytes(3)  # StreamID, always 0
    )
    return header + body + (TAG_HEADER_SIZE + len(body)).to_bytes(4, "big")


def metadata_body(metadata: Mapping[str, AmfValue]) -> bytes:
    """The SCRIPTDATA body of an `onMetaData` tag (the name, then an ECMA array)."""
    return amf0.encode("onMetaData", EcmaArray(metadata))


class FlvWriter:
    """Writes the FLV header before the first tag, then one tag per call, each in one sink call."""

    def __init__(self, sink: Sink, *, audio: bool = True, video: bool = True) -> None:
        self._sink = sink
        self._header = file_header(audio=audio, video=video)
        self._started = False
        self.bytes_written = 0
        self.tags_written = 0

    async def write_header(self) -> None:
        """Write the header now (it is written before the first tag otherwise); idempotent."""
        if not self._started:
            self._started = True
            await self._emit(self._header)

    async def write_metadata(self, metadata: Mapping[str, AmfValue], timestamp_ms: int = 0) -> None:
        await self.write_tag(TagType.SCRIPT_DATA, timestamp_ms, metadata_body(metadata))

    async def write_audio(self, timestamp_ms: int, body: bytes) -> None:
        await self.write_tag(TagType.AUDIO, timestamp_ms, body)

    async def write_video(self, timestamp_ms: int, body: bytes) -> None:
        await self.write_tag(TagType.VIDEO, timestamp_ms, body)

    async def write_tag(self, tag_type: TagType, timestamp_ms: int, body: bytes) -> None:
        tag = encode_tag(tag_type, timestamp_ms, body)
        if not self._started:
            self._started = True
            tag = self._header + tag
        await self._emit(tag)
        self.tags_written += 1

    async def _emit(self, data: bytes) -> None:
        result = self._sink(data)
        if inspect.isawaitable(result):
            await result
        self.bytes_written += len(data)
