"""Lineage as the store keeps it: the merged graph, OpenLineage events as they were
received, and root-cause events (failed dbt runs) that incident grouping reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from tidegauge.core.lineage import LineageGraph
from tidegauge.store import schema as s
from tidegauge.store.engine import upsert
from tidegauge.store.store import Store

#: the one row of ``lineage_nodes`` that holds the merged graph
GRAPH_ROW = "__graph__"


def save_graph(store: Store, graph: LineageGraph, now: datetime, *, stored: Any = None) -> bool:
    """Save the merged graph; False when ``stored`` (its records as :func:`load_records`
    read them before) are already what it is, and nothing was written: an unchanged
    warehouse of 10,000 tables costs a comparison, not a rewrite of its graph."""
    records = graph.to_records()
    if stored is not None and records == stored:
        return False
    with store.engine.begin() as c:
        c.execute(delete(s.lineage_nodes).where(s.lineage_nodes.c.id == GRAPH_ROW))
        c.execute(
            insert(s.lineage_nodes).values(
                id=GRAPH_ROW, data=records, origin="merged", updated_at=now
            )
        )
    return True


def load_records(store: Store) -> Any:
    """The saved graph as the records :meth:`LineageGraph.to_records` made (None if none):
    for a reader that needs only part of it, or only to compare."""
    with store.engine.connect() as c:
        row = c.execute(
            select(s.lineage_nodes.c.data).where(s.lineage_nodes.c.id == GRAPH_ROW)
        ).first()
    return None if row is None else row.data


def load_graph(store: Store) -> LineageGraph | None:
    data = load_records(store)
    if data is None:
        return None
    return LineageGraph.from_records(data)


def add_event(store: Store, key: str, source: str, payload: dict[str, Any], now: datetime) -> bool:
    """Record a lineage event once; False when an event with ``key`` was already there."""
    row = {"key": key, "source": source, "received_at": now, "payload": payload}
    stmt = upsert(store.dialect, s.lineage_events, [row], ["key"], None)
    with store.engine.begin() as c:
        return c.execute(stmt.returning(s.lineage_events.c.id)).scalar() is not None


def event_count(store: Store) -> int:
    with store.engine.connect() as c:
        return len(c.execute(select(s.lineage_events.c.id)).all())


def add_root_cause_event(store: Store, row: dict[str, Any]) -> None:
    """Record a root-cause event (``key``, ``kind``, ``node``, ``at``, ``details``) once."""
    with store.engine.begin() as c:
        c.execute(upsert(store.dialect, s.root_cause_events, [row], ["key"], None))


def root_cause_events(store: Store, since: datetime) -> list[dict[str, Any]]:
    """Root-cause events at or after ``since``, as dicts of their columns."""
    with store.engine.connect() as c:
        rows = c.execute(select(s.root_cause_events).where(s.root_cause_events.c.at >= since)).all()
    return [dict(r._mapping) for r in rows]
