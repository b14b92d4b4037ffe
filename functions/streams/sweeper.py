"""Lambda entry point, on a schedule: end the broadcasts of ingest workers that stopped
heartbeating and write their VODs (`letslive.services.sweeper`)."""

from functools import cache
from typing import Any

from functions.common.observability import Observability
from letslive.constants import Service
from letslive.services.sweeper import BroadcastSweeper, broadcast_sweeper

observability = Observability(Service.STREAMS.value)
logger = observability.logger


class VodsNotWritten(RuntimeError):
    """Broadcasts were ended but their VODs could not be written: the invocation fails (alarm)."""


@cache
def _sweeper() -> BroadcastSweeper:
    return broadcast_sweeper()


@observability.entry_point()
def handler(event: dict[str, Any], context: Any) -> dict[str, list[str]]:
    # DependencyUnavailable propagates: the next scheduled run sweeps again.
    report = _sweeper().sweep()
    if report.ended:
        logger.warning("ended abandoned broadcasts", extra={"ended": report.ended, "vods": report.vods})
    if report.failed:
        raise VodsNotWritten(f"ended without a VOD: {', '.join(report.failed)}")
    return {"ended": report.ended, "vods": report.vods}
