"""FLV files for tests: encode one with real FFmpeg, and read its tags back (FLV spec v10.1, annex E).

The tags of an FLV file are what an RTMP publisher sends as audio/video/data messages, so a
file made by FFmpeg (or GStreamer) stands in for a publisher's messages in the tests of the
source detector and the publish session.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from workers.ingest.rtmp import amf0
from workers.ingest.rtmp.amf0 import AmfValue

AUDIO, VIDEO, SCRIPT = 8, 9, 18
SINE = ("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")


@dataclass(frozen=True, slots=True)
class Tag:
    kind: int  # AUDIO, VIDEO or SCRIPT
    timestamp_ms: int
    body: bytes

    @property
    def keyframe(self) -> bool:
        return self.kind == VIDEO and bool(self.body) and self.body[0] & 0x70 == 0x10


def read_tags(data: bytes) -> list[Tag]:
    """Every tag of an FLV file, in order."""
    if data[:3] != b"FLV":
        raise ValueError("not an FLV file")
    position = int.from_bytes(data[5:9], "big") + 4  # header, then PreviousTagSize0
    tags: list[Tag] = []
    while position + 11 <= len(data):
        kind = data[position] & 0x1F
        size = int.from_bytes(data[position + 1 : position + 4], "big")
        timestamp = int.from_bytes(data[position + 4 : position + 7], "big") | data[position + 7] << 24
        body = data[position + 11 : position + 11 + size]
        if len(body) < size:
            break
        tags.append(Tag(kind, timestamp, body))
        position += 11 + size + 4
    return tags


def metadata_of(tags: list[Tag]) -> dict[str, AmfValue]:
    """The `onMetaData` object of the file's first script tag ({} when it has none)."""
    for tag in tags:
        if tag.kind == SCRIPT:
            values = amf0.decode_all(tag.body)
            if len(values) >= 2 and values[0] == "onMetaData" and isinstance(values[1], dict):
                return dict(values[1])
    return {}


def encode_flv(
    path: Path,
    *,
    size: str = "320x180",
    rate: str = "30",
    seconds: float = 3,
    video: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-sc_threshold", "0"),
    audio: tuple[str, ...] | None = ("-c:a", "aac", "-b:a", "64k"),
    extra: tuple[str, ...] = (),
) -> bytes:
    """testsrc2 (and a sine, unless `audio` is None) encoded by real FFmpeg into an FLV; cached."""
    if not path.exists():
        inputs = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
        if audio is not None:
            inputs += SINE
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs, "-t", str(seconds), *video,
             *(audio if audio is not None else ("-an",)), *extra, "-f", "flv", str(path)],
            check=True,
            timeout=120,
        )  # fmt: skip
    return path.read_bytes()
