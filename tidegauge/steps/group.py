"""Group: new alerts join open incidents or open new ones, with impact, severity and root
cause. The rules of grouping live in :mod:`tidegauge.core.incidents`; this step feeds them
lineage (table paths and column links) and what the store holds, and writes the outcome."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tidegauge.config import Project
from tidegauge.core.incidents import DOWNSTREAM, AlertRef, Link, OpenIncident
from tidegauge.core.incidents import group_alerts as group_refs
from tidegauge.core.lineage import LineageGraph, LineageLookupError
from tidegauge.core.model import Alert, AlertKind, Impact, Incident, Severity
from tidegauge.core.rootcause import segment_that_moved
from tidegauge.core.severity import ChangeEvidence, Reach, SeverityAssessment, assess_severity
from tidegauge.store.store import Store

if TYPE_CHECKING:
    from tidegauge.steps.context import RunContext

log = logging.getLogger("tidegauge.group")

RECENT = timedelta(hours=24)


class Paths:
    """Lineage between tables by lowercase ``schema.table``, cached per run: table paths
    and whether a column reads another (the two questions grouping asks)."""

    def __init__(self, graph: LineageGraph) -> None:
        self.graph = graph
        self._down = lru_cache(maxsize=4096)(self._downstream_parents)
        self._reach = lru_cache(maxsize=4096)(self._column_reach)

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

    def _column_reach(
        self, table: str, column: str
    ) -> tuple[dict[str, bool], frozenset[str], frozenset[str]]:
        """What reads ``table.column``: columns (lowercase ``schema.table.column`` → reached
        by direct edges only), the tables of those columns, and tables beyond edges whose
        column lineage is unknown. All empty when lineage does not know the column."""
        nid = self.node_id(table)
        if nid is None:
            return {}, frozenset(), frozenset()
        try:
            res = self.graph.downstream(nid, column)
        except LineageLookupError:  # the column is gone (a removal) or never was known
            return {}, frozenset(), frozenset()
        cols = {h.display.lower(): h.direct for h in res.columns}
        tables = frozenset(c.rsplit(".", 1)[0] for c in cols)
        blind = frozenset(h.node.display.lower() for h in res.nodes) - tables
        return cols, tables, blind

    def link(self, root: str, root_column: str, table: str, column: str | None) -> Link:
        """How ``table.column`` reads ``root.root_column`` (see :class:`Link`)."""
        cols, _, blind = self._reach(root, root_column.lower())
        if column is None or not cols or table in blind:
            return Link.UNKNOWN
        direct = cols.get(f"{table}.{column.lower()}")
        if direct is not None:
            return Link.DIRECT if direct else Link.INDIRECT
        # column lineage reaches this table from the root's column into other columns only,
        # or does not reach it at all
        return Link.NONE


def group_alerts(ctx: RunContext, graph: LineageGraph, alerts: list[dict[str, Any]]) -> None:
    """Join ``alerts`` to the open incidents they explain along ``graph``, and open an
    incident for each group that joins none; the report lists what was opened and updated."""
    if not alerts:
        return
    project, store, now, report = ctx.project, ctx.store, ctx.now, ctx.report
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
        stored = store.alerts.list(incident_id=inc["id"], limit=10_000)
        root_table = str(inc["table"]).lower()
        tables = {str(a["table"]).lower() for a in stored if a["table"]}
        # the root's own table says how long the problem has lasted
        on_root = [a["data_time"] for a in stored if str(a["table"]).lower() == root_table]
        last, first = (max(on_root), min(on_root)) if on_root else (None, None)
        open_incs.append(
            OpenIncident(
                inc["id"],
                root_table,
                AlertKind(inc["kind"]),
                inc["data_time"],
                tables,
                inc["column"],
                last_time=last,
                first_time=first,
            )
        )
    for group in group_refs(refs, open_incs, paths, link=paths.link):
        member_ids = [m.id for m in group.members]
        if group.incident_id is not None:
            _join(store, group.incident_id, member_ids, group.reasons, group.roles, by_id, now)
            if group.reroot is not None:
                _reroot(
                    project, store, graph, paths, group.incident_id, by_id[group.reroot.id], now
                )
            else:
                _refresh_severity(project, store, group.incident_id, now)
            report.incidents_updated.append(group.incident_id)
            continue
        root = by_id[group.root.id]["alert"]
        members = [by_id[i]["alert"] for i in member_ids]
        incident = _new_incident(project, store, graph, paths, root, members, now)
        iid = store.incidents.create(incident, by_id[group.root.id]["table_id"], root.id)
        store.alerts.set_incident(member_ids, iid)
        store.incidents.add_event(
            iid,
            "opened",
            incident.title,
            now,
            details={"root_alert": root.id, "severity_reason": incident.severity_reason},
        )
        for mid in member_ids:
            a = by_id[mid]["alert"]
            role = group.roles.get(mid, DOWNSTREAM)
            text = a.title if mid == root.id else f"{a.title} — {group.reasons.get(mid, '')}"
            store.incidents.add_event(
                iid, "alert", text, now, details={"alert_id": mid, "role": role}
            )
        report.incidents_opened.append(iid)


def _join(
    store: Store,
    incident_id: int,
    member_ids: list[int],
    reasons: dict[int, str],
    roles: dict[int, str],
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
            details={"alert_id": mid, "role": roles.get(mid, DOWNSTREAM)},
        )
    store.incidents.update(incident_id, now)


def _evidence(alerts: Iterable[Alert | dict[str, Any]]) -> list[ChangeEvidence]:
    out = []
    for a in alerts:
        if isinstance(a, Alert):
            out.append(
                ChangeEvidence(a.kind, a.metric, a.observed, a.expected, dict(a.explanation))
            )
        else:
            out.append(
                ChangeEvidence(
                    AlertKind(a["kind"]),
                    str(a["metric"]),
                    a["observed"],
                    a["expected"],
                    dict(a.get("explanation") or {}),
                )
            )
    return out


def _assess(
    project: Project,
    fqn: str,
    root_alerts: Sequence[Alert | dict[str, Any]],
    times: list[datetime],
    impact: Impact,
) -> SeverityAssessment:
    """Severity from the root problem's alerts (its own table: the root and its repeats)."""
    settings = project.settings_for(fqn)
    bucket = timedelta(seconds=(settings.bucket or project.defaults.bucket).seconds)
    lasted = (max(times) - min(times) + bucket) if times else bucket
    return assess_severity(
        _evidence(root_alerts),
        lasted=lasted,
        reach=Reach(
            models=len(impact.tables),
            exposures=len(impact.exposures),
            owners=len(impact.owners),
        ),
    )


