"""The demo warehouse: deterministic, seasonal, and carrying exactly the incidents it claims."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tidegauge.core.model import AlertKind
from tidegauge.demo.scenario import APPLIED_BY_SCHEMA_CHANGE, Scenario
from tidegauge.demo.warehouse import (
    ANALYTICS_VIEWS,
    CLEAN_TABLES,
    RAW_TABLES,
    apply_schema_change,
    build_demo_warehouse,
    demo_end,
    volume_drop_start,
)

END = datetime(2026, 3, 2, 12, tzinfo=UTC)  # a Monday noon


def naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scenario]:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    scenario = build_demo_warehouse(path, end=END)
    return path, scenario


@pytest.fixture(scope="module")
def con(built: tuple[Path, Scenario]) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(built[0]), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def scenario(built: tuple[Path, Scenario]) -> Scenario:
    return built[1]


def rows(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return con.execute(sql, list(params)).fetchall()


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> Any:
    return rows(con, sql, *params)[0][0]


def fingerprint(path: Path) -> dict[str, tuple[int, int]]:
    with duckdb.connect(str(path), read_only=True) as c:
        return {
            table: tuple(
                c.execute(f"SELECT count(*), sum(hash(t)::HUGEINT) FROM {table} t").fetchall()[0]
            )
            for table in RAW_TABLES
        }


# --- API -------------------------------------------------------------------------------------


def test_demo_end_is_the_last_full_hour() -> None:
    assert demo_end(datetime(2026, 3, 2, 12, 34, 56, tzinfo=UTC)) == END
    assert demo_end(END) == END
    assert demo_end(datetime(2026, 3, 2, 12, 5)) == END  # naive is UTC


def test_end_must_be_an_hour_boundary(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hour boundary"):
        build_demo_warehouse(tmp_path / "w.duckdb", end=END + timedelta(minutes=30))
    with pytest.raises(ValueError, match="days"):
        build_demo_warehouse(tmp_path / "w.duckdb", end=END, days=1)


def test_scenario_round_trips_through_json(scenario: Scenario) -> None:
    data = json.loads(scenario.to_json())
    assert Scenario.from_dict(data) == scenario
    assert data["end"] == "2026-03-02T12:00:00+00:00"
    assert data["start"] == "2026-01-01T12:00:00+00:00"
    assert {i["kind"] for i in data["incidents"]} == {
        "volume_drop",
        "new_category_value",
        "null_spike",
        "late_load",
        "dropped_column",
    }


def test_incidents_are_in_the_last_30_hours(scenario: Scenario) -> None:
    assert scenario.end == END and scenario.start == END - timedelta(days=60)
    for incident in scenario.incidents:
        assert END - timedelta(hours=30) < incident.starts_at <= END
        assert incident.ends_at is None or incident.ends_at <= END
        assert isinstance(incident.expected_alert_kind, AlertKind)
        assert incident.table in RAW_TABLES
        assert incident.table not in CLEAN_TABLES
    kinds = {i.kind: i.expected_alert_kind for i in scenario.incidents}
    assert kinds == {
        "volume_drop": AlertKind.VOLUME,
        "new_category_value": AlertKind.CATEGORY_NEW_VALUE,
        "null_spike": AlertKind.NULL_RATE,
        "late_load": AlertKind.FRESHNESS,
        "dropped_column": AlertKind.SCHEMA_CHANGE,
    }
    assert [i.kind for i in scenario.incidents_applied_by(APPLIED_BY_SCHEMA_CHANGE)] == [
        "dropped_column"
    ]


@pytest.mark.parametrize("hour", range(0, 24, 5))
def test_volume_drop_lands_on_the_evening_peak(hour: int) -> None:
    end = datetime(2026, 3, 2, hour, tzinfo=UTC)
    start = volume_drop_start(end)
    assert start.hour == 18
    assert end - timedelta(hours=29) <= start <= end - timedelta(hours=6)


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    a = build_demo_warehouse(tmp_path / "a.duckdb", end=END, days=10, seed=3)
    b = build_demo_warehouse(tmp_path / "b.duckdb", end=END, days=10, seed=3)
    assert a == b
    same = fingerprint(tmp_path / "a.duckdb")
    assert fingerprint(tmp_path / "b.duckdb") == same
    # another seed, written over an existing file
    c = build_demo_warehouse(tmp_path / "b.duckdb", end=END, days=10, seed=4)
    assert c.row_counts != a.row_counts
    other = fingerprint(tmp_path / "b.duckdb")
    assert all(other[table] != same[table] for table in RAW_TABLES)


# --- shape -----------------------------------------------------------------------------------


def test_tables_views_and_row_counts(con: duckdb.DuckDBPyConnection, scenario: Scenario) -> None:
    found = {
        f"{schema}.{name}": kind
        for schema, name, kind in rows(
            con,
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'analytics')",
        )
    }
    assert found == {
        **dict.fromkeys(RAW_TABLES, "BASE TABLE"),
        **dict.fromkeys(ANALYTICS_VIEWS, "VIEW"),
    }
    for table, count in scenario.row_counts.items():
        assert one(con, f"SELECT count(*) FROM {table}") == count
    assert 100_000 <= scenario.row_counts["raw.orders"] <= 300_000
    assert scenario.row_counts["raw.bids"] > 3 * scenario.row_counts["raw.orders"]


def test_views_query_and_join_sensibly(con: duckdb.DuckDBPyConnection) -> None:
    for view in ANALYTICS_VIEWS:
        assert one(con, f"SELECT count(*) FROM (SELECT * FROM {view})") > 0, view
    assert one(con, "SELECT count(*) FROM analytics.fct_orders") == one(
        con, "SELECT count(*) FROM raw.orders"
    )
    assert one(con, "SELECT count(*) FROM analytics.dim_users") == one(
        con, "SELECT count(*) FROM raw.users"
    )
    assert one(con, "SELECT count(*) FROM analytics.dim_sellers") == one(
        con, "SELECT count(*) FROM raw.users WHERE is_seller"
    )
    assert one(con, "SELECT count(*) FROM analytics.daily_revenue") == 61  # 60 days from noon
    paid = one(con, "SELECT avg((payment_id IS NOT NULL)::INT) FROM analytics.fct_orders")
    assert 0.85 < paid < 0.97
    # the view definitions are real SQL over raw, for column lineage
    sql = one(
        con,
        "SELECT sql FROM duckdb_views() WHERE schema_name = 'analytics' "
        "AND view_name = 'fct_orders'",
    )
    assert "analytics.stg_orders" in sql and "analytics.stg_payments" in sql


def test_columns_types_and_natural_values(con: duckdb.DuckDBPyConnection) -> None:
    types = dict(
        rows(
            con,
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw'",
        )
    )
    assert types["orders.total"] == "DECIMAL(12,2)"
    assert types["orders.created_at"] == "TIMESTAMP"
    assert types["users.is_seller"] == "BOOLEAN"
    assert types["users.referral_code"] == "VARCHAR"
    assert types["shows.loaded_at"] == "TIMESTAMP"
    assert types["payments.method"] == "VARCHAR"
    assert set(dict(rows(con, "SELECT category, 1 FROM raw.shows GROUP BY 1"))) == {
        "sneakers",
        "trading_cards",
        "fashion",
        "electronics",
        "collectibles",
    }
    history = naive(END - timedelta(hours=36))
    shares = dict(
        rows(
            con,
            "SELECT status, count(*) / sum(count(*)) OVER () FROM raw.orders "
            "WHERE created_at < ? GROUP BY 1",
            history,
        )
    )
    assert set(shares) == {"placed", "paid", "shipped", "delivered", "cancelled", "refunded"}
    assert shares["delivered"] > 0.5 and shares["refunded"] < 0.05
    methods = dict(
        rows(
            con,
            "SELECT coalesce(method, 'NULL'), count(*) / sum(count(*)) OVER () "
            "FROM raw.payments WHERE created_at < ? GROUP BY 1",
            history,
        )
    )
    assert set(methods) == {"card", "paypal", "apple_pay", "gift_card", "NULL"}
    assert methods["card"] > 0.5 and 0.002 < methods["NULL"] < 0.01
    nulls = rows(
        con,
        "SELECT avg((email IS NULL)::INT), avg((birth_year IS NULL)::INT), "
        "avg((referral_code IS NULL)::INT), avg(is_seller::INT) FROM raw.users",
    )[0]
    assert 0 < nulls[0] < 0.01 and 0.01 < nulls[1] < 0.03 and 0.05 < nulls[2] < 0.2
    assert 0.04 < nulls[3] < 0.08
    aov = one(con, "SELECT median(total) FROM raw.orders")
    assert 20 < aov < 150
    # every raw row is loaded on the hour after it was created, and ids grow with time
    for table in RAW_TABLES:
        bad = one(
            con,
            f"SELECT count(*) FROM {table} "
            "WHERE loaded_at <> date_trunc('hour', created_at) + INTERVAL 1 HOUR",
        )
        assert bad == 0, table
    assert one(con, "SELECT min(created_at) FROM raw.orders") >= naive(END - timedelta(days=60))
    assert one(con, "SELECT max(created_at) FROM raw.orders") < naive(END)


# --- realistic history -----------------------------------------------------------------------


def hourly(con: duckdb.DuckDBPyConnection, table: str) -> dict[datetime, int]:
    return dict(
        rows(con, f"SELECT date_trunc('hour', created_at), count(*) FROM {table} GROUP BY 1")
    )


@pytest.mark.parametrize("table", ["raw.bids", "raw.orders", "raw.shows"])
def test_daily_seasonality_evening_peak(con: duckdb.DuckDBPyConnection, table: str) -> None:
    evening, night = rows(
        con,
        "SELECT avg(n) FILTER (WHERE hour(h) BETWEEN 19 AND 22), "
        "avg(n) FILTER (WHERE hour(h) BETWEEN 3 AND 6) FROM ("
        f"SELECT date_trunc('hour', created_at) h, count(*) n FROM {table} "
        "WHERE created_at < ? GROUP BY 1)",
        naive(END - timedelta(hours=36)),
    )[0]
    assert evening / night > 5


@pytest.mark.parametrize("table", ["raw.bids", "raw.orders"])
def test_weekly_seasonality_and_growth(con: duckdb.DuckDBPyConnection, table: str) -> None:
    weekend, weekday = rows(
        con,
        "SELECT avg(n) FILTER (WHERE isodow(d) IN (6, 7)), "
        "avg(n) FILTER (WHERE isodow(d) IN (1, 2, 3)) FROM ("
        f"SELECT date_trunc('day', created_at) d, count(*) n FROM {table} "
        "WHERE created_at >= ? AND created_at < ? GROUP BY 1)",
        datetime(2026, 1, 5),
        datetime(2026, 3, 1),
    )[0]
    assert 1.15 < weekend / weekday < 1.45
    first, last = rows(
        con,
        "SELECT count(*) FILTER (WHERE created_at < ?), count(*) FILTER (WHERE created_at >= ?) "
        f"FROM {table} WHERE created_at >= ? AND created_at < ?",
        datetime(2026, 1, 18),
        datetime(2026, 2, 15),
        datetime(2026, 1, 4),
        datetime(2026, 3, 1),
    )[0]
    # two full weeks, six weeks apart, at ~1 %/week
    assert 1.02 < last / first < 1.12


def test_users_have_a_year_of_history(con: duckdb.DuckDBPyConnection) -> None:
    first = one(con, "SELECT min(created_at) FROM raw.users")
    assert first < naive(END - timedelta(days=400))
    sellers_at_start = one(
        con,
        "SELECT count(*) FROM raw.users WHERE is_seller AND created_at < ?",
        datetime(2026, 1, 1),
    )
    assert sellers_at_start > 1000
    # buyers and sellers of orders existed when they ordered
    assert (
        one(
            con,
            "SELECT count(*) FROM raw.orders o JOIN raw.users u ON u.user_id = o.buyer_id "
            "WHERE u.created_at > o.created_at",
        )
        == 0
    )


# --- the injected incidents ------------------------------------------------------------------


def same_hour_of_week(counts: dict[datetime, int], hour: datetime) -> float:
    """The mean count of the same hour of the same weekday in the three weeks before."""
    return sum(counts[hour - timedelta(weeks=w)] for w in (1, 2, 3)) / 3


def test_volume_drop_in_orders(con: duckdb.DuckDBPyConnection, scenario: Scenario) -> None:
    incident = scenario.incident("volume_drop")
    assert incident.table == "raw.orders" and incident.ends_at is not None
    orders = hourly(con, "raw.orders")
    payments = hourly(con, "raw.payments")
    start = naive(incident.starts_at)
    for offset in range(4):
        hour = start + timedelta(hours=offset)
        usual = same_hour_of_week(orders, hour)
        assert 0.15 < orders[hour] / usual < 0.45, hour
        usual_pay = same_hour_of_week(payments, hour)
        assert 0.7 < payments[hour] / usual_pay < 1.3  # payments kept arriving
    for hour in (start - timedelta(hours=1), naive(incident.ends_at)):
        usual = same_hour_of_week(orders, hour)
        assert 0.7 < orders[hour] / usual < 1.4, hour


def test_new_status_value(con: duckdb.DuckDBPyConnection, scenario: Scenario) -> None:
    incident = scenario.incident("new_category_value")
    assert (incident.table, incident.column) == ("raw.orders", "status")
    since = naive(incident.starts_at)
    before = one(
        con,
        "SELECT count(*) FROM raw.orders WHERE status = 'partially_refunded' AND created_at < ?",
        since,
    )
    assert before == 0
    share = one(
        con,
        "SELECT avg((status = 'partially_refunded')::INT) FROM raw.orders WHERE created_at >= ?",
        since,
    )
    assert 0.12 < share < 0.18
    first = one(con, "SELECT min(created_at) FROM raw.orders WHERE status = 'partially_refunded'")
    assert since <= first < since + timedelta(hours=2)


def test_null_spike_in_payment_method(con: duckdb.DuckDBPyConnection, scenario: Scenario) -> None:
    incident = scenario.incident("null_spike")
    assert (incident.table, incident.column) == ("raw.payments", "method")
    assert incident.ends_at is not None
    start, stop = naive(incident.starts_at), naive(incident.ends_at)
    before, during, after = rows(
        con,
        "SELECT avg((method IS NULL)::INT) FILTER (WHERE created_at < ?), "
        "avg((method IS NULL)::INT) FILTER (WHERE created_at >= ? AND created_at < ?), "
        "avg((method IS NULL)::INT) FILTER (WHERE created_at >= ?) FROM raw.payments",
        start,
        start,
        stop,
        stop,
    )[0]
    assert before < 0.01
    assert 0.32 < during < 0.48
    assert after < 0.03
    per_hour = rows(
        con,
        "SELECT date_trunc('hour', created_at), avg((method IS NULL)::INT) FROM raw.payments "
        "WHERE created_at >= ? AND created_at < ? GROUP BY 1",
        start,
        stop,
    )
    assert len(per_hour) == 6 and all(rate > 0.1 for _, rate in per_hour)


def test_late_load_of_shows(con: duckdb.DuckDBPyConnection, scenario: Scenario) -> None:
    incident = scenario.incident("late_load")
    assert incident.table == "raw.shows"
    last_load = one(con, "SELECT max(loaded_at) FROM raw.shows")
    assert last_load == naive(END - timedelta(hours=8)) == naive(incident.starts_at)
    assert one(con, "SELECT max(created_at) FROM raw.shows") < last_load
    # before the incident it loaded hourly (a quiet night hour may bring no new show)
    loads = [
        load
        for (load,) in rows(
            con,
            "SELECT DISTINCT loaded_at FROM raw.shows WHERE loaded_at > ? ORDER BY 1",
            last_load - timedelta(days=14),
        )
    ]
    assert len(loads) > 0.95 * 14 * 24
    assert max(b - a for a, b in pairwise(loads)) <= timedelta(hours=3)
    # every other raw table is loaded up to the end
    for table in RAW_TABLES:
        if table != "raw.shows":
            assert one(con, f"SELECT max(loaded_at) FROM {table}") == naive(END), table
    # downstream keeps referencing the shows that did not arrive
    orphans = one(
        con,
        "SELECT count(*) FROM raw.orders o LEFT JOIN raw.shows s USING (show_id) "
        "WHERE s.show_id IS NULL AND o.created_at < ?",
        last_load - timedelta(hours=1),
    )
    assert orphans < 5


def test_dropped_column_between_runs(built: tuple[Path, Scenario], tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(built[0], path)
    incident = built[1].incident("dropped_column")
    assert (incident.table, incident.column) == ("raw.users", "referral_code")

    def columns(c: duckdb.DuckDBPyConnection, table: str) -> set[str]:
        return {d[0] for d in c.execute(f"SELECT * FROM {table} LIMIT 0").description}

    with duckdb.connect(str(path), read_only=True) as c:
        for table in ("raw.users", "analytics.stg_users", "analytics.dim_users"):
            assert "referral_code" in columns(c, table)
    apply_schema_change(path)
    apply_schema_change(path)  # idempotent
    with duckdb.connect(str(path), read_only=True) as c:
        for table in ("raw.users", "analytics.stg_users", "analytics.dim_users"):
            assert "referral_code" not in columns(c, table)
            assert c.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] > 0
        for view in ANALYTICS_VIEWS:
            c.execute(f"SELECT count(*) FROM {view}").fetchall()

    broken = tmp_path / "broken.duckdb"
    shutil.copy(built[0], broken)
    with duckdb.connect(str(broken)) as c:
        apply_schema_change(c, rebuild_models=False)
        assert "referral_code" not in columns(c, "raw.users")
        with pytest.raises(duckdb.Error):
            c.execute("SELECT * FROM analytics.dim_users LIMIT 1").fetchall()


# --- clean tables stay clean -----------------------------------------------------------------


def last_36_hours_z(counts: dict[datetime, int]) -> float:
    """How far the last 36 hours' row count is from the same hours of the 3 weeks before."""
    recent = [naive(END - timedelta(hours=h)) for h in range(1, 37)]
    observed = sum(counts.get(h, 0) for h in recent)
    expected = sum(counts.get(h - timedelta(weeks=w), 0) for h in recent for w in (1, 2, 3)) / 3
    return float((observed - expected) / (expected * 4 / 3) ** 0.5)


