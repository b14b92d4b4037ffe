"""The ingest worker's metrics: CloudWatch Embedded Metric Format lines, and who emits what."""

import asyncio
import io
import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from letslive.constants import INGEST_METRIC_DIMENSIONS, INGEST_METRIC_SERVICE, POWERTOOLS_NAMESPACE, IngestMetric
from letslive.models.streams import Broadcast, StreamHealth
from letslive.services.storage import MediaStorage
from letslive.services.streams import StreamService
from letslive.services.vods import VodService
from workers.ingest.broadcasts import BroadcastManager, LiveBroadcast, PublisherSession, health_metrics, run_forever
from workers.ingest.config import IngestSettings
from workers.ingest.health import CHECK_MEDIA_BUCKET, CHECK_STREAMS_TABLE
from workers.ingest.metrics import MAX_VALUES_PER_METRIC, METRIC_UNITS, EmfMetrics, MetricValue, Properties
from workers.ingest.worker import BroadcastRegistry, IngestWorker

# CloudWatch's standard units (MetricDatum.Unit); EMF accepts exactly these.
CLOUDWATCH_UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
        "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
        "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
        "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    }
)  # fmt: skip
NOW = 1_764_000_000.25


class RecordingMetrics:
    """A `MetricsEmitter` that keeps what it is given."""

    def __init__(self) -> None:
        self.emitted: list[tuple[dict[IngestMetric, MetricValue], dict[str, Any]]] = []

    def emit(self, values: Mapping[IngestMetric, MetricValue], properties: Properties | None = None) -> None:
        self.emitted.append((dict(values), dict(properties or {})))

    def values(self, metric: IngestMetric) -> list[MetricValue]:
        return [values[metric] for values, _ in self.emitted if metric in values]


def assert_emf(document: dict[str, Any], stage: str) -> list[str]:
    """`document` is a valid EMF document of the ingest namespace; returns its metric names."""
    aws = document["_aws"]
    assert set(aws) == {"Timestamp", "CloudWatchMetrics"}
    assert isinstance(aws["Timestamp"], int)
    assert aws["Timestamp"] > 0
    (directive,) = aws["CloudWatchMetrics"]
    assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
    assert directive["Namespace"] == POWERTOOLS_NAMESPACE
    assert directive["Dimensions"] == [list(INGEST_METRIC_DIMENSIONS)]
    # Every dimension is a string member of the root (the spec's "target members").
    assert {name: document[name] for name in INGEST_METRIC_DIMENSIONS} == {
        "service": INGEST_METRIC_SERVICE,
        "stage": stage,
    }
    names = []
    assert 1 <= len(directive["Metrics"]) <= 100
    for definition in directive["Metrics"]:
        assert set(definition) == {"Name", "Unit"}
        assert definition["Unit"] in CLOUDWATCH_UNITS
        assert definition["Unit"] == METRIC_UNITS[IngestMetric(definition["Name"])]
        value = document[definition["Name"]]
        numbers = value if isinstance(value, list) else [value]
        assert 1 <= len(numbers) <= MAX_VALUES_PER_METRIC
        assert all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in numbers)
        names.append(definition["Name"])
    return names


WAIT_SECONDS = 5.0


