"""Monitors become what the run already reads: per-table settings, custom SQL metrics with
bounds (the detect step checks them as ``rule`` alerts) and routes.

So a ``rule`` monitor is one exact, whole-table violation count pushed down to the warehouse
that holds its table (``max: 0``), and a learned monitor (freshness, volume, field health,
categorical, keys) switches on and tunes the learned detector of its table. Each monitor
type says what it implies (:meth:`~tidegauge.monitors.base.MonitorBase.table_settings`,
:meth:`~tidegauge.monitors.base.MonitorBase.own_query`); nothing here names a type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tidegauge.monitors.base import MonitorBase

if TYPE_CHECKING:
    from tidegauge.config import CustomMetric, Project, TableSettings
    from tidegauge.notifiers.config import RouteConfig

__all__ = [
    "alert_kinds",
    "custom_metric",
    "declared_monitors",
    "install",
    "metric_name",
    "monitor_for_alert",
    "monitor_for_series",
    "route",
    "rule_query",
    "table_settings",
]


def declared_monitors(project: Project) -> list[MonitorBase]:
    """Every monitor of the project: the file's, ``monitors/*.yml``'s and dbt's."""
    return [*project.monitors, *project.dbt_monitors]


def alert_kinds(m: MonitorBase) -> list[str]:
    """The alert kinds a monitor's findings carry (breakers and routes match on them)."""
    return [k.value for k in m.ALERT_KINDS]


def metric_name(m: MonitorBase) -> str | None:
    """The ``custom:<name>`` series a monitor's own query writes, if it has one."""
    return m.metric_name()


def table_settings(m: MonitorBase) -> dict[str, Any]:
    """The ``tables:`` entry (minus ``match``) a monitor implies for its table."""
    return m.table_settings()


def rule_query(m: MonitorBase, dialect: str | None) -> tuple[str, float | None, float | None]:
    """A monitor's own query rendered in ``dialect``, and its bounds (for display and tests:
    the run hands the tree to the warehouse that holds the table).

    >>> from tidegauge.monitors.rule import RuleMonitor
    >>> sql, lo, hi = rule_query(RuleMonitor(name="r", table="raw.orders", rule="not_null",
    ...                                      column="id"), "duckdb")
    >>> sql, hi
    ('SELECT COUNT(*) FROM raw.orders WHERE id IS NULL', 0.0)
    """
    own = m.own_query()
    if own is None:
        raise ValueError(f"monitor '{m.name}' ({m.kind}) runs no query of its own")
    sql = own.tree.sql(dialect) if own.tree is not None else own.sql or ""
    return sql, own.min, own.max


def custom_metric(project: Project, m: MonitorBase) -> CustomMetric | None:
    """The custom SQL metric (with bounds) a monitor writes, if it has one. A sqlglot tree
    rides along unrendered: the collector renders it with the table's own warehouse."""
    from tidegauge.config import CustomMetric

    own = m.own_query()
    if own is None:
        return None
    text = own.sql if own.sql is not None else own.tree.sql() if own.tree is not None else ""
    metric = CustomMetric(
        name=m.name, sql=text, table=m.fqn, warehouse=m.warehouse, min=own.min, max=own.max
    )
    metric.set_query(own.tree)
    return metric


def route(m: MonitorBase) -> RouteConfig | None:
    from tidegauge.notifiers.config import RouteConfig

    if not m.channels:
        return None
    return RouteConfig.model_validate(
        {"match": {"table": [m.fqn], "kind": alert_kinds(m)}, "channels": list(m.channels)}
    )


def install(project: Project, monitors: Sequence[MonitorBase] | None = None) -> None:
    """Translate ``monitors`` (default: every declared one) into the project's per-table
    settings, custom metrics and routes, so that ``run`` honours them.

    Idempotent: the entries the user wrote are kept aside and the derived ones are rebuilt
    after them (later ``tables:`` entries win, so a monitor overrides a glob).
    """
    from tidegauge.config import TableSettings

    base = project.user_config()
    ms = [m for m in (declared_monitors(project) if monitors is None else monitors) if m.enabled]
    tables: list[TableSettings] = []
    metrics: list[CustomMetric] = []
    routes: list[RouteConfig] = []
    for m in ms:
        settings = m.table_settings()
        if settings:
            tables.append(TableSettings.model_validate({"match": m.fqn, **settings}))
        metric = custom_metric(project, m)
        if metric is not None:
            metrics.append(metric)
        r = route(m)
        if r is not None:
            routes.append(r)
    project.tables = [*base.tables, *tables]
    project.metrics = [*base.metrics, *metrics]
    project.routes = [*base.routes, *routes]


def monitor_for_alert(
    monitors: Sequence[MonitorBase], fqn: str, kind: str, metric: str
) -> MonitorBase | None:
    """The declared monitor an alert of ``fqn`` comes from (best match), if any."""
    fqn = fqn.lower()
    mine = [m for m in monitors if m.enabled and m.fqn == fqn]
    if metric.startswith(("rule:", "custom:")):
        name = metric.split(":", 1)[1]
        for m in mine:
            if m.name == name:
                return m
    for m in mine:
        if m.claims_alert(kind):
            return m
    return None


def monitor_for_series(
    project: Project, fqn: str, metric: str, column: str | None
) -> MonitorBase | None:
    """The declared monitor (YAML, Python or dbt meta) that owns this learned series."""
    for m in declared_monitors(project):
        if m.enabled and m.fqn == fqn.lower() and m.owns(metric, column):
            return m
    return None
