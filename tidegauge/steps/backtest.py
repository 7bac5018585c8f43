"""Backtest: replay stored history through the same detectors a run uses, before turning
a monitor on, and count what it would have raised — per monitor and per channel."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidegauge.config import Project
from tidegauge.core.calendar import SpecialDays
from tidegauge.core.detectors.backtest import backtest as replay_series
from tidegauge.core.detectors.base import DetectorSettings, Sensitivity
from tidegauge.core.detectors.proportion import RatePoint, evaluate_rates
from tidegauge.core.model import AlertKind, Incident, Severity
from tidegauge.monitors.tuning import SERIES_KINDS, detector_settings
from tidegauge.notifiers.routing import route
from tidegauge.steps.detect import RATE_METRICS
from tidegauge.store.store import Store


@dataclass
class MonitorBacktest:
    table: str
    metric: str
    column: str | None
    kind: AlertKind
    alerts: int
    tested_points: int
    per_week: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "metric": self.metric,
            "column": self.column,
            "kind": self.kind.value,
            "alerts": self.alerts,
            "tested_points": self.tested_points,
            "per_week": self.per_week,
        }


def _week(t: datetime) -> str:
    iso = t.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def backtest_project(
    project: Project,
    store: Store,
    now: datetime,
    *,
    days: int = 90,
    sensitivity: Sensitivity | None = None,
) -> dict[str, Any]:
    """Replay the last ``days`` of every stored series of every table."""
    start = now - timedelta(days=days)
    monitors: list[MonitorBacktest] = []
    channels: Counter[str] = Counter()
    for table in store.tables():
        settings = project.settings_for(table.ref.fqn)
        if sensitivity is not None:
            settings = settings.model_copy(update={"sensitivity": sensitivity.value})
        points = store.points(
            table.id,
            metrics=list(SERIES_KINDS),
            unsegmented=True,
            since=start - timedelta(days=42),
            until=now,
        )
        series: dict[tuple[str, str | None], list[Any]] = {}
        for p in points:
            if p.value is not None:
                series.setdefault((p.metric, p.column), []).append(p)
        rows = {p.bucket_start: p.value or 0.0 for p in series.get(("bucket_row_count", None), [])}
        for (metric, column), pts in sorted(
            series.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
        ):
            if metric == "row_count" and rows:
                continue
            dsettings = detector_settings(metric, settings, project, column=column)
            kind = SERIES_KINDS.get(metric, (AlertKind.CUSTOM, None))[0]
            # holidays replay as a run treats them (core/detectors/special)
            calendar = project.special_days(settings, pts[0].bucket_start, now)
            times = _replay(metric, pts, rows, start, dsettings, calendar)
            if times is None:
                continue
            alert_times, tested = times
            per_week = Counter(_week(t) for t in alert_times)
            mb = MonitorBacktest(
                table.ref.fqn,
                metric,
                column,
                kind,
                len(alert_times),
                tested,
                dict(sorted(per_week.items())),
            )
            monitors.append(mb)
            if mb.alerts:
                incident = Incident(
                    kind,
                    table.ref,
                    f"{metric} on {table.ref.fqn}",
                    now,
                    now,
                    severity=Severity.MEDIUM,
                    column=column,
                    owner=settings.owner,
                    tags=tuple(settings.tags),
                )
                for d in route(
                    incident,
                    project.routes,
                    project.channels,
                    now=now,
                    default_channel=project.default_channel,
                ):
                    if d.disposition.value != "skip":
                        channels[d.channel] += mb.alerts
    weeks = max(days / 7.0, 1.0)
    return {
        "days": days,
        "as_of": now,
        "alerts": sum(m.alerts for m in monitors),
        "alerts_per_week": round(sum(m.alerts for m in monitors) / weeks, 2),
        "monitors": [m.as_dict() for m in monitors if m.tested_points],
        "channels": dict(sorted(channels.items())),
    }


def _replay(
    metric: str,
    pts: list[Any],
    rows: dict[datetime, float],
    start: datetime,
    settings: DetectorSettings,
    calendar: SpecialDays | None = None,
) -> tuple[list[datetime], int] | None:
    if metric in RATE_METRICS:
        rp = [RatePoint(p.bucket_start, float(p.value), rows.get(p.bucket_start, 0.0)) for p in pts]
        hist = [r for r in rp if r.timestamp < start]
        tested = [r for r in rp if r.timestamp >= start]
        if not tested:
            return None
        dets = evaluate_rates(hist, tested, settings, metric)
        return [d.timestamp for d in dets if d.is_anomaly], len(dets)
    days = max((pts[-1].bucket_start - start).total_seconds() / 86400.0, 0.0)
    if days <= 0:
        return None
    res = replay_series(
        [p.bucket_start for p in pts],
        [float(p.value) for p in pts],
        settings,
        days=days,
        metric=metric,
        calendar=calendar,
    )
    return res.alert_times, res.tested_points
