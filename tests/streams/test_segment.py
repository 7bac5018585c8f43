"""Segment's warehouse layout is recognised with no configuration: per-event volume is
tracked as values of ``tracks.event``, and a new event name alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store

END = datetime(2026, 3, 10, 12, tzinfo=UTC)
EVENTS = {"page_viewed": 30, "product_added": 8, "order_completed": 3}


def build(path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("create schema web")
    con.execute(
        "create table web.tracks (id varchar, event varchar, event_text varchar, "
        "received_at timestamp, timestamp timestamp)"
    )
    start = END - timedelta(days=7)
    for name, per_hour in EVENTS.items():
        con.execute(
            f"""insert into web.tracks
            select 'id-' || h || '-' || i, '{name}', '{name}',
                   ts, ts
            from (select h, i, timestamp '{start:%Y-%m-%d %H:%M:%S}' + h * interval 1 hour
                             + i * interval 1 minute as ts
                  from range(0, 7 * 24) a(h), range(0, {per_hour}) b(i))"""
        )
        con.execute(f"create table web.{name} as select * from web.tracks where event = '{name}'")
    con.execute("create table web.identifies (id varchar, user_id varchar, timestamp timestamp)")
    con.execute("create table web.pages (id varchar, name varchar, timestamp timestamp)")
    con.close()


@pytest.mark.slow
def test_a_new_event_name_in_a_segment_source_alerts_with_no_config(tmp_path: Path) -> None:
    build(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        'warehouses: [{type: duckdb, path: w.duckdb}]\nstore: {url: "sqlite:///state.db"}\n'
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    first = run(project, store, Clock.fixed(END), notify=False)
    assert not first.failed_tables
    assert project.settings_for("web.tracks").categorical_columns == ["event"]
    assert "segment" in project.settings_for("web.order_completed").tags
    tracks = store.find_table("web.tracks")
    per_event = {p.segment for p in store.points(tracks.id, metric="value_count")}
    assert set(EVENTS) <= per_event  # one volume series per event name
    assert not [a for a in first.alerts if a["kind"] == "category_new_value"]

    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for name, per_hour in {**EVENTS, "checkout_failed": 20}.items():
        con.execute(
            f"""insert into web.tracks select 'new-' || i, '{name}', '{name}', ts, ts
            from (select i, timestamp '{END:%Y-%m-%d %H:%M:%S}' + i * interval 1 minute as ts
                  from range(0, {per_hour}) b(i))"""
        )
    con.close()
    second = run(project, store, Clock.fixed(END + timedelta(hours=1)), notify=False)
    new = [a["alert"] for a in second.alerts if a["kind"] == "category_new_value"]
    assert [(a.table.fqn, a.column, a.segment) for a in new] == [
        ("web.tracks", "event", "checkout_failed")
    ]
