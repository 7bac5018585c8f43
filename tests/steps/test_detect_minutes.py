"""Minute grain end to end: a DuckDB table of 5-minute readings, measured by a custom metric
per 5-minute bucket, goes through a whole run (collect, detect, FDR, store). The series is
judged by the high-frequency ensemble, the detector bench/nab.py scores: a clean sensor raises
nothing, a sensor whose readings jump by a constant offset raises one alert, at the bucket the
offset began."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.core.explain import explain
from tidegauge.runner import run
from tidegauge.store.store import Store

END = datetime(2026, 3, 10, 12, tzinfo=UTC)
DAYS = 8
SHIFT = END - timedelta(hours=6)  # inside the day a first run tests


def _readings(seed: int, shifted: bool) -> list[tuple[datetime, float]]:
    """A temperature-like reading every 5 minutes: a daily cycle and noise; ``shifted``: from
    ``SHIFT`` on, every reading is 15 higher (a recalibrated sensor: still inside the range of
    the daily cycle for most of the day)."""
    rng = np.random.default_rng(seed)
    n = DAYS * 288
    start = END - timedelta(days=DAYS)
    t = np.arange(n)
    y = 50 + 20 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1, n)
    stamps = [start + timedelta(minutes=5 * i) for i in range(n)]
    if shifted:
        y[stamps.index(SHIFT) :] += 15.0
    return [(s.replace(tzinfo=None), round(float(v), 3)) for s, v in zip(stamps, y, strict=True)]


def _project(root: Path) -> Store:
    import duckdb

    con = duckdb.connect(str(root / "w.duckdb"))
    con.execute("CREATE SCHEMA raw")
    for name, seed, shifted in (("clean_sensor", 1, False), ("shifted_sensor", 2, True)):
        con.execute(f"CREATE TABLE raw.{name} (read_at TIMESTAMP, reading DOUBLE)")
        con.executemany(f"INSERT INTO raw.{name} VALUES (?, ?)", _readings(seed, shifted))
    con.close()
    metrics = "\n".join(
        f"""  - name: {name}_mean
    table: raw.{name}
    sql: "SELECT time_bucket(INTERVAL 5 MINUTE, read_at) AS bucket, avg(reading)
          FROM raw.{name} GROUP BY 1\""""
        for name in ("clean_sensor", "shifted_sensor")
    )
    (root / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "sqlite:///state.db"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
metrics:
{metrics}
"""
    )
    return Store.open(load_project(root / "tidegauge.yml").store_url())


@pytest.mark.slow
def test_a_shifted_minute_sensor_alerts_once_and_a_clean_one_not_at_all(tmp_path: Path) -> None:
    store = _project(tmp_path)
    project = load_project(tmp_path / "tidegauge.yml")
    report = run(project, store, Clock.fixed(END))
    assert report.failed_tables == {}
    alerts = store.alerts.list()
    custom = [a for a in alerts if a["metric"].startswith("custom:")]
    assert not [a for a in custom if a["table"] == "raw.clean_sensor"], custom
    (hit,) = [a for a in custom if a["table"] == "raw.shifted_sensor"]
    got = hit["data_time"]
    got = got if got.tzinfo else got.replace(tzinfo=UTC)
    assert SHIFT <= got <= SHIFT + timedelta(minutes=30)
    why = hit["explanation"]
    assert why["detector"] == "high_frequency_ensemble" and why["points_per_day"] == 288
    assert "tail probability" in why["text"]
    # the sentence a person reads says what changed, not only the value
    assert why["change"] and explain(hit).endswith(f": {why['change']}")
    assert why["multiple_testing"]["method"] == "Benjamini-Hochberg"
    store.close()
