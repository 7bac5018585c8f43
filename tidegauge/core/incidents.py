"""Grouping alerts into incidents along lineage and time.

One upstream failure fires on every layer below it. An alert joins the incident whose root
*explains* it, judged by lineage first and time second, the way a data engineer reasons:

- **Continuing.** A repeat on the root's own table — the same column, or the same sort of
  breakage, while the problem is still alerting — is the problem continuing, not a new
  one and not a downstream symptom. Another column of that table joins only when it moves
  in the same hour.
- **Downstream.** An alert on a table that reads the root's table joins when lineage says
  the root can explain it: its column is computed from the root's column (column lineage),
  or the root lost or delayed whole rows and this is another symptom of missing rows.
  Among several open problems upstream, the better lineage explanation wins over the one
  that happens to be closer in time. A symptom never comes before its cause, and it must
  appear while the root is still alerting or within ``window`` of its last alert (models
  build later than the tables they read).
- **Only table lineage.** When column lineage says the alert's column does *not* read the
  root's column, the table link alone is weak evidence: it joins only while the root is
  alerting in the same hour.
- **Upstream.** An alert on a table the root reads, of the same sort of breakage, is the
  cause seen after its symptom (by another run); it becomes the root.

The result is deterministic for the same input and every grouping decision carries a
sentence saying why, and a role: ``root``, ``continuing`` or ``downstream``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

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


class Link(StrEnum):
    """What column lineage says about a downstream column and the root's column."""

    DIRECT = "direct"  # its values are computed from the root column's values
    INDIRECT = "indirect"  # the root column filters, joins or groups the rows it is made of
    NONE = "none"  # its table has column lineage from the root column, not into this column
    UNKNOWN = "unknown"  # lineage cannot say (no column lineage, a table-level alert)


#: ``link(root_table, root_column, table, column)`` → how ``table.column`` reads
#: ``root_table.root_column`` (``column`` is None for a table-level alert).
ColumnLink = Callable[[str, str, str, str | None], Link]

ROOT, CONTINUING, DOWNSTREAM = "root", "continuing", "downstream"

#: how well a root explains a downstream alert, best first
_COMPUTED_FROM_ROOT, _ROWS_MISSING, _FILTERED_BY_ROOT, _UNKNOWN, _TABLE_ONLY = 0, 1, 2, 3, 4


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
    #: the data time of the latest alert on its root table: a condition that lasts (a new
    #: value keeps coming) keeps its incident reachable for as long as it keeps alerting
    last_time: datetime | None = None
    #: the data time of the earliest alert on its root table: a repeat on the root's table
    #: may be dated before the root (a share shift is dated at the start of the window it
    #: pooled), and the problem is then known to have begun there
    first_time: datetime | None = None

    @property
    def start(self) -> datetime:
        return min(self.first_time or self.data_time, self.data_time)

    def gap(self, t: datetime) -> timedelta:
        """How far ``t`` is from the incident's span of data times (zero inside it)."""
        last = max(self.last_time or self.data_time, self.data_time)
        if t < self.start:
            return self.start - t
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
    #: alert id → ``root`` | ``continuing`` | ``downstream`` (relative to the final root)
    roles: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupingPolicy:
    #: a downstream symptom may appear this long after the root's last alert (models that
    #: build later than their sources), and a repeat this long after the previous one
    window: timedelta = timedelta(hours=12)
    #: "the same hour": other columns of the root's table, links by table lineage alone,
    #: and how much earlier than its cause a symptom's bucket may start
    tight_window: timedelta = timedelta(hours=1)


@dataclass
class _Target:
    """An incident an alert may join: an open one, or one this call is forming."""

    inc: OpenIncident
    group: Group | None = None  # the group this call fills for it (created on first join)


def _reads(chain: list[str]) -> str:
    """``['raw.orders', 'stg.orders', 'fct.orders']`` → "`fct.orders` reads `stg.orders`…"."""
    pairs = [f"`{chain[i + 1]}` reads `{chain[i]}`" for i in range(len(chain) - 1)]
    return "grouped because " + ", which ".join(reversed(pairs)) if pairs else ""


def _family(kind: AlertKind) -> str | None:
    return FAMILIES.get(kind)