@pytest.mark.parametrize("table", CLEAN_TABLES)
def test_clean_tables_have_nothing_injected(con: duckdb.DuckDBPyConnection, table: str) -> None:
    counts = hourly(con, table)
    recent = [naive(END - timedelta(hours=h)) for h in range(1, 37)]
    assert abs(last_36_hours_z(counts)) < 4
    for hour in recent:
        history = [counts.get(hour - timedelta(days=7 * w), 0) for w in (1, 2, 3)]
        expected = sum(history) / 3
        z = (counts.get(hour, 0) - expected) / max(expected * 4 / 3, 1) ** 0.5
        assert abs(z) < 5, (hour, counts.get(hour, 0), expected)
    # the same categories and null rates as always
    text_columns = [
        name
        for name, kind in rows(
            con,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema || '.' || table_name = ?",
            table,
        )
        if kind == "VARCHAR"
    ]
    cut = naive(END - timedelta(hours=36))
    for column in text_columns:
        new = rows(
            con,
            f"SELECT DISTINCT {column} FROM {table} WHERE created_at >= ? "
            f"EXCEPT SELECT DISTINCT {column} FROM {table} WHERE created_at < ?",
            cut,
            cut,
        )
        assert new == [], (column, new)
        before, after = rows(
            con,
            f"SELECT avg(({column} IS NULL)::INT) FILTER (WHERE created_at < ?), "
            f"avg(({column} IS NULL)::INT) FILTER (WHERE created_at >= ?) FROM {table}",
            cut,
            cut,
        )[0]
        assert abs(after - before) < 0.02, column


def test_incident_tables_are_clean_outside_their_incidents(
    con: duckdb.DuckDBPyConnection,
) -> None:
    cut = naive(END - timedelta(hours=36))
    # payments volume, users sign-ups and the other order columns carry nothing recent
    for table in ("raw.payments", "raw.users"):
        assert abs(last_36_hours_z(hourly(con, table))) < 4, table
    for column in ("category", "currency", "coupon_code"):
        new = rows(
            con,
            f"SELECT DISTINCT {column} FROM raw.orders WHERE created_at >= ? "
            f"EXCEPT SELECT DISTINCT {column} FROM raw.orders WHERE created_at < ?",
            cut,
            cut,
        )
        assert new == [], column
