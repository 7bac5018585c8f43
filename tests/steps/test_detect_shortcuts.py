"""Detectors skip a table that holds none of their metrics (no categorical series, no update
times): what a run alerts on is exactly what it alerts on when every detector looks at every
table, and a table that changed between runs is still caught."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.steps.history import TableHistory
from tidegauge.store.store import Store

END = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _warehouse(path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw")
    # 20 days of hourly events with two statuses; loads stop 6 hours before END
    con.execute(
        """
        CREATE TABLE raw.events AS
        SELECT TIMESTAMP '2026-02-18 12:00:00' + h * INTERVAL 1 HOUR
                   + (i * 7 % 60) * INTERVAL 1 MINUTE AS created_at,
               CASE WHEN i % 3 = 0 THEN 'paid' ELSE 'placed' END AS status
        FROM range(0, 20 * 24 - 6) t(h), range(0, 40) r(i)
        """
    )
    # hourly loads that stop 8 hours before END: late
    con.execute(
        """
        CREATE TABLE raw.loads AS
        SELECT TIMESTAMP '2026-02-18 12:00:00' + h * INTERVAL 1 HOUR AS loaded_at, h AS id
        FROM range(0, 20 * 24 - 8) t(h), range(0, 5) r(i)
        """
    )
    con.execute("CREATE TABLE raw.plain AS SELECT range AS id FROM range(10)")
    con.close()


def _alerts(tmp_path, monkeypatch, *, look_everywhere: bool) -> list[tuple[int, str, str]]:
    root = tmp_path / ("all" if look_everywhere else "skip")
    root.mkdir()
    _warehouse(root / "w.duckdb")
    (root / "tidegauge.yml").write_text(
        """
warehouses: [{type: duckdb, path: w.duckdb}]
store: {url: "sqlite:///state.db"}
tables:
  - match: "*"
    field_health: false
    categorical: true
"""
    )
    if look_everywhere:
        monkeypatch.setattr(TableHistory, "holds", lambda self, *wanted: True)
    else:
        monkeypatch.undo()
    project = load_project(root / "tidegauge.yml")
    store = Store.open(project.store_url())
    first = run(project, store, Clock.fixed(END - timedelta(hours=1)), notify=False)
    con = duckdb.connect(str(root / "w.duckdb"))  # a value never seen before arrives
    con.execute(
        "INSERT INTO raw.events SELECT TIMESTAMP '2026-03-10 10:00:00' + i * INTERVAL 1 MINUTE, "
        "'refunded' FROM range(0, 40) t(i)"
    )
    con.close()
    report = run(project, store, Clock.fixed(END), notify=False)
    store.close()
    return sorted(
        (i, str(a["kind"]), str(a["table"].fqn))
        for i, r in enumerate((first, report))
        for a in r.alerts
    )


def test_skipping_tables_without_the_metrics_changes_no_alert(tmp_path, monkeypatch):
    skipping = _alerts(tmp_path, monkeypatch, look_everywhere=False)
    assert (1, "category_new_value", "raw.events") in skipping  # a change between runs
    assert (0, "freshness", "raw.loads") in skipping
    assert skipping == _alerts(tmp_path, monkeypatch, look_everywhere=True)
