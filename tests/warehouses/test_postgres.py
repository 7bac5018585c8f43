"""PostgreSQL-specific behaviour: URL parsing, session settings, types, errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlglot import exp

from tests.engines import Engine, open_engine
from tests.servers import POSTGRES_URL
from tidegauge.core.model import TableKind, TypeFamily
from tidegauge.warehouses.base import ConnectionFailed, PermissionDenied
from tidegauge.warehouses.postgres import PostgresWarehouseConfig, size_expression


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
    # the system's own views (pg_catalog, information_schema) are not lineage
    assert {r.schema for r in definitions} & {"pg_catalog", "information_schema"} == set()


@pytest.mark.postgres
def test_a_partitioned_table_is_as_big_as_its_partitions(pg: Engine) -> None:
    """The parent stores nothing itself: its own size is 0, which made a partitioned table of
    any size look small (counted together with 99 small tables, shown as 0 bytes)."""
    s = exp.to_identifier(pg.schema, quoted=True).sql("postgres")
    pg.admin_run(
        f"CREATE TABLE {s}.big (id int, day date, pad text) PARTITION BY RANGE (day)",
        f"CREATE TABLE {s}.big_a PARTITION OF {s}.big FOR VALUES FROM ('2024-01-01') "
        "TO ('2024-07-01') PARTITION BY RANGE (id)",  # a partition partitioned again
        f"CREATE TABLE {s}.big_a1 PARTITION OF {s}.big_a FOR VALUES FROM (0) TO (1000000)",
        f"CREATE TABLE {s}.big_b PARTITION OF {s}.big FOR VALUES FROM ('2024-07-01') "
        "TO ('2025-01-01')",
        f"CREATE TABLE {s}.empty (id int) PARTITION BY LIST (id)",
        f"INSERT INTO {s}.big SELECT g, DATE '2024-01-01' + g % 360, repeat('x', 200) "
        "FROM generate_series(1, 20000) g",
    )
    leaves = pg.warehouse.execute(
        pg.warehouse.parse(
            f"SELECT pg_total_relation_size('{s}.big_a1'::regclass) "
            f"+ pg_total_relation_size('{s}.big_b'::regclass)"
        )
    ).rows[0][0]
    tables = {t.ref.name: t for t in pg.warehouse.list_tables()}
    assert set(tables) == {"big", "empty"}  # partitions are listed through their parent
    assert tables["big"].bytes == leaves > 4_000_000
    assert tables["empty"].bytes == 0


def test_sizes_ask_only_for_what_the_server_version_has() -> None:
    """pg_partition_tree is PostgreSQL 12+, and page counts are trusted from 14: discovery's
    query on an older server must not name what it lacks (a missing function fails the
    whole warehouse's discovery, not one table)."""
    sql = {v: size_expression("c", v).sql("postgres").lower() for v in (110000, 120000, 140000)}
    assert "pg_partition_tree" not in sql[110000] and "relpages" not in sql[110000]
    assert "pg_partition_tree" in sql[120000] and "relpages" not in sql[120000]
    assert "pg_partition_tree" in sql[140000] and "relpages" in sql[140000]
    assert all("pg_total_relation_size(c.oid)" in q for q in sql.values())


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


@pytest.mark.postgres
def test_sizes_come_from_page_counts_only_while_those_are_current(pg: Engine) -> None:
    """An analyzed table unchanged since (and its TOAST table unchanged since its VACUUM)
    is sized from pg_class page counts, without opening it; its free space and visibility
    maps are then not counted. Every other table is measured on disk: never analyzed,
    changed since, truncated, or with TOAST data ANALYZE does not measure."""
    import psycopg

    s = exp.to_identifier(pg.schema, quoted=True).sql("postgres")
    big = "(SELECT string_agg(md5(random()::text || i::text), '') FROM generate_series(1, 100) i)"

    def table(name: str) -> str:
        # the statistics see the rows before the table is analyzed (a session's counts
        # reach them later otherwise, and then count as changes since the ANALYZE)
        return (
            f"CREATE TABLE {s}.{name} (id int PRIMARY KEY, t text); "
            f"INSERT INTO {s}.{name} SELECT g, 'x' || g FROM generate_series(1, 3000) g; "
            "SELECT pg_stat_force_next_flush()"
        )

    pg.admin_run(
        table("kept"),
        f"VACUUM (ANALYZE) {s}.kept",  # free space and visibility maps
        table("fresh"),  # never analyzed
        table("changed"),
        f"ANALYZE {s}.changed",
        f"INSERT INTO {s}.changed SELECT g, 'y' FROM generate_series(3001, 6000) g",
        table("emptied"),
        f"ANALYZE {s}.emptied",
        f"TRUNCATE {s}.emptied",
        table("toasted"),
        f"UPDATE {s}.toasted SET t = {big} WHERE id <= 50",
        "SELECT pg_stat_force_next_flush()",
        f"ANALYZE {s}.toasted",
        "SELECT pg_stat_force_next_flush()",  # the statistics see those writes now
    )
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        rows = con.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid), "
            "pg_total_relation_size(c.oid) - pg_relation_size(c.oid, 'fsm') "
            "- pg_relation_size(c.oid, 'vm') "
            "- coalesce(pg_relation_size(t.oid, 'fsm') + pg_relation_size(t.oid, 'vm'), 0), "
            "pg_relation_size(c.oid, 'fsm') "
            "FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid "
            "WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'",
            [pg.schema],
        ).fetchall()
    on_disk = {r[0]: r[1] for r in rows}
    without_maps = {r[0]: r[2] for r in rows}
    got = {t.ref.name: t.bytes for t in pg.warehouse.list_tables()}
    assert rows[0][3] >= 0 and on_disk["kept"] > without_maps["kept"]  # the maps exist
    assert got["kept"] == without_maps["kept"]
    for name in ("fresh", "changed", "emptied", "toasted"):
        assert got[name] == on_disk[name], name
    assert on_disk["toasted"] > on_disk["fresh"] + 50 * 3000  # the TOAST data is counted
    assert on_disk["changed"] > on_disk["fresh"] > on_disk["emptied"]
