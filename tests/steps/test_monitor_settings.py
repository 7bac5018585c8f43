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
