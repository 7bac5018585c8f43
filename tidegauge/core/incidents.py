"""Grouping alerts into incidents along lineage and time.

One upstream failure fires on every layer below it. Alerts whose tables are connected
in lineage (or are the same table), with data times inside a window, become one
incident rooted at the most upstream alert. The result is deterministic for the same
input and every grouping decision carries a sentence saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tidegauge.core.model import AlertKind, Severity

#: Kinds that describe the same sort of breakage; alerts of one family group more readily.
FAMILIES: dict[AlertKind, str] = {
    AlertKind.VOLUME: "arrival",
    AlertKind.FRESHNESS: "arrival",
    AlertKind.DUPLICATES: "arrival",
    AlertKind.CATEGORY_NEW_VALUE: "values",
    AlertKind.CATEGORY_VANISHED: "values",
    AlertKind.CATEGORY_SHIFT: "values",
    AlertKind.NULL_RATE: "quality",
    AlertKind.DISTINCT: "quality",
    AlertKind.DISTRIBUTION: "quality",
    AlertKind.SCHEMA_CHANGE: "schema",
    AlertKind.RULE: "rule",
    AlertKind.CUSTOM: "custom",
}

#: ``path(a, b)`` → the chain of tables from ``a`` down to ``b`` if ``b`` reads ``a``.
PathFinder = Callable[[str, str], list[str] | None]


@dataclass(frozen=True)
class AlertRef:
    """What grouping needs to know about an alert."""

    id: int
    table: str  # lowercase schema.table (lineage key)
    kind: AlertKind
    data_time: datetime
    severity: Severity = Severity.MEDIUM
    column: str | None = None


@dataclass
class OpenIncident:
    id: int
    root_table: str
    kind: AlertKind
    data_time: datetime
    tables: set[str] = field(default_factory=set)
    column: str | None = None
    #: the data time of its latest alert: a condition that lasts (a new value keeps coming)
    #: keeps its incident reachable for as long as it keeps alerting
    last_time: datetime | None = None

    def gap(self, t: datetime) -> timedelta:
        """How far ``t`` is from the incident's span of data times (zero inside it)."""
        last = max(self.last_time or self.data_time, self.data_time)
        if t < self.data_time:
            return self.data_time - t
        return max(t - last, timedelta(0))


@dataclass
class Group:
    """A set of alerts that form one incident (new, or joining ``incident_id``)."""

    root: AlertRef
    members: list[AlertRef]
    reasons: dict[int, str]
    incident_id: int | None = None
    #: an alert upstream of the open incident's root that becomes its new root (another
    #: run saw the symptom first; the cause arrived later)
    reroot: AlertRef | None = None


@dataclass(frozen=True)
class GroupingPolicy:
    #: alerts on connected tables whose data times differ by at most this join
    window: timedelta = timedelta(hours=12)
    #: alerts of different families on the same table join only this close in time
    tight_window: timedelta = timedelta(hours=1)


def _relation(a: str, b: str, path: PathFinder) -> tuple[int, str] | None:
    """How ``b`` relates to ``a``: (0 same table | 1 b downstream | -1 b upstream, reason)."""
    if a == b:
        return 0, f"same table `{a}`"
    down = path(a, b)
    if down:
        return 1, _reads(down)
    up = path(b, a)
    if up:
        return -1, _reads(up)
    return None


def _reads(chain: list[str]) -> str:
    """``['raw.orders', 'stg.orders', 'fct.orders']`` → "`fct.orders` reads `stg.orders`…"."""
    pairs = [f"`{chain[i + 1]}` reads `{chain[i]}`" for i in range(len(chain) - 1)]
    return "grouped because " + ", which ".join(reversed(pairs)) if pairs else ""


def _compatible(
    a: AlertRef,
    kind: AlertKind,
    data_time: datetime,
    rel: int,
    policy: GroupingPolicy,
    column: str | None = None,
    gap: timedelta | None = None,
) -> bool:
    """``gap``: how far the alert is from an open incident's span of data times. A lasting
    incident stays reachable through it for its own family and its own column; everything
    else is measured from the incident's start."""
    dt = abs(a.data_time - data_time)
    span = dt if gap is None else min(gap, dt)
    same_family = FAMILIES.get(a.kind) == FAMILIES.get(kind)
    same_column = rel == 0 and column is not None and a.column == column
    if same_family or same_column:
        return span <= policy.window
    if dt > policy.window:
        return False
    if rel == 0:
        # the same column moving in another way (a new value lengthens strings) is the same
        # problem (above); other columns of the table only when it happens at the same time
        return dt <= policy.tight_window
    # a downstream symptom of another family (a schema change upstream breaks a model,
    # a volume drop upstream moves a downstream null rate) still belongs to the cause
    return True