async def until(condition: Callable[[], object]) -> None:
    """Poll `condition` on the event loop until it holds (bounded), instead of sleeping a guess."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def parse_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = stream.getvalue().splitlines()
    assert all(line.startswith("{") and line.endswith("}") for line in lines)  # one whole object per line
    return [json.loads(line) for line in lines]


def test_every_metric_has_a_cloudwatch_unit() -> None:
    assert set(METRIC_UNITS) == set(IngestMetric)
    assert set(METRIC_UNITS.values()) <= CLOUDWATCH_UNITS


def test_a_line_is_an_emf_document_with_values_at_the_root() -> None:
    stream = io.StringIO()
    metrics = EmfMetrics("prod", stream=stream, clock=lambda: NOW)
    metrics.emit(
        {IngestMetric.INPUT_BITRATE: 4500.5, IngestMetric.TRANSCODE_SPEED: 1.02},
        {"broadcast_id": "b-1", "channel": "alice"},
    )
    (document,) = parse_lines(stream)
    assert assert_emf(document, "prod") == ["InputBitrate", "TranscodeSpeed"]
    assert document["_aws"]["Timestamp"] == int(NOW * 1000)  # milliseconds since the epoch
    assert document["InputBitrate"] == 4500.5
    assert document["TranscodeSpeed"] == 1.02
    assert document["broadcast_id"] == "b-1"
    assert document["channel"] == "alice"


def test_properties_never_shadow_dimensions_or_values() -> None:
    stream = io.StringIO()
    EmfMetrics("prod", stream=stream).emit(
        {IngestMetric.SEGMENTS_UPLOADED: 3}, {"stage": "spoofed", "service": "x", "SegmentsUploaded": 99}
    )
    (document,) = parse_lines(stream)
    assert_emf(document, "prod")
    assert document["SegmentsUploaded"] == 3


def test_value_arrays_are_split_at_100_per_document() -> None:
    stream = io.StringIO()
    latencies = [float(i) for i in range(250)]
    EmfMetrics("dev", stream=stream).emit(
        {IngestMetric.SEGMENT_UPLOAD_LATENCY: latencies, IngestMetric.SEGMENTS_UPLOADED: 250}
    )
    documents = parse_lines(stream)
    assert len(documents) == 3
    for document in documents:
        assert_emf(document, "dev")
    assert [d["SegmentUploadLatency"] for d in documents] == [latencies[:100], latencies[100:200], latencies[200:]]
    # A single value is written once, not once per chunk (it would be counted three times).
    assert [d.get("SegmentsUploaded") for d in documents] == [250, None, None]


def test_values_that_are_not_finite_are_dropped() -> None:
    stream = io.StringIO()
    metrics = EmfMetrics("prod", stream=stream)
    metrics.emit({IngestMetric.TRANSCODE_SPEED: math.nan, IngestMetric.INPUT_BITRATE: math.inf})
    assert stream.getvalue() == ""  # nothing left to report: no line at all
    metrics.emit({IngestMetric.SEGMENT_UPLOAD_LATENCY: [12.0, math.nan], IngestMetric.TRANSCODE_SPEED: math.nan})
    (document,) = parse_lines(stream)
    assert assert_emf(document, "prod") == ["SegmentUploadLatency"]
    assert document["SegmentUploadLatency"] == 12.0


def test_a_broken_stream_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    stream.close()
    EmfMetrics("prod", stream=stream).emit({IngestMetric.ACTIVE_BROADCASTS: 1})
    assert "could not write metrics" in caplog.text


def test_health_becomes_the_per_broadcast_metrics() -> None:
    both = StreamHealth(input_bitrate_kbps=6000.0, transcode_speed=1.5)
    assert health_metrics(both) == {IngestMetric.INPUT_BITRATE: 6000.0, IngestMetric.TRANSCODE_SPEED: 1.5}
    # Before FFmpeg reports progress there is no speed, and no made-up zero either.
    assert health_metrics(StreamHealth(input_bitrate_kbps=10.0)) == {IngestMetric.INPUT_BITRATE: 10.0}


def test_the_worker_reports_active_broadcasts_every_heartbeat() -> None:
    stream = io.StringIO()

    async def scenario() -> None:
        settings = IngestSettings(health_host="127.0.0.1", health_port=0, heartbeat_seconds=0.05)
        probes = {CHECK_STREAMS_TABLE: lambda: None, CHECK_MEDIA_BUCKET: lambda: None}
        worker = IngestWorker(settings, probes=probes, metrics=EmfMetrics("test", stream=stream))
        runner = asyncio.create_task(worker.run())

        def reported(count: int) -> bool:
            return any(document["ActiveBroadcasts"] == count for document in parse_lines(stream))

        await until(lambda: reported(0))
        worker.broadcasts.started("b-1")
        worker.broadcasts.started("b-2")
        await until(lambda: reported(2))
        worker.broadcasts.ended("b-1")
        worker.broadcasts.ended("b-2")
        worker.stop()
        assert await asyncio.wait_for(runner, 5) is True

    asyncio.run(scenario())
    documents = parse_lines(stream)
    for document in documents:
        assert assert_emf(document, "test") == ["ActiveBroadcasts", "EventLoopLag"]
        assert document["EventLoopLag"] >= 0
    counts = [document["ActiveBroadcasts"] for document in documents]
    assert counts[0] == 0  # idle tasks report too: autoscaling averages over every task
    assert 2 in counts


class HeartbeatStreams:
    """The one `StreamService` call a heartbeat makes."""

    def __init__(self) -> None:
        self.heartbeats: list[StreamHealth] = []

    def heartbeat(self, broadcast_id: str, key_hash: str, health: StreamHealth, part: int | None = None) -> bool:
        self.heartbeats.append(health)
        return True


class MeasuredSession:
    revoked = False

    def health(self) -> StreamHealth:
        return StreamHealth(input_bitrate_kbps=5800.0, transcode_speed=1.25)


def heartbeating(session: MeasuredSession, heartbeat_seconds: float) -> tuple[LiveBroadcast, HeartbeatStreams]:
    """A live broadcast of `session` on a manager whose streams service records heartbeats."""
    streams = HeartbeatStreams()
    manager = BroadcastManager(
        IngestSettings(heartbeat_seconds=heartbeat_seconds),
        BroadcastRegistry(),
        cast(StreamService, streams),
        cast(VodService, None),
        cast(MediaStorage, None),
        reconnect_grace_seconds=10,
        metrics=RecordingMetrics(),
    )
    broadcast = Broadcast(broadcast_id="b-1", username="alice", key_hash="h", started_at=datetime.now(UTC), title="t")
    live = LiveBroadcast(broadcast, manager.context)
    live.session = cast(PublisherSession, session)
    return live, streams


def test_each_heartbeat_reports_the_broadcasts_bitrate_and_transcode_speed() -> None:
    live, streams = heartbeating(MeasuredSession(), 0.02)
    metrics = cast(RecordingMetrics, live.context.metrics)

    async def scenario() -> None:
        beating = asyncio.create_task(run_forever("heartbeat", live._heartbeat, metrics, {}))
        await until(lambda: len(streams.heartbeats) >= 2)
        beating.cancel()

    asyncio.run(scenario())
    assert len(streams.heartbeats) >= 2
    assert metrics.values(IngestMetric.INPUT_BITRATE)[:2] == [5800.0, 5800.0]
    assert metrics.values(IngestMetric.TRANSCODE_SPEED)[:2] == [1.25, 1.25]
    # What the streams table is told is what CloudWatch gets.
    assert streams.heartbeats[0] == MeasuredSession().health()
    assert metrics.emitted[0][1] == {"broadcast_id": "b-1", "channel": "alice"}


class FlakyHealthSession(MeasuredSession):
    """A session whose health report raises twice (a bug, not a dependency failure)."""

    def __init__(self) -> None:
        self.calls = 0

    def health(self) -> StreamHealth:
        self.calls += 1
        if self.calls <= 2:
            raise ZeroDivisionError("a bug in a health measurement")
        return super().health()


def test_a_loop_that_raises_is_logged_counted_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    live, streams = heartbeating(FlakyHealthSession(), 0.01)
    metrics = cast(RecordingMetrics, live.context.metrics)

    async def scenario() -> None:
        beating = asyncio.create_task(run_forever("heartbeat", live._heartbeat, metrics, {"broadcast_id": "b-1"}))
        await until(lambda: len(streams.heartbeats) >= 1)
        beating.cancel()

    asyncio.run(scenario())
    assert metrics.values(IngestMetric.LOOP_ERRORS) == [1, 1]
    failures = [r for r in caplog.records if r.getMessage() == "heartbeat failed; going on"]
    assert len(failures) == 2
    assert all(r.exc_info for r in failures), "with the traceback"
