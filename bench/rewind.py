"""What rewind (DVR) costs in playlist writes at hour N of a broadcast, and what a viewer fetches.

Run from the repo root: `.venv/bin/python -m bench.rewind [--hours 4]` (exit status 0 whatever
the figures).

Method. The real `HlsUploader` (`workers/ingest/uploader.py`) over an in-memory store that counts
the bytes of every object put, with the default settings (1 s segments, a live window of 6, the
recording written every 5 segments, chunks of 300 segments, a 4 h rewind window) and three rungs.
It is resumed at hour N (`restore` with N hours of 1 s segments: what a worker taking a broadcast
over does; that first pass stores every chunk again and is counted apart), then FFmpeg's output
is played into it for `MINUTES` minutes of segments, one pass per segment as the worker does, and
the playlist bytes put per second of broadcast are reported, split by kind.

Like for like, the same segments and the same cadence: before the chunks, the recording was one
playlist of every segment, put whole every 5 segments (`span_playlist(stored, 0, len(stored))`,
the old `event_playlist` less its `PLAYLIST-TYPE` line); that is computed for the same passes.

Left out: the segments themselves (the same either way: 1 s of media per rung per second), the
master playlist (once), the VOD (once, at the end), and S3's per-request price (a put is a put:
the chunked recording adds one put per rung every 300 segments).
"""

import argparse
import asyncio
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from letslive.constants import REWIND_SECONDS_DEFAULT
from letslive.errors import MediaNotFound
from letslive.media.ladder import Ladder
from letslive.media.playlists import Segment, recording_index, span_playlist
from letslive.media.source import SourceInfo
from letslive.services.recordings import RECORDING_CHUNK_SEGMENTS, broadcast_prefix, recording_chunk_name
from workers.ingest.uploader import HlsUploader, RetryPolicy

BROADCAST = "0123456789abcdef0123456789abcdef"
PREFIX = broadcast_prefix(BROADCAST)
MINUTES = 10
WINDOW = 6
SOURCE = SourceInfo(
    width=1920, height=1080, fps=30, video_codec="h264", audio_codec="aac", video_profile="High", video_level=42
)
PLAN = Ladder.parse("1080,720,360").plan(SOURCE)
START = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


class CountingStore:
    """An in-memory `MediaStorage` that keeps the last version of each key and counts bytes."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.bytes: Counter[str] = Counter()
        self.puts: Counter[str] = Counter()

    def put(self, key: str, body: bytes, content_type: str, cache_control: str) -> None:
        self.objects[key] = body
        kind = _kind(key.removeprefix(PREFIX + "/"))
        self.bytes[kind] += len(body)
        self.puts[kind] += 1

    def get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise MediaNotFound(key) from None

    def ping(self) -> None:
        return None

    def reset(self) -> None:
        self.bytes.clear()
        self.puts.clear()


def _kind(name: str) -> str:
    if name.endswith(".ts"):
        return "segments"
    if name.startswith("event_"):
        return "recording chunks" if name.removesuffix(".m3u8")[-5:].isdigit() else "open recording"
    return "live and master playlists"


def _segments(rung: str, count: int) -> list[Segment]:
    return [Segment(f"{rung}_{n:06d}.ts", 1.0, n, START + timedelta(seconds=n)) for n in range(count)]


def _write_ffmpeg_playlists(directory: Path, last: int) -> None:
    """What FFmpeg's HLS muxer leaves after segment `last`: its files and its window of 6."""
    first = max(0, last - WINDOW + 1)
    for rung in PLAN:
        lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:1", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
        for n in range(first, last + 1):
            pdt = (START + timedelta(seconds=n)).isoformat(timespec="milliseconds")
            lines += ["#EXTINF:1.000000,", f"#EXT-X-PROGRAM-DATE-TIME:{pdt}", f"{rung.name}_{n:06d}.ts"]
        (directory / f"{rung.name}_{last:06d}.ts").write_bytes(b"G")
        temporary = directory / f"{rung.name}.m3u8.tmp"
        temporary.write_text("\n".join(lines) + "\n")
        temporary.replace(directory / f"{rung.name}.m3u8")


