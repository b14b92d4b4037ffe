"""The event loop's lag: a loop held by blocking work shows up in the buckets and the maximum."""

import asyncio
import time

from workers.ingest.looplag import LoopLag, bucket_names


def test_lags_fall_into_their_buckets() -> None:
    lag = LoopLag()
    for value in (0.0, 4.9, 5.0, 7.0, 19.0, 60.0, 101.0, 5000.0):
        lag.record(value)
    report = lag.report()
    assert report.samples == 8
    assert report.max_ms == 5000.0
    assert report.buckets == {
        "<=5": 3, "<=10": 1, "<=20": 1, "<=50": 0, "<=100": 1, "<=250": 1, "<=1000": 0, ">1000": 1,
    }  # fmt: skip
    assert list(report.buckets) == bucket_names()
    assert lag.take_max() == 5000.0
    assert lag.take_max() == 0.0, "the window starts again"


def test_a_loop_held_by_blocking_work_is_measured() -> None:
    lag = LoopLag(interval_seconds=0.01)

    async def scenario() -> None:
        meter = asyncio.create_task(lag.run())
        await asyncio.sleep(0.05)
        time.sleep(0.15)  # noqa: ASYNC251 - the point: blocking work holds the loop, every timer is late
        await asyncio.sleep(0.05)
        meter.cancel()

    asyncio.run(scenario())
    report = lag.report()
    assert report.max_ms >= 100
    assert report.buckets["<=250"] >= 1
    assert report.buckets["<=5"] + report.buckets["<=10"] >= 3, "the other samples are on time"
