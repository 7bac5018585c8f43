"""PostgreSQL answers history reads from ``ix_metric_points_table_time`` alone: no Seq Scan,
no heap, no sort, only the time window's index entries — on 200,000 ANALYZE'd points (10 tables ×
10 series × 2,000 hourly buckets: 83 days, twice what detection reads)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from tests.hardening.pg import scratch_database
from tests.servers import require_server
from tidegauge.monitors.tuning import SERIES_KINDS
from tidegauge.store import schema as s
from tidegauge.store.store import Store

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
TABLES, BUCKETS = 10, 2000
SERIES = [
    ("bucket_row_count", "", "", 3600),
    ("row_count", "", "", 0),
    ("last_modified", "", "", 0),
    ("null_rate", "amount", "", 3600),
    ("mean", "amount", "", 3600),
    ("null_rate", "customer", "", 3600),
    ("distinct_count", "customer", "", 3600),
    ("empty_rate", "status", "", 3600),
    ("value_count", "status", "paid", 3600),
    ("value_count", "status", "void", 3600),
]


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    require_server("postgres")
    with scratch_database() as url:
        st = Store.open(url)
        values = ", ".join(f"('{m}', '{c}', '{g}', {secs})" for m, c, g, secs in SERIES)
        with st.engine.begin() as c:
            c.execute(
                insert(s.tables),
                [
                    {
                        "id": i,
                        "warehouse": "main",
                        "database": "",
                        "schema": "shop",
                        "name": f"t{i}",
                        "first_seen": NOW,
                        "last_seen": NOW,
                        "tags": [],
                    }
                    for i in range(1, TABLES + 1)
                ],
            )
            # written bucket by bucket, as hourly runs write them
            c.execute(
                text(
                    "INSERT INTO metric_points (table_id, column_name, segment, metric,"
                    " bucket_start,"
                    " bucket_seconds, value, collected_at, run_id) "
                    "SELECT t.id, v.col, v.seg, v.metric,"
                    " CAST(:now AS timestamptz) - b.i * interval"
                    " '1 hour', v.secs, random(), CAST(:now AS timestamptz), b.i "
                    "FROM generate_series(1, :buckets) AS b(i) "
                    "CROSS JOIN LATERAL generate_series(1, :tables) AS t(id) "
                    f"CROSS JOIN LATERAL (VALUES {values}) AS v(metric, col, seg, secs)"
                ),
                {"now": NOW, "buckets": BUCKETS, "tables": TABLES},
            )
        with st.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE metric_points"))
        yield st
        st.close()


def plan_of(store: Store, call: Any) -> list[dict[str, Any]]:
    """The plan nodes PostgreSQL chooses for the metric_points statement ``call`` runs."""
    seen: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: Any) -> None:
        if "FROM metric_points" in statement:
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", grab)
    try:
        assert call(), "the read returned no points"
    finally:
        event.remove(store.engine, "before_cursor_execute", grab)
    [(statement, params)] = seen
    with store.engine.connect() as c:
        plan: Any = c.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", params).scalar_one()
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return nodes


def assert_index_only(nodes: list[dict[str, Any]]) -> None:
    kinds = [n["Node Type"] for n in nodes]
    assert "Seq Scan" not in kinds, kinds
    assert "Sort" not in kinds, kinds  # rows come in the index's order
    scans = [n for n in nodes if n.get("Relation Name") == "metric_points"]
    assert [(n["Node Type"], n["Index Name"]) for n in scans] == [
        ("Index Only Scan", "ix_metric_points_table_time")
    ], kinds
    # the window bounds the scan: entries older than ``since`` are never read
    cond = scans[0]["Index Cond"]
    assert "table_id =" in cond and "bucket_start >=" in cond, cond


def test_detection_read_uses_the_history_index_alone(store):
    # the call steps/detect.py makes (Store.points, one table)
    since = NOW - timedelta(days=43)
    nodes = plan_of(
        store, lambda: store.points(7, since=since, metrics=list(SERIES_KINDS), unsegmented=True)
    )
    assert_index_only(nodes)


def test_root_cause_read_uses_the_history_index_alone(store):
    # steps/group.py: value_count points of one table around an alert
    since = NOW - timedelta(days=29)
    nodes = plan_of(
        store,
        lambda: store.points(
            3, metric="value_count", since=since, until=NOW + timedelta(seconds=1)
        ),
    )
    assert_index_only(nodes)


def test_recent_points_read_uses_the_history_index_alone(store):
    since = NOW - timedelta(days=2)
    nodes = plan_of(store, lambda: store.points(5, since=since))
    assert_index_only(nodes)


def test_points_come_series_by_series_oldest_first(store):
    points = store.points(
        7, since=NOW - timedelta(days=43), metrics=list(SERIES_KINDS), unsegmented=True
    )
    keys = [(p.metric, p.column or "", p.segment or "", p.bucket_start) for p in points]
    assert len(keys) == 7 * 43 * 24 and keys == sorted(keys)
