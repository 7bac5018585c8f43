"""The metadata store: inventory, metric history, runs, the cost ledger and leases.

Alerts, incidents, lineage and the outbox have their own modules; they share the
engine held here. How discovered tables and their columns are recorded, and the shapes a
stored table and a schema snapshot take, are in :mod:`tidegauge.store.inventory`. Every
write that can be repeated (a re-run, a second process) is an upsert or guarded by a
unique constraint, so runs are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tidegauge.core.model import ColumnInfo, MetricPoint, TableInfo, TableRef, TypeFamily
from tidegauge.store import schema as s
from tidegauge.store.engine import make_engine, migrate, upsert, utc
from tidegauge.store.inventory import (
    TABLES_PER_STATEMENT,
    StoredTable,
    columns_from_json,
    columns_to_json,
    schema_fingerprint,
    upsert_tables,
)

__all__ = [
    "TABLES_PER_STATEMENT",
    "Store",
    "StoredTable",
    "columns_from_json",
    "columns_to_json",
    "point_row",
    "schema_fingerprint",
]


class Store:
    """Open with ``Store.open(url)``; it migrates the schema on first use."""

    def __init__(self, engine: Engine) -> None:
        from tidegauge.store.alerts import AlertRepo
        from tidegauge.store.incidents import IncidentRepo

        self.engine = engine
        self.dialect = engine.dialect.name
        self.alerts = AlertRepo(self)
        self.incidents = IncidentRepo(self)

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> Store:
        engine = make_engine(url)
        if migrate_schema:
            migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- inventory --------------------------------------------------------------
    def upsert_table(self, info: TableInfo, now: datetime) -> int:
        return self.upsert_tables([info], now)[0]

    def upsert_tables(self, infos: Sequence[TableInfo], now: datetime) -> list[int]:
        """Record discovered tables and their columns in one transaction; their ids in order
        (:func:`~tidegauge.store.inventory.upsert_tables`)."""
        return upsert_tables(self, infos, now)

    def mark_dropped(self, warehouse: str, seen: set[int], now: datetime) -> list[int]:
        """Tables of ``warehouse`` not seen by discovery are marked dropped (kept for history)."""
        with self.engine.begin() as c:
            rows = c.execute(
                select(s.tables.c.id).where(
                    s.tables.c.warehouse == warehouse, s.tables.c.dropped_at.is_(None)
                )
            ).all()
            gone = [r.id for r in rows if r.id not in seen]
            if gone:
                c.execute(update(s.tables).where(s.tables.c.id.in_(gone)).values(dropped_at=now))
        return gone

    def set_table_meta(self, table_id: int, **values: Any) -> None:
        with self.engine.begin() as c:
            c.execute(update(s.tables).where(s.tables.c.id == table_id).values(**values))

    def tables(self, *, include_dropped: bool = False) -> list[StoredTable]:
        q = select(s.tables).order_by(s.tables.c.warehouse, s.tables.c.schema, s.tables.c.name)
        if not include_dropped:
            q = q.where(s.tables.c.dropped_at.is_(None))
        with self.engine.connect() as c:
            return [StoredTable.from_row(r) for r in c.execute(q)]

    def tables_by_id(self, ids: Iterable[int]) -> dict[int, StoredTable]:
        """Only the tables named, dropped ones included (lists of alerts need a handful)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        with self.engine.connect() as c:
            rows = c.execute(select(s.tables).where(s.tables.c.id.in_(wanted))).all()
        return {r.id: StoredTable.from_row(r) for r in rows}

    def table(self, table_id: int) -> StoredTable | None:
        with self.engine.connect() as c:
            r = c.execute(select(s.tables).where(s.tables.c.id == table_id)).first()
        return StoredTable.from_row(r) if r else None

    def find_table(self, name: str) -> StoredTable | None:
        """Resolve ``schema.table``, ``warehouse:schema.table`` or a bare unique table name."""
        warehouse = None
        if ":" in name:
            warehouse, name = name.split(":", 1)
        parts = name.split(".")
        candidates = []
        for t in self.tables(include_dropped=True):
            if warehouse and t.ref.warehouse != warehouse:
                continue
            if (
                len(parts) >= 2
                and t.ref.schema.lower() == parts[-2].lower()
                and t.ref.name.lower() == parts[-1].lower()
            ) or (len(parts) == 1 and t.ref.name.lower() == parts[0].lower()):
                candidates.append(t)
        live = [t for t in candidates if t.dropped_at is None] or candidates
        return live[0] if len(live) == 1 else None

    def columns(self, table_id: int) -> list[ColumnInfo]:
        with self.engine.connect() as c:
            rows = c.execute(
                select(s.columns)
                .where(s.columns.c.table_id == table_id)
                .order_by(s.columns.c.ordinal)
            ).all()
        return [
            ColumnInfo(r.name, r.data_type, TypeFamily(r.family), r.nullable, r.ordinal)
            for r in rows
        ]

    # --- schema snapshots ---------------------------------------------------------
    def latest_snapshot(self, table_id: int) -> list[ColumnInfo] | None:
        with self.engine.connect() as c:
            r = c.execute(
                select(s.schema_snapshots.c.columns)
                .where(s.schema_snapshots.c.table_id == table_id)
                .order_by(s.schema_snapshots.c.taken_at.desc(), s.schema_snapshots.c.id.desc())
                .limit(1)
            ).first()
        return columns_from_json(r.columns) if r else None

    def add_snapshot(self, table_id: int, cols: Sequence[ColumnInfo], now: datetime) -> bool:
        """Store a snapshot when the schema differs from the latest one. True if stored."""
        fp = schema_fingerprint(cols)
        with self.engine.begin() as c:
            last = c.execute(
                select(s.schema_snapshots.c.fingerprint)
                .where(s.schema_snapshots.c.table_id == table_id)
                .order_by(s.schema_snapshots.c.taken_at.desc(), s.schema_snapshots.c.id.desc())
                .limit(1)
            ).scalar()
            if last == fp:
                return False
            c.execute(
                insert(s.schema_snapshots).values(
                    table_id=table_id, taken_at=now, fingerprint=fp, columns=columns_to_json(cols)
                )
            )
        return True

    def add_schema_events(self, table_id: int, events: list[dict[str, Any]], now: datetime) -> None:
        if not events:
            return
        with self.engine.begin() as c:
            c.execute(
                insert(s.schema_events),
                [{"table_id": table_id, "detected_at": now, **e} for e in events],
            )

    def schema_events(self, table_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(
                select(s.schema_events)
                .where(s.schema_events.c.table_id == table_id)
                .order_by(s.schema_events.c.detected_at.desc())
            ).all()
        return [{**r._mapping, "detected_at": utc(r.detected_at)} for r in rows]

    # --- metric points ------------------------------------------------------------
    def upsert_points(
        self, table_id: int, points: Sequence[MetricPoint], *, run_id: int | None, now: datetime
    ) -> int:
        if not points:
            return 0
        rows = [point_row(table_id, p, now, run_id) for p in points]
        keys = ["table_id", "column_name", "segment", "metric", "bucket_start"]
        stmt = upsert(
            self.dialect,
            s.metric_points,
            None,
            keys,
            ["value", "bucket_seconds", "collected_at", "run_id"],
        )
        with self.engine.begin() as c:
            c.execute(stmt, rows)
        return len(rows)

    def last_bucket(self, table_id: int, metric: str = "bucket_row_count") -> datetime | None:
        with self.engine.connect() as c:
            v = c.execute(
                select(func.max(s.metric_points.c.bucket_start)).where(
                    s.metric_points.c.table_id == table_id, s.metric_points.c.metric == metric
                )
            ).scalar()
        return utc(v)

    def series_keys(self, table_id: int) -> list[tuple[str, str, str]]:
        """(metric, column, segment) of every series stored for a table."""
        with self.engine.connect() as c:
            rows = c.execute(
                select(
                    s.metric_points.c.metric,
                    s.metric_points.c.column_name,
                    s.metric_points.c.segment,
                )
                .where(s.metric_points.c.table_id == table_id)
                .distinct()
            ).all()
        return sorted((r[0], r[1], r[2]) for r in rows)

    def categorical_columns(self, table_id: int, among: Iterable[str] | None = None) -> set[str]:
        """Columns whose values are tracked one by one (``value_count`` series); ``among``:
        only these (each then reads its own points alone, by the series index)."""
        t = s.metric_points
        where = [t.c.table_id == table_id, t.c.metric == "value_count"]
        if among is not None:
            where.append(t.c.column_name.in_(sorted(among)))
        with self.engine.connect() as c:
            rows = c.execute(select(t.c.column_name).where(*where).distinct()).all()
        return {r[0] for r in rows if r[0]}

    def points(
        self,
        table_id: int,
        *,
        metric: str | None = None,
        column: str | None = None,
        segment: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        metrics: Sequence[str] | None = None,
        unsegmented: bool = False,
    ) -> list[MetricPoint]:
        """Metric points of a table, series by series, oldest first; optionally narrowed.

        Only the columns a point needs, in the (table_id, bucket_start) index's order: on
        PostgreSQL that index answers the read alone, touching only the ``since`` window's
        entries, with no sort (``tests/store/test_history_plan.py``). Grouping by series
        is a stable sort here, cheaper than a database sort on text keys
        (``bench/store_history.py``).
        """
        t = s.metric_points
        q = select(
            t.c.metric,
            t.c.column_name,
            t.c.segment,
            t.c.bucket_start,
            t.c.bucket_seconds,
            t.c.value,
        ).where(t.c.table_id == table_id)
        if metric is not None:
            q = q.where(t.c.metric == metric)
        if metrics is not None:
            q = q.where(t.c.metric.in_(list(metrics)) | t.c.metric.startswith("custom:"))
        if unsegmented:
            q = q.where(t.c.segment == "")
        if column is not None:
            q = q.where(t.c.column_name == column)
        if segment is not None:
            q = q.where(t.c.segment == segment)
        if since is not None:
            q = q.where(t.c.bucket_start >= since)
        if until is not None:
            q = q.where(t.c.bucket_start < until)
        q = q.order_by(t.c.bucket_start)
        stored = self.table(table_id)
        ref = stored.ref if stored else TableRef("?", "?", str(table_id))
        with self.engine.connect() as c:
            rows: list[Any] = list(c.execute(q).all())
        rows.sort(key=itemgetter(0, 1, 2))  # by (metric, column, segment), stable
        return [
            MetricPoint(ref, m, utc(at), v, col or None, seg or None, secs)  # type: ignore[arg-type]
            for m, col, seg, at, secs, v in rows
        ]

    # --- runs, ledger and leases -----------------------------------------------------
    def start_run(self, as_of: datetime, now: datetime, holder: str) -> int:
        with self.engine.begin() as c:
            rid = c.execute(
                insert(s.runs).values(
                    started_at=now, as_of=as_of, status="running", stats={}, holder=holder
                )
            ).inserted_primary_key
        return int(rid[0])  # type: ignore[index]

    def finish_run(
        self,
        run_id: int,
        status: str,
        stats: dict[str, Any],
        now: datetime,
        error: str | None = None,
    ) -> None:
        with self.engine.begin() as c:
            c.execute(
                update(s.runs)
                .where(s.runs.c.id == run_id)
                .values(status=status, stats=stats, finished_at=now, error=error)
            )

    def record_run_table(
        self,
        run_id: int,
        table_id: int,
        status: str,
        *,
        error: str | None = None,
        seconds: float | None = None,
        points: int = 0,
    ) -> None:
        with self.engine.begin() as c:
            c.execute(
                upsert(
                    self.dialect,
                    s.run_tables,
                    [
                        {
                            "run_id": run_id,
                            "table_id": table_id,
                            "status": status,
                            "error": error,
                            "seconds": seconds,
                            "points": points,
                        }
                    ],
                    ["run_id", "table_id"],
                    ["status", "error", "seconds", "points"],
                )
            )

    def table_collected(self, table_id: int, as_of: datetime, *, other_than: int) -> bool:
        """Whether another run as of the same moment already collected this table."""
        with self.engine.connect() as c:
            hit = c.execute(
                select(s.run_tables.c.run_id)
                .select_from(s.run_tables.join(s.runs, s.runs.c.id == s.run_tables.c.run_id))
                .where(
                    s.run_tables.c.table_id == table_id,
                    s.run_tables.c.status == "ok",
                    s.runs.c.as_of == as_of,
                    s.runs.c.id != other_than,
                )
                .limit(1)
            ).first()
        return hit is not None

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(s.runs).order_by(s.runs.c.id.desc()).limit(limit)).all()
        out = []
        for r in rows:
            d = dict(r._mapping)
            for k in ("started_at", "finished_at", "as_of"):
                d[k] = utc(d[k])
            out.append(d)
        return out

    def run_tables(self, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(s.run_tables).where(s.run_tables.c.run_id == run_id)).all()
        return [dict(r._mapping) for r in rows]

    def add_ledger(self, entries: list[dict[str, Any]]) -> None:
        if entries:
            with self.engine.begin() as c:
                c.execute(insert(s.cost_ledger), entries)

    def ledger(self, run_id: int | None = None) -> list[dict[str, Any]]:
        q = select(s.cost_ledger).order_by(s.cost_ledger.c.id)
        if run_id is not None:
            q = q.where(s.cost_ledger.c.run_id == run_id)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def acquire_lease(self, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take or renew a named lease; False while another holder has it unexpired."""
        expires = now + ttl
        with self.engine.begin() as c:
            res = c.execute(
                update(s.leases)
                .where(
                    s.leases.c.name == name,
                    (s.leases.c.holder == holder) | (s.leases.c.expires_at < now),
                )
                .values(holder=holder, expires_at=expires)
            )
            if res.rowcount:
                return True
            try:
                with c.begin_nested():
                    c.execute(insert(s.leases).values(name=name, holder=holder, expires_at=expires))
            except IntegrityError:
                return False
        return True

    def release_lease(self, name: str, holder: str) -> None:
        with self.engine.begin() as c:
            c.execute(
                delete(s.leases).where(and_(s.leases.c.name == name, s.leases.c.holder == holder))
            )


def point_row(table_id: int, p: Any, now: datetime, run_id: int | None) -> dict[str, Any]:
    """The ``metric_points`` row of one collected point (no column or segment is '')."""
    return {
        "table_id": table_id,
        "column_name": p.column or "",
        "segment": p.segment or "",
        "metric": p.metric,
        "bucket_start": p.bucket_start,
        "bucket_seconds": p.bucket_seconds,
        "value": p.value,
        "collected_at": now,
        "run_id": run_id,
    }