def _explains(
    inc: OpenIncident, alert: AlertRef, link: ColumnLink | None
) -> tuple[int | None, str]:
    """How well the root of ``inc`` explains a downstream ``alert`` (lower is better; None:
    it cannot)."""
    same_family = _family(alert.kind) == _family(inc.kind)
    linked = (
        link(inc.root_table, inc.column, alert.table, alert.column)
        if link is not None and inc.column is not None
        else Link.UNKNOWN
    )
    where = f"`{alert.table}.{alert.column}`" if alert.column else f"`{alert.table}`"
    if alert.kind is AlertKind.SCHEMA_CHANGE and inc.kind is not AlertKind.SCHEMA_CHANGE:
        # data going wrong upstream does not change a model's columns; only a schema
        # change upstream explains one downstream
        return None, ""
    if linked is Link.DIRECT:
        return _COMPUTED_FROM_ROOT, f"{where} is computed from `{inc.root_table}.{inc.column}`"
    if inc.column is None and _family(inc.kind) == "arrival":
        # rows missing or late upstream: counts, sums and shares below move with them
        return _ROWS_MISSING, f"rows missing or late in `{inc.root_table}` reach it"
    if linked is Link.INDIRECT:
        return _FILTERED_BY_ROOT, (
            f"`{inc.root_table}.{inc.column}` filters, joins or groups the rows of {where}"
        )
    if linked is Link.UNKNOWN:
        # column lineage is silent: the same sort of breakage downstream (a removed column
        # removed again) is as likely as a filtered one; anything else is a weaker guess
        return (_FILTERED_BY_ROOT if same_family else _UNKNOWN), ""
    return _TABLE_ONLY, (
        f"column lineage does not connect it to `{inc.root_table}.{inc.column}`; "
        "joined only because both alert in the same hour"
    )


def _same_table_fits(inc: OpenIncident, a: AlertRef, policy: GroupingPolicy) -> bool:
    """A repeat of the root's problem on its own table, a consequence of its missing rows,
    or another column breaking in the very hour the problem began."""
    same_family = _family(a.kind) == _family(inc.kind)
    same_column = inc.column is not None and a.column == inc.column
    if same_family or same_column:
        return inc.gap(a.data_time) <= policy.window
    if inc.column is None and _family(inc.kind) == "arrival":
        # rows missing: the table's own counts, distinct counts and shares move with them
        # for as long as rows are missing
        return inc.gap(a.data_time) <= policy.tight_window
    # a problem of another sort later on is another problem, even on a lasting incident
    return abs(a.data_time - inc.data_time) <= policy.tight_window


def _downstream_fits(inc: OpenIncident, a: AlertRef, strength: int, policy: GroupingPolicy) -> bool:
    if a.data_time < inc.start - policy.tight_window:
        return False  # a symptom does not come before its cause
    limit = policy.tight_window if strength == _TABLE_ONLY else policy.window
    return inc.gap(a.data_time) <= limit


