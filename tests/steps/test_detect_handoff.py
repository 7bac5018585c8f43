"""A first run hands its points to detection in memory (``CollectedTable.fresh_points``)
instead of reading back what it has just stored: each table's history must be exactly
what the store read gives, on SQLite and PostgreSQL, and a table with anything stored
before the run must go through the store."""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from tests.run_context import run_context
from tests.servers import scratch_database
from tests.test_pipeline import END, build_warehouse
from tidegauge.config import load_project
from tidegauge.core.model import MetricPoint, TableRef
from tidegauge.runner import discover
from tidegauge.steps.collect import collect_tables
from tidegauge.steps.detect import series_read
from tidegauge.steps.detect_other import history_reads
from tidegauge.steps.history import histories
from tidegauge.store.bulk import PointFilter, points_as_stored, round_trips
from tidegauge.store.store import Store


def _first_run(root, url):
    import duckdb

    build_warehouse(root / "w.duckdb")
    con = duckdb.connect(str(root / "w.duckdb"))  # and a table with no time column: no buckets
    con.execute("CREATE TABLE raw.lookup AS SELECT range AS id FROM range(5)")
    con.close()
    (root / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "{url}"}}
tables:
  - match: "*"
    field_health: true
  - match: "raw.orders"
    segments: [[status]]
"""
    )
    project = load_project(root / "tidegauge.yml")
    store = Store.open(project.store_url())
    found = discover(project, store, END)
    ctx = run_context(project, store, END)
    return ctx, found, collect_tables(ctx, found)


def _histories(ctx, entries):
    reads = [series_read(ctx.project, END), *history_reads(ctx.project, entries, END)]
    return {entries[i].table_id: h for i, h in histories(ctx.store, entries, END, reads)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_handed_off_history_is_the_stored_one(tmp_path, kind):
    with ExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path}/state.db"
        else:
            url = stack.enter_context(scratch_database("postgres"))
        ctx, _, collected = _first_run(tmp_path, url)
        stack.callback(ctx.store.close)
        kept = [e for e in collected if e.fresh_points]
        assert kept, "a first run over new tables hands its points to detection"
        # the same tables, read back from the store
        stored = _histories(ctx, [replace(e, fresh_points=None) for e in collected])
        in_memory = _histories(ctx, collected)
        assert set(in_memory) == set(stored) == {e.table_id for e in collected}
        for tid, h in in_memory.items():
            want = stored[tid]
            assert len(h.points) > 0
            assert h.points == want.points
            # every field the point carries, not only what equality compares
            assert [(p.table, p.column, p.segment, p.bucket_start.tzinfo) for p in h.points] == [
                (p.table, p.column, p.segment, p.bucket_start.tzinfo) for p in want.points
            ]
            assert h.categorical == want.categorical
            assert h.previous_run == want.previous_run
            assert h.flagged == want.flagged and h.feedback == want.feedback
        assert all(e.fresh_points is None for e in collected), "used once, then released"


@pytest.mark.slow
def test_a_table_with_stored_points_is_read_from_the_store(tmp_path):
    """Points stored before the run are history too: such a table is never handed off, on
    its first bucketed run (a point from elsewhere) nor on its next run."""
    ctx, found, collected = _first_run(tmp_path, f"sqlite:///{tmp_path}/state.db")
    ctx.store.finish_run(ctx.run_id, "success", {}, END)
    # a later run: every table has its points stored already, and nobody asks the store
    # whether it has (their buckets and snapshots say so)
    later = run_context(ctx.project, ctx.store, END + timedelta(hours=1))
    sent: list[str] = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(ctx.store.engine, "before_cursor_execute", record)
    try:
        assert not any(e.fresh_points for e in collect_tables(later, found))
    finally:
        event.remove(ctx.store.engine, "before_cursor_execute", record)
    assert sent and not [q for q in sent if "EXISTS" in q.upper()]
    # a new store where one table has a single older point and no buckets
    other = tmp_path / "other"
    other.mkdir()
    store = Store.open(f"sqlite:///{other}/state.db")
    found = discover(ctx.project, store, END)
    first = collected[0].info
    tid = found.table_ids[first.ref.key]
    old = MetricPoint(first.ref, "row_count", END - timedelta(days=2), 5.0)
    store.upsert_points(tid, [old], run_id=None, now=END - timedelta(days=2))
    fresh = collect_tables(run_context(ctx.project, store, END), found)
    by_id = {e.table_id: e for e in fresh}
    assert by_id[tid].fresh_points is None
    assert any(e.fresh_points for e in fresh if e.table_id != tid)
    store.close()
    ctx.store.close()


def test_points_as_stored_keeps_the_last_of_a_bucket_and_the_store_order():
    ref = TableRef("w", "s", "t")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    h = timedelta(hours=1)
    points = [
        MetricPoint(ref, "null_rate", t0 + h, 0.2, "b", None, 3600),
        MetricPoint(ref, "null_rate", t0, 0.1, "b", None, 3600),
        MetricPoint(ref, "null_rate", t0, 0.3, "a", "", 3600),
        MetricPoint(ref, "null_rate", t0, 0.4, "a", None, 3600),  # the same series: it wins
        MetricPoint(ref, "mean", t0, 1.0, "a", "x=1", 3600),  # segmented
        MetricPoint(ref, "mean", t0 - 3 * h, 9.0, "a", None, 3600),  # before ``since``
    ]
    got = points_as_stored(points, [PointFilter(t0 - h, unsegmented=True)])
    assert [(p.metric, p.column, p.segment, p.bucket_start, p.value) for p in got] == [
        ("null_rate", "a", None, t0, 0.4),
        ("null_rate", "b", None, t0, 0.1),
        ("null_rate", "b", None, t0 + h, 0.2),
    ]
    assert round_trips(points)
    assert round_trips([replace(points[0], value=0.0), replace(points[0], value=None)])
    for value in (math.nan, math.inf, -0.0):  # SQLite reads NaN back as NULL, -0.0 as 0.0
        assert not round_trips([*points, replace(points[0], value=value)])
