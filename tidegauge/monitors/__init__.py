"""Monitors as code: the declared monitors of a project, one class per monitor type.

A monitor is one discriminated union on ``type:`` — ``freshness``, ``volume``,
``field_health``, ``categorical``, ``custom_sql``, ``rule`` and ``keys`` — declared under the
project file's ``monitors:`` key, in ``monitors/*.yml`` beside it, in a dbt model's or
source's ``meta: {tidegauge: ...}``, as dbt's generic tests (``not_null``, ``unique``,
``accepted_values``, ``relationships``), or in Python with the same classes:

>>> m = VolumeMonitor(name="orders_volume", table="raw.orders", min_rows=10)
>>> m.type, m.severity
('volume', 'medium')

Where each idea lives:

* :mod:`~tidegauge.monitors.base`: what every monitor has and what each type must say;
* one module per type (``freshness.py``, ``volume.py``, ``field_health.py``,
  ``categorical.py``, ``custom_sql.py``, ``rule.py``, ``keys.py``): its settings, its query
  (a sqlglot tree the table's own warehouse renders), the series it owns, its backtest;
* :mod:`~tidegauge.monitors.registry`: ``type:`` → class, the one list of types;
* :mod:`~tidegauge.monitors.files` and :mod:`~tidegauge.monitors.dbt`: loading;
* :mod:`~tidegauge.monitors.install`: the translation into what the run reads.

To add a type: a module with a :class:`~tidegauge.monitors.base.MonitorBase` subclass, and
one line in ``registry.MONITORS``.
"""

from tidegauge.monitors.base import MonitorBase, OwnQuery, check_schedule
from tidegauge.monitors.categorical import CategoricalMonitor
from tidegauge.monitors.custom_sql import CustomSQLMonitor
from tidegauge.monitors.dbt import DbtMonitors, dbt_monitors, load_dbt_monitors
from tidegauge.monitors.field_health import FieldHealthMonitor
from tidegauge.monitors.files import (
    MonitorsFile,
    check_channels,
    check_unique,
    duplicate_names,
    load_monitor_files,
    locate,
)
from tidegauge.monitors.freshness import FreshnessMonitor
from tidegauge.monitors.install import (
    alert_kinds,
    custom_metric,
    declared_monitors,
    install,
    metric_name,
    monitor_for_alert,
    monitor_for_series,
    route,
    rule_query,
    table_settings,
)
from tidegauge.monitors.keys import KeysMonitor
from tidegauge.monitors.registry import MONITOR_TYPES, MONITORS, Monitor, parse_monitor
from tidegauge.monitors.rule import RuleMonitor
from tidegauge.monitors.volume import VolumeMonitor

#: the old private name of the base class (kept for type hints elsewhere)
_MonitorBase = MonitorBase

__all__ = [
    "MONITORS",
    "MONITOR_TYPES",
    "CategoricalMonitor",
    "CustomSQLMonitor",
    "DbtMonitors",
    "FieldHealthMonitor",
    "FreshnessMonitor",
    "KeysMonitor",
    "Monitor",
    "MonitorBase",
    "MonitorsFile",
    "OwnQuery",
    "RuleMonitor",
    "VolumeMonitor",
    "alert_kinds",
    "check_channels",
    "check_schedule",
    "check_unique",
    "custom_metric",
    "dbt_monitors",
    "declared_monitors",
    "duplicate_names",
    "install",
    "load_dbt_monitors",
    "load_monitor_files",
    "locate",
    "metric_name",
    "monitor_for_alert",
    "monitor_for_series",
    "parse_monitor",
    "route",
    "rule_query",
    "table_settings",
]
