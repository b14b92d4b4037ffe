"""The names shared by runtime, CDK and tests: every service is wired, every env var is distinct."""

import pytest

from letslive.constants import (
    ENV_PREFIX,
    SERVICE_READ_TABLES,
    SERVICE_TABLES,
    Service,
    Table,
    health_route,
    table_env_var,
)


def test_every_service_owns_at_least_one_known_table() -> None:
    assert set(SERVICE_TABLES) == set(Service)
    for service, tables in SERVICE_TABLES.items():
        assert tables, service
        assert all(isinstance(table, Table) for table in tables)


def owners(table: Table) -> list[Service]:
    """The services a table belongs to: the one that lists it first, else every one listing it
    (auth lists the accounts' users table second; chat owns both of its tables)."""
    first = [service for service, tables in SERVICE_TABLES.items() if tables[0] == table]
    return first or [service for service, tables in SERVICE_TABLES.items() if table in tables]


def test_every_table_is_the_own_table_of_exactly_one_service() -> None:
    for table in Table:
        assert len(owners(table)) == 1, table
    used = {table for tables in SERVICE_TABLES.values() for table in tables}
    assert used == set(Table)


def test_a_service_reads_only_tables_other_services_own() -> None:
    assert set(SERVICE_READ_TABLES) <= set(Service)
    for service, tables in SERVICE_READ_TABLES.items():
        assert tables, service
        for table in tables:
            assert table not in SERVICE_TABLES[service], (service, table)
            assert owners(table) != [service], (service, table)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (Table.AUTH, "LETSLIVE_AUTH_TABLE"),
        (Table.USERS, "LETSLIVE_USERS_TABLE"),
        (Table.STREAMS, "LETSLIVE_STREAMS_TABLE"),
        (Table.VODS, "LETSLIVE_VODS_TABLE"),
        (Table.CONNECTIONS, "LETSLIVE_CONNECTIONS_TABLE"),
        (Table.CHAT, "LETSLIVE_CHAT_TABLE"),
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
