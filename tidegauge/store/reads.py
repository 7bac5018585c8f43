"""The hot reads of the API and pages as prebuilt statements run on a caller's connection.

Building a SQLAlchemy statement and its cache key costs more than SQLite takes to run it, so
these are built once, with bound parameters, and a request runs all it needs on one
connection, in as few statements as it can. A page of a long list joins its rows to a page
of ids read from a covering index (live tables by name, alerts by data time), so a deep
``offset`` never loads the rows it skips; a table's health comes along as
correlated counts (open incidents by ``ix_incidents_table_status``, recent alerts by
``ix_alerts_table_time``). Shapes are those of :mod:`tidegauge.store.browse`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, case, func, literal, or_, select
from sqlalchemy.sql import Select

from tidegauge.core.model import IncidentStatus, Severity
from tidegauge.store import schema as s
from tidegauge.store.engine import utc

T, C, A, INC, E = s.tables, s.columns, s.alerts, s.incidents, s.incident_events
OPEN_STATUSES = [st.value for st in IncidentStatus if st.is_open]
SEVERE = (Severity.HIGH.value, Severity.CRITICAL.value)
RECENT = timedelta(hours=24)


def _ids() -> Any:
    return bindparam("ids", expanding=True)


def _page(q: Select[Any]) -> Select[Any]:
    return q.limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))


TABLE_COLS = [
    T.c.id,
    T.c.warehouse,
    T.c.database,
    T.c.schema,
    T.c.name,
    T.c.kind,
    T.c.row_count,
    T.c.bytes,
    T.c.last_modified,
    T.c.last_seen,
    T.c.dropped_at,
    T.c.owner,
    T.c.tags,
    T.c.dbt_unique_id,
    T.c.timestamp_column,
]
LIVE = T.c.dropped_at.is_(None)
ORDER = (T.c.warehouse, T.c.schema, T.c.name, T.c.id)  # ix_tables_live_order (+ rowid)


def _one_of(column: Any, values: Sequence[str]) -> Any:
    """``column IN (...)`` as ORs of plain binds: an ``in_()`` list is re-rendered into the
    SQL on every execution, which costs more than the lookup itself."""
    return or_(*(column == v for v in values))


_SINCE = bindparam("since", type_=A.c.detected_at.type)
_OPEN = _one_of(INC.c.status, OPEN_STATUSES)
HEALTH_COLS = [
    select(func.count())
    .where(INC.c.table_id == T.c.id, _OPEN)
    .scalar_subquery()
    .label("open_incidents"),
    select(func.count())
    .where(INC.c.table_id == T.c.id, _OPEN, _one_of(INC.c.severity, SEVERE))
    .scalar_subquery()
    .label("severe_incidents"),
    select(func.count())
    .where(A.c.table_id == T.c.id, A.c.detected_at >= _SINCE, A.c.feedback.is_(None))
    .scalar_subquery()
    .label("recent_alerts"),
]


def table_page_query(conditions: Sequence[Any], with_health: bool = True) -> Select[Any]:
    """Rows (and health) of a page of live tables matching ``conditions``; binds ``limit``,
    ``offset`` and, with health, ``since`` (the start of the recent-alerts window)."""
    ids = _page(select(T.c.id).where(LIVE, *conditions).order_by(*ORDER)).subquery("page")
    cols = [*TABLE_COLS, *HEALTH_COLS] if with_health else TABLE_COLS
    # a join, not IN: MariaDB refuses LIMIT inside IN (subquery)
    return select(*cols).select_from(T.join(ids, ids.c.id == T.c.id)).order_by(*ORDER)


_LIVE_PAGE = table_page_query([])
LIVE_ROWS = table_page_query([], with_health=False)
_LIVE_COUNT = select(func.count()).select_from(T).where(LIVE)
_TABLE = select(*TABLE_COLS, *HEALTH_COLS, T.c.description).where(T.c.id == bindparam("id"))
N_TABLE_COLS = len(TABLE_COLS)  # rows are read by position: a Row's attributes cost ~1 µs each
_COLUMNS = (
    select(C.c.name, C.c.data_type, C.c.family, C.c.nullable, C.c.ordinal)
    .where(C.c.table_id == bindparam("id"))
    .order_by(C.c.ordinal)
)

_OPEN_BY_TABLE = (
    select(INC.c.table_id, func.count(), func.sum(case((INC.c.severity.in_(SEVERE), 1), else_=0)))
    .where(INC.c.status.in_(OPEN_STATUSES), INC.c.table_id.in_(_ids()))
    .group_by(INC.c.table_id)
)
_RECENT_BY_TABLE = (
    select(A.c.table_id, func.count())
    .where(
        A.c.detected_at >= bindparam("since", type_=A.c.detected_at.type),
        A.c.feedback.is_(None),
        A.c.table_id.in_(_ids()),
    )
    .group_by(A.c.table_id)
)

FQN = (T.c.schema + literal(".") + T.c.name).label("table_fqn")
_ALERT = select(A, FQN, T.c.warehouse.label("table_warehouse")).select_from(
    A.join(T, T.c.id == A.c.table_id)
)
ALERT_ORDER = (A.c.data_time.desc(), A.c.id.desc())
_ALERT_ONE = _ALERT.where(A.c.id == bindparam("id"))


def alert_page_query(conditions: Sequence[Any]) -> Select[Any]:
    """A page of alerts matching ``conditions``, newest data first; binds limit/offset."""
    ids = _page(select(A.c.id).where(*conditions).order_by(*ALERT_ORDER)).subquery("page")
    return (
        select(A, FQN, T.c.warehouse.label("table_warehouse"))
        .select_from(A.join(ids, ids.c.id == A.c.id).join(T, T.c.id == A.c.table_id))
        .order_by(*ALERT_ORDER)
    )


_ALERT_PAGE = alert_page_query([])  # the ids from ix_alerts_data_time, covering
_ALERT_COUNT = select(func.count()).select_from(A)

_INCIDENT = select(INC, FQN, T.c.warehouse.label("table_warehouse")).select_from(
    INC.join(T, T.c.id == INC.c.table_id)
)
_INCIDENT_ONE = _INCIDENT.where(INC.c.id == bindparam("id"))
_INCIDENT_ALERTS = select(A.c.id).where(A.c.incident_id == bindparam("id")).order_by(A.c.id)
_EVENTS = select(E).where(E.c.incident_id == bindparam("id")).order_by(E.c.at, E.c.id)


# --------------------------------------------------------------------------- tables


Memo = Callable[[Hashable, Callable[[], int]], int]


def _no_memo(_: Hashable, compute: Callable[[], int]) -> int:
    return compute()


def records(result: Any) -> list[dict[str, Any]]:
    """Rows as dicts: the keys looked up once per result, not once per row."""
    keys = list(result.keys())
    return [dict(zip(keys, r, strict=True)) for r in result]


def health(r: Any) -> tuple[str, int, int]:
    """(state, open incidents, unreviewed alerts in the last 24 h) from a row of
    :data:`TABLE_COLS` then :data:`HEALTH_COLS`: critical with a severe open incident, warn
    with any other open incident or recent alert."""
    n_open, severe, n_recent = r[N_TABLE_COLS : N_TABLE_COLS + 3]
    if severe:
        return "critical", int(n_open), int(n_recent)
    return ("warn" if n_open or n_recent else "ok"), int(n_open), int(n_recent)


def table_page(
    c: Connection,
    now: datetime,
    limit: int,
    offset: int,
    conditions: Sequence[Any] = (),
    memo: Memo = _no_memo,
) -> tuple[list[Any], int]:
    """Rows (with :data:`HEALTH_COLS`) of live tables ordered by warehouse, schema and name,
    and how many match. ``memo`` may keep the count of all live tables until the store
    changes (``ResponseCache.memo``)."""
    params = {"limit": limit, "offset": offset, "since": now - RECENT}
    if conditions:
        rows = c.execute(table_page_query(conditions), params).all()
        total = int(
            c.execute(select(func.count()).select_from(T).where(LIVE, *conditions)).scalar_one()
        )
        return list(rows), total
    rows = c.execute(_LIVE_PAGE, params).all()
    total = memo("live_tables", lambda: int(c.execute(_LIVE_COUNT).scalar_one()))
    return list(rows), total


def table(c: Connection, table_id: int, now: datetime) -> Any | None:
    """A table's row, dropped or not: :data:`TABLE_COLS`, :data:`HEALTH_COLS`, description."""
    return c.execute(_TABLE, {"id": table_id, "since": now - RECENT}).first()


