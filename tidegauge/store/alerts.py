"""Alerts and the feedback users give on them."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select, update

from tidegauge.core.model import Alert, AlertKind, Feedback, Severity
from tidegauge.store import schema as s
from tidegauge.store.engine import upsert, utc
from tidegauge.store.incidents import OPEN_STATUSES

if TYPE_CHECKING:
    from tidegauge.store.store import Store

#: table ids bound in one ``IN (…)`` (SQLite allows 32,766 variables)
IDS_PER_QUERY = 500


def series_key(table_id: int, metric: str, column: str | None, segment: str | None) -> str:
    return f"{table_id}|{metric}|{column or ''}|{segment or ''}"


class AlertRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, alert: Alert, table_id: int, run_id: int | None) -> int | None:
        """Store an alert once; returns its id, or None when the same alert already exists."""
        row = _row(alert, table_id, run_id)
        stmt = upsert(self.store.dialect, s.alerts, [row], ["fingerprint"], None)
        with self.store.engine.begin() as c:
            aid = c.execute(stmt.returning(s.alerts.c.id)).scalar()
        if aid is None:
            return None  # the same alert exists (a re-run, or another process got there)
        alert.id = int(aid)
        return alert.id

    def add_many(
        self, items: Sequence[tuple[Alert, int]], run_id: int | None
    ) -> builtins.list[int | None]:
        """Store (alert, table id) pairs in one transaction; per pair the new id, or None
        when the same alert already exists. Ids are set on the alerts once committed."""
        if not items:
            return []
        ids: builtins.list[int | None] = []
        with self.store.engine.begin() as c:
            for alert, table_id in items:
                stmt = upsert(
                    self.store.dialect,
                    s.alerts,
                    [_row(alert, table_id, run_id)],
                    ["fingerprint"],
                    None,
                )
                aid = c.execute(stmt.returning(s.alerts.c.id)).scalar()
                ids.append(None if aid is None else int(aid))
        for (alert, _), aid in zip(items, ids, strict=True):
            if aid is not None:
                alert.id = aid
        return ids

    def get(self, alert_id: int) -> dict[str, Any] | None:
        rows = self._query(select(s.alerts).where(s.alerts.c.id == alert_id))
        return rows[0] if rows else None

    def list(
        self,
        *,
        since: datetime | None = None,
        table_id: int | None = None,
        kind: str | None = None,
        incident_id: int | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> builtins.list[dict[str, Any]]:
        q = select(s.alerts)
        if since is not None:
            q = q.where(s.alerts.c.detected_at >= since)
        if table_id is not None:
            q = q.where(s.alerts.c.table_id == table_id)
        if kind is not None:
            q = q.where(s.alerts.c.kind == kind)
        if incident_id is not None:
            q = q.where(s.alerts.c.incident_id == incident_id)
        q = q.order_by(s.alerts.c.data_time.desc(), s.alerts.c.id.desc())
        return self._query(q.limit(limit).offset(offset))

    def for_grouping(
        self,
        *,
        ids: Sequence[int] | None = None,
        orphans_of_runs: Sequence[int] | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Stored alerts rebuilt as ``detect_tables`` returns them (the input of grouping):
        those with ``ids`` (alerts Celery workers stored), and those of the runs
        ``orphans_of_runs`` that never joined an incident (alerts of interrupted runs)."""
        a = s.alerts
        where: builtins.list[Any] = []
        if ids is not None:
            where.append(a.c.id.in_(list(ids)))
        if orphans_of_runs is not None:
            where += [a.c.incident_id.is_(None), a.c.run_id.in_(list(orphans_of_runs))]
        with self.store.engine.connect() as c:
            rows = c.execute(select(a).where(*where).order_by(a.c.id)).all()
        tables = self.store.tables_by_id({r.table_id for r in rows})
        out = []
        for r in rows:
            table = tables.get(r.table_id)
            if table is None:
                continue
            alert = Alert(
                kind=AlertKind(r.kind),
                table=table.ref,
                metric=r.metric,
                data_time=utc(r.data_time),  # type: ignore[arg-type]
                detected_at=utc(r.detected_at),  # type: ignore[arg-type]
                column=r.column_name,
                segment=r.segment,
                observed=r.observed,
                expected=r.expected,
                lower=r.lower,
                upper=r.upper,
                severity=Severity(r.severity),
                title=r.title,
                explanation=dict(r.explanation or {}),
                id=int(r.id),
            )
            out.append(
                {
                    "id": alert.id,
                    "table_id": r.table_id,
                    "table": alert.table,
                    "kind": alert.kind,
                    "column": alert.column,
                    "data_time": alert.data_time,
                    "severity": alert.severity,
                    "alert": alert,
                }
            )
        return out

    def in_open_incidents(self, table_id: int) -> builtins.list[dict[str, Any]]:
        """Alerts of a table in an open incident and not marked expected / false positive,
        newest data first: id, kind, metric, column, severity, title, incident_id,
        data_time."""
        a, i = s.alerts, s.incidents
        q = (
            select(
                a.c.id,
                a.c.kind,
                a.c.metric,
                a.c.column_name,
                a.c.severity,
                a.c.title,
                a.c.incident_id,
                a.c.data_time,
            )
            .select_from(a.join(i, i.c.id == a.c.incident_id))
            .where(a.c.table_id == table_id, i.c.status.in_(OPEN_STATUSES))
            .where(or_(a.c.feedback.is_(None), a.c.feedback.not_in(["expected", "false_positive"])))
            .order_by(a.c.data_time.desc(), a.c.id.desc())
        )
        with self.store.engine.connect() as c:
            return [{**r._mapping, "column": r.column_name} for r in c.execute(q)]

    def _query(self, q: Any) -> builtins.list[dict[str, Any]]:
        with self.store.engine.connect() as c:
            rows = c.execute(q).all()
        # only the tables these alerts are on, not the whole inventory on every list
        tables = self.store.tables_by_id(r.table_id for r in rows)
        out = []
        for r in rows:
            d = dict(r._mapping)
            t = tables.get(d["table_id"])
            d["table"] = t.ref.fqn if t else None
            d["warehouse"] = t.ref.warehouse if t else None
            d["column"] = d.pop("column_name")
            for k in ("data_time", "detected_at", "feedback_at"):
                d[k] = utc(d[k])
            out.append(d)
        return out

    def set_incident(self, alert_ids: builtins.list[int], incident_id: int) -> None:
        if alert_ids:
            with self.store.engine.begin() as c:
                c.execute(
                    update(s.alerts)
                    .where(s.alerts.c.id.in_(alert_ids))
                    .values(incident_id=incident_id)
                )

    def set_feedback(
        self, alert_id: int, value: Feedback, now: datetime, actor: str | None = None
    ) -> dict[str, Any]:
        """Record feedback on an alert; detectors read it back when they train."""
        alert = self.get(alert_id)
        if alert is None:
            raise KeyError(f"no alert with id {alert_id}")
        with self.store.engine.begin() as c:
            c.execute(
                update(s.alerts)
                .where(s.alerts.c.id == alert_id)
                .values(feedback=value.value, feedback_at=now)
            )
            c.execute(
                insert(s.feedback).values(
                    alert_id=alert_id,
                    series=series_key(
                        alert["table_id"], alert["metric"], alert["column"], alert["segment"]
                    ),
                    value=value.value,
                    data_time=alert["data_time"],
                    at=now,
                    actor=actor,
                )
            )
        alert["feedback"] = value.value
        return alert

    def feedback_for_many(
        self, table_ids: Iterable[int]
    ) -> dict[int, dict[str, builtins.list[tuple[datetime, str]]]]:
        """:meth:`feedback_for` of many tables (feedback is keyed by its alert's table)."""
        out: dict[int, dict[str, builtins.list[tuple[datetime, str]]]] = {}
        wanted = sorted(set(table_ids))
        f, a = s.feedback, s.alerts
        with self.store.engine.connect() as c:
            for i in range(0, len(wanted), IDS_PER_QUERY):
                rows = c.execute(
                    select(a.c.table_id, f.c.series, f.c.data_time, f.c.value)
                    .select_from(f.join(a, a.c.id == f.c.alert_id))
                    .where(a.c.table_id.in_(wanted[i : i + IDS_PER_QUERY]))
                    .order_by(f.c.data_time, f.c.id)
                ).all()
                for r in rows:
                    per_table = out.setdefault(int(r.table_id), {})
                    per_table.setdefault(r.series, []).append(
                        (utc(r.data_time), r.value)  # type: ignore[arg-type]
                    )
        return out

    def feedback_for(self, table_id: int) -> dict[str, builtins.list[tuple[datetime, str]]]:
        """Feedback per series key of a table: (data_time, value), oldest first."""
        return self.feedback_for_many([table_id]).get(table_id, {})

    def flagged_times(self, table_id: int) -> dict[str, set[datetime]]:
        """Data times already alerted per series (they leave the training set)."""
        return self.flagged_times_many([table_id]).get(table_id, {})

    def flagged_times_many(self, table_ids: Iterable[int]) -> dict[int, dict[str, set[datetime]]]:
        """:meth:`flagged_times` of many tables, one query per few hundred tables."""
        out: dict[int, dict[str, set[datetime]]] = {}
        wanted = sorted(set(table_ids))
        with self.store.engine.connect() as c:
            for i in range(0, len(wanted), IDS_PER_QUERY):
                rows = c.execute(
                    select(
                        s.alerts.c.table_id,
                        s.alerts.c.metric,
                        s.alerts.c.column_name,
                        s.alerts.c.segment,
                        s.alerts.c.data_time,
                        s.alerts.c.feedback,
                    ).where(s.alerts.c.table_id.in_(wanted[i : i + IDS_PER_QUERY]))
                ).all()
                for r in rows:
                    if r.feedback in (Feedback.EXPECTED.value, Feedback.FALSE_POSITIVE.value):
                        continue  # the user says it was normal: keep it in training
                    key = series_key(r.table_id, str(r.metric), r.column_name, r.segment)
                    per_table = out.setdefault(int(r.table_id), {})
                    per_table.setdefault(key, set()).add(utc(r.data_time))  # type: ignore[arg-type]
        return out


def _row(alert: Alert, table_id: int, run_id: int | None) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "kind": alert.kind.value,
        "table_id": table_id,
        "column_name": alert.column,
        "segment": alert.segment,
        "metric": alert.metric,
        "observed": _finite(alert.observed),
        "expected": _finite(alert.expected),
        "lower": _finite(alert.lower),
        "upper": _finite(alert.upper),
        "data_time": alert.data_time,
        "detected_at": alert.detected_at,
        "severity": alert.severity.value,
        "title": alert.title,
        "explanation": alert.explanation,
        "run_id": run_id,
    }


def _finite(v: float | None) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if f == f and f not in (float("inf"), float("-inf")) else None
