"""The worker's CloudWatch metrics, as Embedded Metric Format (EMF) lines on stdout.

On ECS the awslogs driver ships stdout to the task's log group, and CloudWatch Logs extracts
every EMF line there into metric datapoints (no agent, no API call, no extra permission); the
line itself stays queryable in Logs Insights next to the JSON logs. Stdlib only: the worker image
does not carry Powertools.

Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

import json
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final, Protocol, TextIO

from letslive.constants import INGEST_METRIC_DIMENSIONS, INGEST_METRIC_SERVICE, POWERTOOLS_NAMESPACE, IngestMetric

logger = logging.getLogger(__name__)

# CloudWatch standard units, one per metric (the dashboard and alarms read them by name).
METRIC_UNITS: Final[Mapping[IngestMetric, str]] = {
    IngestMetric.ACTIVE_BROADCASTS: "Count",
    IngestMetric.INPUT_BITRATE: "Kilobits/Second",
    IngestMetric.TRANSCODE_SPEED: "None",
    IngestMetric.SEGMENT_UPLOAD_LATENCY: "Milliseconds",
    IngestMetric.SEGMENTS_UPLOADED: "Count",
    IngestMetric.UPLOAD_FAILURES: "Count",
    IngestMetric.SEGMENTS_DROPPED: "Count",
    IngestMetric.LOOP_ERRORS: "Count",
    IngestMetric.EVENT_LOOP_LAG: "Milliseconds",
}
# EMF: a metric's value is one number or an array of at most 100.
MAX_VALUES_PER_METRIC: Final = 100

MetricValue = float | Sequence[float]
Properties = Mapping[str, str | int | float]


class MetricsEmitter(Protocol):
    """Where the worker reports its metrics; `properties` ride along (not dimensions: a broadcast
    id as a dimension would make one metric per broadcast)."""

    def emit(self, values: Mapping[IngestMetric, MetricValue], properties: Properties | None = None) -> None: ...


class NoMetrics:
    """Reports nothing (tests and tools that build parts of the worker)."""

    def emit(self, values: Mapping[IngestMetric, MetricValue], properties: Properties | None = None) -> None:
        return None


class EmfMetrics:
    """One EMF JSON object per line, namespace `POWERTOOLS_NAMESPACE`, dimensions
    `INGEST_METRIC_DIMENSIONS` (service, stage). Never raises: metrics must not end a broadcast."""

    def __init__(self, stage: str, stream: TextIO | None = None, clock: Callable[[], float] = time.time) -> None:
        self.dimensions: dict[str, str] = dict(
            zip(INGEST_METRIC_DIMENSIONS, (INGEST_METRIC_SERVICE, stage), strict=True)
        )
        self._stream = stream
        self._clock = clock
        # Uploads report from worker threads too; a line must never be split by another.
        self._lock = threading.Lock()

    def emit(self, values: Mapping[IngestMetric, MetricValue], properties: Properties | None = None) -> None:
        try:
            lines = [json.dumps(doc, separators=(",", ":")) for doc in self.documents(values, properties)]
            if not lines:
                return
            stream = self._stream or sys.stdout  # looked up late: the process may swap stdout
            with self._lock:
                stream.write("".join(line + "\n" for line in lines))
                stream.flush()
        except (OSError, ValueError, TypeError):
            logger.warning("could not write metrics", exc_info=True)

    def documents(
        self, values: Mapping[IngestMetric, MetricValue], properties: Properties | None = None
    ) -> Iterator[dict[str, object]]:
        """The EMF documents for `values`: more than one only when a metric has over 100 values."""
        pending = {metric: _finite(value) for metric, value in values.items()}
        pending = {metric: numbers for metric, numbers in pending.items() if numbers}
        while pending:
            chunk = {metric: numbers[:MAX_VALUES_PER_METRIC] for metric, numbers in pending.items()}
            pending = {m: n[MAX_VALUES_PER_METRIC:] for m, n in pending.items() if len(n) > MAX_VALUES_PER_METRIC}
            # Properties first: a property may never shadow a dimension or a metric value.
            document: dict[str, object] = {**(properties or {}), **self.dimensions}
            for metric, numbers in chunk.items():
                document[metric.value] = numbers[0] if len(numbers) == 1 else numbers
            document["_aws"] = {
                "Timestamp": int(self._clock() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": POWERTOOLS_NAMESPACE,
                        "Dimensions": [list(INGEST_METRIC_DIMENSIONS)],
                        "Metrics": [{"Name": metric.value, "Unit": METRIC_UNITS[metric]} for metric in chunk],
                    }
                ],
            }
            yield document


def _finite(value: MetricValue) -> list[float]:
    """NaN and infinities are not JSON numbers; CloudWatch would reject the whole line."""
    numbers = [value] if isinstance(value, int | float) else list(value)
    return [float(number) for number in numbers if math.isfinite(number)]