def group_alerts(
    alerts: Sequence[AlertRef],
    open_incidents: Sequence[OpenIncident],
    path: PathFinder,
    policy: GroupingPolicy | None = None,
    *,
    link: ColumnLink | None = None,
) -> list[Group]:
    """Attach new alerts to open incidents or group them into new ones.

    Alerts are considered upstream before downstream, then oldest first (ties by id), so the
    outcome does not depend on input order. ``link`` answers column lineage questions;
    without it every column link is unknown.
    """
    policy = policy or GroupingPolicy()
    # copies: a new root moves the incident's anchor for the alerts that follow
    targets = [_Target(replace(inc, tables=set(inc.tables))) for inc in open_incidents]
    ordered = _upstream_first(sorted(alerts, key=lambda a: (a.data_time, a.id)), path)

    groups: list[Group] = []
    for alert in ordered:
        best: tuple[tuple[int, int, int, int, int, int], _Target, str, int] | None = None
        for target in targets:
            inc = target.inc
            if inc.root_table == alert.table:
                if not _same_table_fits(inc, alert, policy):
                    continue
                same_column = inc.column is not None and alert.column == inc.column
                same_family = _family(alert.kind) == _family(inc.kind)
                how = 0 if same_column else 1 if same_family else 2
                score = (0, how, 0, int(inc.gap(alert.data_time).total_seconds()), 0, inc.id)
                what = (
                    f"`{inc.column}` keeps alerting"
                    if same_column
                    else "the same sort of breakage keeps alerting"
                    if same_family
                    else "another column moved while rows were missing"
                    if inc.column is None and _family(inc.kind) == "arrival"
                    else "another column moved in the same hour"
                )
                cand = (score, target, f"continuing on `{alert.table}`: {what}", 0)
            elif chain := path(inc.root_table, alert.table):
                strength, why = _explains(inc, alert, link)
                if strength is None or not _downstream_fits(inc, alert, strength, policy):
                    continue
                same_family = _family(alert.kind) == _family(inc.kind)
                score = (
                    1,
                    strength,
                    0 if same_family else 1,
                    int(inc.gap(alert.data_time).total_seconds()),
                    len(chain) - 1,
                    inc.id,
                )
                reason = _reads(chain) + (f" ({why})" if why else "")
                cand = (score, target, reason, 1)
            elif inc.id > 0 and (chain := path(alert.table, inc.root_table)):
                # the cause seen after its symptom (by an earlier run): only the same sort
                # of breakage takes over (a table upstream of a symptom may be a sibling
                # cause). Within one call upstream alerts come first, so never needed there.
                if _family(alert.kind) != _family(inc.kind):
                    continue
                if abs(alert.data_time - inc.data_time) > policy.window:
                    continue
                score = (2, 0, 0, int(inc.gap(alert.data_time).total_seconds()), len(chain), inc.id)
                cand = (score, target, _reads(chain), -1)
            else:
                continue
            if best is None or cand[0] < best[0]:
                best = cand
        if best is None:
            group = Group(root=alert, members=[alert], reasons={}, roles={alert.id: ROOT})
            groups.append(group)
            targets.append(
                _Target(
                    OpenIncident(
                        -len(groups),
                        alert.table,
                        alert.kind,
                        alert.data_time,
                        {alert.table},
                        alert.column,
                        alert.data_time,
                    ),
                    group,
                )
            )
            continue
        _, target, reason, direction = best
        _join(target, alert, reason, direction, groups)
    for target in targets:
        g = target.group
        if g is None:
            continue
        root_id = g.root.id if g.incident_id is None or g.reroot is not None else None
        g.roles = {
            m.id: ROOT
            if m.id == root_id
            else CONTINUING
            if m.table == target.inc.root_table
            else DOWNSTREAM
            for m in g.members
        }
    return groups


def _join(
    target: _Target, alert: AlertRef, reason: str, direction: int, groups: list[Group]
) -> None:
    inc = target.inc
    joined = target.group
    if joined is None:
        joined = Group(root=alert, members=[], reasons={}, incident_id=inc.id)
        target.group = joined
        groups.append(joined)
    joined.members.append(alert)
    inc.tables.add(alert.table)
    prefix = f"joined incident #{inc.id}: " if inc.id > 0 else ""
    joined.reasons[alert.id] = prefix + reason
    if direction == 0:
        inc.last_time = max(inc.last_time or inc.data_time, alert.data_time)
        inc.first_time = min(inc.first_time or inc.data_time, alert.data_time)
    if direction < 0:
        # upstream-first order: a later such alert is on the same table or further up
        joined.reroot = alert
        joined.reasons[alert.id] = f"joined incident #{inc.id} as its new root: {reason}"
        joined.root = alert
        inc.root_table, inc.kind = alert.table, alert.kind
        inc.data_time, inc.column = alert.data_time, alert.column
        inc.last_time = inc.first_time = alert.data_time


def _upstream_first(alerts: list[AlertRef], path: PathFinder) -> list[AlertRef]:
    """Stable order where an alert never comes after an alert on a table downstream of it;
    among alerts on one table at one data time, the most severe first, so that it roots
    their incident and names it (40 added columns and one removed: the removal)."""
    tables = sorted({a.table for a in alerts})
    depth: dict[str, int] = {}
    for t in tables:
        depth[t] = sum(1 for u in tables if u != t and path(u, t))
    return sorted(alerts, key=lambda a: (depth[a.table], a.data_time, -a.severity.rank, a.id))
