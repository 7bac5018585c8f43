"""A chunk's stored history, read in one statement per chunk of tables: the newest bucket
each table has, its latest schema snapshot, its categorical columns, and its metric points
streamed table by table (:func:`stream_points`, narrowed by :class:`PointFilter`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from math import copysign, isfinite
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, String, and_, false, func, or_, select, type_coerce
from sqlalchemy.engine import CursorResult

from tidegauge.core.model import ColumnInfo, MetricPoint, TableRef, new_point
from tidegauge.store import schema as s
from tidegauge.store.batches import as_tuples, id_lists
from tidegauge.store.engine import utc
from tidegauge.store.inventory import columns_from_json

if TYPE_CHECKING:
    from tidegauge.store.store import Store

#: a ``metric_points`` row as :func:`stream_points` reads it
_PointRow = tuple[int, str, str, str, Any, float | None, int]


def last_buckets(
    store: Store, table_ids: Iterable[int], metric: str = "bucket_row_count"
) -> dict[int, datetime]:
    """Per table, the newest stored ``bucket_start`` of ``metric`` (absent: none stored)."""
    t = s.metric_points
    out: dict[int, datetime] = {}
    with store.engine.connect() as c:
        for part in id_lists(table_ids):
            rows = c.execute(
                select(t.c.table_id, func.max(t.c.bucket_start))
                .where(t.c.table_id.in_(part), t.c.metric == metric)
                .group_by(t.c.table_id)
            )
            for tid, when in as_tuples(rows):
                if when is not None:
                    out[int(tid)] = utc(when)  # type: ignore[assignment]
    return out


@dataclass(frozen=True)
class Snapshot:
    fingerprint: str
    columns: list[ColumnInfo]
    #: the columns were not read: the schema in hand has this fingerprint (``unless`` in
    #: :func:`latest_snapshots`), ``columns`` is empty
    unread: bool = False


def latest_snapshots(
    store: Store, table_ids: Iterable[int], *, unless: Mapping[int, str] | None = None
) -> dict[int, Snapshot]:
    """Per table, its latest schema snapshot (absent: never snapshotted).

    ``unless`` maps table ids to the fingerprint of the schema in hand: a snapshot with that
    fingerprint is the same schema, and its columns are not parsed (``unread``).
    """
    t = s.schema_snapshots
    same = unless or {}
    out: dict[int, Snapshot] = {}
    with store.engine.connect() as c:
        for part in id_lists(table_ids):
            rank = (
                func.row_number()
                .over(partition_by=t.c.table_id, order_by=(t.c.taken_at.desc(), t.c.id.desc()))
                .label("rank")
            )
            ranked = (
                select(
                    t.c.table_id,
                    t.c.fingerprint,
                    # as stored: parsed below only when the schema in hand differs
                    type_coerce(t.c.columns, String).label("columns"),
                    rank,
                )
                .where(t.c.table_id.in_(part))
                .subquery()
            )
            rows = c.execute(
                select(ranked.c.table_id, ranked.c.fingerprint, ranked.c.columns).where(
                    ranked.c.rank == 1
                )
            )
            for tid, fp, cols in as_tuples(rows):
                if same.get(int(tid)) == fp:
                    out[int(tid)] = Snapshot(str(fp), [], unread=True)
                    continue
                parsed = json.loads(cols) if isinstance(cols, str | bytes) else cols
                out[int(tid)] = Snapshot(str(fp), columns_from_json(parsed))
    return out


def tables_with_points(store: Store, table_ids: Iterable[int]) -> set[int]:
    """The tables among ``table_ids`` that have any stored point (one index probe each)."""
    t = s.metric_points
    out: set[int] = set()
    with store.engine.connect() as c:
        for part in id_lists(table_ids):
            # EXISTS per id: one probe of the (table_id, bucket_start) index each
            rows = c.execute(
                select(s.tables.c.id).where(
                    s.tables.c.id.in_(part),
                    select(t.c.id).where(t.c.table_id == s.tables.c.id).exists(),
                )
            )
            out.update(int(r[0]) for r in rows)
    return out


def categorical_columns(store: Store, table_ids: Iterable[int]) -> dict[int, set[str]]:
    """Per table, the columns whose values are tracked one by one (``value_count``)."""
    t = s.metric_points
    out: dict[int, set[str]] = {}
    with store.engine.connect() as c:
        for part in id_lists(table_ids):
            rows = c.execute(
                select(t.c.table_id, t.c.column_name)
                .where(t.c.table_id.in_(part), t.c.metric == "value_count")
                .distinct()
            )
            for tid, col in as_tuples(rows):
                if col:
                    out.setdefault(int(tid), set()).add(str(col))
    return out


@dataclass(frozen=True)
class PointFilter:
    """Which points a reader wants: a metric set (or any), custom metrics, unsegmented only,
    from ``since``. The same test runs as SQL (:meth:`clause`) and in Python (:meth:`match`)
    so one query can serve several readers, each picking its own points back out."""

    since: datetime
    metrics: frozenset[str] | None = None
    custom: bool = False
    unsegmented: bool = False

    def clause(self) -> ColumnElement[bool]:
        t = s.metric_points
        parts: list[ColumnElement[bool]] = [t.c.bucket_start >= self.since]
        if self.metrics is not None:
            wanted = t.c.metric.in_(sorted(self.metrics))
            parts.append(or_(wanted, t.c.metric.startswith("custom:")) if self.custom else wanted)
        if self.unsegmented:
            parts.append(t.c.segment == "")
        return and_(*parts)

    def wants_metric(self, metric: str) -> bool:
        """Whether points of ``metric`` may match (their time and segment decide)."""
        return (
            self.metrics is None
            or metric in self.metrics
            or (self.custom and metric.startswith("custom:"))
        )

    def match(self, p: MetricPoint) -> bool:
        if p.bucket_start < self.since:
            return False
        if (
            self.metrics is not None
            and p.metric not in self.metrics
            and not (self.custom and p.metric.startswith("custom:"))
        ):
            return False
        return not (self.unsegmented and p.segment is not None)


def stream_points(
    store: Store, refs: Mapping[int, TableRef], filters: Sequence[PointFilter]
) -> Iterator[tuple[int, list[MetricPoint]]]:
    """The points of the tables in ``refs`` matching any filter, one table at a time.

    One query per :data:`~tidegauge.store.batches.IDS_PER_STATEMENT` tables, read as a stream
    in table order, so memory holds one table's history, never the chunk's. Tables without
    points are not yielded. Within a table, points are ordered as :meth:`Store.points` orders
    them.
    """
    if not filters or not refs:
        return
    t = s.metric_points
    # the earliest ``since`` as its own conjunct bounds the (table_id, bucket_start) index
    # range (an OR of per-filter bounds reads each table's whole history), and the order is the
    # index's own; points are put in series order per table here, which costs far less than
    # the database sorting the chunk (7.6 s -> 0.92 s per 200 tables at 100M points)
    match = and_(
        t.c.bucket_start >= min(f.since for f in filters),
        or_(false(), *[f.clause() for f in filters]),
    )
    # SQLite hands timestamps back as text: read them as text and parse each distinct one
    # once (a table's series share their bucket starts), not once per point through the
    # type's result processor; PostgreSQL's driver returns them in UTC already
    text = store.dialect == "sqlite"
    bucket_col = type_coerce(t.c.bucket_start, String) if text else t.c.bucket_start
    with store.engine.connect() as c:
        # sqlite3 reads rows as they are fetched: its own cursor, batch by batch, with no
        # per-row processing (these columns need none). Elsewhere a server-side cursor.
        streaming = c if text else c.execution_options(stream_results=True, yield_per=2000)
        for part in id_lists(refs):
            q = (
                select(
                    t.c.table_id,
                    t.c.metric,
                    t.c.column_name,
                    t.c.segment,
                    bucket_col,
                    t.c.value,
                    t.c.bucket_seconds,
                )
                .where(t.c.table_id.in_(part), match)
                .order_by(t.c.table_id, t.c.bucket_start)
            )
            current: int | None = None
            ref: TableRef | None = None
            # a table's points grouped by series as they arrive (in time order within each):
            # joined in series order at the table's end, instead of sorting its points
            groups: dict[tuple[str, str, str], list[MetricPoint]] = {}
            times: dict[Any, datetime] = {}
            result = streaming.execute(q)
            rows = cast(
                Iterable[_PointRow],
                _driver_rows(result) if text else (r for b in result.partitions() for r in b),
            )
            for tid, metric, column, segment, bucket, value, seconds in rows:
                if tid != current:
                    if current is not None:
                        yield current, _series_order(groups)
                    current, groups = int(tid), {}
                    ref = refs[current]
                when = times.get(bucket)
                if when is None:
                    when = times[bucket] = _stored_time(bucket)
                key = (metric, column or "", segment or "")
                group = groups.get(key)
                if group is None:
                    group = groups[key] = []
                group.append(
                    new_point(
                        ref,  # type: ignore[arg-type]  # set with current
                        metric,
                        when,
                        value,
                        column or None,
                        segment or None,
                        seconds,
                    )
                )
            if current is not None:
                yield current, _series_order(groups)


#: store dialects whose metric points read back exactly as written: timestamps to the
#: microsecond and every finite float (MySQL's DATETIME drops fractions of a second)
EXACT_ROUND_TRIP = frozenset({"sqlite", "postgresql"})


def round_trips(points: Iterable[MetricPoint]) -> bool:
    """Whether ``points`` read back from an :data:`EXACT_ROUND_TRIP` store as written: every
    value missing, or finite and not a negative zero (SQLite stores NaN as NULL and -0.0 as
    0.0; PostgreSQL keeps both)."""
    return all(
        v is None or (isfinite(v) and (v != 0.0 or copysign(1.0, v) > 0))
        for v in (p.value for p in points)
    )


def points_as_stored(
    points: Sequence[MetricPoint], filters: Sequence[PointFilter]
) -> list[MetricPoint]:
    """What :func:`stream_points` yields for a table whose stored points are exactly
    ``points`` (written by :func:`~tidegauge.store.writes.write_collected` to an
    :data:`EXACT_ROUND_TRIP` store, values checked by :func:`round_trips`), without
    reading them back: the same filters, one point per series and bucket (the last
    written wins, as the upsert keeps it), an empty column or segment read as none, and
    the same order (series by metric, column and segment, then time)."""
    if not filters:
        return []
    groups: dict[tuple[str, str, str], dict[datetime, MetricPoint]] = {}
    for p in points:
        key = (p.metric, p.column or "", p.segment or "")
        group = groups.get(key)
        if group is None:
            group = groups[key] = {}
        group[p.bucket_start] = p
    out: list[MetricPoint] = []
    for metric, column, segment in sorted(groups):
        group = groups[metric, column, segment]
        # the filters this series can match: its metric, and its segment if unsegmented only
        sinces = [
            f.since for f in filters if f.wants_metric(metric) and not (f.unsegmented and segment)
        ]
        if not sinces:
            continue
        since = min(sinces)
        for when in sorted(group):
            if when < since:
                continue
            p = group[when]
            if (p.column is not None and not p.column) or (p.segment is not None and not p.segment):
                p = replace(p, column=p.column or None, segment=p.segment or None)
            out.append(p)
    return out


def _driver_rows(result: CursorResult[Any]) -> Iterator[tuple[Any, ...]]:
    """``result``'s rows as the driver returns them, in batches; only for a result that
    buffers nothing itself (no ``stream_results``, whose strategy reads ahead).

    The columns read here need no conversion on the way out (timestamps are parsed once
    each by the caller), and SQLAlchemy's per-row processing cost as much as the driver's
    reads over a 30-day hourly history of a wide table (95,000 rows)."""
    cursor = result.cursor
    try:
        while batch := cursor.fetchmany(5000):
            yield from batch
    finally:
        result.close()


def _stored_time(value: Any) -> datetime:
    """A stored timestamp in UTC: SQLite's text, or a driver's datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    when = utc(value)
    assert when is not None  # bucket_start is NOT NULL
    return when


def _series_order(groups: dict[tuple[str, str, str], list[MetricPoint]]) -> list[MetricPoint]:
    """A table's points in :meth:`Store.points` order: by metric, column, segment, then time.

    ``groups`` holds each series' points in the order they arrived (by time): joining the
    series in key order is what a stable sort of the points by key would give."""
    out: list[MetricPoint] = []
    for key in sorted(groups):
        out.extend(groups[key])
    return out
