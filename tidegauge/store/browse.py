"""Browsing the store: the read-only queries of the web pages and the read API.

The repositories map table ids to names by loading every table; with thousands of tables that
costs more than the page itself. These helpers join instead, aggregate in SQL, and return rows
in the same shapes as :class:`~tidegauge.store.alerts.AlertRepo` and
:class:`~tidegauge.store.incidents.IncidentRepo`, so the public JSON shapes
(:mod:`tidegauge.services.serialise`) apply. The hot reads are prebuilt statements in
:mod:`tidegauge.store.reads`. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select

from tidegauge.core.metrics import Metric
from tidegauge.core.model import IncidentStatus, Severity
from tidegauge.store import reads
from tidegauge.store import schema as s
from tidegauge.store.engine import utc
from tidegauge.store.store import Store, StoredTable

OPEN_STATUSES = [st.value for st in IncidentStatus if st.is_open]
SEVERE = (Severity.HIGH.value, Severity.CRITICAL.value)
FRESHNESS_METRICS = (Metric.LAST_MODIFIED.value, Metric.MAX_TIMESTAMP.value)
RECENT = timedelta(hours=24)

# --------------------------------------------------------------------------- runs


def run_marker(store: Store) -> tuple[Any, ...]:
    """Latest run id and its status: metric points only change while a run is writing."""
    with store.engine.connect() as c:
        row = c.execute(
            select(s.runs.c.id, s.runs.c.status, s.runs.c.finished_at)
            .order_by(s.runs.c.id.desc())
            .limit(1)
        ).first()
    return tuple(row) if row else (0, "", None)


# --------------------------------------------------------------------------- tables


def _table_cols() -> list[Any]:
    return list(reads.TABLE_COLS)


def table_conditions(
    *,
    q: str | None = None,
    schema: str | None = None,
    warehouse: str | None = None,
    ids: Iterable[int] | None = None,
) -> list[Any]:
    """Filters on live tables: name contains ``q``, in ``schema``/``warehouse``, among ``ids``."""
    t = s.tables
    cond: list[Any] = []
    if q:
        like = f"%{_escape_like(q.lower())}%"
        cond.append(
            or_(
                func.lower(t.c.name).like(like, escape="\\"),
                func.lower(t.c.schema + literal(".") + t.c.name).like(like, escape="\\"),
            )
        )
    if schema:
        cond.append(t.c.schema == schema)
    if warehouse:
        cond.append(t.c.warehouse == warehouse)
    if ids is not None:
        cond.append(t.c.id.in_(list(ids)))
    return cond


def list_tables(
    store: Store,
    *,
    q: str | None = None,
    schema: str | None = None,
    warehouse: str | None = None,
    ids: Iterable[int] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[StoredTable], int]:
    """Live tables, ordered by warehouse, schema and name, with the total before paging."""
    cond = table_conditions(q=q, schema=schema, warehouse=warehouse, ids=ids)
    query = reads.table_page_query(cond, with_health=False) if cond else reads.LIVE_ROWS
    with store.engine.connect() as c:
        rows = [
            StoredTable.from_row(r) for r in c.execute(query, {"limit": limit, "offset": offset})
        ]
        total = int(
            c.execute(
                select(func.count()).select_from(s.tables).where(reads.LIVE, *cond)
            ).scalar_one()
        )
    return rows, total


def table_description(store: Store, table_id: int) -> str | None:
    with store.engine.connect() as c:
        value: Any = c.execute(
            select(s.tables.c.description).where(s.tables.c.id == table_id)
        ).scalar()
    return None if value is None else str(value)


def find_table_id(store: Store, fqn: str) -> int | None:
    """``schema.table`` or ``warehouse:schema.table`` to a live table id (case-insensitive)."""
    warehouse = None
    if ":" in fqn:
        warehouse, fqn = fqn.split(":", 1)
    if "." not in fqn:
        return None
    schema, name = fqn.rsplit(".", 1)
    t = s.tables
    cond = [func.lower(t.c.schema) == schema.lower(), func.lower(t.c.name) == name.lower()]
    if warehouse:
        cond.append(t.c.warehouse == warehouse)
    with store.engine.connect() as c:
        rows = c.execute(
            select(t.c.id, t.c.dropped_at).where(*cond).order_by(t.c.dropped_at.is_(None).desc())
        ).all()
    return int(rows[0].id) if rows else None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --------------------------------------------------------------------------- alerts


@dataclass(frozen=True)
class AlertFilter:
    table_id: int | None = None
    kind: str | None = None
    severity: str | None = None
    feedback: str | None = None  # a Feedback value, or "none" for alerts without feedback
    incident_id: int | None = None
    since: datetime | None = None
    column: str | None = None

    def conditions(self) -> list[Any]:
        a = s.alerts
        cond: list[Any] = []
        if self.table_id is not None:
            cond.append(a.c.table_id == self.table_id)
        if self.kind:
            cond.append(a.c.kind == self.kind)
        if self.severity:
            cond.append(a.c.severity == self.severity)
        if self.feedback == "none":
            cond.append(a.c.feedback.is_(None))
        elif self.feedback:
            cond.append(a.c.feedback == self.feedback)
        if self.incident_id is not None:
            cond.append(a.c.incident_id == self.incident_id)
        if self.since is not None:
            cond.append(a.c.detected_at >= self.since)
        if self.column is not None:
            cond.append(a.c.column_name == self.column)
        return cond


def list_alerts(
    store: Store, flt: AlertFilter, *, limit: int = 50, offset: int = 0, count: bool = True
) -> tuple[list[dict[str, Any]], int]:
    with store.engine.connect() as c:
        return reads.alert_page(c, flt.conditions(), limit, offset, count)


def get_alert(store: Store, alert_id: int) -> dict[str, Any] | None:
    with store.engine.connect() as c:
        return reads.alert(c, alert_id)


# --------------------------------------------------------------------------- incidents


@dataclass(frozen=True)
class IncidentFilter:
    status: list[str] = field(default_factory=list)
    severity: str | None = None
    table_id: int | None = None
    incident_id: int | None = None
    q: str | None = None

    def conditions(self) -> list[Any]:
        i = s.incidents
        cond: list[Any] = []
        if self.status:
            cond.append(i.c.status.in_(self.status))
        if self.severity:
            cond.append(i.c.severity == self.severity)
        if self.table_id is not None:
            cond.append(i.c.table_id == self.table_id)
        if self.incident_id is not None:
            cond.append(i.c.id == self.incident_id)
        if self.q:
            cond.append(
                func.lower(i.c.title).like(f"%{_escape_like(self.q.lower())}%", escape="\\")
            )
        return cond


def list_incidents(
    store: Store, flt: IncidentFilter, *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    i, t = s.incidents, s.tables
    cond = flt.conditions()
    q = (
        select(
            i,
            (t.c.schema + literal(".") + t.c.name).label("table_fqn"),
            t.c.warehouse.label("table_warehouse"),
        )
        .select_from(i.join(t, t.c.id == i.c.table_id))
        .where(*cond)
        .order_by(i.c.detected_at.desc(), i.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with store.engine.connect() as c:
        rows = reads.records(c.execute(q))
        ids = [r["id"] for r in rows]
        alert_ids: dict[int, list[int]] = {x: [] for x in ids}
        if ids:
            links: Sequence[Any] = c.execute(
                select(s.alerts.c.id, s.alerts.c.incident_id)
                .where(s.alerts.c.incident_id.in_(ids))
                .order_by(s.alerts.c.id)
            ).all()
            for aid, iid in links:
                alert_ids[iid].append(aid)
        total = int(c.execute(select(func.count()).select_from(i).where(*cond)).scalar_one())
    return [reads.incident_row(r, alert_ids.get(r["id"], [])) for r in rows], total


def get_incident(store: Store, incident_id: int) -> dict[str, Any] | None:
    """An incident with its alert ids and timeline."""
    with store.engine.connect() as c:
        return reads.incident(c, incident_id)


# --------------------------------------------------------------------------- health


@dataclass
class TableHealth:
    table: StoredTable
    state: str  # ok | warn | critical
    open_incidents: int = 0
    recent_alerts: int = 0
    latest_data: datetime | None = None

    @property
    def fqn(self) -> str:
        return self.table.ref.fqn


def health_states(
    store: Store, now: datetime, ids: Iterable[int] | None = None
) -> dict[int, tuple[str, int, int]]:
    """table id → (state, open incidents, unreviewed alerts in the last 24 h), non-ok only."""
    i, a = s.incidents, s.alerts
    only = list(ids) if ids is not None else None
    if only is not None:
        with store.engine.connect() as c:
            return reads.health_states(c, now, only)
    inc_cond = [i.c.status.in_(OPEN_STATUSES)]
    alert_cond = [a.c.detected_at >= now - RECENT, a.c.feedback.is_(None)]
    if only is not None:
        inc_cond.append(i.c.table_id.in_(only))
        alert_cond.append(a.c.table_id.in_(only))
    out: dict[int, tuple[str, int, int]] = {}
    with store.engine.connect() as c:
        inc_rows: Sequence[Any] = c.execute(
            select(
                i.c.table_id,
                func.count(),
                func.sum(case((i.c.severity.in_(SEVERE), 1), else_=0)),
            )
            .where(*inc_cond)
            .group_by(i.c.table_id)
        ).all()
        alert_rows: Sequence[Any] = c.execute(
            select(a.c.table_id, func.count()).where(*alert_cond).group_by(a.c.table_id)
        ).all()
    for tid, n, severe in inc_rows:
        out[int(tid)] = ("critical" if severe else "warn", int(n), 0)
    for tid, n in alert_rows:
        state, incs, _ = out.get(int(tid), ("warn", 0, 0))
        out[int(tid)] = (state, incs, int(n))
    return out


def latest_data_times(store: Store) -> dict[int, datetime]:
    """Per table, the newest data time known: engine metadata or max of the timestamp column.

    One index seek per table and metric (the series' unique index starts with table_id), so
    this stays fast with millions of points; callers cache it per run.
    """
    mp, t = s.metric_points, s.tables
    subs = []
    for metric in FRESHNESS_METRICS:
        subs.append(
            select(mp.c.value)
            .where(
                mp.c.table_id == t.c.id,
                mp.c.column_name == "",
                mp.c.segment == "",
                mp.c.metric == metric,
            )
            .order_by(mp.c.bucket_start.desc())
            .limit(1)
            .scalar_subquery()
        )
    q = select(t.c.id, t.c.last_modified, *subs).where(t.c.dropped_at.is_(None))
    out: dict[int, datetime] = {}
    with store.engine.connect() as c:
        rows: Sequence[Any] = c.execute(q).all()
        for tid, last_modified, *values in rows:
            epochs = [float(v) for v in values if v is not None]
            best = datetime.fromtimestamp(max(epochs), UTC) if epochs else None
            lm = utc(last_modified)
            if lm is not None and (best is None or lm > best):
                best = lm
            if best is not None:
                out[int(tid)] = best
    return out


@dataclass
class SchemaHealth:
    warehouse: str
    schema: str
    tables: int = 0
    ok: int = 0
    warn: int = 0
    critical: int = 0

    @property
    def state(self) -> str:
        return "critical" if self.critical else "warn" if self.warn else "ok"


def schema_health(store: Store, states: dict[int, tuple[str, int, int]]) -> list[SchemaHealth]:
    t = s.tables
    with store.engine.connect() as c:
        rows: Sequence[Any] = c.execute(
            select(t.c.id, t.c.warehouse, t.c.schema).where(t.c.dropped_at.is_(None))
        ).all()
    by: dict[tuple[str, str], SchemaHealth] = {}
    for tid, wh, sch in rows:
        h = by.setdefault((wh, sch), SchemaHealth(wh, sch))
        h.tables += 1
        state = states.get(int(tid), ("ok", 0, 0))[0]
        setattr(h, state, getattr(h, state) + 1)
    return sorted(by.values(), key=lambda h: (-h.critical, -h.warn, h.warehouse, h.schema))


def table_count(store: Store) -> int:
    with store.engine.connect() as c:
        return int(
            c.execute(
                select(func.count()).select_from(s.tables).where(s.tables.c.dropped_at.is_(None))
            ).scalar_one()
        )


def tables_by_id(store: Store, ids: Iterable[int]) -> dict[int, StoredTable]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with store.engine.connect() as c:
        rows = c.execute(select(*_table_cols()).where(s.tables.c.id.in_(wanted))).all()
    return {int(r.id): StoredTable.from_row(r) for r in rows}


# --------------------------------------------------------------------------- series


def series_keys(store: Store, table_id: int) -> list[tuple[str, str, str, int]]:
    """(metric, column, segment, points) of every series of a table, from the unique index."""
    mp = s.metric_points
    with store.engine.connect() as c:
        rows = c.execute(
            select(mp.c.metric, mp.c.column_name, mp.c.segment, func.count())
            .where(mp.c.table_id == table_id)
            .group_by(mp.c.column_name, mp.c.segment, mp.c.metric)
        ).all()
    return sorted((r[0], r[1], r[2], int(r[3])) for r in rows)


def series_points(
    store: Store,
    table_id: int,
    wanted: list[tuple[str, str, str]],
    since: datetime | None = None,
) -> dict[tuple[str, str, str], list[tuple[datetime, float | None]]]:
    """Points of several series of one table, oldest first, without building MetricPoints."""
    if not wanted:
        return {}
    mp = s.metric_points
    cond = [mp.c.table_id == table_id]
    if since is not None:
        cond.append(mp.c.bucket_start >= since)
    keys = or_(
        *(
            and_(mp.c.metric == m, mp.c.column_name == col, mp.c.segment == seg)
            for m, col, seg in wanted
        )
    )
    q = (
        select(mp.c.metric, mp.c.column_name, mp.c.segment, mp.c.bucket_start, mp.c.value)
        .where(*cond, keys)
        .order_by(mp.c.bucket_start)
    )
    out: dict[tuple[str, str, str], list[tuple[datetime, float | None]]] = {k: [] for k in wanted}
    with store.engine.connect() as c:
        rows: Sequence[Any] = c.execute(q).all()
    for metric, col, seg, bucket, value in rows:
        out[(metric, col, seg)].append((utc(bucket), value))  # type: ignore[arg-type]
    return out


def search_columns(store: Store, q: str, limit: int = 20) -> list[tuple[int, str, str]]:
    """(table id, table fqn, column) for columns whose name contains ``q``."""
    col, t = s.columns, s.tables
    like = f"%{_escape_like(q.lower())}%"
    query = (
        select(t.c.id, (t.c.schema + literal(".") + t.c.name), col.c.name)
        .select_from(col.join(t, t.c.id == col.c.table_id))
        .where(t.c.dropped_at.is_(None), func.lower(col.c.name).like(like, escape="\\"))
        .order_by(t.c.schema, t.c.name, col.c.name)
        .limit(limit)
    )
    with store.engine.connect() as c:
        return [(int(r[0]), str(r[1]), str(r[2])) for r in c.execute(query)]


def get_run(store: Store, run_id: int) -> dict[str, Any] | None:
    with store.engine.connect() as c:
        r = c.execute(select(s.runs).where(s.runs.c.id == run_id)).first()
    if r is None:
        return None
    d = dict(r._mapping)
    for k in ("started_at", "finished_at", "as_of"):
        d[k] = utc(d[k])
    return d


def table_ids_by_fqn(store: Store, fqns: Iterable[str]) -> dict[str, int]:
    """Lowercase ``schema.table`` → live table id (lineage nodes link to table pages)."""
    wanted = sorted({f.lower() for f in fqns if f})
    if not wanted:
        return {}
    t = s.tables
    key = func.lower(t.c.schema + literal(".") + t.c.name)
    with store.engine.connect() as c:
        rows: Sequence[Any] = c.execute(
            select(key, t.c.id).where(key.in_(wanted), t.c.dropped_at.is_(None))
        ).all()
    return {str(k): int(i) for k, i in rows}
