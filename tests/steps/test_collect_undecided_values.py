"""A window of a few rows cannot tell categories from identifiers: four new rows hold four
distinct UUIDs and four distinct e-mails, under any distinct-value limit. Such a column's
values are kept only if the store tracks them already; otherwise every later run of a
low-volume table would store raw identifiers as "categories" and stop scoring their
distinct count (duplicated keys would go unseen). Real DuckDB, real runs, one hour apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.core.metrics.categorical import undecided
from tidegauge.core.metrics.names import NULL_VALUE
from tidegauge.runner import run
from tidegauge.store.store import Store

START = datetime(2026, 3, 1, tzinfo=UTC)
FIRST = datetime(2026, 3, 8, 0, 30, tzinfo=UTC)


def _build(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA app")
    # a week of orders, one every 10 minutes: ids, e-mails and UUIDs never repeat, the
    # status does, and the grade's three values are all there is in any small window
    con.execute(
        f"""
        CREATE TABLE app.orders AS
        SELECT r AS id,
               TIMESTAMP '{START:%Y-%m-%d %H:%M}' + r * INTERVAL 10 MINUTE AS created_at,
               uuid()::VARCHAR AS token,
               'user' || r::VARCHAR || '@example.com' AS email,
               ['paid', 'placed', 'paid', 'shipped'][r % 4 + 1] AS status,
               ['a', 'b', 'c'][r % 3 + 1] AS grade,
               CASE WHEN r % 9 = 0 THEN NULL ELSE r % 2 = 0 END AS gift
        FROM range(7 * 24 * 6) AS g(r)
        """
    )
    con.close()


def _add_hour(path: Path, hour: datetime, rows: int, grades: list[str]) -> None:
    con = duckdb.connect(str(path))
    for i in range(rows):
        con.execute(
            "INSERT INTO app.orders VALUES (?, ?, uuid()::VARCHAR, ?, 'paid', ?, NULL)",
            [
                100_000 + hour.hour * 100 + i,
                (hour + timedelta(minutes=10 * i)).replace(tzinfo=None),
                f"late{hour.hour}.{i}@example.com",
                grades[i % len(grades)],
            ],
        )
    con.close()


def _value_columns(store: Store, table: str) -> dict[str, set[str]]:
    stored = store.find_table(table)
    assert stored is not None
    out: dict[str, set[str]] = {}
    for p in store.points(stored.id, metric="value_count"):
        assert p.column and p.segment
        out.setdefault(p.column, set()).add(p.segment)
    return out


@pytest.fixture
def project(tmp_path: Path):
    _build(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        "warehouses: [{type: duckdb, path: w.duckdb}]\n"
        'store: {url: "sqlite:///state.db"}\n'
        "defaults: {bucket: hour, history_days: 7}\n"
    )
    return load_project(tmp_path / "tidegauge.yml")


def test_small_windows_store_no_identifiers_as_categories(project, tmp_path: Path) -> None:
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(FIRST))
    # the backfill saw a week: the identifiers are high-cardinality, the rest categories
    first = _value_columns(store, "app.orders")
    assert set(first) == {"status", "grade", "gift"}

    for h in range(1, 4):  # three hourly runs, each over a window of a few new rows
        hour = FIRST.replace(minute=0) + timedelta(hours=h - 1)
        _add_hour(tmp_path / "w.duckdb", hour, rows=3, grades=["a", "b", "c"])
        report = run(project, store, Clock.fixed(hour + timedelta(hours=1, minutes=5)))
        assert report.failed_tables == {}

    later = _value_columns(store, "app.orders")
    # a window of 3 rows with 3 distinct grades is undecided, but grades are tracked already
    assert set(later) == {"status", "grade", "gift"}
    assert not any(v.startswith("late") for vs in later.values() for v in vs)
    grade = store.find_table("app.orders")
    assert grade is not None
    recent = {
        p.bucket_start
        for p in store.points(grade.id, metric="value_count")
        if p.column == "grade" and p.bucket_start >= FIRST.replace(minute=0)
    }
    assert len(recent) == 3, recent  # one bucket per hourly run, each of three rows


def test_a_new_table_waits_for_values_to_repeat(project, tmp_path: Path) -> None:
    store = Store.open(project.store_url())
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    # a small table without a time column: five rows, every value different
    con.execute("CREATE TYPE size AS ENUM ('s', 'm', 'l', 'xl', 'xxl')")
    con.execute(
        "CREATE TABLE app.plans AS SELECT r AS id, 'plan' || r::VARCHAR AS code, "
        "['x', 'y'][r % 2 + 1] AS tier, (['s', 'm', 'l', 'xl', 'xxl'][r + 1])::size AS size "
        "FROM range(5) AS g(r)"
    )
    con.close()
    run(project, store, Clock.fixed(FIRST))
    plans = _value_columns(store, "app.plans")
    assert "code" not in plans  # five codes in five rows: could be ids
    assert plans["tier"] == {"x", "y"}  # two values in five rows: they repeat
    assert len(plans["size"]) == 5  # an enum's values are categories by type

    # two rows left, two tiers: undecided alone, but the store tracks tiers already
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("DELETE FROM app.plans WHERE id > 1")
    con.execute("UPDATE app.plans SET code = 'gold' WHERE id = 0")
    con.close()
    later = FIRST + timedelta(hours=1)
    run(project, store, Clock.fixed(later))
    stored = store.find_table("app.plans")
    assert stored is not None
    latest = {
        (p.column, p.segment)
        for p in store.points(stored.id, metric="value_count")
        if p.bucket_start >= later - timedelta(minutes=1)
    }
    assert ("tier", "x") in latest and ("tier", "y") in latest
    assert not any(column == "code" for column, _ in latest)


def test_a_declared_categorical_column_is_kept_whatever_the_window(project, tmp_path) -> None:
    (tmp_path / "tidegauge.yml").write_text(
        (tmp_path / "tidegauge.yml").read_text()
        + "tables:\n  - match: app.orders\n    categorical_columns: [email]\n"
    )
    declared = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(declared.store_url())
    hour = FIRST.replace(minute=0)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(f"DELETE FROM app.orders WHERE created_at < TIMESTAMP '{hour:%Y-%m-%d %H:%M}'")
    con.close()
    _add_hour(tmp_path / "w.duckdb", hour, rows=3, grades=["a"])
    run(declared, store, Clock.fixed(hour + timedelta(hours=1, minutes=5)))
    assert len(_value_columns(store, "app.orders")["email"]) == 3


def test_undecided_counts_non_null_values_and_their_repeats() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        (t, "token", "u1", 1),
        (t, "token", "u2", 1),
        (t, "token", NULL_VALUE, 5),
        (t, "status", "paid", 3),
        (t, "status", "placed", 1),
        (t, "empty", NULL_VALUE, 4),
        (t, "many", "v", 150),
    ]
    distinct = {"token": 3, "status": 2, "empty": 1, "many": 1, "wide": 500}
    # token: 2 values in 2 non-null rows; empty: no non-null row; status repeats;
    # "many" has more rows than the limit; "wide" is over the limit (not categorical at all)
    assert undecided(rows, distinct, limit=100) == {"token": (2, 2), "empty": (0, 0)}
    # more non-null rows than the limit: values must repeat, whatever their count
    assert undecided([(t, "x", f"v{i}", 1) for i in range(3)], {"x": 3}, limit=2) == {}
