"""Injection through table, column and categorical value names, on DuckDB and PostgreSQL:
collection quotes every identifier and literal through sqlglot, so nothing is executed.
Custom SQL that is not one read-only query is rejected with a clear error."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlglot import exp

from tests.engines import open_engine
from tidegauge.collector import collect_table
from tidegauge.config import CustomMetric, Defaults, TableSettings
from tidegauge.core.metrics import CustomSQLError, parse_custom_sql

NOW = datetime(2024, 1, 3, 0, 0)

#: the second name closes the comment that names the table in every query's SQL text
EVIL_TABLES = ['x"; DROP TABLE sentinel; --', "t */ DROP TABLE sentinel; /* x"]
EVIL_COLUMNS = {
    "'); DELETE FROM sentinel; --": "text",
    'c"; DROP TABLE sentinel; --': "int",
    "created_at": "timestamp",
}
EVIL_VALUES = [
    "'); DELETE FROM sentinel; --",
    "x'; DROP TABLE sentinel; --",
    "\\'; TRUNCATE sentinel; --",
    "$$; DROP TABLE sentinel; $$",
    "*/ DROP TABLE sentinel; /*",
]


@pytest.mark.parametrize("table", EVIL_TABLES)
@pytest.mark.parametrize(
    "kind", [pytest.param("duckdb"), pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_hostile_names_and_values_are_quoted(kind: str, table: str, tmp_path: Path) -> None:
    with open_engine(kind, tmp_path) as eng:
        eng.seed("sentinel", {"id": "int"}, [(1,), (2,)])
        start = datetime(2024, 1, 1)
        rows = [
            (EVIL_VALUES[i % len(EVIL_VALUES)], i, start + timedelta(hours=i)) for i in range(40)
        ]
        eng.seed(table, EVIL_COLUMNS, rows)
        wh = eng.warehouse
        info = next(t for t in wh.list_tables() if t.ref.name == table)
        assert {c.name for c in info.columns} == set(EVIL_COLUMNS)
        res = collect_table(
            wh,
            info,
            TableSettings(match="*", field_health=True, categorical=True),
            Defaults(history_days=10),
            now=NOW,
            last_bucket=None,
            custom_metrics=[
                CustomMetric(
                    name="evil",
                    table=info.ref.fqn,
                    sql=f'SELECT count(*) AS n FROM "{eng.schema}".sentinel',
                )
            ],
        )
        assert res.errors == [], res.errors
        # the values come back verbatim as categorical segments: quoted, never executed
        seen = {p.segment for p in res.points if p.metric == "value_count"}
        assert set(EVIL_VALUES) <= seen
        assert {p.column for p in res.points if p.column} >= set(EVIL_COLUMNS) - {"created_at"}
        assert sum(p.value or 0 for p in res.points if p.metric == "bucket_row_count") == 40
        # the sentinel survived every query (and the ledger shows each was one statement)
        count = wh.execute(exp.select(exp.func("count", exp.Star())).from_(eng.table("sentinel")))
        assert count.rows[0][0] == 2
        assert [p.value for p in res.points if p.metric == "custom:evil"] == [2.0]
        # every query the collector sent parses back as exactly one SELECT
        import sqlglot

        sent = [e.sql for e in res.ledger if e.sql]
        assert sent
        for sql in sent:
            parsed = [q for q in sqlglot.parse(sql, read=wh.DIALECT) if q is not None]
            assert len(parsed) == 1 and isinstance(parsed[0], exp.Query), sql


BAD_SQL = {
    "DROP TABLE t": "only a single SELECT",
    "DELETE FROM t WHERE 1=1": "only a single SELECT",
    "SELECT 1; DROP TABLE t": "exactly one statement",
    "SELECT 1; SELECT 2": "exactly one statement",
    "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d": "read-only",
    "INSERT INTO t SELECT 1": "only a single SELECT",
    "UPDATE t SET a = 1": "only a single SELECT",
    "CREATE TABLE x AS SELECT 1": "only a single SELECT",
    "COPY t TO '/tmp/x'": "only a single SELECT",
    "SELECT * INTO newt FROM t": "read-only",
    "": "exactly one statement",
    "SELECT (": "cannot parse",
}


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
@pytest.mark.parametrize("sql", list(BAD_SQL))
def test_custom_sql_that_is_not_one_read_only_query_is_rejected(sql: str, dialect: str) -> None:
    with pytest.raises(CustomSQLError) as info:
        parse_custom_sql(sql, dialect, name="custom metric m")
    assert str(info.value).startswith("custom metric m:")
    assert BAD_SQL[sql] in str(info.value), str(info.value)


def test_rejected_custom_sql_is_a_table_error_and_runs_nothing(tmp_path: Path) -> None:
    with open_engine("duckdb", tmp_path) as eng:
        eng.seed("sentinel", {"id": "int"}, [(1,)])
        info = next(t for t in eng.warehouse.list_tables() if t.ref.name == "sentinel")
        res = collect_table(
            eng.warehouse,
            info,
            TableSettings(match="*"),
            Defaults(),
            now=NOW,
            last_bucket=None,
            custom_metrics=[
                CustomMetric(
                    name="m", table=info.ref.fqn, sql=f"SELECT 1; DROP TABLE {info.ref.fqn}"
                )
            ],
        )
        assert any("custom metric m: exactly one statement" in e for e in res.errors)
        assert not [e for e in res.ledger if e.monitor == "custom:m"]
        count = eng.warehouse.execute(
            exp.select(exp.func("count", exp.Star())).from_(eng.table("sentinel"))
        )
        assert count.rows[0][0] == 1