@dataclass(frozen=True)
class Figures:
    hours: float
    seconds: int
    resume_bytes: int
    chunked: dict[str, float]  # bytes per second of broadcast, by kind
    whole_recording_per_second: float  # the recording put whole, same passes
    viewer_window_bytes: int  # what a viewer rewinding fetches once: the window's chunks
    viewer_refresh_bytes: float  # and on each refresh: the open recording (mean over the run)


async def measure(hours: float) -> Figures:
    store = CountingStore()
    segments_before = int(hours * 3600)
    uploader = HlsUploader(store, BROADCAST, PLAN, window_segments=WINDOW, retry=RetryPolicy(attempts=1))
    uploader.restore({rung.name: _segments(rung.name, segments_before) for rung in PLAN})
    whole_bytes = 0
    with tempfile.TemporaryDirectory(prefix="letslive-rewind-bench-") as scratch:
        part = Path(scratch)
        assert uploader.start_part(part) == segments_before
        # The first pass after the resume stores every chunk again: counted apart.
        _write_ffmpeg_playlists(part, segments_before)
        await uploader.sync()
        resume_bytes = sum(store.bytes.values())
        store.reset()
        seconds = MINUTES * 60
        for n in range(segments_before + 1, segments_before + 1 + seconds):
            recorded_before = uploader.renditions[0].recorded
            _write_ffmpeg_playlists(part, n)
            await uploader.sync()
            if uploader.renditions[0].recorded != recorded_before:  # a recording pass: the old way too
                whole_bytes += sum(len(span_playlist(r.stored, 0, len(r.stored)).encode()) for r in uploader.renditions)
    chunked = {kind: count / seconds for kind, count in sorted(store.bytes.items()) if kind != "segments"}
    top = PLAN[0].name
    opened = store.objects[f"{PREFIX}/event_{top}.m3u8"]
    index = recording_index(opened.decode())
    assert index is not None
    window = range(index.rewind_from, index.chunks)
    viewer_window = sum(len(store.objects[f"{PREFIX}/{recording_chunk_name(top, n)}"]) for n in window)
    mean_open = store.bytes["open recording"] / store.puts["open recording"]
    return Figures(hours, seconds, resume_bytes, chunked, whole_bytes / seconds, viewer_window, mean_open)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, nargs="*", default=[1.0, 4.0])
    args = parser.parse_args()
    print(
        f"Rewind: playlist bytes put per second of broadcast, {len(PLAN)} rungs ({', '.join(r.name for r in PLAN)}), "
        f"1 s segments, recording every {WINDOW - 1} segments, chunks of {RECORDING_CHUNK_SEGMENTS}, "
        f"rewind window {REWIND_SECONDS_DEFAULT / 3600:.0f} h; {MINUTES} min measured after hour N\n"
    )
    print(
        f"{'hour':>5}  {'live+master':>12}  {'open rec.':>10}  {'chunks':>8}  {'recording':>10}  "
        f"{'whole (before)':>15}  {'ratio':>6}  {'resume':>9}  {'viewer: window':>15}  {'refresh':>8}"
    )
    for hours in args.hours:
        figures = asyncio.run(measure(hours))
        live = figures.chunked.get("live and master playlists", 0.0)
        opened = figures.chunked.get("open recording", 0.0)
        chunks = figures.chunked.get("recording chunks", 0.0)
        recording = opened + chunks
        print(
            f"{figures.hours:>5.1f}  {live / 1000:>9.1f} KB/s  {opened / 1000:>7.1f} KB/s  {chunks / 1000:>5.1f} KB/s  "
            f"{recording / 1000:>7.1f} KB/s  {figures.whole_recording_per_second / 1000:>12.1f} KB/s  "
            f"{recording / figures.whole_recording_per_second:>5.3f}x  {figures.resume_bytes / 1e6:>6.2f} MB  "
            f"{figures.viewer_window_bytes / 1e6:>12.2f} MB  {figures.viewer_refresh_bytes / 1000:>5.1f} KB"
        )
    print(
        "\nrecording = open recording + chunks (this code); whole (before) = the same passes putting the "
        "whole recording, as before the chunks. resume = what a worker taking the broadcast over puts "
        "once (every chunk again). viewer: the top rung's chunks of the rewind window, fetched once "
        "(immutable, cached by the CDN), and the open recording, fetched on each refresh (its mean size)."
    )


if __name__ == "__main__":
    main()
