"""The one warehouse suite: every engine, the same seeded tables, the same assertions."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlglot import exp

from tests.engines import (
    EMPTY_TABLE,
    NASTY_COLUMNS,
    NASTY_TABLE,
    QUOTED_TABLE,
    STANDARD_ORDERS,
    STATUSES,
    VIEW,
    Engine,
    engine,
    orders_rows,
    seed_standard,
)
from tidegauge.core.model import TableKind, TypeFamily
from tidegauge.warehouses.base import ConnectionFailed, ObjectMissing, WarehouseError

__all__ = ["engine"]  # the fixture, imported so that pytest sees it

ORDER_FAMILIES = {
    "id": TypeFamily.INTEGER,
    "customer_id": TypeFamily.INTEGER,
    "amount": TypeFamily.FLOAT,
    "total": TypeFamily.DECIMAL,
    "status": TypeFamily.STRING,
    "note": TypeFamily.STRING,
    "is_gift": TypeFamily.BOOLEAN,
    "created_at": TypeFamily.TIMESTAMP,
    "order_date": TypeFamily.DATE,
    "payload": TypeFamily.JSON,
}


def col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def test_lists_tables_views_and_columns(engine: Engine) -> None:
    seed_standard(engine)
    tables = {t.ref.name: t for t in engine.warehouse.list_tables()}

    assert set(tables) == {"orders", NASTY_TABLE, QUOTED_TABLE, EMPTY_TABLE, VIEW}
    assert {t.ref.schema for t in tables.values()} == {engine.schema}
    assert tables[VIEW].kind is TableKind.VIEW
    assert tables["orders"].kind is TableKind.TABLE
    orders = tables["orders"]
    assert [c.name for c in orders.columns] == list(ORDER_FAMILIES)
    assert {c.name: c.family for c in orders.columns} == ORDER_FAMILIES
    assert [c.ordinal for c in orders.columns] == sorted(c.ordinal for c in orders.columns)
    assert [c.name for c in tables[NASTY_TABLE].columns] == list(NASTY_COLUMNS)
    assert [c.name for c in tables[VIEW].columns] == ["id", "status", "total"]


def test_metadata_statistics_where_claimed(engine: Engine) -> None:
    seed_standard(engine)
    wh = engine.warehouse
    tables = {t.ref.name: t for t in wh.list_tables()}
    orders, view = tables["orders"], tables[VIEW]

    assert view.row_count is None
    if wh.METADATA_ROW_COUNT:
        assert orders.row_count == STANDARD_ORDERS
        assert tables[EMPTY_TABLE].row_count == 0
    else:  # an estimate, or unknown until the engine has analysed the table
        assert orders.row_count is None or orders.row_count >= 0
    if wh.METADATA_FRESHNESS:
        assert orders.last_modified is not None
        assert orders.last_modified.tzinfo is not None
        if engine.kind != "snowflake":  # fakesnow reports LAST_ALTERED as the epoch
            age = datetime.now(UTC) - orders.last_modified
            assert abs(age.total_seconds()) < 600
    else:
        assert orders.last_modified is None
    if engine.kind in ("postgres", "mysql"):
        assert orders.bytes is not None and orders.bytes > 0


def test_aggregates_from_sqlglot_expressions(engine: Engine) -> None:
    refs = seed_standard(engine)
    wh = engine.warehouse
    rows = orders_rows()
    amounts = [r[2] for r in rows if r[2] is not None]
    is_gift = exp.cast(col("is_gift"), "int")
    q = exp.select(
        exp.func("count", exp.Star()).as_("n"),
        exp.func("count", col("amount")).as_("n_amount"),
        exp.func("sum", col("total")).as_("sum_total"),
        exp.Count(this=exp.Distinct(expressions=[col("status")])).as_("statuses"),
        exp.func("count", exp.Distinct(expressions=[col("note")])).as_("notes"),
        exp.func("min", col("created_at")).as_("first"),
        exp.func("max", col("order_date")).as_("last_day"),
        exp.func("avg", col("amount")).as_("mean"),
        exp.func("sum", is_gift).as_("gifts"),
        exp.func("sum", exp.case().when(col("note").is_(exp.null()), 1).else_(0)).as_("null_notes"),
    ).from_(wh.table_expression(refs["orders"]))
    result = wh.execute(q, comment="aggregates")
    got = dict(zip([c.lower() for c in result.columns], result.rows[0], strict=True))

    assert got["n"] == STANDARD_ORDERS
    assert got["n_amount"] == len(amounts)
    assert Decimal(str(got["sum_total"])) == sum(r[3] for r in rows)
    assert got["statuses"] == len(STATUSES)
    assert got["notes"] == len({r[5] for r in rows if r[5] is not None})
    assert got["first"].replace(tzinfo=None) == min(r[7] for r in rows)
    assert got["last_day"] == max(r[8] for r in rows)
    assert float(got["mean"]) == pytest.approx(sum(amounts) / len(amounts))
    assert int(got["gifts"]) == sum(1 for r in rows if r[6])
    assert int(got["null_notes"]) == sum(1 for r in rows if r[5] is None)
    assert result.sql.startswith("/* tidegauge: aggregates */")


def test_group_by_top_values(engine: Engine) -> None:
    refs = seed_standard(engine)
    wh = engine.warehouse
    q = (
        exp.select(col("status"), exp.func("count", exp.Star()).as_("n"))
        .from_(wh.table_expression(refs["orders"]))
        .group_by(col("status"))
        .order_by(exp.Ordered(this=exp.column("n"), desc=True), col("status"))
    )
    got = {str(s): int(n) for s, n in wh.execute(q).rows}
    assert got == dict.fromkeys(STATUSES, STANDARD_ORDERS // 3)


def test_nasty_identifiers_round_trip(engine: Engine) -> None:
    refs = seed_standard(engine)
    wh = engine.warehouse
    listed = {t.ref.name: t for t in wh.list_tables()}
    nasty = listed[NASTY_TABLE]
    # build the query only from what discovery returned
    names = [c.name for c in nasty.columns]
    q = (
        exp.select(
            col("MixedCase"),
            exp.func("count", exp.Star()).as_("n"),
            exp.func("sum", col("select")).as_("s"),
            exp.func("sum", col("prix_€")).as_("prix"),
            exp.func("count", col('it\'s "quoted"')).as_("q"),
        )
        .from_(wh.table_expression(nasty.ref))
        .group_by(col("MixedCase"))
        .order_by(col("MixedCase"))
    )
    rows = wh.execute(q).rows
    assert names == list(NASTY_COLUMNS)
    assert [(r[0], int(r[1]), int(r[2]), Decimal(str(r[3])), int(r[4])) for r in rows] == [
        ("A", 2, 4, Decimal("9.99"), 2),
        ("B", 1, 2, Decimal("0.01"), 0),
    ]
    quoted = wh.execute(
        exp.select(exp.func("count", exp.Star())).from_(wh.table_expression(refs["quoted"]))
    )
    assert quoted.rows[0][0] == 2
    assert QUOTED_TABLE in listed


def test_writes_through_the_adapter_are_refused(engine: Engine) -> None:
    if engine.kind == "snowflake":
        pytest.skip("Snowflake has no read-only session; read-only is the role's grants")
    refs = seed_standard(engine)
    wh = engine.warehouse
    table = wh.table_expression(refs["empty"])
    insert = exp.insert(exp.values([(exp.Literal.number(1), exp.Literal.string("x"))]), table)
    with pytest.raises(WarehouseError):
        wh.execute(insert)
    with pytest.raises(WarehouseError):
        wh.execute(exp.Drop(tables=[table.copy()], kind="TABLE"))
    count = wh.execute(exp.select(exp.func("count", exp.Star())).from_(table.copy()))
    assert count.rows[0][0] == 0


SLOW_QUERIES = {
    "duckdb": "SELECT SUM(a.range * b.range) FROM range(1000000) AS a, range(1000000) AS b",
    "postgres": "SELECT pg_sleep(5)",
    "mysql": "SELECT SLEEP(5)",
}


def test_statement_timeout_cancels_a_slow_query(engine: Engine) -> None:
    if engine.kind not in SLOW_QUERIES:
        pytest.skip("fakesnow runs on DuckDB and ignores STATEMENT_TIMEOUT_IN_SECONDS")
    wh = engine.connect(statement_timeout=0.5)
    start = time.perf_counter()
    with pytest.raises(WarehouseError, match=r"timeout|exceeded"):
        wh.execute(wh.parse(SLOW_QUERIES[engine.kind]))
    assert time.perf_counter() - start < 4
    # the session is still usable afterwards
    assert wh.execute(exp.select(exp.Literal.number(1))).rows[0][0] == 1


def test_table_dropped_between_discovery_and_query(engine: Engine) -> None:
    seed_standard(engine)
    wh = engine.warehouse
    orders = next(t for t in wh.list_tables() if t.ref.name == "orders")
    engine.drop(VIEW, view=True)
    engine.drop("orders")
    with pytest.raises(ObjectMissing) as err:
        wh.execute(exp.select(exp.func("count", exp.Star())).from_(wh.table_expression(orders.ref)))
    assert "'test'" in str(err.value)
    assert "orders" in str(err.value)


def test_unknown_column_is_object_missing(engine: Engine) -> None:
    refs = seed_standard(engine)
    wh = engine.warehouse
    with pytest.raises(ObjectMissing):
        wh.execute(exp.select(col("no_such_column")).from_(wh.table_expression(refs["orders"])))


SECRET = "s3cret-Pa55word"
BROKEN: dict[str, dict[str, Any]] = {
    "duckdb": {"path": "/nonexistent/dir/warehouse.duckdb"},
    "postgres": {"port": 1, "password": SECRET},
    "mysql": {"password": SECRET},  # bad credentials for root
}


def test_connection_failure_is_clear_and_hides_the_password(engine: Engine) -> None:
    if engine.kind not in BROKEN:
        pytest.skip("fakesnow accepts any login; see test_snowflake.py for an unreachable host")
    wh = engine.connect(connect_timeout=2, **BROKEN[engine.kind])
    with pytest.raises(ConnectionFailed) as err:
        wh.connect()
    message = str(err.value)
    assert "'test'" in message
    assert SECRET not in message
    if engine.kind != "duckdb":
        assert "127.0.0.1" in message


def test_view_definitions(engine: Engine) -> None:
    refs = seed_standard(engine)
    definitions = engine.warehouse.view_definitions()
    ours = {ref: sql for ref, sql in definitions.items() if ref.schema == engine.schema}
    assert set(ours) == {refs["view"]}
    sql = ours[refs["view"]].lower()
    assert "orders" in sql
    assert "paid" in sql