def _refresh_severity(project: Project, store: Store, incident_id: int, now: datetime) -> None:
    """A problem that goes on grows in duration (and maybe size): its level follows, up only,
    and the summary counts its repeats and symptoms."""
    inc = store.incidents.get(incident_id)
    if inc is None or not inc["table"]:
        return
    table = str(inc["table"])
    stored = store.alerts.list(incident_id=incident_id, limit=10_000)
    on_root = [a for a in stored if str(a["table"]).lower() == table.lower()]
    impact = Impact(**{k: tuple(v) for k, v in (inc["impact"] or {}).items()})
    assessed = _assess(project, table, on_root, [a["data_time"] for a in on_root], impact)
    old = _severity(inc["severity"])
    level = assessed.level if old is None or assessed.level.rank >= old.rank else old
    root = next((a for a in stored if a["id"] == inc["root_alert_id"]), None)
    text = str((root or {}).get("explanation", {}).get("text") or inc["title"])
    store.incidents.update(
        incident_id,
        now,
        severity=level.value,
        # an incident's level never drops while it is open: keep the reasons it was raised for
        severity_reason=list(assessed.reasons)
        if level is assessed.level
        else list(inc.get("severity_reason") or []),
        summary=text + _tail(stored, table),
    )
    if old is not None and level.rank > old.rank:
        store.incidents.add_event(
            incident_id,
            "severity",
            f"severity {old.value} → {level.value}: {assessed.sentence()}",
            now,
            details={"from": old.value, "to": level.value},
        )