def group_alerts(
    alerts: Sequence[AlertRef],
    open_incidents: Sequence[OpenIncident],
    path: PathFinder,
    policy: GroupingPolicy | None = None,
) -> list[Group]:
    """Attach new alerts to open incidents or group them into new ones.

    Alerts are considered oldest first, upstream before downstream (ties by id) so the
    outcome does not depend on input order.
    """
    policy = policy or GroupingPolicy()
    # copies: a new root moves the incident's anchor for the alerts that follow
    open_incidents = [replace(inc, tables=set(inc.tables)) for inc in open_incidents]
    ordered = sorted(alerts, key=lambda a: (a.data_time, a.id))
    # upstream first: an alert whose table another alert's table reads goes earlier
    ordered = _upstream_first(ordered, path)

    groups: list[Group] = []
    existing: dict[int, Group] = {}
    for alert in ordered:
        best: tuple[tuple[int, int, int, float, int], Group | OpenIncident, str, int] | None = None
        for inc in open_incidents:
            # the root's own table and what reads it join. A table the root reads joins too
            # when the alert is of the same family (the cause seen after its symptom, e.g.
            # by another run) and becomes the root; a table upstream of one of the
            # incident's other symptoms may be a sibling cause and does not join.
            rel = _relation(inc.root_table, alert.table, path)
            if rel is None:
                continue
            same_family = FAMILIES.get(alert.kind) == FAMILIES.get(inc.kind)
            if rel[0] < 0 and not same_family:
                continue
            gap = inc.gap(alert.data_time)
            if not _compatible(alert, inc.kind, inc.data_time, rel[0], policy, inc.column, gap):
                continue
            dt = abs(alert.data_time - inc.data_time)
            score = (
                0 if dt <= policy.tight_window else 1,
                0 if same_family else 1,
                abs(rel[0]) + (1 if rel[0] < 0 else 0),
                min(gap, dt).total_seconds(),
                inc.id,
            )
            if best is None or score < best[0]:
                best = (score, inc, rel[1], rel[0])
        for g in groups:
            rel = _relation(g.root.table, alert.table, path)
            if rel is None or rel[0] < 0:
                continue
            if not _compatible(alert, g.root.kind, g.root.data_time, rel[0], policy, g.root.column):
                continue
            same_family = FAMILIES.get(alert.kind) == FAMILIES.get(g.root.kind)
            score = (
                0 if abs(alert.data_time - g.root.data_time) <= policy.tight_window else 1,
                0 if same_family else 1,
                rel[0],
                abs((alert.data_time - g.root.data_time).total_seconds()),
                -1,
            )
            if best is None or score < best[0]:
                best = (score, g, rel[1], rel[0])
        if best is None:
            groups.append(Group(root=alert, members=[alert], reasons={}))
            continue
        _, target, reason, direction = best
        if isinstance(target, OpenIncident):
            joined = existing.get(target.id)
            if joined is None:
                joined = Group(root=alert, members=[], reasons={}, incident_id=target.id)
                existing[target.id] = joined
                groups.append(joined)
            joined.members.append(alert)
            joined.reasons[alert.id] = f"joined incident #{target.id}: {reason}"
            target.last_time = max(target.last_time or target.data_time, alert.data_time)
            if direction < 0 and joined.reroot is None:
                # upstream-first order: the first such alert is the most upstream one
                joined.reroot = alert
                joined.root = alert
                target.root_table, target.kind = alert.table, alert.kind
                target.data_time, target.column = alert.data_time, alert.column
                joined.reasons[alert.id] = f"joined incident #{target.id} as its new root: {reason}"
        else:
            target.members.append(alert)
            target.reasons[alert.id] = reason
    return groups


def _upstream_first(alerts: list[AlertRef], path: PathFinder) -> list[AlertRef]:
    """Stable order where an alert never comes after an alert on a table downstream of it."""
    tables = sorted({a.table for a in alerts})
    depth: dict[str, int] = {}
    for t in tables:
        depth[t] = sum(1 for u in tables if u != t and path(u, t))
    return sorted(alerts, key=lambda a: (depth[a.table], a.data_time, a.id))


def severity_for(
    kind: AlertKind,
    base: Severity,
    *,
    exposures: int,
    owners: int,
    downstream_tables: int,
) -> Severity:
    """Severity from the kind and the blast radius: dashboards and people hit raise it."""
    rank = base.rank
    if kind in (AlertKind.SCHEMA_CHANGE, AlertKind.FRESHNESS) and rank < Severity.MEDIUM.rank:
        rank = Severity.MEDIUM.rank
    if exposures > 0:
        rank = max(rank, Severity.HIGH.rank)
    if exposures >= 3 or (exposures > 0 and owners >= 3):
        rank = max(rank, Severity.CRITICAL.rank)
    elif downstream_tables >= 5:
        rank = max(rank, Severity.HIGH.rank)
    elif downstream_tables >= 1:
        rank = max(rank, Severity.MEDIUM.rank)
    return list(Severity)[min(rank, Severity.CRITICAL.rank)]
