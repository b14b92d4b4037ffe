"""The names shared by runtime, CDK and tests: every service is wired, every env var is distinct."""

import pytest

from letslive.constants import ENV_PREFIX, SERVICE_TABLES, Service, Table, health_route, table_env_var


def test_every_service_owns_at_least_one_known_table() -> None:
    assert set(SERVICE_TABLES) == set(Service)
    for service, tables in SERVICE_TABLES.items():
        assert tables, service
        assert all(isinstance(table, Table) for table in tables)


def test_every_table_is_the_own_table_of_exactly_one_service() -> None:
    owners = [tables[0] for tables in SERVICE_TABLES.values()]
    assert sorted(owners) == sorted(Table)
    used = {table for tables in SERVICE_TABLES.values() for table in tables}
    assert used == set(Table)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (Table.AUTH, "LETSLIVE_AUTH_TABLE"),
        (Table.USERS, "LETSLIVE_USERS_TABLE"),
        (Table.STREAMS, "LETSLIVE_STREAMS_TABLE"),
        (Table.VODS, "LETSLIVE_VODS_TABLE"),
    ],
)
def test_table_env_var_names(table: Table, expected: str) -> None:
    assert table_env_var(table) == expected
    assert table_env_var(table).startswith(ENV_PREFIX)


def test_table_env_vars_are_distinct() -> None:
    assert len({table_env_var(table) for table in Table}) == len(Table)


@pytest.mark.parametrize("service", list(Service))
def test_health_route_is_under_the_service_prefix(service: Service) -> None:
    # The HTTP API routes `ANY /<service>/{proxy+}` to the service's Lambda.
    assert health_route(service) == f"/{service.value}/health"
