"""Group: new alerts join open incidents or open new ones, with impact and root cause."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tidegauge.config import Project
from tidegauge.core.incidents import AlertRef, OpenIncident, severity_for
from tidegauge.core.incidents import group_alerts as group_refs
from tidegauge.core.lineage import LineageGraph, LineageLookupError
from tidegauge.core.model import Alert, AlertKind, Impact, Incident, Severity
from tidegauge.core.rootcause import segment_that_moved
from tidegauge.store.store import Store

if TYPE_CHECKING:
    from tidegauge.runner import RunReport

log = logging.getLogger("tidegauge.group")

RECENT = timedelta(hours=24)


class Paths:
    """Lineage paths between tables by lowercase ``schema.table``, cached per run."""

    def __init__(self, graph: LineageGraph) -> None:
        self.graph = graph
        self._down = lru_cache(maxsize=4096)(self._downstream_parents)

    def node_id(self, table: str) -> str | None:
        try:
            return self.graph.resolve(table).id
        except LineageLookupError:
            return None

    def _downstream_parents(self, table: str) -> dict[str, str]:
        nid = self.node_id(table)
        if nid is None:
            return {}
        res = self.graph.downstream(nid)
        parents: dict[str, str] = {}
        for src, dst in res.edges:
            parents.setdefault(dst, src)
        return parents

    def __call__(self, a: str, b: str) -> list[str] | None:
        """The chain of tables from ``a`` down to ``b`` when ``b`` reads ``a``."""
        parents = self._down(a)
        target = self.node_id(b)
        root = self.node_id(a)
        if not parents or target is None or target not in parents:
            return None
        chain = [target]
        while chain[-1] != root and chain[-1] in parents and len(chain) < 100:
            chain.append(parents[chain[-1]])
        return [self.graph.node(n).display for n in reversed(chain)]


def group_alerts(
    project: Project,
    store: Store,
    graph: LineageGraph,
    alerts: list[dict[str, Any]],
    now: datetime,
    report: RunReport,
) -> None:
    if not alerts:
        return
    paths = Paths(graph)
    by_id: dict[int, dict[str, Any]] = {a["id"]: a for a in alerts}
    refs = [
        AlertRef(
            a["id"], a["table"].fqn.lower(), a["kind"], a["data_time"], a["severity"], a["column"]
        )
        for a in alerts
    ]
    open_incs = []
    for inc in store.incidents.open():
        members = store.alerts.list(incident_id=inc["id"])
        tables = {str(a["table"]).lower() for a in members if a["table"]}
        last = max((a["data_time"] for a in members if a["data_time"]), default=None)
        open_incs.append(
            OpenIncident(
                inc["id"],
                str(inc["table"]).lower(),
                AlertKind(inc["kind"]),
                inc["data_time"],
                tables,
                inc["column"],
                last_time=last,
            )
        )
    for group in group_refs(refs, open_incs, paths):
        member_ids = [m.id for m in group.members]
        if group.incident_id is not None:
            _join(store, group.incident_id, member_ids, group.reasons, by_id, now)
            if group.reroot is not None:
                _reroot(
                    project, store, graph, paths, group.incident_id, by_id[group.reroot.id], now
                )
            report.incidents_updated.append(group.incident_id)
            continue
        root = by_id[group.root.id]["alert"]
        incident = _new_incident(
            project,
            store,
            graph,
            paths,
            root,
            [by_id[i]["alert"].severity for i in member_ids],
            now,
        )
        iid = store.incidents.create(incident, by_id[group.root.id]["table_id"], root.id)
        store.alerts.set_incident(member_ids, iid)
        store.incidents.add_event(
            iid, "opened", incident.title, now, details={"root_alert": root.id}
        )
        for mid in member_ids:
            a = by_id[mid]["alert"]
            text = a.title if mid == root.id else f"{a.title} — {group.reasons.get(mid, '')}"
            store.incidents.add_event(iid, "alert", text, now, details={"alert_id": mid})
        report.incidents_opened.append(iid)


def _join(
    store: Store,
    incident_id: int,
    member_ids: list[int],
    reasons: dict[int, str],
    by_id: dict[int, dict[str, Any]],
    now: datetime,
) -> None:
    store.alerts.set_incident(member_ids, incident_id)
    for mid in member_ids:
        a = by_id[mid]["alert"]
        store.incidents.add_event(
            incident_id,
            "alert",
            f"{a.title} — {reasons.get(mid, '')}",
            now,
            details={"alert_id": mid},
        )
    store.incidents.update(incident_id, now)


def _reroot(
    project: Project,
    store: Store,
    graph: LineageGraph,
    paths: Paths,
    incident_id: int,
    new_root: dict[str, Any],
    now: datetime,
) -> None:
    """Make an upstream alert the incident's root: title, table, impact and causes follow."""
    root: Alert = new_root["alert"]
    stored = store.alerts.list(incident_id=incident_id, limit=10_000)
    severities = [Severity(m["severity"]) for m in stored if m["id"] != root.id]
    incident = _new_incident(project, store, graph, paths, root, [root.severity, *severities], now)
    old = store.incidents.get(incident_id) or {}
    store.incidents.update(
        incident_id,
        now,
        table_id=new_root["table_id"],
        kind=incident.kind.value,
        column_name=incident.column,
        title=incident.title,
        summary=incident.summary,
        data_time=incident.data_time,
        severity=_max_severity(
            str(old.get("severity") or incident.severity.value), incident.severity
        ).value,
        owner=incident.owner or old.get("owner"),
        impact=incident.impact.as_dict(),
        root_cause=incident.root_cause,
        root_alert_id=root.id,
    )
    store.incidents.add_event(
        incident_id,
        "rerooted",
        f"root moved upstream to {root.title} (was: {old.get('title', '?')})",
        now,
        details={"root_alert": root.id, "previous_root_alert": old.get("root_alert_id")},
    )


