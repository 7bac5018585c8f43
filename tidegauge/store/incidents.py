"""Incidents, their timelines and status changes."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from tidegauge.core.model import Incident, IncidentStatus
from tidegauge.store import schema as s
from tidegauge.store.engine import utc

if TYPE_CHECKING:
    from tidegauge.store.store import Store

OPEN_STATUSES = [st.value for st in IncidentStatus if st.is_open]


class IncidentRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, inc: Incident, table_id: int, root_alert_id: int | None) -> int:
        with self.store.engine.begin() as c:
            res = c.execute(
                insert(s.incidents).values(
                    status=inc.status.value,
                    severity=inc.severity.value,
                    severity_reason=list(inc.severity_reason),
                    kind=inc.kind.value,
                    table_id=table_id,
                    column_name=inc.column,
                    title=inc.title,
                    summary=inc.summary,
                    owner=inc.owner,
                    data_time=inc.data_time,
                    detected_at=inc.detected_at,
                    updated_at=inc.detected_at,
                    impact=inc.impact.as_dict(),
                    root_cause=inc.root_cause,
                    root_alert_id=root_alert_id,
                )
            )
            iid = int(res.inserted_primary_key[0])  # type: ignore[index]
        inc.id = iid
        return iid

    def update(self, incident_id: int, now: datetime, **values: Any) -> None:
        with self.store.engine.begin() as c:
            c.execute(
                update(s.incidents)
                .where(s.incidents.c.id == incident_id)
                .values(updated_at=now, **values)
            )

    def add_event(
        self,
        incident_id: int,
        type_: str,
        text: str,
        at: datetime,
        *,
        actor: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        with self.store.engine.begin() as c:
            c.execute(
                insert(s.incident_events).values(
                    incident_id=incident_id,
                    at=at,
                    type=type_,
                    actor=actor,
                    text=text,
                    details=details or {},
                )
            )

    def set_status(
        self,
        incident_id: int,
        status: IncidentStatus,
        now: datetime,
        *,
        note: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        current = self.get(incident_id)
        if current is None:
            raise KeyError(f"no incident with id {incident_id}")
        self.update(incident_id, now, status=status.value)
        self.add_event(
            incident_id,
            "status",
            f"status {current['status']} → {status.value}",
            now,
            actor=actor,
            details={"from": current["status"], "to": status.value},
        )
        if note:
            self.add_event(incident_id, "note", note, now, actor=actor)
        result = self.get(incident_id)
        assert result is not None
        return result

    def list(
        self,
        *,
        status: builtins.list[str] | None = None,
        table_id: int | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> builtins.list[dict[str, Any]]:
        q = select(s.incidents)
        if status:
            q = q.where(s.incidents.c.status.in_(status))
        if table_id is not None:
            q = q.where(s.incidents.c.table_id == table_id)
        q = q.order_by(s.incidents.c.detected_at.desc(), s.incidents.c.id.desc())
        return self._rows(q.limit(limit).offset(offset))

    def open(self) -> builtins.list[dict[str, Any]]:
        return self.list(status=OPEN_STATUSES, limit=100_000)

    def get(self, incident_id: int) -> dict[str, Any] | None:
        rows = self._rows(select(s.incidents).where(s.incidents.c.id == incident_id))
        if not rows:
            return None
        inc = rows[0]
        with self.store.engine.connect() as c:
            events = c.execute(
                select(s.incident_events)
                .where(s.incident_events.c.incident_id == incident_id)
                .order_by(s.incident_events.c.at, s.incident_events.c.id)
            ).all()
        inc["timeline"] = [{**dict(e._mapping), "at": utc(e.at)} for e in events]
        return inc

    def _rows(self, q: Any) -> builtins.list[dict[str, Any]]:
        out = []
        with self.store.engine.connect() as c:
            rows = c.execute(q).all()
            ids = [r.id for r in rows]
            alert_ids: dict[int, list[int]] = {i: [] for i in ids}
            if ids:
                for aid, iid in c.execute(
                    select(s.alerts.c.id, s.alerts.c.incident_id)
                    .where(s.alerts.c.incident_id.in_(ids))
                    .order_by(s.alerts.c.id)
                ):
                    alert_ids[iid].append(aid)  # type: ignore[index,arg-type]
        tables = self.store.tables_by_id(r.table_id for r in rows)
        for r in rows:
            d = dict(r._mapping)
            t = tables.get(d["table_id"])
            d["table"] = t.ref.fqn if t else None
            d["warehouse"] = t.ref.warehouse if t else None
            d["column"] = d.pop("column_name")
            d["severity_reason"] = list(d.get("severity_reason") or [])
            d["alerts"] = alert_ids.get(d["id"], [])
            for k in ("data_time", "detected_at", "updated_at"):
                d[k] = utc(d[k])
            out.append(d)
        return out
