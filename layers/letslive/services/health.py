"""Health of a service: its version and whether each dependency answers."""

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from letslive import __version__
from letslive.constants import SERVICE_TABLES, Service, Table
from letslive.errors import LetsLiveError
from letslive.models.health import CheckResult, HealthReport

# A probe returns when its dependency answers and raises a `LetsLiveError` when it does not.
Probe = Callable[[], None]


class HealthService:
    def __init__(
        self,
        name: str,
        probes: Mapping[str, Probe],
        version: str = __version__,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.name = name
        self.probes = probes
        self.version = version
        self._clock = clock

    def _run(self, probe: Probe) -> CheckResult:
        started = self._clock()
        try:
            probe()
        except LetsLiveError as exc:
            return CheckResult(ok=False, latency_ms=self._elapsed_ms(started), error=exc.detail)
        return CheckResult(ok=True, latency_ms=self._elapsed_ms(started))

    def _elapsed_ms(self, started: float) -> float:
        return round((self._clock() - started) * 1000, 2)

    def check(self) -> HealthReport:
        checks = {name: self._run(probe) for name, probe in self.probes.items()}
        healthy = all(result.ok for result in checks.values())
        return HealthReport(
            service=self.name, version=self.version, status="ok" if healthy else "degraded", checks=checks
        )


MEDIA_BUCKET_CHECK: Final = "bucket:media"


def table_check(table: Table) -> str:
    """The name a table's check reports under."""
    return f"table:{table.value}"


def _table_probe(table: Table) -> Probe:
    from letslive.data.tables import ping_table

    return lambda: ping_table(table)


def _media_probe() -> None:
    from letslive.services.storage import media_storage

    media_storage().ping()


def dependency_probes(tables: Iterable[Table] = (), *, media: bool = False) -> dict[str, Probe]:
    """Probes by check name: one per table in `tables` and, with `media`, the media bucket.

    Nothing is configured or connected until a probe runs (a missing setting fails that probe).
    """
    probes = {table_check(table): _table_probe(table) for table in tables}
    if media:
        probes[MEDIA_BUCKET_CHECK] = _media_probe
    return probes


def service_health(service: Service) -> HealthService:
    """Health of an HTTP service: one probe per table it owns."""
    return HealthService(service.value, dependency_probes(SERVICE_TABLES[service]))
