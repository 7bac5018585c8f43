"""collect_table end to end: DuckDB in-process, then the shared suite on every engine."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlglot import exp

from tests.engines import (
    STANDARD_ORDERS,
    Engine,
    engine,  # noqa: F401  (fixture)
    seed_standard,
)
from tidegauge.collector import CollectionResult, collect_table
from tidegauge.config import CustomMetric, Defaults, TableSettings
from tidegauge.core.metrics import OTHER, Metric
from tidegauge.core.model import TableInfo, TableRef
from tidegauge.warehouses.duckdb import DuckDBWarehouse, DuckDBWarehouseConfig

# orders_rows: created_at = 2024-01-01 00:00 + i hours for i = 1..120
NOW = datetime(2024, 1, 6, 0, 30, tzinfo=UTC)


def table_info(wh: Any, ref: TableRef) -> TableInfo:
    for t in wh.list_tables():
        if t.ref.schema == ref.schema and t.ref.name == ref.name:
            return t
    raise AssertionError(f"{ref} not discovered")


def points(res: CollectionResult, metric: str, column: str | None = None) -> list[Any]:
    return [p for p in res.points if p.metric == metric and p.column == column]


def collect(wh: Any, info: TableInfo, **kw: Any) -> CollectionResult:
    settings = kw.pop("settings", TableSettings(match=info.ref.fqn))
    defaults = kw.pop("defaults", Defaults(history_days=10))
    return collect_table(
        wh, info, settings, defaults, now=kw.pop("now", NOW), last_bucket=kw.pop("last", None),
        **kw,
    )  # fmt: skip


# --- the shared suite: same assertions on DuckDB, PostgreSQL, MariaDB, fakesnow -----------


def test_orders_backfill_everywhere(engine: Engine) -> None:  # noqa: F811
    refs = seed_standard(engine)
    wh = engine.warehouse
    info = table_info(wh, refs["orders"])
    res = collect(
        wh,
        info,
        settings=TableSettings(match="*", segments=[["status"]]),
        custom_metrics=[CustomMetric(name="gifts", sql=_gift_sql(engine))],
    )
    assert res.errors == []
    # volume: one point per complete hour since the first row, zeros never invented before it
    vol = {p.bucket_start: p.value for p in points(res, Metric.BUCKET_ROW_COUNT) if not p.segment}
    assert len(vol) == 119 and set(vol.values()) == {1.0}
    assert min(vol) == datetime(2024, 1, 1, 1, tzinfo=UTC)
    assert res.last_bucket == datetime(2024, 1, 5, 23, tzinfo=UTC)
    (rc,) = points(res, Metric.ROW_COUNT)
    assert rc.value == STANDARD_ORDERS
    lag = points(res, Metric.FRESHNESS_LAG_SECONDS)
    assert lag  # metadata last-modified (MariaDB) is wall-clock time, so no sign check
    # field health, per column, summed over buckets
    nulls = sum(p.value for p in points(res, Metric.NULL_COUNT, "amount"))
    assert nulls == 11  # every 10th of ids 1..119 (id 120 is in the open bucket)
    assert sum(p.value for p in points(res, Metric.NULL_COUNT, "note")) == 17
    means = {p.bucket_start: p.value for p in points(res, Metric.MEAN, "amount")}
    assert means[datetime(2024, 1, 1, 3, tzinfo=UTC)] == pytest.approx(4.5)
    assert {p.value for p in points(res, Metric.TRUE_RATE, "is_gift")} == {0.0, 1.0}
    assert points(res, Metric.LEN_MAX, "note")[0].value == 9
    assert tuple(c for c, r in res.skipped if "JSON" in r or "json" in r) == ("payload",)
    # categorical values of the low-cardinality text column
    vc: dict[str, float] = defaultdict(float)
    for p in points(res, Metric.VALUE_COUNT, "status"):
        vc[p.segment] += p.value
    assert dict(vc) == {"paid": 39, "shipped": 40, "cancelled": 40}
    assert not points(res, Metric.VALUE_COUNT, "note")  # 100+ distinct: values not stored
    # segments and custom metric
    seg: defaultdict[str, float] = defaultdict(float)
    for p in res.points:
        if p.metric == Metric.BUCKET_ROW_COUNT and p.segment:
            assert p.value is not None
            seg[p.segment] += p.value
    assert dict(seg) == {"status=paid": 39, "status=shipped": 40, "status=cancelled": 40}
    (gifts,) = [p for p in res.points if p.metric == "custom:gifts"]
    assert gifts.value == 30
    # every query is in the ledger with the monitor named in its comment
    queries = [e for e in res.ledger if e.kind == "query"]
    assert {e.monitor for e in queries} >= {"field_health", "categorical", "custom:gifts"}
    assert all(e.sql and "/* tidegauge: " in e.sql for e in queries)


def _gift_sql(eng: Engine) -> str:
    t = eng.table("orders").sql(eng.dialect)
    return f"SELECT COUNT(*) FROM {t} WHERE " + exp.column("is_gift", quoted=True).sql(eng.dialect)


def test_incremental_run_rechecks_recent_buckets(engine: Engine) -> None:  # noqa: F811
    refs = seed_standard(engine)
    info = table_info(engine.warehouse, refs["orders"])
    res = collect(engine.warehouse, info, last=datetime(2024, 1, 5, 20, tzinfo=UTC))
    vol = sorted(p.bucket_start.hour for p in points(res, Metric.BUCKET_ROW_COUNT))
    # recheck_buckets=3: 19:00, 20:00 (already stored, re-collected for late rows) .. 23:00
    assert vol == [18, 19, 20, 21, 22, 23]
    assert res.errors == []


def test_awkward_tables(engine: Engine) -> None:  # noqa: F811
    refs = seed_standard(engine)
    wh = engine.warehouse
    nasty = collect(wh, table_info(wh, refs["nasty"]))
    assert nasty.errors == []
    assert points(nasty, Metric.ROW_COUNT)[0].value == 3
    assert points(nasty, Metric.NULL_COUNT, "prix_€")[0].value == 1
    assert points(nasty, Metric.MAX, "select")[0].value == 3
    assert points(nasty, Metric.NULL_RATE, 'it\'s "quoted"')[0].value == pytest.approx(1 / 3)
    empty = collect(wh, table_info(wh, refs["empty"]))
    assert empty.errors == []
    assert points(empty, Metric.ROW_COUNT)[0].value == 0
    assert not [p for p in empty.points if p.metric == Metric.NULL_RATE]
    view = collect(wh, table_info(wh, refs["view"]))
    assert view.errors == [] and points(view, Metric.ROW_COUNT)[0].value == 40


def test_table_dropped_before_the_scan(engine: Engine) -> None:  # noqa: F811
    refs = seed_standard(engine)
    info = table_info(engine.warehouse, refs["orders"])
    engine.drop("paid_orders", view=True)
    engine.drop("orders")
    res = collect(engine.warehouse, info)
    assert res.errors and "dropped" in res.errors[-1]
    assert not points(res, Metric.BUCKET_ROW_COUNT)
    assert not [p for p in res.points if p.metric == Metric.ROW_COUNT and p.value == 0]


# --- DuckDB specifics ---------------------------------------------------------------------


@pytest.fixture
def duck() -> Any:
    wh = DuckDBWarehouse(DuckDBWarehouseConfig(path=":memory:", name="d"))
    wh.connect()
    wh.connection.execute("SET TimeZone = 'UTC'")
    wh.connection.execute("CREATE SCHEMA shop")
    yield wh
    wh.close()


def test_unprofilable_and_all_null_columns(duck: Any) -> None:
    duck.connection.execute(
        """CREATE TABLE shop.events AS SELECT range AS id,
           TIMESTAMP '2024-01-05' + to_seconds(range * 60) AS created_at,
           NULL::DOUBLE AS nothing, {'a': range} AS st, [range] AS arr, '{}'::JSON AS js,
           INTERVAL 1 HOUR AS iv FROM range(300)"""
    )
    info = table_info(duck, TableRef("d", "shop", "events"))
    res = collect(duck, info)
    assert res.errors == []
    reasons = dict(res.skipped)
    assert {"st", "arr", "js", "iv"} <= set(reasons)
    assert {p.value for p in points(res, Metric.NULL_RATE, "nothing")} == {1.0}
    assert not points(res, Metric.MEAN, "nothing")
    assert [c.name for c in res.schema][:3] == ["id", "created_at", "nothing"]


def test_hundreds_of_columns_one_scan(duck: Any) -> None:
    cols = ", ".join(f"(range * {i}) % 97 AS c{i}" for i in range(300))
    duck.connection.execute(
        f"CREATE TABLE shop.wide AS SELECT TIMESTAMP '2024-01-05' + to_seconds(range * 60) "
        f"AS created_at, {cols} FROM range(500)"
    )
    res = collect(duck, table_info(duck, TableRef("d", "shop", "wide")),
                  settings=TableSettings(categorical=False))  # fmt: skip
    assert res.errors == []
    # 301 approx distinct counts: DuckDB's 255-HLL crash limit forces exactly two scans
    monitors = [e.monitor for e in res.ledger if e.kind == "query"]
    assert monitors == ["freshness", "field_health", "field_health"]
    assert ("*", "profile split into 2 scans (duckdb engine limits)") in res.skipped
    assert len({p.column for p in res.points if p.metric == Metric.MEAN}) == 300


def test_sampling_budget_pii_and_opt_out(duck: Any) -> None:
    duck.connection.execute(
        """CREATE TABLE shop.users AS SELECT range AS id, 'c' || (range % 3) AS country,
           'mail' || (range % 5) AS email, TIMESTAMP '2024-01-05' + to_seconds(range * 30) AS
           created_at FROM range(2000)"""
    )
    info = table_info(duck, TableRef("d", "shop", "users"))
    res = collect(duck, info, settings=TableSettings(pii_columns=["email"], sample_percent=50))
    assert res.errors == []
    assert points(res, Metric.VALUE_COUNT, "country")
    assert not points(res, Metric.VALUE_COUNT, "email")
    assert not points(res, Metric.NULL_COUNT, "id")  # sampled: counts not extrapolated
    assert sum(p.value for p in points(res, Metric.BUCKET_ROW_COUNT)) == 2000  # unsampled
    assert any("TABLESAMPLE" in (e.sql or "") for e in res.ledger)
    off = collect(duck, info, settings=TableSettings(categorical=False, segments=[["email"]],
                                                     pii_columns=["email"]))  # fmt: skip
    assert not points(off, Metric.VALUE_COUNT, "country")
    assert any("pii" in e for e in off.errors)
    budget = collect(duck, info, defaults=Defaults(history_days=10, time_budget_seconds=0))
    assert any("time budget" in r for _, r in budget.skipped)
    assert not points(budget, Metric.MEAN, "id")


def test_big_tables_get_volume_only(duck: Any) -> None:
    duck.connection.execute(
        "CREATE TABLE shop.big AS SELECT range AS id, TIMESTAMP '2024-01-05' + "
        "to_seconds(range * 60) AS created_at FROM range(1000)"
    )
    info = table_info(duck, TableRef("d", "shop", "big"))
    res = collect(duck, info, defaults=Defaults(history_days=10, field_health_max_rows=100))
    assert [e.monitor for e in res.ledger if e.kind == "query"] == ["freshness", "volume"]
    assert sum(p.value for p in points(res, Metric.BUCKET_ROW_COUNT)) == 1000
    assert not points(res, Metric.MEAN, "id")


def test_custom_metric_shapes_and_rejections(duck: Any) -> None:
    duck.connection.execute(
        "CREATE TABLE shop.o AS SELECT range AS id, 'k' || (range % 2) AS kind, "
        "TIMESTAMP '2024-01-05' + to_seconds(range * 3600) AS created_at FROM range(48)"
    )
    info = table_info(duck, TableRef("d", "shop", "o"))
    metrics = [
        CustomMetric(name="per_day", sql="SELECT date_trunc('day', created_at) AS bucket, "
                     "count(*) FROM shop.o GROUP BY 1"),
        CustomMetric(name="per_kind", sql="SELECT kind, count(*) FROM shop.o GROUP BY 1"),
        CustomMetric(name="evil", sql="DELETE FROM shop.o"),
        CustomMetric(name="wide", sql="SELECT 1, 2, 3"),
    ]  # fmt: skip
    res = collect(duck, info, custom_metrics=metrics)
    per_day = {p.bucket_start.day: p.value for p in res.points if p.metric == "custom:per_day"}
    assert per_day == {5: 24, 6: 24}
    per_kind = {p.segment: p.value for p in res.points if p.metric == "custom:per_kind"}
    assert per_kind == {"k0": 24, "k1": 24}
    assert any("evil" in e and "only a single SELECT" in e for e in res.errors)
    assert any("wide" in e and "3 columns" in e for e in res.errors)
    assert OTHER == "__other__"


def test_column_dropped_mid_run_is_rediscovered(duck: Any, monkeypatch: Any) -> None:
    duck.connection.execute(
        "CREATE TABLE shop.c AS SELECT range AS id, range % 3 AS gone, "
        "TIMESTAMP '2024-01-05' + to_seconds(range * 60) AS created_at FROM range(100)"
    )
    info = table_info(duck, TableRef("d", "shop", "c"))
    real = duck.execute

    def drop_then_run(query: Any, *, comment: str | None = None) -> Any:
        if comment and comment.startswith("field_health") and "gone" in query.sql():
            duck.connection.execute("ALTER TABLE shop.c DROP COLUMN gone")
        return real(query, comment=comment)

    monkeypatch.setattr(duck, "execute", drop_then_run)
    res = collect(duck, info)
    assert any("dropped: gone" in e for e in res.errors)
    assert [c.name for c in res.schema] == ["id", "created_at"]
    assert points(res, Metric.MAX, "id") and not points(res, Metric.MAX, "gone")
    assert sum(p.value for p in points(res, Metric.BUCKET_ROW_COUNT)) == 100


def test_failed_scan_never_yields_zero_counts(duck: Any, monkeypatch: Any) -> None:
    from tidegauge.warehouses.base import WarehouseError

    duck.connection.execute(
        "CREATE TABLE shop.f AS SELECT range AS id, TIMESTAMP '2024-01-05' + "
        "to_seconds(range * 60) AS created_at FROM range(100)"
    )
    info = table_info(duck, TableRef("d", "shop", "f"))
    real = duck.execute

    def fail(query: Any, *, comment: str | None = None) -> Any:
        if comment and comment.startswith(("field_health", "volume")):
            raise WarehouseError("statement timeout")
        return real(query, comment=comment)

    monkeypatch.setattr(duck, "execute", fail)
    res = collect(duck, info, last=datetime(2024, 1, 5, 12, tzinfo=UTC))
    assert any("statement timeout" in e for e in res.errors)
    assert not points(res, Metric.BUCKET_ROW_COUNT)
    assert res.last_bucket is None
    assert (NOW - timedelta(days=1)).year == 2024


def test_per_table_metric_subset(duck: Any) -> None:
    duck.connection.execute(
        """CREATE TABLE shop.sales AS SELECT range AS id,
           TIMESTAMP '2024-01-05' + to_seconds(range * 60) AS created_at,
           range * 1.5 AS amount, 'x' || (range % 3) AS code FROM range(300)"""
    )
    info = table_info(duck, TableRef("d", "shop", "sales"))
    only = TableSettings(match="shop.sales", metrics=["mean", "null_rate"])
    res = collect(duck, info, settings=only)
    got = {p.metric for p in res.points if p.column == "amount"}
    assert got == {Metric.MEAN, Metric.NULL_RATE, Metric.NULL_COUNT}
    with pytest.raises(ValueError, match="unknown metric 'nul_rate'; did you mean 'null_rate'"):
        TableSettings(metrics=["nul_rate"])
