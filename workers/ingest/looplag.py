"""How late the worker's event loop runs: the delay past its due time of a timer set every 50 ms.

Every broadcast's RTMP reads, FFmpeg feeding, uploads and the health endpoint share this one
loop, so its lag is how long any of them can be held up (by CPU-bound work, a long GC pass, or
a starved process). Kept as cumulative counts per bucket since start (a reader diffs two
readings for any window) and the worst since the last `take_max()` (the per-heartbeat metric).
"""

import asyncio
from bisect import bisect_left
from typing import Final

from pydantic import BaseModel, Field

# Upper bounds (ms) of the buckets; a last bucket counts what is above the last bound.
LAG_BOUNDS_MS: Final = (5, 10, 20, 50, 100, 250, 1000)
INTERVAL_SECONDS: Final = 0.05


class LoopLagReport(BaseModel):
    samples: int = Field(ge=0)
    max_ms: float = Field(ge=0)  # since start
    # "<=5", ..., "<=1000", ">1000": samples per bucket since start.
    buckets: dict[str, int]


def bucket_names() -> list[str]:
    return [f"<={bound}" for bound in LAG_BOUNDS_MS] + [f">{LAG_BOUNDS_MS[-1]}"]


class LoopLag:
    def __init__(self, interval_seconds: float = INTERVAL_SECONDS) -> None:
        self.interval = interval_seconds
        self._counts = [0] * (len(LAG_BOUNDS_MS) + 1)
        self._max_ms = 0.0
        self._window_max_ms = 0.0

    def record(self, lag_ms: float) -> None:
        lag_ms = max(0.0, lag_ms)
        self._counts[bisect_left(LAG_BOUNDS_MS, lag_ms)] += 1
        self._max_ms = max(self._max_ms, lag_ms)
        self._window_max_ms = max(self._window_max_ms, lag_ms)

    def take_max(self) -> float:
        """The worst lag since the last call."""
        worst, self._window_max_ms = self._window_max_ms, 0.0
        return round(worst, 1)

    def report(self) -> LoopLagReport:
        return LoopLagReport(
            samples=sum(self._counts),
            max_ms=round(self._max_ms, 1),
            buckets=dict(zip(bucket_names(), self._counts, strict=True)),
        )

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.record((loop.time() - due) * 1000)
