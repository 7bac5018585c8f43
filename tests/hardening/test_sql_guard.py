"""User SQL (custom metrics, custom-SQL monitors, dbt meta SQL — all collected as custom
metrics) is one read-only SELECT calling allow-listed functions. The reported exploits are
refused before they reach a real PostgreSQL or DuckDB, the session stays read-only, and
ordinary metric SQL still runs."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from tests.engines import Engine, open_engine, seed_standard
from tests.servers import POSTGRES_URL, require_server
from tests.test_collector import collect, table_info
from tidegauge.config import CustomMetric
from tidegauge.core.metrics import CustomSQLError, parse_custom_sql
from tidegauge.warehouses.base import Warehouse
from tidegauge.warehouses.duckdb import DuckDBWarehouse
from tidegauge.warehouses.postgres import PostgresWarehouse

EXPLOITS = {
    "postgres": [
        "select set_config('default_transaction_read_only','off',false)",
        "select pg_catalog.set_config('default_transaction_read_only','off',false)",
        "select pg_read_file('/etc/passwd')",
        "select length(pg_read_binary_file('/etc/passwd'))",
        "select count(*) from pg_ls_dir('.')",
        "select lo_import('/etc/passwd')",
        "select current_setting('data_directory')",
        "with x as (insert into t values (1) returning 1) select * from x",
        "copy t to '/tmp/x'",
        "select 1; select set_config('a.b', 'c', false)",
    ],
    "duckdb": [
        "select read_text('/etc/passwd')",
        "select * from read_text('/etc/passwd')",
        "select count(*) from read_csv('/etc/passwd')",
        "select count(*) from read_csv_auto('/etc/passwd')",
        "select count(*) from read_parquet('/tmp/x.parquet')",
        "select count(*) from read_json_auto('/tmp/x.json')",
        "select count(*) from '/etc/passwd.csv'",
        'select count(*) from "/etc/hosts.csv"',
        "select count(*) from glob('/etc/*')",
        "select getenv('HOME')",
        "install httpfs",
        "load httpfs",
        "attach '/tmp/other.db' as o",
        "copy (select 1) to '/tmp/x.csv'",
        "select * from duckdb_settings()",
    ],
}

ALLOWED = {
    "postgres": [
        "select avg(case when status = 'paid' then 1.0 else 0 end) from t",
        "select date_trunc('hour', created_at) as bucket, count(*) from t group by 1",
        "select count(distinct customer_id)::float / nullif(count(*), 0) from t",
        "select percentile_cont(0.5) within group (order by amount) from t",
        "select coalesce(max(length(note)), 0) from t where note ~ '^n'",
    ],
    "duckdb": [
        "select avg(case when status = 'paid' then 1.0 else 0 end) from t",
        "select date_trunc('hour', created_at) as bucket, count(*) from t group by 1",
        "select approx_count_distinct(customer_id) from t",
        "select quantile_cont(amount, 0.5) from t",
        "select count(*) filter (where regexp_matches(note, '^n')) from t",
    ],
}

ADAPTERS: dict[str, type[Warehouse]] = {"postgres": PostgresWarehouse, "duckdb": DuckDBWarehouse}


@pytest.mark.parametrize(
    ("dialect", "sql"), [(d, q) for d, qs in EXPLOITS.items() for q in qs], ids=str
)
def test_reported_exploits_are_refused(dialect: str, sql: str) -> None:
    with pytest.raises(CustomSQLError):
        parse_custom_sql(sql, dialect, functions=ADAPTERS[dialect].SQL_FUNCTIONS)


@pytest.mark.parametrize(
    ("dialect", "sql"), [(d, q) for d, qs in ALLOWED.items() for q in qs], ids=str
)
def test_ordinary_metric_sql_passes(dialect: str, sql: str) -> None:
    parse_custom_sql(sql, dialect, functions=ADAPTERS[dialect].SQL_FUNCTIONS)


def test_error_names_the_function_and_engine() -> None:
    with pytest.raises(CustomSQLError, match=r"function set_config is not allowed.*postgres"):
        parse_custom_sql(
            "select set_config('x.y', 'z', false)",
            "postgres",
            name="custom metric m",
            functions=PostgresWarehouse.SQL_FUNCTIONS,
        )


def run_metrics(eng: Engine, sqls: dict[str, str]):
    refs = seed_standard(eng)
    info = table_info(eng.warehouse, refs["orders"])
    t = eng.table("orders").sql(eng.dialect)
    metrics = [
        CustomMetric(name=n, sql=q.replace("{t}", t), table=info.ref.fqn) for n, q in sqls.items()
    ]
    return collect(eng.warehouse, info, custom_metrics=metrics)


@pytest.mark.postgres
def test_postgres_session_stays_read_only(tmp_path: Path) -> None:
    require_server("postgres")
    with open_engine("postgres", tmp_path) as eng:
        res = run_metrics(
            eng,
            {
                "switch": "select set_config('default_transaction_read_only','off',false)",
                "peek": "select length(pg_read_file('/etc/passwd'))",
                "ok": "select count(*) from {t} where status = 'paid'",
            },
        )
        got = {p.metric: p.value for p in res.points if p.metric.startswith("custom:")}
        assert got == {"custom:ok": 40.0}
        assert any("set_config is not allowed" in e for e in res.errors), res.errors
        assert any("pg_read_file is not allowed" in e for e in res.errors), res.errors
        # the adapter's session is still read-only: a write through it fails
        _, rows, _ = eng.warehouse._execute_sql("SHOW default_transaction_read_only")
        assert rows == [("on",)]
        from tidegauge.warehouses.base import WarehouseError

        with pytest.raises(WarehouseError):
            eng.warehouse._execute_sql(f"CREATE TABLE {eng.schema}.pwned (x int)")


def test_duckdb_cannot_read_files(tmp_path: Path) -> None:
    with open_engine("duckdb", tmp_path) as eng:
        res = run_metrics(
            eng,
            {
                "passwd": "select length(read_text('/etc/passwd'))",
                "scan": "select count(*) from read_csv('/etc/passwd')",
                "replacement": "select count(*) from '/etc/passwd.csv'",
                "ok": "select approx_count_distinct(status) from {t}",
            },
        )
        got = {p.metric: p.value for p in res.points if p.metric.startswith("custom:")}
        assert got == {"custom:ok": 3.0}
        refused = ("is not allowed", "must be a name", "looks like a file")
        assert sum(any(r in e for r in refused) for e in res.errors) == 3, res.errors


@pytest.mark.postgres
def test_a_role_that_can_write_is_warned_about(caplog) -> None:
    import psycopg

    from tidegauge.warehouses import postgres as pg
    from tidegauge.warehouses.registry import open_warehouse

    require_server("postgres")
    role = f"tg_ro_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    admin.execute(f"CREATE ROLE {role} LOGIN")
    try:
        base = POSTGRES_URL.split("://", 1)[1].split("@", 1)[1]
        for user, expect in (("postgres", True), (role, False)):
            pg._ROLE_CHECKED.clear()
            caplog.clear()
            wh = open_warehouse(
                pg.PostgresWarehouseConfig(
                    type="postgres", name="w", url=f"postgresql://{user}@{base}"
                )
            )
            with caplog.at_level(logging.WARNING, logger="tidegauge.warehouses.postgres"):
                wh.connect()
            assert isinstance(wh, pg.PostgresWarehouse)
            rights = wh.write_access()
            wh.close()
            warned = [r for r in caplog.records if "can write" in r.getMessage()]
            assert bool(rights) is expect and bool(warned) is expect, (user, rights)
            if expect:
                assert "superuser" in warned[0].getMessage()
    finally:
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()
