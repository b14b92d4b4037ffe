"""`HealthService`: status from fake probes, errors reported, latency from an injected clock."""

import pytest

from letslive import __version__
from letslive.constants import SERVICE_TABLES, Service
from letslive.errors import ConfigurationError, DependencyUnavailable, LetsLiveError
from letslive.services.health import HealthService, service_health
from tests.support.clocks import Clock


class FakeProbe:
    """Takes `seconds` on the fake clock, then answers or raises `error`; counts its calls."""

    def __init__(self, clock: Clock, seconds: float = 0.0, error: Exception | None = None) -> None:
        self.clock = clock
        self.seconds = seconds
        self.error = error
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        self.clock.now += self.seconds
        if self.error is not None:
            raise self.error


def test_all_probes_ok_is_ok() -> None:
    clock = Clock()
    probes = {"table:users": FakeProbe(clock), "bucket:media": FakeProbe(clock)}
    report = HealthService("users", probes, clock=clock).check()

    assert report.service == "users"
    assert report.version == __version__
    assert report.status == "ok"
    assert set(report.checks) == {"table:users", "bucket:media"}
    assert all(result.ok and result.error is None for result in report.checks.values())
    assert [probe.calls for probe in probes.values()] == [1, 1]


@pytest.mark.parametrize(
    "error",
    [DependencyUnavailable("table users: connect timeout"), ConfigurationError("LETSLIVE_USERS_TABLE is not set")],
)
def test_one_failing_probe_is_degraded_with_its_error(error: LetsLiveError) -> None:
    clock = Clock()
    probes = {"table:users": FakeProbe(clock, error=error), "bucket:media": FakeProbe(clock)}
    report = HealthService("users", probes, clock=clock).check()

    assert report.status == "degraded"
    failed = report.checks["table:users"]
    assert failed.ok is False
    assert failed.error == error.detail
    assert report.checks["bucket:media"].ok is True
    assert report.checks["bucket:media"].error is None
    # A failure does not stop the other probes from running.
    assert [probe.calls for probe in probes.values()] == [1, 1]


def test_latency_is_measured_per_probe_with_the_injected_clock() -> None:
    clock = Clock()
    probes = {
        "fast": FakeProbe(clock, seconds=0.004),
        "slow": FakeProbe(clock, seconds=1.5),
        "failing": FakeProbe(clock, seconds=0.25, error=DependencyUnavailable("down")),
    }
    report = HealthService("streams", probes, clock=clock).check()

    assert report.checks["fast"].latency_ms == pytest.approx(4.0)
    assert report.checks["slow"].latency_ms == pytest.approx(1500.0)
    # Failures are timed too: a probe that hangs until its timeout shows that it did.
    assert report.checks["failing"].latency_ms == pytest.approx(250.0)


def test_latency_is_rounded_to_hundredths_of_a_millisecond() -> None:
    clock = Clock()
    report = HealthService("vods", {"p": FakeProbe(clock, seconds=0.0012345)}, clock=clock).check()
    assert report.checks["p"].latency_ms == pytest.approx(1.23)


def test_version_can_be_injected() -> None:
    report = HealthService("auth", {}, version="9.9.9", clock=Clock()).check()
    assert report.version == "9.9.9"


def test_unexpected_exceptions_are_not_swallowed() -> None:
    """Only domain errors mean "dependency down"; a bug in a probe must surface, not read as degraded."""
    clock = Clock()
    service = HealthService("auth", {"buggy": FakeProbe(clock, error=KeyError("oops"))}, clock=clock)
    with pytest.raises(KeyError):
        service.check()


@pytest.mark.parametrize("service", list(Service))
def test_service_health_probes_each_owned_table(service: Service) -> None:
    # Building the probes touches no AWS; only `check()` would.
    health = service_health(service)
    assert health.name == service.value
    assert health.version == __version__
    assert set(health.probes) == {f"table:{table.value}" for table in SERVICE_TABLES[service]}
