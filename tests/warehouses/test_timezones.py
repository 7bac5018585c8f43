"""Warehouses whose naive timestamps are local time, on every engine (DuckDB, PostgreSQL,
MariaDB, fakesnow): UTC buckets across both DST transitions, field-health min/max and
freshness as instants, and columns with a time zone untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.engines import Engine, engine
from tidegauge.collector import CollectionResult, collect_table
from tidegauge.config import Bucket, Defaults, TableSettings
from tidegauge.core.metrics import Metric
from tidegauge.core.model import TableInfo, TableRef
from tidegauge.warehouses.base import Warehouse

__all__ = ["engine"]  # the fixture, imported so that pytest sees it

BERLIN = "Europe/Berlin"
SPRING = datetime(2026, 3, 29, 1, tzinfo=UTC)  # 02:00 CET -> 03:00 CEST
FALL = datetime(2026, 10, 25, 1, tzinfo=UTC)  # 03:00 CEST -> 02:00 CET
STEP = timedelta(minutes=10)  # six rows in every real hour
#: a column type with a time zone, per engine (MariaDB TIMESTAMP is stored in UTC)
AWARE_TYPES = {
    "duckdb": "TIMESTAMPTZ",
    "postgres": "TIMESTAMPTZ",
    "mysql": "TIMESTAMP NULL",
    "snowflake": "TIMESTAMP_TZ",
}


def instants(transition: datetime) -> list[datetime]:
    """Every 10 minutes for 12 hours either side of ``transition``."""
    start = transition - timedelta(hours=12)
    return [start + i * STEP for i in range(int(timedelta(hours=24) / STEP))]


def table_info(wh: Warehouse, ref: TableRef) -> TableInfo:
    for t in wh.list_tables():
        if (t.ref.schema, t.ref.name) == (ref.schema, ref.name):
            return t
    raise AssertionError(f"{ref} not discovered")


def collect(wh: Warehouse, ref: TableRef, now: datetime) -> CollectionResult:
    res = collect_table(
        wh,
        table_info(wh, ref),
        TableSettings(match="*", field_health=True, categorical=False),
        Defaults(history_days=3),
        now=now,
        last_bucket=None,
    )
    assert res.errors == []
    return res


def values(
    res: CollectionResult, metric: str, column: str | None = None
) -> dict[Any, float | None]:
    return {
        p.bucket_start: p.value
        for p in res.points
        if p.metric == metric and p.column == column and not p.segment
    }


@pytest.mark.parametrize("transition", [SPRING, FALL], ids=["spring_forward", "fall_back"])
def test_dst_buckets_are_utc_hours_on_every_engine(engine: Engine, transition: datetime) -> None:
    times = instants(transition)
    walls = [t.astimezone(ZoneInfo(BERLIN)).replace(tzinfo=None) for t in times]
    ref = engine.seed("events", {"id": "int", "created_at": "timestamp"}, list(enumerate(walls)))
    now = times[-1] + STEP
    res = collect(engine.connect(timezone=BERLIN), ref, now)

    counts = values(res, Metric.BUCKET_ROW_COUNT)
    hours = [times[0] + timedelta(hours=h) for h in range(24)]
    assert counts == dict.fromkeys(hours, 6.0)  # no empty hour, no doubled hour
    # field-health min/max of the naive column are instants too
    latest = values(res, Metric.MAX, "created_at")
    assert latest[hours[-1]] == times[-1].timestamp()
    earliest = values(res, Metric.MIN, "created_at")
    assert earliest[hours[0]] == times[0].timestamp()
    # freshness from the column where the engine has no metadata time (DuckDB, PostgreSQL)
    newest = values(res, Metric.MAX_TIMESTAMP)
    if newest:
        assert list(newest.values()) == [times[-1].timestamp()]
        assert list(values(res, Metric.FRESHNESS_LAG_SECONDS).values()) == [600.0]


def test_the_same_rows_read_as_utc_are_shifted(engine: Engine) -> None:
    """Control: without ``timezone:`` the same wall times are read as UTC (the old bug)."""
    times = instants(FALL)
    walls = [t.astimezone(ZoneInfo(BERLIN)).replace(tzinfo=None) for t in times]
    ref = engine.seed("events", {"id": "int", "created_at": "timestamp"}, list(enumerate(walls)))
    counts = values(collect(engine.warehouse, ref, times[-1] + STEP), Metric.BUCKET_ROW_COUNT)
    assert 12.0 in counts.values()  # the repeated wall hour as one doubled bucket


def test_columns_with_a_time_zone_are_unaffected(engine: Engine) -> None:
    times = instants(FALL)
    ref = engine.ref("stamped")
    table = engine.table("stamped").sql(engine.dialect)
    literals = ", ".join(f"({i}, '{t:%Y-%m-%d %H:%M:%S}+00:00')" for i, t in enumerate(times))
    if engine.kind == "mysql":  # a TIMESTAMP literal is read in the session zone
        literals = ", ".join(f"({i}, '{t:%Y-%m-%d %H:%M:%S}')" for i, t in enumerate(times))
    statements = [
        f"CREATE TABLE {table} ({_q(engine, 'id')} INT, "
        f"{_q(engine, 'created_at')} {AWARE_TYPES[engine.kind]})",
        f"INSERT INTO {table} VALUES {literals}",
    ]
    if engine.kind == "mysql":
        statements.insert(0, "SET time_zone = '+00:00'")
    engine.admin_run(*statements)
    now = times[-1] + STEP
    in_berlin = collect(engine.connect(timezone=BERLIN), ref, now)
    in_utc = collect(engine.warehouse, ref, now)
    assert values(in_berlin, Metric.BUCKET_ROW_COUNT) == values(in_utc, Metric.BUCKET_ROW_COUNT)
    assert values(in_berlin, Metric.BUCKET_ROW_COUNT) == dict.fromkeys(
        [times[0] + timedelta(hours=h) for h in range(24)], 6.0
    )
    assert values(in_berlin, Metric.MAX, "created_at") == values(in_utc, Metric.MAX, "created_at")


def _q(engine: Engine, name: str) -> str:
    from sqlglot import exp

    return exp.to_identifier(name, quoted=True).sql(engine.dialect)


def test_daily_buckets_are_utc_days(engine: Engine) -> None:
    """A day bucket is a UTC day in every zone (a Kolkata day would start at 18:30 UTC)."""
    start = datetime(2026, 1, 10, tzinfo=UTC)
    times = [start + i * STEP for i in range(3 * 144)]
    walls = [t.astimezone(ZoneInfo("Asia/Kolkata")).replace(tzinfo=None) for t in times]
    ref = engine.seed("events", {"id": "int", "created_at": "timestamp"}, list(enumerate(walls)))
    wh = engine.connect(timezone="Asia/Kolkata")
    res = collect_table(
        wh,
        table_info(wh, ref),
        TableSettings(match="*", field_health=False, bucket=Bucket.DAY),
        Defaults(history_days=10),
        now=start + timedelta(days=3),
        last_bucket=None,
    )
    assert res.errors == []
    assert values(res, Metric.BUCKET_ROW_COUNT) == {
        start + timedelta(days=d): 144.0 for d in range(3)
    }
