"""PostgreSQL-specific behaviour: URL parsing, session settings, types, errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlglot import exp

from tests.engines import Engine, open_engine
from tidegauge.core.model import TableKind, TypeFamily
from tidegauge.warehouses.base import ConnectionFailed, PermissionDenied
from tidegauge.warehouses.postgres import PostgresWarehouseConfig


def test_url_wins_over_fields_and_is_percent_decoded() -> None:
    c = PostgresWarehouseConfig(
        url="postgresql://an%20alyst:p%40ss%3Aw%2Frd@db.example.com:6543/sales%20db?sslmode=require",
        host="ignored",
        port=1,
        user="ignored",
    )
    assert (c.host, c.port, c.user, c.password, c.database, c.sslmode) == (
        "db.example.com",
        6543,
        "an alyst",
        "p@ss:w/rd",
        "sales db",
        "require",
    )


def test_url_keeps_fields_it_does_not_carry() -> None:
    c = PostgresWarehouseConfig(url="postgres://db.local", user="reader", database="shop")
    assert (c.host, c.port, c.user, c.database) == ("db.local", 5432, "reader", "shop")


def test_url_with_the_wrong_scheme_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="postgresql://"):
        PostgresWarehouseConfig(url="mysql://root@localhost/test")


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Engine]:
    with open_engine("postgres", tmp_path) as eng:
        yield eng


@pytest.mark.postgres
def test_session_is_read_only_with_a_statement_timeout(pg: Engine) -> None:
    wh = pg.connect(statement_timeout=1.5)
    show = wh.parse(
        "SELECT current_setting('default_transaction_read_only'), "
        "current_setting('statement_timeout'), current_setting('TimeZone')"
    )
    assert wh.execute(show).rows[0] == ("on", "1500ms", "UTC")


@pytest.mark.postgres
def test_engine_specific_type_families(pg: Engine) -> None:
    s = exp.to_identifier(pg.schema, quoted=True).sql("postgres")
    pg.admin_run(
        f"CREATE TYPE {s}.mood AS ENUM ('ok', 'sad')",
        f"CREATE DOMAIN {s}.positive AS integer CHECK (VALUE > 0)",
        f"""CREATE TABLE {s}.typed (
            ts timestamptz, j jsonb, ints int[], m {s}.mood, p {s}.positive, n numeric(12, 2),
            u uuid, b bytea, iv interval, ch varchar(20), d double precision, t time)""",
    )
    table = next(t for t in pg.warehouse.list_tables() if t.ref.name == "typed")
    got = {c.name: (c.data_type, c.family) for c in table.columns}
    # format_type qualifies a type outside the search path with its schema
    assert got == {
        "ts": ("timestamp with time zone", TypeFamily.TIMESTAMP),
        "j": ("jsonb", TypeFamily.JSON),
        "ints": ("integer[]", TypeFamily.ARRAY),
        "m": (f"{pg.schema}.mood", TypeFamily.STRING),
        "p": ("integer", TypeFamily.INTEGER),
        "n": ("numeric(12,2)", TypeFamily.DECIMAL),
        "u": ("uuid", TypeFamily.STRING),
        "b": ("bytea", TypeFamily.BINARY),
        "iv": ("interval", TypeFamily.INTERVAL),
        "ch": ("character varying(20)", TypeFamily.STRING),
        "d": ("double precision", TypeFamily.FLOAT),
        "t": ("time without time zone", TypeFamily.TIME),
    }


@pytest.mark.postgres
def test_row_estimate_after_analyze_and_partitions_listed_once(pg: Engine) -> None:
    pg.seed("events", {"id": "int"}, [(i,) for i in range(250)])
    s = exp.to_identifier(pg.schema, quoted=True).sql("postgres")
    pg.admin_run(
        f"ANALYZE {s}.events",
        f"CREATE TABLE {s}.parted (id int, day date) PARTITION BY RANGE (day)",
        f"CREATE TABLE {s}.parted_2024 PARTITION OF {s}.parted "
        "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        f"CREATE MATERIALIZED VIEW {s}.mv AS SELECT count(*) AS n FROM {s}.events",
    )
    tables = {t.ref.name: t for t in pg.warehouse.list_tables()}
    assert set(tables) == {"events", "parted", "mv"}
    assert tables["events"].row_count == 250
    assert tables["events"].bytes and tables["events"].bytes > 0
    assert tables["events"].last_modified is None  # no honest metadata freshness
    assert tables["mv"].kind is TableKind.TABLE  # materialized: it has rows and a size
    definitions = pg.warehouse.view_definitions()
    assert "events" in definitions[pg.ref("mv")]


@pytest.mark.postgres
def test_permission_denied_names_the_warehouse(pg: Engine) -> None:
    role = f"tgtest_{uuid.uuid4().hex[:8]}"
    pg.seed("secret", {"id": "int"}, [(1,)])
    pg.admin_run(f'CREATE ROLE "{role}" LOGIN')
    try:
        wh = pg.connect(user=role)
        with pytest.raises(PermissionDenied, match=r"'test'.*permission denied"):
            wh.execute(exp.select(exp.Star()).from_(pg.table("secret")))
        wh.close()
    finally:
        pg.admin_run(f'DROP ROLE "{role}"')


@pytest.mark.postgres
def test_unknown_role_is_a_connection_failure_without_the_password(pg: Engine) -> None:
    wh = pg.connect(user="no_such_role_tg", password="hunter2-secret")
    with pytest.raises(ConnectionFailed) as err:
        wh.connect()
    assert "no_such_role_tg" in str(err.value)
    assert "hunter2-secret" not in str(err.value)
