"""What detection reads from the store about each table, fetched for many tables at once.

Detection used to ask the store, per table, for its previous run, its series, its
categorical columns, its alerted times, its feedback, and its points three more times
(categories, freshness, rules). :func:`histories` asks once per chunk of tables: four small
queries and one stream of points read table by table, so memory holds one table's points.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tidegauge.core.model import MetricPoint
from tidegauge.steps.window import first_tested
from tidegauge.store.bulk import (
    PointFilter,
    categorical_columns,
    points_as_stored,
    previous_runs_as_of,
    stream_points,
)
from tidegauge.store.store import Store

if TYPE_CHECKING:
    from tidegauge.steps.collect import CollectedTable


@dataclass
class TableHistory:
    """One table's stored history as detection needs it."""

    table_id: int
    #: every point any reader asked for, ordered by metric, column, segment, bucket
    points: list[MetricPoint] = field(default_factory=list)
    #: ``as_of`` of the latest earlier run that collected the table
    previous_run: datetime | None = None
    #: columns with ``value_count`` series
    categorical: set[str] = field(default_factory=set)
    #: series key → data times already alerted (they leave training)
    flagged: dict[str, set[datetime]] = field(default_factory=dict)
    #: series key → (data_time, feedback) given by users, oldest first
    feedback: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)

    #: ``points`` by metric, in stored order (built on the first :meth:`select`)
    _by_metric: dict[str, list[MetricPoint]] | None = field(default=None, repr=False, compare=False)

    def _grouped(self) -> dict[str, list[MetricPoint]]:
        if self._by_metric is None:
            self._by_metric = {}
            for p in self.points:
                group = self._by_metric.get(p.metric)
                if group is None:
                    group = self._by_metric[p.metric] = []
                group.append(p)
        return self._by_metric

    def holds(self, *wanted: PointFilter) -> bool:
        """Whether any metric read holds points one of ``wanted`` would select by name: a
        detector whose reads a table has nothing for (no categorical series, no update
        times) has nothing to look at."""
        return any(w.wants_metric(m) for m in self._grouped() for w in wanted)

    def select(self, *wanted: PointFilter) -> list[MetricPoint]:
        """The points matching any of ``wanted``, in stored order.

        Points are stored in metric order, so a metric's points are picked as a group: each
        reader's filter names a few metrics out of a table's hundreds of thousands of points.
        """
        grouped = self._grouped()
        out: list[MetricPoint] = []
        for metric in sorted(grouped):
            filters = [w for w in wanted if w.wants_metric(metric)]
            if len(filters) == 1:
                since, unsegmented = filters[0].since, filters[0].unsegmented
                out.extend(
                    p
                    for p in grouped[metric]
                    if p.bucket_start >= since and not (unsegmented and p.segment is not None)
                )
            elif filters:
                out.extend(p for p in grouped[metric] if any(w.match(p) for w in filters))
        return out

    def test_from(
        self,
        now: datetime,
        bucket: int,
        recheck: int,
        first_run: bool,
        resumed_after: datetime | None = None,
    ) -> datetime:
        """Start of the first bucket this run tests (see :mod:`tidegauge.steps.window`)."""
        previous = None if first_run else self.previous_run
        return first_tested(previous, now, bucket, recheck, resumed_after)


def histories(
    store: Store,
    entries: Sequence[CollectedTable],
    now: datetime,
    filters: Sequence[PointFilter],
) -> Iterator[tuple[int, TableHistory]]:
    """(index in ``entries``, history) for every entry, in table id order.

    ``filters`` say which points to read; each reader picks its own back out with
    :meth:`TableHistory.select`. The caller must not use the store while iterating
    (the points are streamed over an open connection).
    """
    ids = [e.table_id for e in entries]
    # a table whose whole stored history is this run's points has them in hand
    # (``CollectedTable.fresh_points``): they are not read back
    kept = {e.table_id: e for e in entries if e.fresh_points is not None}
    previous = previous_runs_as_of(store, ids, now)
    categorical = categorical_columns(store, [i for i in ids if i not in kept])
    flagged = store.alerts.flagged_times_many(ids)
    feedback = store.alerts.feedback_for_many(ids)
    refs = {e.table_id: e.info.ref for e in entries if e.table_id not in kept}
    stream = stream_points(store, refs, filters)
    pending = next(stream, None)
    for index in sorted(range(len(entries)), key=lambda i: entries[i].table_id):
        entry = entries[index]
        tid = entry.table_id
        if tid in kept and entry.fresh_points is not None:
            fresh, entry.fresh_points = entry.fresh_points, None  # used once: memory goes
            points = points_as_stored(fresh, filters)
            yield (
                index,
                TableHistory(
                    table_id=tid,
                    points=points,
                    previous_run=previous.get(tid),
                    categorical={p.column for p in fresh if p.metric == "value_count" and p.column},
                    flagged=flagged.get(tid, {}),
                    feedback=feedback.get(tid, {}),
                ),
            )
            continue
        while pending is not None and pending[0] < tid:
            pending = next(stream, None)
        yield (
            index,
            TableHistory(
                table_id=tid,
                points=pending[1] if pending is not None and pending[0] == tid else [],
                previous_run=previous.get(tid),
                categorical=categorical.get(tid, set()),
                flagged=flagged.get(tid, {}),
                feedback=feedback.get(tid, {}),
            ),
        )
    for _ in stream:  # drain, so the connection closes
        pass
