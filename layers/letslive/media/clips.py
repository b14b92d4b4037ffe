"""Which segments a clip takes, and its playlists: pure functions over a broadcast's segments.

Every segment of every rung starts on a keyframe at the same instant (the ladder is cut on one
clock), so a clip made of whole segments is keyframe-aligned on every rung without re-encoding:
it covers the asked range widened to segment boundaries (at most a segment, 1 s, at each end).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from letslive.errors import ClipOutOfRange
from letslive.media.playlists import Segment, vod_playlist


@dataclass(frozen=True)
class ClipSpan:
    """Segments `first` to `stop` (exclusive) of the top rung; where they start, from the
    broadcast's start, and how long they last."""

    first: int
    stop: int
    start_seconds: float
    duration_seconds: float


def clip_span(segments: Sequence[Segment], seconds: float, start_seconds: float | None) -> ClipSpan:
    """The whole segments covering `seconds` from `start_seconds` (None: the last `seconds`)."""
    if not segments:
        raise ClipOutOfRange("the broadcast has no media yet")
    starts: list[float] = []
    elapsed = 0.0
    for segment in segments:
        starts.append(elapsed)
        elapsed += segment.duration
    if start_seconds is None:
        first = len(segments) - 1
        while first > 0 and elapsed - starts[first] < seconds:
            first -= 1
        stop = len(segments)
    else:
        if start_seconds >= elapsed:
            raise ClipOutOfRange(f"the broadcast is {elapsed:.0f} s long: no clip starts at {start_seconds:.0f} s")
        first = max(i for i, start in enumerate(starts) if start <= start_seconds)
        end = start_seconds + seconds
        stop = next((i for i, start in enumerate(starts) if start >= end), len(segments))
    covered = segments[first:stop]
    if all(segment.gap for segment in covered):
        raise ClipOutOfRange("that part of the broadcast was lost")
    return ClipSpan(first, stop, starts[first], sum(segment.duration for segment in covered))


def rung_segments(top: Sequence[Segment], span: ClipSpan, rung: Sequence[Segment]) -> list[Segment]:
    """The segments of another rung at the same instants (rungs share their sequence numbers)."""
    wanted = {segment.sequence for segment in top[span.first : span.stop]}
    return [segment for segment in rung if segment.sequence in wanted]


def clip_playlist(rung: str, segments: Sequence[Segment]) -> tuple[str, list[tuple[str, str]]]:
    """A VOD playlist over the clip's copies of `segments`, and (source uri, copy's uri) pairs
    of the segments to copy (a lost segment is listed as a gap and not copied)."""
    copies = [
        replace(segment, uri=f"{rung}_{index:04d}.ts", discontinuity=segment.discontinuity and index > 0)
        for index, segment in enumerate(segments)
    ]
    pairs = [(source.uri, copy.uri) for source, copy in zip(segments, copies, strict=True) if not source.gap]
    return vod_playlist(copies), pairs
