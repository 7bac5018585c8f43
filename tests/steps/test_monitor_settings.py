"""A declared monitor's direction and sensitivity drive the live run, not just backtests."""

import pytest

from tests.test_pipeline import END, build_warehouse
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store


@pytest.mark.parametrize(("direction", "alerts"), [("up", 0), ("down", 1)])
def test_volume_monitor_direction(tmp_path, direction, alerts):
    build_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "sqlite:///state.db"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
monitors:
  - name: orders_volume
    type: volume
    table: raw.orders
    direction: {direction}
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(END))
    drops = [a for a in store.alerts.list() if a["table"] == "raw.orders" and a["kind"] == "volume"]
    assert (len(drops) > 0) == bool(alerts)


def test_a_scheduled_monitor_runs_its_table_only_when_due(tmp_path):
    from datetime import timedelta

    build_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        """
warehouses: [{type: duckdb, path: w.duckdb}]
store: {url: "sqlite:///state.db"}
tables:
  - match: "*"
    field_health: false
    categorical: false
monitors:
  - name: users_daily
    type: volume
    table: raw.users
    schedule: "0 6 * * *"
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())

    def collected(at):
        report = run(project, store, Clock.fixed(at))
        return {t["table_id"] for t in store.run_tables(report.run_id)}

    users = store.find_table
    first = collected(END)  # never checked: due
    uid = users("raw.users").id
    assert uid in first
    assert uid not in collected(END + timedelta(hours=1))  # 13:00, next 06:00 not reached
    assert uid in collected(END + timedelta(hours=18))  # past 06:00 next day
    assert users("raw.orders").id in collected(END + timedelta(hours=19))  # unscheduled: always


def test_field_health_monitor_narrows_metrics(tmp_path):
    build_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        """
warehouses: [{type: duckdb, path: w.duckdb}]
store: {url: "sqlite:///state.db"}
tables:
  - match: "*"
    categorical: false
monitors:
  - name: orders_nulls
    type: field_health
    table: raw.orders
    columns: [amount]
    metrics: [null_rate]
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(END))
    tid = store.find_table("raw.orders").id
    column_metrics = {p.metric for p in store.points(tid) if p.column}
    assert column_metrics == {"null_rate", "null_count"}
