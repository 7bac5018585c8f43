"""Schema changes through collection on a real DuckDB warehouse: a changed table is diffed
against its snapshot and snapshotted again; an unchanged one is neither diffed nor
snapshotted, however often it is collected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from sqlalchemy import func, select

from tests.run_context import run_context
from tidegauge.config import load_project
from tidegauge.runner import discover
from tidegauge.steps.collect import collect_tables
from tidegauge.store import schema as s
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _collect(project, store, now):
    found = discover(project, store, now)
    ctx = run_context(project, store, now)
    collected = collect_tables(ctx, found)
    store.finish_run(ctx.run_id, "success", {}, now)
    return {e.info.ref.name: e for e in collected}


def _count(store, table) -> int:
    with store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar_one())


def test_only_a_changed_schema_is_diffed_and_snapshotted(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA app")
    con.execute("CREATE TABLE app.kept AS SELECT range AS id, 'x' AS name FROM range(5)")
    con.execute("CREATE TABLE app.moved AS SELECT range AS id, 'x' AS gone FROM range(5)")
    con.close()
    (tmp_path / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: {db}}}]
store: {{url: "sqlite:///{tmp_path / "state.db"}"}}
tables: [{{match: "*", field_health: false, categorical: false}}]
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())

    first = _collect(project, store, NOW)
    assert all(e.schema_changes == [] for e in first.values())  # no changes on first sight
    assert _count(store, s.schema_snapshots) == 2

    again = _collect(project, store, NOW + timedelta(hours=1))
    assert all(e.schema_changes == [] for e in again.values())
    assert _count(store, s.schema_snapshots) == 2  # nothing new to snapshot
    assert _count(store, s.schema_events) == 0

    con = duckdb.connect(str(db))
    con.execute("ALTER TABLE app.moved DROP COLUMN gone")
    con.execute("ALTER TABLE app.moved ADD COLUMN added INTEGER")
    con.close()
    changed = _collect(project, store, NOW + timedelta(hours=2))
    assert changed["kept"].schema_changes == []
    described = " ".join(str(ch) for ch in changed["moved"].schema_changes)
    assert "gone" in described and "added" in described
    assert _count(store, s.schema_snapshots) == 3
    with store.engine.connect() as c:
        events = {r.column_name for r in c.execute(select(s.schema_events.c.column_name))}
    assert events == {"gone", "added"}