def _max_severity(old: str, new: Severity) -> Severity:
    """An incident's severity never drops because its root moved."""
    try:
        prev = Severity(old)
    except ValueError:
        return new
    return prev if prev.rank >= new.rank else new


def _new_incident(
    project: Project,
    store: Store,
    graph: LineageGraph,
    paths: Paths,
    root: Alert,
    severities: list[Severity],
    now: datetime,
) -> Incident:
    """The incident rooted at ``root``; ``severities`` of all its alerts, the root's first."""
    fqn = root.table.fqn
    node_id = paths.node_id(fqn.lower())
    impact = Impact()
    owner = project.settings_for(fqn).owner
    tags: tuple[str, ...] = tuple(project.settings_for(fqn).tags)
    if node_id is not None:
        try:
            impact = graph.impact(node_id, root.column)
        except LineageLookupError:
            impact = graph.impact(node_id)
        node = graph.node(node_id)
        owner = owner or (node.owners[0] if node.owners else None)
        tags = tags or node.tags
    severity = severity_for(
        root.kind,
        max(severities, key=lambda s: s.rank, default=Severity.MEDIUM),
        exposures=len(impact.exposures),
        owners=len(impact.owners),
        downstream_tables=len(impact.tables),
    )
    symptoms = len(severities) - 1
    from tidegauge.core.explain import explain

    # the one plain sentence every surface shows (web, CLI, Slack, Teams, e-mail)
    summary = explain(root)
    if symptoms:
        summary += f" {symptoms} downstream symptom{'s' if symptoms > 1 else ''} grouped here."
    return Incident(
        kind=root.kind,
        table=root.table,
        column=root.column,
        title=root.title,
        summary=summary,
        data_time=root.data_time,
        detected_at=now,
        severity=severity,
        owner=owner,
        impact=impact,
        root_cause=root_cause_hints(store, graph, paths, root, len(severities), now),
        observed=root.observed,
        expected=root.expected,
        lower=root.lower,
        upper=root.upper,
        tags=tuple(tags),
    )


def root_cause_hints(
    store: Store,
    graph: LineageGraph,
    paths: Paths,
    root: Alert,
    n_alerts: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Likely causes, most specific first: upstream schema change, failed dbt run, segment."""
    hints: list[dict[str, Any]] = []
    if n_alerts > 1:
        hints.append(
            {
                "type": "upstream_alert",
                "text": f"{root.title} is the most upstream alert; "
                f"{n_alerts - 1} downstream alert(s) follow from it",
                "alert_id": root.id,
            }
        )
    upstream_tables = [root.table.fqn]
    node_id = paths.node_id(root.table.fqn.lower())
    if node_id is not None:
        upstream_tables += [h.node.display for h in graph.upstream(node_id).nodes if h.node.fqn]
    window_start = root.data_time - RECENT
    for fqn in upstream_tables:
        stored = store.find_table(fqn)
        if stored is None:
            continue
        for ev in store.schema_events(stored.id):
            if ev["detected_at"] >= window_start:
                hints.append(
                    {
                        "type": "schema_change",
                        "text": f"schema change upstream in `{fqn}`: {ev['change']} "
                        f"`{ev['column_name']}`",
                        "table": fqn,
                        "column": ev["column_name"],
                    }
                )
    hints.extend(_failed_dbt_runs(store, upstream_tables, window_start))
    if root.kind in (
        AlertKind.VOLUME,
        AlertKind.DISTRIBUTION,
        AlertKind.NULL_RATE,
        AlertKind.CUSTOM,
    ):
        move = _segment_move(store, root)
        if move is not None:
            hints.append(
                {
                    "type": "segment",
                    "text": move.text,
                    "column": move.column,
                    "value": move.value,
                    "share_of_change": round(move.share_of_change, 3),
                }
            )
    return hints


def _failed_dbt_runs(store: Store, tables: list[str], since: datetime) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from tidegauge.store import schema as s

    wanted = {t.lower() for t in tables}
    with store.engine.connect() as c:
        rows = c.execute(select(s.root_cause_events).where(s.root_cause_events.c.at >= since)).all()
    out = []
    for r in rows:
        details = r.details or {}
        table = str(details.get("table", "")).lower()
        if table in wanted:
            out.append(
                {
                    "type": r.kind,
                    "text": details.get("text") or f"{r.kind}: {r.node}",
                    "node": r.node,
                    "table": table,
                }
            )
    return out


def _segment_move(store: Store, root: Alert) -> Any:
    stored = store.find_table(root.table.fqn)
    if stored is None:
        return None
    since = root.data_time - timedelta(days=29)
    counts: dict[str, dict[str, list[tuple[datetime, float]]]] = {}
    for p in store.points(
        stored.id, metric="value_count", since=since, until=root.data_time + timedelta(seconds=1)
    ):
        if p.column and p.segment and p.value is not None:
            counts.setdefault(p.column, {}).setdefault(p.segment, []).append(
                (p.bucket_start, p.value)
            )
    if not counts:
        return None
    return segment_that_moved(counts, root.data_time)
