"""HLS playlists as pure functions on strings: the master, parsing media playlists, VOD playlists.

FFmpeg 5.1 writes the media playlists. Its master playlist is not used: it has no CODECS for a
copied stream and no FRAME-RATE or AVERAGE-BANDWIDTH, all of which are known from the plan
before the first segment exists, so `master_playlist(plan)` writes it instead.
"""

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

from letslive.errors import InvalidInput
from letslive.media.ladder import PlannedRung

HLS_VERSION: Final = 6
# An attribute: NAME=value, the value quoted (may hold commas) or not.
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


class PlaylistError(InvalidInput):
    """A playlist that is not the HLS it should be."""

    code = "invalid-playlist"


def rung_playlist_uri(rung: PlannedRung) -> str:
    """The rung's media playlist, as FFmpeg names it (`%v.m3u8`), relative to the master."""
    return f"{rung.name}.m3u8"


def master_playlist(plan: Sequence[PlannedRung], uri: Callable[[PlannedRung], str] = rung_playlist_uri) -> str:
    """The master playlist: one `#EXT-X-STREAM-INF` per rung, tallest (the source) first."""
    if not plan:
        raise InvalidInput("the plan has no rung")
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{HLS_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung in plan:
        attributes = [f"BANDWIDTH={rung.bandwidth}", f"AVERAGE-BANDWIDTH={rung.average_bandwidth}"]
        if rung.has_video:
            attributes += [f"RESOLUTION={rung.resolution}", f"FRAME-RATE={rung.fps:.3f}"]
        attributes.append(f'CODECS="{rung.codecs}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), uri(rung)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Variant:
    """An `#EXT-X-STREAM-INF` entry; `attributes` hold the values with quotes removed."""

    uri: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def bandwidth(self) -> int:
        return int(self.attributes["BANDWIDTH"])

    @property
    def resolution(self) -> tuple[int, int] | None:
        value = self.attributes.get("RESOLUTION")
        if value is None:
            return None
        width, _, height = value.partition("x")
        return int(width), int(height)

    @property
    def codecs(self) -> tuple[str, ...]:
        return tuple(self.attributes.get("CODECS", "").split(",")) if "CODECS" in self.attributes else ()

    @property
    def frame_rate(self) -> float | None:
        value = self.attributes.get("FRAME-RATE")
        return None if value is None else float(value)


def parse_attributes(text: str) -> dict[str, str]:
    """`A=1,B="x,y"` -> {"A": "1", "B": "x,y"}."""
    return {name: value.strip('"') for name, value in _ATTRIBUTE.findall(text)}


def parse_master_playlist(text: str) -> list[Variant]:
    lines = _lines(text)
    variants: list[Variant] = []
    pending: dict[str, str] | None = None
    for line in lines:
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = parse_attributes(line.partition(":")[2])
        elif not line.startswith("#") and pending is not None:
            if "BANDWIDTH" not in pending:
                raise PlaylistError(f"variant {line} has no BANDWIDTH")
            variants.append(Variant(line, pending))
            pending = None
    if pending is not None:
        raise PlaylistError("#EXT-X-STREAM-INF without a URI")
    return variants


@dataclass(frozen=True, slots=True)
class Segment:
    """A media segment. `discontinuity` marks an `#EXT-X-DISCONTINUITY` before it; `gap` an
    `#EXT-X-GAP`: media that was lost (its URI is not to be fetched; the duration keeps the
    timeline)."""

    uri: str
    duration: float
    sequence: int = 0
    program_date_time: datetime | None = None
    discontinuity: bool = False
    gap: bool = False


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    target_duration: int
    segments: tuple[Segment, ...]
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    ended: bool = False
    playlist_type: str | None = None
    independent_segments: bool = False
    version: int | None = None

    @property
    def duration(self) -> float:
        return sum(segment.duration for segment in self.segments)


def parse_media_playlist(text: str) -> MediaPlaylist:
    """A media playlist, live or VOD. Tags before a URI belong to that URI's segment, in any order
    (FFmpeg writes `#EXT-X-PROGRAM-DATE-TIME` between `#EXTINF` and the URI)."""
    lines = _lines(text)
    target: int | None = None
    media_sequence = discontinuity_sequence = 0
    version: int | None = None
    playlist_type: str | None = None
    ended = independent = False
    segments: list[Segment] = []
    duration: float | None = None
    pdt: datetime | None = None
    discontinuity = gap = False
    for line in lines:
        tag, _, value = line.partition(":")
        try:
            if tag == "#EXTINF":
                duration = float(value.partition(",")[0])
            elif tag == "#EXT-X-TARGETDURATION":
                target = int(value)
            elif tag == "#EXT-X-MEDIA-SEQUENCE":
                media_sequence = int(value)
            elif tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
                discontinuity_sequence = int(value)
            elif tag == "#EXT-X-VERSION":
                version = int(value)
            elif tag == "#EXT-X-PROGRAM-DATE-TIME":
                pdt = datetime.fromisoformat(value)
        except ValueError as exc:
            raise PlaylistError(f"bad {tag} line: {line!r}") from exc
        if line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif line == "#EXT-X-GAP":
            gap = True
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line == "#EXT-X-INDEPENDENT-SEGMENTS":
            independent = True
        elif tag == "#EXT-X-PLAYLIST-TYPE":
            playlist_type = value
        elif not line.startswith("#"):
            if duration is None:
                raise PlaylistError(f"segment {line} has no #EXTINF")
            segments.append(Segment(line, duration, media_sequence + len(segments), pdt, discontinuity, gap))
            duration, pdt, discontinuity, gap = None, None, False, False
    if target is None:
        raise PlaylistError("no #EXT-X-TARGETDURATION: not a media playlist")
    if duration is not None:
        raise PlaylistError("#EXTINF without a URI")
    return MediaPlaylist(
        target, tuple(segments), media_sequence, discontinuity_sequence, ended, playlist_type, independent, version
    )


def merge_segments(known: Sequence[Segment], playlist: MediaPlaylist) -> list[Segment]:
    """`known` plus the segments of a new revision of a live playlist that are not in it yet.

    What an uploader keeps while the broadcast runs, to build the VOD from once it ends (the
    live playlist itself only holds the last few segments).
    """
    last = known[-1].sequence if known else -1
    return [*known, *(segment for segment in playlist.segments if segment.sequence > last)]


def join_parts(parts: Iterable[Sequence[Segment]]) -> list[Segment]:
    """The segments of a broadcast's parts (one per FFmpeg run, e.g. around an OBS reconnect),
    with a discontinuity at the start of every part after the first: timestamps restart there."""
    joined: list[Segment] = []
    for part in parts:
        for index, segment in enumerate(part):
            joined.append(replace(segment, discontinuity=segment.discontinuity or (index == 0 and bool(joined))))
    return joined


def target_duration(segments: Iterable[Segment]) -> int:
    """RFC 8216: every EXTINF rounded to the nearest integer must be <= the target duration."""
    return max((math.floor(segment.duration + 0.5) for segment in segments), default=1) or 1


def vod_playlist(segments: Sequence[Segment], *, independent_segments: bool = True) -> str:
    """A VOD playlist (`PLAYLIST-TYPE:VOD`, `ENDLIST`) over every segment of one rung."""
    if not segments:
        raise InvalidInput("a playlist needs at least one segment")
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{HLS_VERSION}",
        f"#EXT-X-TARGETDURATION:{target_duration(segments)}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    if independent_segments:
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    for index, segment in enumerate(segments):
        lines += _segment_lines(segment, discontinuity=segment.discontinuity and index > 0)
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("not a playlist: the first line is not #EXTM3U")
    return lines


def live_playlist(segments: Sequence[Segment], window: int) -> str:
    """The live window over a broadcast's segments so far: the last `window` of them, numbered
    from the start of the broadcast (so the media sequence only grows, across reconnects), with
    `#EXT-X-DISCONTINUITY-SEQUENCE` counting the part boundaries that left the window."""
    if not segments:
        raise InvalidInput("a live playlist needs at least one segment")
    if window < 1:
        raise InvalidInput("the live window needs at least one segment")
    return span_playlist(segments, max(0, len(segments) - window), len(segments))


def span_playlist(segments: Sequence[Segment], start: int, stop: int, tags: Sequence[str] = ()) -> str:
    """`segments[start:stop]` as a media playlist numbered from the start of the broadcast (media
    sequence `start`; the discontinuity sequence counts the part boundaries before it), with
    `tags` after the header. No `PLAYLIST-TYPE` and no `ENDLIST`: a live view of the broadcast."""
    if not 0 <= start < stop <= len(segments):
        raise InvalidInput(f"no segments {start}-{stop} in a broadcast of {len(segments)}")
    shown = segments[start:stop]
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{HLS_VERSION}",
        f"#EXT-X-TARGETDURATION:{target_duration(shown)}",
        f"#EXT-X-MEDIA-SEQUENCE:{start}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{sum(1 for s in segments[1:start] if s.discontinuity)}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        *tags,
    ]
    for index, segment in enumerate(shown):
        lines += _segment_lines(segment, discontinuity=segment.discontinuity and start + index > 0)
    return "\n".join(lines) + "\n"


# --- the recording, in chunks ------------------------------------------------------------------
# The recording of a rung is cut into chunks of `chunk_segments` segments: each chunk, once
# full, is stored once and never changes (`recording_chunk`); the segments after the last full
# chunk are the open recording (`open_recording`), rewritten as segments come, whose index tag
# says how many chunks there are and from which one the rewind window starts. So what is
# rewritten stays small however long the broadcast runs. The tag is a comment to HLS clients
# (tags begin with `#EXT`).
RECORDING_TAG: Final = "#X-LETSLIVE-RECORDING:"


@dataclass(frozen=True, slots=True)
class RecordingIndex:
    chunks: int  # full chunks stored: 0 .. chunks-1
    chunk_segments: int
    rewind_from: int  # the first chunk of the rewind (DVR) window


def sealed_chunks(segment_count: int, chunk_segments: int) -> int:
    """How many chunks are full: all but the segments after them, of which there is always one
    (the open recording is never empty)."""
    return max(0, segment_count - 1) // chunk_segments


def recording_chunk(segments: Sequence[Segment], index: int, chunk_segments: int) -> str:
    """Chunk `index` of the recording: its `chunk_segments` segments, numbered in the broadcast."""
    start = index * chunk_segments
    if index < 0 or index >= sealed_chunks(len(segments), chunk_segments):
        raise InvalidInput(f"chunk {index} is not full yet")
    return span_playlist(segments, start, start + chunk_segments)


def open_recording(segments: Sequence[Segment], chunk_segments: int, rewind_seconds: float) -> str:
    """The segments after the full chunks, with the recording's index: the number of chunks, and
    the first of the rewind window, which reaches at least `rewind_seconds` back from the newest
    segment's end (at most a chunk more), or to the start of the broadcast."""
    if chunk_segments < 1:
        raise InvalidInput("a chunk holds at least one segment")
    chunks = sealed_chunks(len(segments), chunk_segments)
    rewind_from, behind = chunks, sum(segment.duration for segment in segments[chunks * chunk_segments :])
    while rewind_from > 0 and behind < rewind_seconds:
        rewind_from -= 1
        chunk = segments[rewind_from * chunk_segments : (rewind_from + 1) * chunk_segments]
        behind += sum(segment.duration for segment in chunk)
    tag = f"{RECORDING_TAG}CHUNKS={chunks},CHUNK-SEGMENTS={chunk_segments},REWIND-FROM={rewind_from}"
    return span_playlist(segments, chunks * chunk_segments, len(segments), [tag])


def recording_index(text: str) -> RecordingIndex | None:
    """The index of an open recording; None for a playlist without one (one written whole)."""
    for line in _lines(text):
        if line.startswith(RECORDING_TAG):
            attributes = parse_attributes(line.removeprefix(RECORDING_TAG))
            try:
                return RecordingIndex(
                    int(attributes["CHUNKS"]), int(attributes["CHUNK-SEGMENTS"]), int(attributes["REWIND-FROM"])
                )
            except (KeyError, ValueError) as exc:
                raise PlaylistError(f"bad recording index: {line!r}") from exc
    return None


def _segment_lines(segment: Segment, *, discontinuity: bool) -> list[str]:
    lines = ["#EXT-X-DISCONTINUITY"] if discontinuity else []
    if segment.program_date_time is not None:
        lines.append("#EXT-X-PROGRAM-DATE-TIME:" + segment.program_date_time.isoformat(timespec="milliseconds"))
    if segment.gap:
        lines.append("#EXT-X-GAP")
    return [*lines, f"#EXTINF:{segment.duration:.6f},", segment.uri]
