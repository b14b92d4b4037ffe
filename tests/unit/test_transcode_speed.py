"""`SpeedMeter`: a live transcode's speed against its input, as the health page and the alarm read it."""

import pytest

from workers.ingest.transcoder import KEEPING_UP_SECONDS, SpeedMeter


def test_a_transcode_within_reach_of_its_input_runs_at_real_time() -> None:
    meter = SpeedMeter()
    # FFmpeg's own average would read 0.8x here: it waited for its first input.
    assert meter.read(10.0, 9.5) == 1.0
    assert meter.read(15.0, 15.0 - KEEPING_UP_SECONDS) == 1.0


def test_falling_behind_reads_the_media_produced_per_media_received() -> None:
    meter = SpeedMeter()
    assert meter.read(10.0, 9.0) == 1.0
    assert meter.read(20.0, 15.0) == pytest.approx(0.6)  # 6 s produced for 10 s received, 5 s behind
    assert meter.read(30.0, 27.0) == pytest.approx(1.2)  # catching up, still 3 s behind


def test_no_reading_without_progress_or_new_input() -> None:
    meter = SpeedMeter()
    assert meter.read(5.0, None) is None
    assert meter.read(10.0, 1.0) is None  # far behind, but nothing to compare with yet
    assert meter.read(10.0, 2.0) is None  # the publisher sent nothing since
    assert meter.read(12.0, 2.0) == 0.0
