"""A table loaded once a night with the previous day's events, watched by runs at 04:00 and
in between: the most common warehouse table there is. Its rows have a time in every hour,
yet at 04:00 the newest is from before midnight, and the hours since have no rows *yet*.

Before: every run stored those hours as zeros and alerted on them ("0 rows from 00:00 to
01:00"), the zeros older than the recheck window stayed stored after the rows came, the
freshness detector, which learns from row times, found the table "hourly, 4 h overdue"
every morning, and an hourly schedule never tested yesterday's hours at all. A night
loaded twice went unseen too: the duplicate rate of a key nobody declared was held to the
distinct count's floor of one (a rate up by 100%). Real DuckDB, real runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
DAYS = 10  # of history before the first run
PER_HOUR = 40


def _load_day(path: Path, day: int, null_hours: range = range(0)) -> None:
    """The nightly batch: ``day``'s orders, every 90 seconds; payments follow each order
    by 5 minutes, so the last ones of a day fall after midnight (into the next hour)."""
    start = START + timedelta(days=day)
    con = duckdb.connect(str(path))
    first = day * 24 * PER_HOUR
    con.execute(
        f"""
        INSERT INTO shop.payments
        SELECT {first} + r AS id,
               TIMESTAMP '{start:%Y-%m-%d}' + r * INTERVAL 90 SECOND
                 + INTERVAL 5 MINUTE AS paid_at,
               CASE WHEN broken THEN NULL ELSE 10 + r % 7 END AS amount,
               ['card', 'bank', 'card', 'cash'][r % 4 + 1] AS method,
               CASE WHEN broken THEN NULL ELSE 'pay-' || ({first} + r)::VARCHAR END AS ref,
               ({first} + r) * 0.37 AS fee
        FROM (
          SELECT r, hour(TIMESTAMP '{start:%Y-%m-%d}' + r * INTERVAL 90 SECOND)
                      IN ({",".join(str(h) for h in null_hours) or "-1"}) AS broken
          FROM range({24 * PER_HOUR}) AS g(r)
        )
        """
    )
    con.close()


@pytest.fixture
def project(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA shop")
    con.execute(
        "CREATE TABLE shop.payments "
        "(id BIGINT, paid_at TIMESTAMP, amount INTEGER, method TEXT, ref TEXT, fee DOUBLE)"
    )
    con.close()
    for day in range(DAYS):
        _load_day(tmp_path / "w.duckdb", day)
    (tmp_path / "tidegauge.yml").write_text(
        "warehouses: [{type: duckdb, path: w.duckdb}]\n"
        'store: {url: "sqlite:///state.db"}\n'
        "defaults: {bucket: hour, history_days: 10}\n"
    )
    return load_project(tmp_path / "tidegauge.yml")


def _alerts(store: Store, since: datetime) -> list[tuple[str, str | None, datetime]]:
    return sorted(
        (a["kind"], a["column"], a["data_time"]) for a in store.alerts.list(since=since, limit=1000)
    )


def _stored_counts(store: Store) -> dict[datetime, float]:
    table = store.find_table("shop.payments")
    assert table is not None
    return {
        p.bucket_start: p.value or 0.0
        for p in store.points(table.id, metric="bucket_row_count")
        if p.segment is None
    }


def test_nightly_loads_read_as_a_schedule_not_as_outages(project, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    store = Store.open(project.store_url())
    four = timedelta(hours=4)
    run(project, store, Clock.fixed(START + DAYS * timedelta(days=1) + four))
    for day in range(DAYS, DAYS + 3):
        _load_day(db, day)
        now = START + (day + 1) * timedelta(days=1) + four
        report = run(project, store, Clock.fixed(now))
        assert report.failed_tables == {}
        assert _alerts(store, now) == [], f"clean night {day}"
        # hourly runs between two loads find nothing new, and say nothing either
        for hours in (6, 9):
            later = now - four + timedelta(hours=hours)
            run(project, store, Clock.fixed(later))
            assert _alerts(store, later) == [], f"{hours}:00 after night {day}"

    # every hour that has rows is stored with all of them: no zero left behind by a run
    # that looked before the load
    con = duckdb.connect(str(db))
    actual = {
        b.replace(tzinfo=UTC): float(n)
        for b, n in con.execute(
            "SELECT date_trunc('hour', paid_at), count(*) FROM shop.payments GROUP BY 1"
        ).fetchall()
    }
    con.close()
    stored = _stored_counts(store)
    oldest, newest = min(stored), max(stored)  # the backfill reaches back 10 days
    assert {b: n for b, n in actual.items() if oldest <= b < newest} == {
        b: n for b, n in stored.items() if b < newest
    }
    assert not [b for b, n in stored.items() if n == 0]

    # a night with a broken amount column for the orders of 01:00 to 04:59 (paid 5 minutes
    # later): the 04:00 run after it tests yesterday's early hours, though they are older
    # than its window (the previous run's time, 09:00, less the recheck buckets)
    day = DAYS + 3
    _load_day(db, day, null_hours=range(1, 5))
    now = START + (day + 1) * timedelta(days=1) + four
    run(project, store, Clock.fixed(now))
    nulls = [a for a in _alerts(store, now) if a[0] == "null_rate"]
    assert {a[2].hour for a in nulls} >= {2, 3, 4}, nulls
    assert {a[1] for a in nulls} == {"amount", "ref"}
    # fewer distinct references, as many rows: nulls, not repeats
    assert not [a for a in _alerts(store, now) if a[0] == "duplicates"]

    # a night loaded partly twice: a third of its payments again, same ids. ``id`` is no
    # declared key; its name and its distinct count, near the row count every hour so far,
    # say it is one
    day += 1
    _load_day(db, day)
    con = duckdb.connect(str(db))
    con.execute(
        "INSERT INTO shop.payments SELECT * FROM shop.payments "
        f"WHERE id >= {day * 24 * PER_HOUR} AND id % 3 = 0"
    )
    con.close()
    now += timedelta(days=1)
    run(project, store, Clock.fixed(now))
    dups = [a for a in _alerts(store, now) if a[0] == "duplicates"]
    # the table's own key; not the fee (an amount), nor the reference (unique, but named as
    # no key: declared under ``keys:`` it would count exactly)
    assert {a[1] for a in dups} == {"id"}
    assert len({a[2] for a in dups}) >= 20, dups  # the night's hours, one alert each

    # the next night's load never comes: by midday the table is late
    noon = now + timedelta(days=1, hours=8)
    run(project, store, Clock.fixed(now + timedelta(days=1)))
    run(project, store, Clock.fixed(noon))
    kinds = {a[0] for a in _alerts(store, now + timedelta(days=1))}
    assert "freshness" in kinds
    assert "volume" not in kinds  # hours without rows yet are not "0 rows" hours


def _rebuild(path: Path, day: int) -> None:
    """The nightly full refresh of a small table: every row stamped with the load time."""
    at = START + timedelta(days=day, hours=3)
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE OR REPLACE TABLE shop.rates AS SELECT r AS id, 1.0 + r / 100 AS rate, "
        f"TIMESTAMP '{at:%Y-%m-%d %H:%M}' + r * INTERVAL 1 SECOND AS loaded_at "
        "FROM range(50) AS g(r)"
    )
    con.close()


def test_a_table_rebuilt_every_night_is_late_when_a_rebuild_is_missed(
    project, tmp_path: Path
) -> None:
    # its rows' times all fall in one hour, the newest: they tell no cadence. What runs saw
    # land does: a rebuild a day, so a night without one is late by the next morning
    db = tmp_path / "w.duckdb"
    store = Store.open(project.store_url())
    four = timedelta(hours=4)
    for day in range(DAYS, DAYS + 8):
        _rebuild(db, day)
        now = START + day * timedelta(days=1) + four
        report = run(project, store, Clock.fixed(now))
        assert report.failed_tables == {}
        if day > DAYS:  # the first look cannot tell a nightly batch from a stopped feed
            assert _alerts(store, now) == [], f"clean night {day}"
        _load_day(db, day)  # the payments of the day, for the next morning
    # the payments come, the rates do not
    now = START + (DAYS + 8) * timedelta(days=1) + four
    run(project, store, Clock.fixed(now))
    late = [a["title"] for a in store.alerts.list(since=now, limit=100) if a["kind"] == "freshness"]
    newest = START + (DAYS + 7) * timedelta(days=1) + timedelta(hours=3, seconds=49)
    assert late == [f"shop.rates is late: no new data since {newest:%Y-%m-%d %H:%M} UTC"]
