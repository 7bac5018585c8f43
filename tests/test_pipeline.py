"""One run end to end on a real DuckDB warehouse: a volume drop upstream becomes one
incident with its downstream symptom grouped under it, delivered exactly once."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store

END = datetime(2026, 3, 10, 12, tzinfo=UTC)


def build_warehouse(path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA analytics")
    # 30 days of hourly orders with a daily cycle; the last 3 hours lose 90% of rows
    con.execute(
        """
        CREATE TABLE raw.orders AS
        WITH hours AS (
            SELECT h, TIMESTAMP '2026-02-08 12:00:00' + h * INTERVAL 1 HOUR AS hour_start
            FROM range(0, 30 * 24) t(h)
        ), sized AS (
            SELECT hour_start,
                   CAST(60 + 40 * sin(2 * pi() * (hour(hour_start) - 6) / 24) AS INTEGER)
                   * CASE WHEN hour_start >= TIMESTAMP '2026-03-10 09:00:00' THEN 0.1 ELSE 1 END
                   AS n
            FROM hours
        )
        SELECT row_number() OVER () AS id,
               hour_start + (i * 3 % 60) * INTERVAL 1 MINUTE AS created_at,
               CASE WHEN i % 4 = 0 THEN 'paid' ELSE 'placed' END AS status,
               (i % 97) * 1.5 AS amount
        FROM sized, range(0, CAST(n AS INTEGER)) r(i)
        """
    )
    con.execute(
        "CREATE VIEW analytics.stg_orders AS "
        "SELECT id, created_at, status, amount FROM raw.orders WHERE amount >= 0"
    )
    con.execute(
        """
        CREATE TABLE raw.users AS
        SELECT i AS id, TIMESTAMP '2026-02-08 12:00:00' + i * INTERVAL 1 HOUR AS created_at
        FROM range(0, 30 * 24) t(i)
        """
    )
    con.close()


@pytest.mark.slow
def test_volume_drop_becomes_one_incident_sent_once(tmp_path, recorder):
    build_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "sqlite:///state.db"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
  - match: "analytics.*"
    owner: analytics@example.com
channels:
  - name: hook
    type: webhook
    url: {recorder.url()}
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    report = run(project, store, Clock.fixed(END))
    assert report.failed_tables == {}

    incidents = store.incidents.list()
    volume = [i for i in incidents if i["kind"] == "volume"]
    assert len(volume) == 1, incidents
    inc = volume[0]
    assert inc["table"] == "raw.orders"
    tables = {a["table"] for a in store.alerts.list(incident_id=inc["id"])}
    assert tables == {"raw.orders", "analytics.stg_orders"}
    assert "analytics.stg_orders" in inc["impact"]["tables"]
    assert inc["impact"]["owners"] == ["analytics@example.com"]
    assert not [i for i in incidents if i["table"] == "raw.users"]

    hooks = [
        r
        for r in recorder.requests
        if r.json().get("incident", {}).get("id") == inc["id"] or str(inc["id"]) in r.body.decode()
    ]
    assert len(hooks) == 1
    assert len(recorder.requests) == len(incidents)

    # the same run again: nothing new is stored or sent
    again = run(project, store, Clock.fixed(END))
    assert again.alerts == [] and again.incidents_opened == []
    assert len(recorder.requests) == len(incidents)


@pytest.mark.slow
def test_cause_found_by_a_later_run_takes_over_the_symptoms_incident(tmp_path):
    """Two runs split the tables (as two schedulers or workers do): the run that sees the
    downstream symptom opens the incident, the run that sees the cause joins it and
    becomes its root, so there is still one incident, rooted upstream."""
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
    store = Store.open(project.store_url())
    first = run(project, store, Clock.fixed(END), only=["analytics.stg_orders"], notify=False)
    assert len(first.incidents_opened) == 1
    [opened] = store.incidents.list()
    assert opened["table"] == "analytics.stg_orders"

    second = run(project, store, Clock.fixed(END), only=["raw.orders"], notify=False)
    assert second.incidents_opened == [] and second.incidents_updated == [opened["id"]]
    volume = [i for i in store.incidents.list() if i["kind"] == "volume"]
    assert len(volume) == 1
    inc = store.incidents.get(opened["id"])
    assert inc is not None and inc["table"] == "raw.orders"
    assert "analytics.stg_orders" in inc["impact"]["tables"]
    assert {a["table"] for a in store.alerts.list(incident_id=inc["id"])} == {
        "raw.orders",
        "analytics.stg_orders",
    }
    assert any(e["type"] == "rerooted" for e in inc["timeline"])
