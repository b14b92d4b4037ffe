"""`letslive.settings`: what the environment says, validated once and cached until reset."""

import os
from collections.abc import Iterator

import pytest

from letslive.constants import (
    ENV_AWS_ENDPOINT_URL,
    ENV_MEDIA_BUCKET,
    ENV_PREFIX,
    ENV_REGION,
    ENV_STAGE,
    Table,
    table_env_var,
)
from letslive.errors import ConfigurationError
from letslive.settings import Settings, get_settings, reset_settings

FOREIGN_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No Let's Live or region/endpoint variable from the outer environment; no cached settings."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) or name in FOREIGN_VARS:
            monkeypatch.delenv(name)
    reset_settings()
    yield
    reset_settings()


def test_defaults_without_any_variable() -> None:
    settings = Settings()
    assert settings.stage == "local"
    assert settings.region == "us-east-1"
    assert settings.aws_endpoint_url is None
    assert settings.media_bucket is None
    assert settings.probe_timeout_seconds == 2.0


@pytest.mark.parametrize("table", list(Table))
def test_table_name_comes_from_the_table_env_var(monkeypatch: pytest.MonkeyPatch, table: Table) -> None:
    monkeypatch.setenv(table_env_var(table), f"prod-{table.value}-a1b2")
    settings = Settings()
    assert settings.table_name(table) == f"prod-{table.value}-a1b2"
    # Only that table: a process is given just the tables it may use.
    for other in set(Table) - {table}:
        with pytest.raises(ConfigurationError):
            settings.table_name(other)


def test_each_table_reads_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for table in Table:
        monkeypatch.setenv(table_env_var(table), f"name-of-{table.value}")
    settings = Settings()
    assert {table: settings.table_name(table) for table in Table} == {
        table: f"name-of-{table.value}" for table in Table
    }


@pytest.mark.parametrize("table", list(Table))
def test_unset_table_raises_configuration_error_naming_the_variable(table: Table) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings().table_name(table)
    assert table_env_var(table) in raised.value.detail
    assert raised.value.code == "configuration"


def test_empty_table_name_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(table_env_var(Table.USERS), "")
    with pytest.raises(ConfigurationError, match=table_env_var(Table.USERS)):
        Settings().table_name(Table.USERS)


@pytest.mark.parametrize("variable", [ENV_REGION, "AWS_REGION", "AWS_DEFAULT_REGION"])
def test_region_aliases(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "eu-west-3")
    assert Settings().region == "eu-west-3"


def test_region_precedence_ours_then_aws_region_then_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert Settings().region == "ap-south-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert Settings().region == "eu-central-1"
    monkeypatch.setenv(ENV_REGION, "sa-east-1")
    assert Settings().region == "sa-east-1"


@pytest.mark.parametrize("variable", [ENV_AWS_ENDPOINT_URL, "AWS_ENDPOINT_URL"])
def test_endpoint_url_aliases(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "http://127.0.0.1:4566")
    assert Settings().aws_endpoint_url == "http://127.0.0.1:4566"


def test_our_endpoint_url_wins_over_the_aws_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv(ENV_AWS_ENDPOINT_URL, "http://127.0.0.1:4566")
    assert Settings().aws_endpoint_url == "http://127.0.0.1:4566"


def test_stage_and_media_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_STAGE, "prod")
    monkeypatch.setenv(ENV_MEDIA_BUCKET, "letslive-media-123")
    settings = Settings()
    assert settings.stage == "prod"
    assert settings.media_bucket_name() == "letslive-media-123"


def test_unset_media_bucket_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=ENV_MEDIA_BUCKET):
        Settings().media_bucket_name()


def test_get_settings_is_cached_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(table_env_var(Table.AUTH), "first")
    first = get_settings()
    assert get_settings() is first

    monkeypatch.setenv(table_env_var(Table.AUTH), "second")
    assert get_settings().table_name(Table.AUTH) == "first"

    reset_settings()
    fresh = get_settings()
    assert fresh is not first
    assert fresh.table_name(Table.AUTH) == "second"


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.stage = "prod"


@pytest.mark.parametrize("value", ["0", "-1", "30.5", "not-a-number"])
def test_invalid_probe_timeout_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}PROBE_TIMEOUT_SECONDS", value)
    with pytest.raises(ConfigurationError, match="probe_timeout_seconds"):
        get_settings()


@pytest.mark.parametrize(("value", "expected"), [("0.25", 0.25), ("30", 30.0)])
def test_valid_probe_timeout(monkeypatch: pytest.MonkeyPatch, value: str, expected: float) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}PROBE_TIMEOUT_SECONDS", value)
    assert get_settings().probe_timeout_seconds == expected


def test_a_failed_parse_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}PROBE_TIMEOUT_SECONDS", "0")
    with pytest.raises(ConfigurationError):
        get_settings()
    monkeypatch.setenv(f"{ENV_PREFIX}PROBE_TIMEOUT_SECONDS", "1.5")
    assert get_settings().probe_timeout_seconds == 1.5