def _severity(value: Any) -> Severity | None:
    try:
        return Severity(value)
    except ValueError:
        return None


def _tail(members: Sequence[Any], root_table: str) -> str:
    """How many repeats of the root problem and how many downstream symptoms joined."""

    def table_of(m: Any) -> str:
        return str(m.table.fqn if isinstance(m, Alert) else m["table"]).lower()

    continuing = sum(1 for m in members if table_of(m) == root_table.lower()) - 1
    downstream = sum(1 for m in members if table_of(m) != root_table.lower())
    parts = []
    if continuing > 0:
        parts.append(f"Continuing: {continuing} more alert{'s' if continuing > 1 else ''} on it.")
    if downstream:
        parts.append(
            f"{downstream} downstream symptom{'s' if downstream > 1 else ''} grouped here."
        )
    return (" " + " ".join(parts)) if parts else ""


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
    others = [m for m in stored if m["id"] != root.id]
    incident = _new_incident(project, store, graph, paths, root, [root, *others], now)
    old = store.incidents.get(incident_id) or {}
    prev = _severity(old.get("severity"))
    keep_old = prev is not None and prev.rank > incident.severity.rank
    store.incidents.update(
        incident_id,
        now,
        table_id=new_root["table_id"],
        kind=incident.kind.value,
        column_name=incident.column,
        title=incident.title,
        summary=incident.summary,
        data_time=incident.data_time,
        # an incident's severity never drops because its root moved
        severity=(prev if keep_old and prev else incident.severity).value,
        severity_reason=list(old.get("severity_reason") or [])
        if keep_old
        else incident.severity_reason,
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


def _new_incident(
    project: Project,
    store: Store,
    graph: LineageGraph,
    paths: Paths,
    root: Alert,
    members: Sequence[Alert | dict[str, Any]],
    now: datetime,
) -> Incident:
    """The incident rooted at ``root``; ``members``: all its alerts, the root first (new ones
    as :class:`Alert`, stored ones as rows)."""
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

    def on_root(m: Alert | dict[str, Any]) -> bool:
        table = m.table.fqn if isinstance(m, Alert) else str(m["table"])
        return table.lower() == fqn.lower()

    own = [m for m in members if on_root(m)]
    times = [m.data_time if isinstance(m, Alert) else m["data_time"] for m in own]
    assessed = _assess(project, fqn, own, times, impact)
    downstream = len(members) - len(own)
    from tidegauge.core.explain import explain

    # the one plain sentence every surface shows (web, CLI, Slack, Teams, e-mail)
    text = explain(root)
    return Incident(
        kind=root.kind,
        table=root.table,
        column=root.column,
        title=root.title,
        summary=str(text) + _tail(members, fqn),
        data_time=root.data_time,
        detected_at=now,
        severity=assessed.level,
        severity_reason=list(assessed.reasons),
        owner=owner,
        impact=impact,
        root_cause=root_cause_hints(store, graph, paths, root, downstream, len(own) - 1, now),
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
    downstream: int,
    continuing: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Likely causes, most specific first: upstream schema change, failed dbt run, segment."""
    hints: list[dict[str, Any]] = []
    if downstream:
        more = f" ({continuing} more on its own table)" if continuing else ""
        hints.append(
            {
                "type": "upstream_alert",
                "text": f"{root.title} is the most upstream alert{more}; "
                f"{downstream} downstream alert(s) follow from it",
                "alert_id": root.id,
                "downstream": downstream,
                "continuing": continuing,
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
                    "usual_share": round(move.usual_share, 3),
                }
            )
    return hints


def _failed_dbt_runs(store: Store, tables: list[str], since: datetime) -> list[dict[str, Any]]:
    from tidegauge.store.lineage import root_cause_events

    wanted = {t.lower() for t in tables}
    rows = root_cause_events(store, since)
    out = []
    for r in rows:
        details = r["details"] or {}
        table = str(details.get("table", "")).lower()
        if table in wanted:
            out.append(
                {
                    "type": r["kind"],
                    "text": details.get("text") or f"{r['kind']}: {r['node']}",
                    "node": r["node"],
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