def columns_json(c: Connection, table_id: int) -> list[dict[str, Any]]:
    """Columns in the shape of :func:`~tidegauge.store.store.columns_to_json`."""
    return [
        {"name": r[0], "data_type": r[1], "family": r[2], "nullable": r[3], "ordinal": r[4]}
        for r in c.execute(_COLUMNS, {"id": table_id})
    ]


def health_states(
    c: Connection, now: datetime, ids: Sequence[int]
) -> dict[int, tuple[str, int, int]]:
    """table id → (state, open incidents, unreviewed alerts in the last 24 h), non-ok only."""
    if not ids:
        return {}
    wanted = list(ids)
    out: dict[int, tuple[str, int, int]] = {}
    tid: Any
    n: Any
    for tid, n, severe in c.execute(_OPEN_BY_TABLE, {"ids": wanted}):
        out[int(tid)] = ("critical" if severe else "warn", int(n), 0)
    for tid, n in c.execute(_RECENT_BY_TABLE, {"ids": wanted, "since": now - RECENT}):
        state, incs, _ = out.get(int(tid), ("warn", 0, 0))
        out[int(tid)] = (state, incs, int(n))
    return out


# --------------------------------------------------------------------------- alerts


def alert_row(d: dict[str, Any]) -> dict[str, Any]:
    """A record of an alert query in the shape of ``AlertRepo`` rows (in place)."""
    d["table"] = d.pop("table_fqn")
    d["warehouse"] = d.pop("table_warehouse")
    d["column"] = d.pop("column_name")
    for k in ("data_time", "detected_at", "feedback_at"):
        d[k] = utc(d[k])
    return d


