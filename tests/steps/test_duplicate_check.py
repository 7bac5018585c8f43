"""A duplicate rate read off an approximate distinct count is checked against the warehouse
before it alerts: a key whose estimate fell short (HyperLogLog errs by a few percent either
way) but whose values all differ has no duplicates, and says nothing. Real DuckDB, real run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store

START = datetime(2026, 3, 2, tzinfo=UTC)
PER_HOUR = 800
HOURS = 3 * 24
#: 800 distinct ids whose approximate distinct count DuckDB puts at 730: a "9% duplicate
#: rate" with no duplicate at all
SHORT = "(g * 7919 + 735 * 104729) % 1000000007"


def test_an_estimate_the_warehouse_disproves_does_not_alert(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA app")
    crafted = HOURS - 4  # not the newest hour, which waits while it may still be filling
    con.execute(
        f"""
        CREATE TABLE app.tokens AS
        SELECT CASE WHEN h = {crafted} THEN {SHORT} ELSE 2000000000 + h * {PER_HOUR} + g END
                 AS id,
               TIMESTAMP '{START:%Y-%m-%d}' + h * INTERVAL 1 HOUR + g * INTERVAL 4 SECOND
                 AS created_at
        FROM range({HOURS}) AS t(h), range({PER_HOUR}) AS r(g)
        """
    )
    hour = START + timedelta(hours=crafted)
    (distinct, approx) = con.execute(
        "SELECT count(DISTINCT id), approx_count_distinct(id) FROM app.tokens "
        "WHERE created_at >= ? AND created_at < ?",
        [hour.replace(tzinfo=None), (hour + timedelta(hours=1)).replace(tzinfo=None)],
    ).fetchone() or (0, 0)
    con.close()
    # the premise: every id differs, and the estimate says 9% repeat
    assert distinct == PER_HOUR and approx <= 0.92 * PER_HOUR, (distinct, approx)
    (tmp_path / "tidegauge.yml").write_text(
        "warehouses: [{type: duckdb, path: w.duckdb}]\n"
        'store: {url: "sqlite:///state.db"}\n'
        "defaults: {bucket: hour, history_days: 3}\n"
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    report = run(project, store, Clock.fixed(START + timedelta(hours=HOURS, minutes=5)))
    assert report.failed_tables == {}
    assert [a for a in report.alerts if str(a["kind"]) == "duplicates"] == []
