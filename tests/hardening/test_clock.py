"""Clock jumps and time zones.

* ``run --now`` earlier than the last run: no crash, nothing stored twice, no alert about
  the future and no "inverted" alert (a drop reported because the clock went back).
* Warehouses whose naive timestamps are local time (``timezone: Europe/Berlin``,
  ``Asia/Kolkata``): buckets are UTC hours, the DST spring-forward hour leaves no empty
  bucket, the fall-back hour is not one doubled bucket, freshness is right to the minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.test_pipeline import END, build_warehouse
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store

CONFIG = """
warehouses: [{{type: duckdb, path: w.duckdb{extra}}}]
store: {{url: "sqlite:///state.db"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
"""


def fingerprints(store: Store) -> list[str]:
    return [a["fingerprint"] for a in store.alerts.list(limit=100_000)]


@pytest.mark.slow
def test_now_earlier_than_the_last_run(tmp_path: Path) -> None:
    build_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(CONFIG.format(extra=""))
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(END))
    first = fingerprints(store)
    incidents = len(store.incidents.list())

    for back in (timedelta(hours=5), timedelta(days=2), timedelta(days=40)):
        earlier = END - back
        report = run(project, store, Clock.fixed(earlier))  # no crash
        assert store.runs()[0]["status"] == "success", report.as_dict()
        new = store.alerts.list(since=earlier, limit=100_000)
        new = [a for a in new if a["run_id"] == report.run_id]
        # nothing about data after the run's now, and no volume drop from going back
        assert all(a["data_time"] <= earlier for a in new), new
        assert not [a for a in new if a["kind"] == "volume"], new
    keys = fingerprints(store)
    assert len(keys) == len(set(keys))
    # back to the present: nothing new, nothing twice
    again = run(project, store, Clock.fixed(END))
    assert again.alerts == [] and again.incidents_opened == []
    assert sorted(fingerprints(store)) == sorted(set(fingerprints(store)))
    assert set(first) <= set(fingerprints(store))
    assert len(store.incidents.list()) >= incidents
    # the stored history never has two points for one series and bucket
    t = store.find_table("raw.orders")
    assert t is not None
    keys2 = [(p.metric, p.column, p.segment, p.bucket_start) for p in store.points(t.id)]
    assert len(keys2) == len(set(keys2))


def local_warehouse(root: Path, zone: str, start: datetime, end: datetime) -> int:
    """A loader that writes naive wall-clock time of ``zone``: one row per real minute in
    ``[start, end)``, so 60 rows in every real (UTC) hour. Returns the number of rows."""
    import duckdb

    minutes = int((end - start).total_seconds() // 60)
    con = duckdb.connect(str(root / "w.duckdb"))
    con.execute("CREATE SCHEMA raw")
    con.execute(
        f"""
        CREATE TABLE raw.events AS
        SELECT i AS id,
               CAST(timezone('{zone}', TIMESTAMPTZ '{start.isoformat()}' + i * INTERVAL 1 MINUTE)
                    AS TIMESTAMP) AS created_at
        FROM range(0, {minutes}) t(i)
        """
    )
    con.close()
    return minutes


def run_in_zone(tmp_path: Path, zone: str, now: datetime) -> tuple[Store, int]:
    (tmp_path / "tidegauge.yml").write_text(CONFIG.format(extra=f", timezone: {zone}"))
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(now))
    t = store.find_table("raw.events")
    assert t is not None
    return store, t.id


def hourly_counts(store: Store, table_id: int) -> dict[datetime, float]:
    points = store.points(table_id, metric="bucket_row_count")
    assert all(p.value is not None for p in points)
    return {p.bucket_start: p.value or 0.0 for p in points}


SPRING_FORWARD = datetime(2026, 3, 29, 6, tzinfo=UTC)  # Berlin skipped 02:00-03:00 at 01:00 UTC
FALL_BACK = datetime(2026, 10, 25, 6, tzinfo=UTC)  # Berlin repeated 02:00-03:00 from 01:00 UTC


@pytest.mark.parametrize("now", [SPRING_FORWARD, FALL_BACK], ids=["spring_forward", "fall_back"])
def test_dst_gives_utc_buckets_and_no_false_volume_alert(tmp_path: Path, now: datetime) -> None:
    """Naive Europe/Berlin wall times: the skipped hour leaves no empty UTC bucket, and the
    repeated hour is not one doubled bucket; every UTC hour holds its 60 rows."""
    first = now - timedelta(days=29, hours=6)
    rows = local_warehouse(tmp_path, "Europe/Berlin", first, now)
    store, table_id = run_in_zone(tmp_path, "Europe/Berlin", now)
    counts = hourly_counts(store, table_id)
    hours = [first + timedelta(hours=h) for h in range(rows // 60)]
    assert sorted(counts) == hours  # starts at the first real hour: no shift by the offset
    assert set(counts.values()) == {60.0}
    assert sum(counts.values()) == rows  # every row counted once
    assert not [a for a in store.alerts.list() if a["kind"] == "volume"]
    # the newest row is 05:59 UTC (07:59 or 06:59 Berlin wall time): one minute old
    lag = [p.value for p in store.points(table_id, metric="freshness_lag_seconds")]
    assert lag == [60.0]


def test_freshness_in_a_half_hour_zone(tmp_path: Path) -> None:
    """Asia/Kolkata (+05:30): read as UTC, the newest rows would look 5.5 hours in the future
    and be ignored; read in the zone, the table is 10 minutes old."""
    now = datetime(2026, 1, 15, 9, 10, tzinfo=UTC)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    rows = local_warehouse(tmp_path, "Asia/Kolkata", first, now - timedelta(minutes=9))
    store, table_id = run_in_zone(tmp_path, "Asia/Kolkata", now)
    lag = [p.value for p in store.points(table_id, metric="freshness_lag_seconds")]
    assert lag == [600.0]
    newest = [p.value for p in store.points(table_id, metric="max_timestamp")]
    assert newest == [(now - timedelta(minutes=10)).timestamp()]
    counts = hourly_counts(store, table_id)
    assert min(counts) == first and set(counts.values()) == {60.0}
    assert sum(counts.values()) == rows - 1  # the 09:00 UTC row is in the open hour


def test_hourly_runs_across_the_fall_back_count_each_row_once(tmp_path: Path) -> None:
    """Runs every hour through the repeated hour: windows that end or start at the DST
    transition split its rows the same way, so no row moves between buckets."""
    first = datetime(2026, 10, 23, tzinfo=UTC)
    end = datetime(2026, 10, 25, 8, tzinfo=UTC)
    local_warehouse(tmp_path, "Europe/Berlin", first, end)
    store, table_id = run_in_zone(tmp_path, "Europe/Berlin", datetime(2026, 10, 24, 22, tzinfo=UTC))
    project = load_project(tmp_path / "tidegauge.yml")
    for h in range(23, 33):
        run(project, store, Clock.fixed(datetime(2026, 10, 24, tzinfo=UTC) + timedelta(hours=h)))
    counts = hourly_counts(store, table_id)
    assert len(counts) == (end - first) // timedelta(hours=1)
    assert set(counts.values()) == {60.0}
    assert not [a for a in store.alerts.list() if a["kind"] == "volume"]


def test_a_bad_zone_name_is_a_config_error_naming_the_line(tmp_path: Path) -> None:
    from tidegauge.config import ConfigError

    (tmp_path / "tidegauge.yml").write_text(
        "warehouses:\n  - type: duckdb\n    path: w.duckdb\n    timezone: Europe/Berln\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"tidegauge.yml:4: warehouses.0.timezone: .*unknown "
        r"time zone 'Europe/Berln'.*did you mean 'Europe/Berlin'",
    ):
        load_project(tmp_path / "tidegauge.yml")


def test_same_data_two_runs_in_other_zone_clock_are_equal(tmp_path: Path) -> None:
    """``--now`` with an offset is the same instant as its UTC form: same buckets, no dupes."""
    build_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(CONFIG.format(extra=""))
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    from tidegauge.core.clock import parse_instant

    run(project, store, Clock.fixed(parse_instant("2026-03-10T13:00:00+01:00")))
    second = run(project, store, Clock.fixed(END))
    assert second.alerts == [] and second.tables == 0  # already collected as of that instant
