"""Recording OpenLineage events into the store: the event log, the graph, and volumes.

Each event is stored once (its key is unique), merged into the stored lineage graph, and
``outputStatistics.rowCount`` of an output that is a known table becomes a ``row_count``
metric point for it. Every run rebuilds the graph from warehouse and dbt lineage and
merges the OpenLineage part back in, so events received between runs are never lost.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from tidegauge.core.lineage import LineageGraph
from tidegauge.core.model import MetricPoint
from tidegauge.integrations.openlineage import RunEvent
from tidegauge.store import lineage as stored
from tidegauge.store.store import Store


class StoreLineageRecorder:
    """The web server's recorder for ``POST /api/v1/lineage``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()  # graph read-merge-write is one critical section

    def record(self, event: RunEvent) -> bool:
        now = datetime.now(UTC)
        if not stored.add_event(self.store, event.key, "openlineage", dict(event.raw), now):
            return False  # the same event again: idempotent
        with self._lock:
            graph = stored.load_graph(self.store) or LineageGraph()
            graph.merge(event.to_graph())
            stored.save_graph(self.store, graph, now)
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
        return stored.event_count(self.store)
