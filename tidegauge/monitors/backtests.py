"""Replays over stored history that monitor types share for their backtests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tidegauge.monitors.base import MonitorBase, Series

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import StoredTable

__all__ = ["add_bound", "learned", "rate"]

#: a learned series needs this many points before a replay says anything
MIN_POINTS = 16


def learned(
    project: Project, table: StoredTable, m: MonitorBase, chosen: Series, days: float
) -> dict[str, Any] | None:
    """Replay the learned detector over each chosen series, as the run would tune it."""
    from tidegauge.core.detectors.backtest import backtest
    from tidegauge.steps.detect import detector_settings

    total, weeks, tested = 0, 0, 0
    for (metric, _col, _seg), pts in chosen.items():
        if len(pts) < MIN_POINTS:
            continue
        settings = detector_settings(metric, project.settings_for(table.ref.fqn), project)
        changes: dict[str, Any] = {}
        if m.sensitivity:
            changes["sensitivity"] = type(settings.sensitivity)(m.sensitivity)
        if m.direction:
            changes["direction"] = type(settings.direction)(m.direction)
        try:
            res = backtest(
                [p.bucket_start for p in pts],
                [float(p.value) for p in pts],
                settings.with_(**changes),
                days,
                metric=metric,
            )
        except ValueError:
            continue
        total += res.alerts
        weeks = max(weeks, len(res.per_week))
        tested += 1
    if not tested:
        return {"alerts_per_week": None, "note": "not enough history to replay"}
    return {
        "alerts": total,
        "weeks": weeks,
        "series": tested,
        "alerts_per_week": round(total / max(weeks, 1), 2),
    }


def rate(n: int, times: Sequence[datetime], days: float, note: str) -> dict[str, Any]:
    """``n`` findings over the span of ``times``, per week."""
    if len(times) < 2:
        return {"alerts_per_week": None, "note": "not enough history to replay"}
    span = max((times[-1] - times[0]).total_seconds(), 1.0)
    weeks = min(span / 604800, days / 7)
    return {
        "alerts": n,
        "weeks": round(weeks, 1),
        "alerts_per_week": round(n / max(weeks, 1.0), 2),
        "note": note,
    }


def add_bound(
    out: dict[str, Any], pts: Sequence[Any], lo: float | None, hi: float | None, days: float
) -> dict[str, Any]:
    """Add the points outside ``[lo, hi]`` to a replay's findings."""
    bad = [p for p in pts if (lo is not None and p.value < lo) or (hi is not None and p.value > hi)]
    bounded = rate(len(bad), [p.bucket_start for p in pts], days, "bound violations")
    if out.get("alerts_per_week") is None:
        return bounded
    out["alerts"] = out.get("alerts", 0) + len(bad)
    out["alerts_per_week"] = round(out["alerts_per_week"] + (bounded["alerts_per_week"] or 0), 2)
    return out
