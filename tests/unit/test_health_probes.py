"""`dependency_probes`: the probes an entry point gets from the health service, by check name."""

from collections.abc import Iterator

import pytest

from letslive.constants import ENV_MEDIA_BUCKET, Table, table_env_var
from letslive.errors import ConfigurationError
from letslive.services.health import MEDIA_BUCKET_CHECK, dependency_probes, table_check
from letslive.settings import reset_settings


@pytest.fixture
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for table in Table:
        monkeypatch.delenv(table_env_var(table), raising=False)
    monkeypatch.delenv(ENV_MEDIA_BUCKET, raising=False)
    reset_settings()
    yield
    reset_settings()


def test_one_probe_per_table_and_the_bucket_only_when_asked() -> None:
    assert dependency_probes() == {}
    assert set(dependency_probes((Table.STREAMS, Table.VODS))) == {"table:streams", "table:vods"}
    assert set(dependency_probes((Table.STREAMS,), media=True)) == {"table:streams", MEDIA_BUCKET_CHECK}
    assert table_check(Table.USERS) == "table:users"
    assert MEDIA_BUCKET_CHECK == "bucket:media"


@pytest.mark.usefixtures("unconfigured")
def test_building_the_probes_touches_nothing_and_running_one_names_the_missing_setting() -> None:
    probes = dependency_probes((Table.STREAMS,), media=True)  # no setting read yet
    with pytest.raises(ConfigurationError, match=table_env_var(Table.STREAMS)):
        probes["table:streams"]()
    with pytest.raises(ConfigurationError, match=ENV_MEDIA_BUCKET):
        probes[MEDIA_BUCKET_CHECK]()
