"""What collecting a chunk of tables stores, committed in one transaction
(:func:`write_collected`): its points, cost ledger, schema snapshots and events, and its
``run_tables`` rows.

Points are upserted by series and bucket, and windows a collection recomputed in full
replace what was stored (:class:`Replaced`), so writing a chunk twice stores nothing twice.
:func:`point_rows` builds the point rows every point writer shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, insert
from sqlalchemy.sql import Insert

from tidegauge.core.model import ColumnInfo, MetricPoint
from tidegauge.store import schema as s
from tidegauge.store.batches import executemany_raw
from tidegauge.store.engine import upsert
from tidegauge.store.inventory import columns_to_json, schema_fingerprint

if TYPE_CHECKING:
    from tidegauge.store.store import Store


#: the ``metric_points`` columns a collected point fills, in the order rows are built
POINT_COLUMNS = (
    "table_id",
    "column_name",
    "segment",
    "metric",
    "bucket_start",
    "bucket_seconds",
    "value",
    "collected_at",
    "run_id",
)
POINT_KEY = ["table_id", "column_name", "segment", "metric", "bucket_start"]
LEDGER_COLUMNS = ("run_id", "table_id", "monitor", "at", "seconds", "rows", "bytes", "sql")
SNAPSHOT_COLUMNS = ("table_id", "taken_at", "fingerprint", "columns")
RUN_TABLE_COLUMNS = ("run_id", "table_id", "status", "error", "seconds", "points")


@dataclass(frozen=True)
class Replaced:
    """A window of a table's series that a collection recomputed in full: stored points of
    that family in ``[since, until)`` not produced again are stale and go.

    Categorical values and segments are open sets (top-k values plus ``__other__``): a
    recomputed bucket may name other values than the stored one did (a shorter window ranks
    values differently), so an upsert alone would leave both. ``family`` is ``value_count``
    (categorical) or ``segments`` (every other segmented point)."""

    family: str
    since: datetime
    until: datetime


@dataclass
class TableWrite:
    """What collecting one table stores: its run row, points, ledger and schema."""

    table_id: int
    status: str
    error: str | None = None
    seconds: float | None = None
    points: list[MetricPoint] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    #: the schema to snapshot, with the fingerprint of the latest stored one (None: none)
    schema: list[ColumnInfo] | None = None
    previous_fingerprint: str | None = None
    #: ``schema``'s fingerprint when the caller computed it already
    fingerprint: str | None = None
    schema_events: list[dict[str, Any]] = field(default_factory=list)
    #: windows whose points of a family this write replaces (see :class:`Replaced`)
    replaced: list[Replaced] = field(default_factory=list)


@cache
def _write_statements(dialect: str) -> tuple[Insert, Insert, Insert, Insert]:
    """The point upsert, ledger insert, run-table upsert and snapshot insert
    :func:`write_collected` runs, built once per store dialect so their compiled form is
    reused (:func:`~tidegauge.store.batches.executemany_raw`)."""
    points = upsert(
        dialect,
        s.metric_points,
        None,
        POINT_KEY,
        ["value", "bucket_seconds", "collected_at", "run_id"],
    )
    run_tables = upsert(
        dialect,
        s.run_tables,
        None,
        ["run_id", "table_id"],
        ["status", "error", "seconds", "points"],
    )
    return points, insert(s.cost_ledger), run_tables, insert(s.schema_snapshots)


def point_rows(
    points: Iterable[tuple[int, MetricPoint]], now: datetime, run_id: int | None
) -> list[tuple[Any, ...]]:
    """``(table id, point)`` pairs as rows in :data:`POINT_COLUMNS` order, one per series and
    bucket (the last wins): PostgreSQL refuses an upsert that touches a row twice in one
    statement."""
    return list(
        {
            (tid, p.column or "", p.segment or "", p.metric, p.bucket_start): (
                tid,
                p.column or "",
                p.segment or "",
                p.metric,
                p.bucket_start,
                p.bucket_seconds,
                p.value,
                now,
                run_id,
            )
            for tid, p in points
        }.values()
    )


def write_collected(store: Store, run_id: int, now: datetime, writes: Sequence[TableWrite]) -> None:
    """Store collected tables in one transaction (raises on a store error).

    Idempotent: writing the same tables again (a replayed chunk, a run killed after its
    commit and run again) leaves the store as one write does: points are upserted by series
    and bucket, and windows a write recomputed in full are replaced (:class:`Replaced`).
    """
    if not writes:
        return
    points = point_rows(((w.table_id, p) for w in writes for p in w.points), now, run_id)
    snapshots = [  # in SNAPSHOT_COLUMNS order
        (w.table_id, now, fp, columns_to_json(w.schema))
        for w in writes
        if w.schema is not None
        and (fp := w.fingerprint or schema_fingerprint(w.schema)) != w.previous_fingerprint
    ]
    events = [
        {"table_id": w.table_id, "detected_at": now, **e} for w in writes for e in w.schema_events
    ]
    ledger = [e for w in writes for e in w.ledger]
    # in RUN_TABLE_COLUMNS order
    run_rows = [(run_id, w.table_id, w.status, w.error, w.seconds, len(w.points)) for w in writes]
    t = s.metric_points
    with store.engine.begin() as c:
        for w in writes:
            for r in w.replaced:
                family = (
                    t.c.metric == "value_count"
                    if r.family == "value_count"
                    else and_(t.c.segment != "", t.c.metric != "value_count")
                )
                c.execute(
                    delete(t).where(
                        t.c.table_id == w.table_id,
                        t.c.bucket_start >= r.since,
                        t.c.bucket_start < r.until,
                        family,
                    )
                )
        if points:
            executemany_raw(c, _write_statements(store.dialect)[0], t, POINT_COLUMNS, points)
        if snapshots:
            executemany_raw(
                c,
                _write_statements(store.dialect)[3],
                s.schema_snapshots,
                SNAPSHOT_COLUMNS,
                snapshots,
            )
        if events:
            c.execute(insert(s.schema_events), events)
        if ledger:
            executemany_raw(
                c,
                _write_statements(store.dialect)[1],
                s.cost_ledger,
                LEDGER_COLUMNS,
                [tuple(map(e.get, LEDGER_COLUMNS)) for e in ledger],
            )
        executemany_raw(
            c,
            _write_statements(store.dialect)[2],
            s.run_tables,
            RUN_TABLE_COLUMNS,
            run_rows,
        )
