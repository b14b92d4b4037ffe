"""Checks on HLS output shared by the integration and e2e suites."""

import itertools

from letslive.media.playlists import MediaPlaylist

# One frame at 30 fps (and a millisecond of rounding): how far a segment may be from the target
# length, and a rung's boundaries from another's.
FRAME = 1 / 30 + 0.001


def assert_aligned(playlists: dict[str, MediaPlaylist], target: float = 1.0, frames: int = 1) -> None:
    """Every rung cut at the same instants (± a frame), with the same target duration, into
    segments of the `target` length ± `frames` frames (the last segment of each part may be
    shorter). A cut can only land on a frame the publisher sent: one that skips frames (OBS on a
    busy machine) may move a cut by the frames it skipped."""
    durations = {name: [s.duration for s in p.segments] for name, p in playlists.items()}
    counts = {name: len(d) for name, d in durations.items()}
    assert len(set(counts.values())) == 1, counts
    assert len({p.target_duration for p in playlists.values()}) == 1
    bounds = [list(itertools.accumulate(d)) for d in durations.values()]
    for boundaries in zip(*bounds, strict=True):
        assert max(boundaries) - min(boundaries) <= FRAME, boundaries
    for playlist in playlists.values():
        last_of_part = {i - 1 for i, s in enumerate(playlist.segments) if s.discontinuity} | {
            len(playlist.segments) - 1
        }
        for index, segment in enumerate(playlist.segments):
            if index not in last_of_part:
                assert abs(segment.duration - target) <= frames * FRAME, (index, segment.duration)
