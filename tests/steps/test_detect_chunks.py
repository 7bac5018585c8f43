"""Detection reads history per chunk of tables: what each table gets is what the per-table
store reads give, the alerts do not depend on the chunk size, and the number of store
statements does not grow with the tables."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.run_context import run_context
from tests.test_pipeline import END, build_warehouse
from tidegauge.config import load_project
from tidegauge.monitors.tuning import SERIES_KINDS
from tidegauge.runner import discover
from tidegauge.steps import detect, window
from tidegauge.steps.collect import collect_tables
from tidegauge.steps.detect import detect_tables, series_read
from tidegauge.steps.detect_other import HISTORY, history_reads
from tidegauge.steps.history import histories
from tidegauge.store.store import Store


def _collected(root, *, field_health: bool):
    build_warehouse(root / "w.duckdb")
    (root / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "sqlite:///state.db"}}
tables:
  - match: "*"
    field_health: {str(field_health).lower()}
  - match: "raw.orders"
    row_count_min: 10
"""
    )
    project = load_project(root / "tidegauge.yml")
    store = Store.open(project.store_url())
    found = discover(project, store, END - timedelta(hours=1))
    for now in (END - timedelta(hours=1), END):  # two runs: the second has a previous run
        ctx = run_context(project, store, now)
        collected = collect_tables(ctx, found)
        store.finish_run(ctx.run_id, "success", {}, now)
    return ctx, collected  # the second run's, as of END


@pytest.mark.slow
def test_each_table_gets_what_the_per_table_reads_give(tmp_path):
    ctx, collected = _collected(tmp_path, field_health=True)
    project, store = ctx.project, ctx.store
    reads = [series_read(project, END), *history_reads(project, collected, END)]
    seen = set()
    for i, h in histories(store, collected, END, reads):
        entry = collected[i]
        tid = entry.table_id
        seen.add(i)
        since = END - timedelta(days=max(project.defaults.history_days, 42) + 1)
        assert h.select(series_read(project, END)) == store.points(
            tid, since=since, metrics=list(SERIES_KINDS), unsegmented=True
        )
        assert h.select(*history_reads(project, [entry], END)[:1]) == store.points(
            tid, metric="value_count", since=END - HISTORY
        )
        assert h.categorical == store.categorical_columns(tid)
        assert h.flagged == store.alerts.flagged_times(tid)
        assert h.feedback == store.alerts.feedback_for(tid)
        assert h.test_from(END, 3600, 2, False) == window.test_from(store, tid, END, 3600, 2, False)
        assert len(h.points) > 0
    assert seen == set(range(len(collected)))


@pytest.mark.slow
def test_alerts_do_not_depend_on_the_chunk_size(tmp_path, monkeypatch):
    ctx, collected = _collected(tmp_path, field_health=False)
    ctx.store.close()
    other = tmp_path / "copy"
    other.mkdir()
    shutil.copy(tmp_path / "state.db", other / "state.db")
    found = {}
    for chunk, db in ((1, tmp_path / "state.db"), (500, other / "state.db")):
        monkeypatch.setattr(detect, "CHUNK", chunk)
        st = Store.open(f"sqlite:///{db}")
        alerts = detect_tables(replace(ctx, store=st), collected)
        found[chunk] = [(a["table"].fqn, a["kind"], a["column"], a["data_time"]) for a in alerts]
        st.close()
    assert found[1] == found[500]
    assert any(kind == "volume" for _, kind, _, _ in found[1])  # the drop in raw.orders


def _recorder(seen: list[str]):
    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    return record


@pytest.mark.slow
def test_detect_statements_do_not_grow_with_the_tables(tmp_path):
    from tests.steps.test_collect_chunks import NOW, _duckdb_project

    counts = []
    for n in (3, 60):
        root = tmp_path / str(n)
        root.mkdir()
        project = _duckdb_project(root, n)
        store = Store.open(project.store_url())
        found = discover(project, store, NOW)
        ctx = run_context(project, store, NOW)
        collected = collect_tables(ctx, found)
        seen: list[str] = []
        event.listen(store.engine, "before_cursor_execute", _recorder(seen))
        detect_tables(ctx, collected)
        counts.append(len(seen))
        store.close()
    assert counts[0] == counts[1], counts
