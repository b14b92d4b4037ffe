"""The FLV writer: byte layout per the FLV spec (v10.1, annex E), sinks, and real media through it."""

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from workers.ingest.rtmp import amf0
from workers.ingest.rtmp.amf0 import EcmaArray
from workers.ingest.rtmp.flv import FlvWriter, TagType, encode_tag, file_header, metadata_body


def read_tags(data: bytes) -> list[tuple[int, int, bytes]]:
    """(type, timestamp, body) of every tag, checking the header and each PreviousTagSize."""
    assert data[:4] == b"FLV\x01"
    offset = int.from_bytes(data[5:9], "big")
    assert int.from_bytes(data[offset : offset + 4], "big") == 0  # PreviousTagSize0
    position = offset + 4
    tags = []
    while position < len(data):
        header = data[position : position + 11]
        size = int.from_bytes(header[1:4], "big")
        timestamp = int.from_bytes(header[4:7], "big") | header[7] << 24
        assert header[8:11] == b"\x00\x00\x00"  # StreamID
        body = data[position + 11 : position + 11 + size]
        assert len(body) == size
        previous = int.from_bytes(data[position + 11 + size : position + 15 + size], "big")
        assert previous == 11 + size
        tags.append((header[0], timestamp, body))
        position += 15 + size
    assert position == len(data)
    return tags


def test_file_header_layout_and_flags() -> None:
    assert file_header() == b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
    assert file_header(video=False)[4] == 0x04
    assert file_header(audio=False)[4] == 0x01


def test_tag_layout() -> None:
    tag = encode_tag(TagType.VIDEO, 0x00123456, b"\x17\x01body")
    assert tag == (
        b"\x09"  # TagType
        + b"\x00\x00\x06"  # DataSize
        + b"\x12\x34\x56"  # Timestamp, lower 24 bits
        + b"\x00"  # TimestampExtended
        + b"\x00\x00\x00"  # StreamID
        + b"\x17\x01body"
        + (11 + 6).to_bytes(4, "big")  # PreviousTagSize
    )


def test_timestamps_above_24_bits_use_the_extended_byte() -> None:
    tag = encode_tag(TagType.AUDIO, 0x12345678, b"")
    assert tag[4:8] == b"\x34\x56\x78\x12"
    (_, timestamp, _), *_ = read_tags(file_header() + tag)
    assert timestamp == 0x12345678


def test_bodies_longer_than_24_bits_are_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        encode_tag(TagType.VIDEO, 0, bytes(0x1000000))


def test_metadata_is_an_onmetadata_script_tag_with_an_ecma_array() -> None:
    body = metadata_body({"width": 640.0, "encoder": "obs"})
    assert amf0.decode_all(body) == ["onMetaData", {"width": 640.0, "encoder": "obs"}]
    assert isinstance(amf0.decode_all(body)[1], EcmaArray)


def test_writer_with_a_sync_sink_writes_the_header_once_then_tags() -> None:
    out = bytearray()
    calls: list[int] = []

    def sink(data: bytes) -> None:
        calls.append(len(data))
        out.extend(data)

    async def scenario() -> FlvWriter:
        writer = FlvWriter(sink)
        await writer.write_metadata({"duration": 0.0})
        await writer.write_video(0, b"\x17\x00seq")
        await writer.write_audio(0, b"\xaf\x00")
        await writer.write_audio(21, b"\xaf\x01aac")
        await writer.write_video(33, b"\x27\x01frame")
        return writer

    writer = asyncio.run(scenario())
    assert out.count(b"FLV\x01") == 1
    assert read_tags(bytes(out)) == [
        (TagType.SCRIPT_DATA, 0, metadata_body({"duration": 0.0})),
        (TagType.VIDEO, 0, b"\x17\x00seq"),
        (TagType.AUDIO, 0, b"\xaf\x00"),
        (TagType.AUDIO, 21, b"\xaf\x01aac"),
        (TagType.VIDEO, 33, b"\x27\x01frame"),
    ]
    assert len(calls) == 5  # the header went out with the first tag, each tag in one call
    assert writer.bytes_written == len(out)
    assert writer.tags_written == 5


def test_writer_awaits_an_async_sink_in_order() -> None:
    received: list[bytes] = []

    async def sink(data: bytes) -> None:
        await asyncio.sleep(0)  # a real pipe yields here (drain)
        received.append(data)

    async def scenario() -> None:
        writer = FlvWriter(sink, audio=True, video=False)
        await writer.write_header()
        await writer.write_header()
        for timestamp in range(0, 100, 20):
            await writer.write_audio(timestamp, bytes((timestamp,)))

    asyncio.run(scenario())
    data = b"".join(received)
    assert received[0] == file_header(video=False)
    assert [timestamp for _, timestamp, _ in read_tags(data)] == [0, 20, 40, 60, 80]


@pytest.mark.tools("ffmpeg", "ffprobe")
def test_real_media_rewritten_tag_by_tag_is_the_same_to_ffprobe(tmp_path: Path) -> None:
    source, rewritten = tmp_path / "source.flv", tmp_path / "rewritten.flv"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "1", "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "30", "-c:a", "aac", "-f", "flv", str(source)],
        check=True, timeout=30,
    )  # fmt: skip
    tags = read_tags(source.read_bytes())

    async def rewrite() -> None:
        with rewritten.open("wb") as file:
            writer = FlvWriter(file.write)
            for tag_type, timestamp, body in tags:
                if tag_type == TagType.SCRIPT_DATA:
                    name, metadata = amf0.decode_all(body)
                    assert name == "onMetaData"
                    assert isinstance(metadata, dict)
                    await writer.write_metadata(metadata, timestamp)
                else:
                    await writer.write_tag(TagType(tag_type), timestamp, body)

    asyncio.run(rewrite())

    def probe(path: Path) -> object:
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,codec_type,width,height,sample_rate"
             ":format=duration,nb_streams", "-count_packets", "-show_entries", "stream=nb_read_packets",
             "-of", "json", str(path)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        return json.loads(result.stdout)

    assert probe(rewritten) == probe(source)
    assert read_tags(rewritten.read_bytes()) == tags
