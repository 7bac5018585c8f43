"""A holiday end to end: a DuckDB warehouse whose daily orders dip on a holiday raises no
volume alert when the project has a calendar, and does without one; an outage on the holiday
still alerts."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store

END = datetime(2026, 3, 10, 6, tzinfo=UTC)  # the day tested on a first run: Mon 2026-03-09


def build_warehouse(path: Path, holiday_share: float) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw")
    # 40 days of orders, ~800 a day with some day-to-day wobble; 2026-03-09 is a holiday
    con.execute(
        f"""
        CREATE TABLE raw.orders AS
        WITH days AS (
            SELECT d, DATE '2026-01-29' + d * INTERVAL 1 DAY AS day FROM range(0, 40) t(d)
        ), sized AS (
            SELECT day, CAST((800 + (d * 37) % 61 - 30)
                   * CASE WHEN day = DATE '2026-03-09' THEN {holiday_share} ELSE 1 END
                   AS INTEGER) AS n
            FROM days
        )
        SELECT row_number() OVER () AS id,
               day + (i * 7 % 1440) * INTERVAL 1 MINUTE AS created_at
        FROM sized, range(0, n) r(i)
        """
    )
    con.close()


def volume_alerts(tmp_path: Path, holiday_share: float, calendar: str) -> list[dict]:
    build_warehouse(tmp_path / "w.duckdb", holiday_share)
    (tmp_path / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "sqlite:///state.db"}}
defaults:
  bucket: day
{calendar}
tables:
  - match: "*"
    field_health: false
    categorical: false
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    report = run(project, store, Clock.fixed(END), notify=False)
    assert report.failed_tables == {}
    return [a for a in store.alerts.list() if a["kind"] == "volume"]


CALENDAR = "  calendar:\n    dates: [2026-03-09]\n"


@pytest.mark.slow
def test_holiday_dip_alerts_without_a_calendar(tmp_path):
    alerts = volume_alerts(tmp_path, 0.6, "")
    assert [a["table"] for a in alerts] == ["raw.orders"]


@pytest.mark.slow
def test_holiday_dip_is_quiet_with_a_calendar(tmp_path):
    assert volume_alerts(tmp_path, 0.6, CALENDAR) == []


@pytest.mark.slow
def test_outage_on_the_holiday_still_alerts(tmp_path):
    alerts = volume_alerts(tmp_path, 0.02, CALENDAR)
    assert [a["table"] for a in alerts] == ["raw.orders"]
    text = alerts[0]["explanation"]["text"]
    assert "floor" in text and "calendar: 1 date" in text


def backtest_volume_alerts(tmp_path: Path, calendar: str) -> int:
    from tidegauge.steps.backtest import backtest_project

    tmp_path.mkdir()
    volume_alerts(tmp_path, 0.6, calendar)
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    out = backtest_project(project, store, END, days=7)
    return sum(
        m["alerts"]
        for m in out["monitors"]
        if m["table"] == "raw.orders" and m["metric"] == "bucket_row_count"
    )


@pytest.mark.slow
def test_a_backtest_replays_the_holiday_as_a_run_does(tmp_path):
    # what `monitors plan` reports as alerts per week must be what runs would raise
    assert backtest_volume_alerts(tmp_path / "plain", "") >= 1
    assert backtest_volume_alerts(tmp_path / "with", CALENDAR) == 0