def alert(c: Connection, alert_id: int) -> dict[str, Any] | None:
    rows = records(c.execute(_ALERT_ONE, {"id": alert_id}))
    return alert_row(rows[0]) if rows else None


def alert_page(
    c: Connection,
    conditions: list[Any],
    limit: int,
    offset: int,
    count: bool = True,
    memo: Memo = _no_memo,
) -> tuple[list[dict[str, Any]], int]:
    """Alerts matching ``conditions``, newest data first, and how many match."""
    query = alert_page_query(conditions) if conditions else _ALERT_PAGE
    rows = [alert_row(d) for d in records(c.execute(query, {"limit": limit, "offset": offset}))]
    total = len(rows)
    if count and conditions:
        total = int(c.execute(select(func.count()).select_from(A).where(*conditions)).scalar_one())
    elif count:
        total = memo("alerts", lambda: int(c.execute(_ALERT_COUNT).scalar_one()))
    return rows, total


# --------------------------------------------------------------------------- incidents


def incident_row(d: dict[str, Any], alert_ids: list[int]) -> dict[str, Any]:
    """A record of an incident query in the shape of ``IncidentRepo`` rows (in place)."""
    d["table"] = d.pop("table_fqn")
    d["warehouse"] = d.pop("table_warehouse")
    d["column"] = d.pop("column_name")
    d["alerts"] = alert_ids
    for k in ("data_time", "detected_at", "updated_at"):
        d[k] = utc(d[k])
    return d


def incident(c: Connection, incident_id: int) -> dict[str, Any] | None:
    """An incident with its alert ids and timeline."""
    rows = records(c.execute(_INCIDENT_ONE, {"id": incident_id}))
    if not rows:
        return None
    inc = incident_row(rows[0], list(c.execute(_INCIDENT_ALERTS, {"id": incident_id}).scalars()))
    timeline = records(c.execute(_EVENTS, {"id": incident_id}))
    for ev in timeline:
        ev["at"] = utc(ev["at"])
    inc["timeline"] = timeline
    return inc
