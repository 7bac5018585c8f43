"""Two `tidegauge run` processes at once on one store: nothing collected, alerted or
opened twice (table leases, a grouping lease and unique constraints)."""

import os
import subprocess
import sys

import pytest

from tests.test_pipeline import END, build_warehouse
from tidegauge.config import load_project
from tidegauge.store.store import Store


@pytest.mark.slow
def test_two_runs_at_once_store_everything_once(tmp_path):
    build_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        """
warehouses: [{type: duckdb, path: w.duckdb}]
store: {url: "sqlite:///state.db"}
tables:
  - match: "*"
    field_health: false
    categorical: false
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    Store.open(project.store_url()).close()  # migrate once, before the race
    cmd = [
        sys.executable,
        "-m",
        "tidegauge.cli.main",
        "--config",
        str(tmp_path / "tidegauge.yml"),
        "run",
        "--now",
        END.isoformat(),
        "--json",
    ]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]

    store = Store.open(project.store_url())
    volume = [i for i in store.incidents.list() if i["kind"] == "volume"]
    assert len(volume) == 1
    alerts = store.alerts.list(limit=10_000)
    keys = [(a["kind"], a["table"], a["metric"], a["column"], a["data_time"]) for a in alerts]
    assert len(keys) == len(set(keys))
    # every table was collected by exactly one of the two runs
    runs = [r["id"] for r in store.runs()]
    collected = [t["table_id"] for r in runs for t in store.run_tables(r)]
    assert sorted(collected) == sorted({t.id for t in store.tables()})
