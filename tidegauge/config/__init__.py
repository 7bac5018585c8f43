"""The project file ``tidegauge.yml`` as pydantic models.

Every extension point is one discriminated union on ``type:``. Errors name the file,
the line and the key, and suggest the closest valid key for a typo.

Where each part lives: the whole file, and the lookups a run makes on it, in
:mod:`~tidegauge.config.project`; ``tables:``, ``defaults:`` and ``metrics:`` in
:mod:`~tidegauge.config.tables`; a calendar of special days in
:mod:`~tidegauge.config.calendar`; ``warehouses:``, ``store:``, ``dbt:``, ``openlineage:``,
``web:`` and ``execution:`` in :mod:`~tidegauge.config.sections`; what they share (the strict
base model, buckets, durations) in :mod:`~tidegauge.config.base`; reading the file and
reporting its errors in :mod:`~tidegauge.config.load`. Every name is importable from here.
"""

from __future__ import annotations

from tidegauge.config.base import Bucket, Duration, Strict
from tidegauge.config.calendar import CalendarConfig, DateRange
from tidegauge.config.load import load_monitors, load_project, parse_project
from tidegauge.config.project import Project, UserConfig
from tidegauge.config.sections import (
    DbtConfig,
    ExecutionConfig,
    OpenLineageConfig,
    RetentionConfig,
    StoreConfig,
    WarehouseConfig,
    WebConfig,
)
from tidegauge.config.tables import CustomMetric, Defaults, TableSettings
from tidegauge.core.units import parse_duration
from tidegauge.yamlsource import ConfigError

__all__ = [
    "Bucket",
    "CalendarConfig",
    "ConfigError",
    "CustomMetric",
    "DateRange",
    "DbtConfig",
    "Defaults",
    "Duration",
    "ExecutionConfig",
    "OpenLineageConfig",
    "Project",
    "RetentionConfig",
    "StoreConfig",
    "Strict",
    "TableSettings",
    "UserConfig",
    "WarehouseConfig",
    "WebConfig",
    "load_monitors",
    "load_project",
    "parse_duration",
    "parse_project",
]
