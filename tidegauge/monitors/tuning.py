"""How a series is judged: its detector settings from the metric catalogue, the table's
settings and the monitor that owns it. Live detection, chart bands and every monitor's
backtest read these, so all three judge a series the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidegauge.core.catalogue import all_specs
from tidegauge.core.detectors.base import DetectorSettings, Direction, Sensitivity
from tidegauge.core.model import AlertKind

if TYPE_CHECKING:
    from tidegauge.config import Project, TableSettings

__all__ = ["RATE_FLOOR", "SERIES_KINDS", "detector_settings", "metric_settings"]

#: metric → alert kind, and which way is bad by default (from the metric catalogue)
SERIES_KINDS: dict[str, tuple[AlertKind, Direction]] = {
    **{str(m.name): (m.kind, m.direction) for m in all_specs() if m.kind is not None and m.scored},
    "custom": (AlertKind.CUSTOM, Direction.BOTH),
}

#: proportions need an absolute floor: a null rate going 0.0001 → 0.0003 is not news
RATE_FLOOR = 0.01


def detector_settings(
    metric: str,
    settings: TableSettings,
    project: Project,
    *,
    column: str | None = None,
) -> DetectorSettings:
    """The settings a series is detected with: the metric's defaults, the table's
    sensitivity, and what a declared monitor that owns the series says."""
    from tidegauge.monitors import monitor_for_series

    _, direction = SERIES_KINDS.get(metric, (AlertKind.CUSTOM, Direction.BOTH))
    sens = Sensitivity(settings.sensitivity or project.defaults.sensitivity)
    monitor = monitor_for_series(project, settings.match, metric, column)
    if monitor is not None:  # what the owner declared wins over the metric's default
        direction = Direction(monitor.direction) if monitor.direction else direction
        sens = Sensitivity(monitor.sensitivity) if monitor.sensitivity else sens
    return metric_settings(metric, sens, direction)


def metric_settings(
    metric: str, sensitivity: Sensitivity = Sensitivity.MEDIUM, direction: Direction | None = None
) -> DetectorSettings:
    """A metric's detector settings before any table or monitor says otherwise: its direction
    and the minimum change worth an alert (a rate by ``RATE_FLOOR``, a count by one and 10%).

    >>> metric_settings("null_rate").min_abs_change
    0.01
    """
    if direction is None:
        direction = SERIES_KINDS.get(metric, (AlertKind.CUSTOM, Direction.BOTH))[1]
    rate = metric.endswith("_rate")
    return DetectorSettings(
        sensitivity=sensitivity,
        direction=direction,
        min_abs_change=RATE_FLOOR if rate else (1.0 if metric.endswith("count") else 0.0),
        min_rel_change=0.0 if rate else 0.1,
    )
