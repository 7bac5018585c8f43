"""Recording OpenLineage events into the store: the event log, the graph, and volumes.

Each event is stored once (its key is unique), merged into the stored lineage graph, and
``outputStatistics.rowCount`` of an output that is a known table becomes a ``row_count``
metric point for it. Every run rebuilds the graph from warehouse and dbt lineage and
merges the OpenLineage part back in, so events received between runs are never lost.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from tidegauge.core.lineage import LineageGraph
from tidegauge.core.model import MetricPoint
from tidegauge.integrations.openlineage import RunEvent
from tidegauge.steps.lineage import load_graph, save_graph
from tidegauge.store import schema as s
from tidegauge.store.engine import upsert
from tidegauge.store.store import Store


class StoreLineageRecorder:
    """The web server's recorder for ``POST /api/v1/lineage``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()  # graph read-merge-write is one critical section

    def record(self, event: RunEvent) -> bool:
        now = datetime.now(UTC)
        row = {
            "key": event.key,
            "source": "openlineage",
            "received_at": now,
            "payload": dict(event.raw),
        }
        stmt = upsert(self.store.dialect, s.lineage_events, [row], ["key"], None)
        with self.store.engine.begin() as c:
            if c.execute(stmt.returning(s.lineage_events.c.id)).scalar() is None:
                return False  # the same event again: idempotent
        with self._lock:
            graph = load_graph(self.store) or LineageGraph()
            graph.merge(event.to_graph())
            save_graph(self.store, graph, now)
        self._volumes(event)
        return True

    def _volumes(self, event: RunEvent) -> None:
        for vol in event.volumes:
            name = vol.name.split("/")[-1]
            table = self.store.find_table(".".join(name.split(".")[-2:]))
            if table is None:
                continue
            point = MetricPoint(table.ref, "row_count", vol.observed_at, float(vol.row_count))
            self.store.upsert_points(table.id, [point], run_id=None, now=datetime.now(UTC))

    def events(self) -> int:
        with self.store.engine.connect() as c:
            return len(c.execute(select(s.lineage_events.c.id)).all())
