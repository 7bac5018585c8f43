"""Backtests: replay a stored series and count the alerts a monitor would have raised."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tidegauge.core.calendar import SpecialDays
from tidegauge.core.detectors.base import Detection, DetectorSettings
from tidegauge.core.detectors.seasonal import SeasonalDetector, Timestamps, Values, prepare


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """How often a monitor would have fired over the replayed period."""

    alerts: int
    alert_times: list[datetime]
    per_week: dict[str, int]
    tested_points: int
    detections: list[Detection] = field(default_factory=list, repr=False)

    @property
    def alerts_per_week(self) -> float:
        weeks = max(len(self.per_week), 1)
        return self.alerts / weeks


def backtest(
    timestamps: Timestamps,
    values: Values,
    settings: DetectorSettings | None = None,
    days: float = 90,
    *,
    metric: str = "value",
    calendar: SpecialDays | None = None,
) -> BacktestResult:
    """Replay the last ``days`` days: each point is scored only against the points before it.

    ``calendar``: the series' special days (holidays), treated exactly as a run treats them.

    >>> from datetime import datetime, timedelta
    >>> ts = [datetime(2024, 1, 1) + timedelta(days=i) for i in range(60)]
    >>> backtest(ts, [100.0 + i % 7 for i in range(60)], days=30).alerts
    0
    """
    s = prepare(timestamps, values)
    if not s.stamps:
        return BacktestResult(0, [], {}, 0)
    start = s.stamps[-1] - timedelta(days=days)
    dets = SeasonalDetector(
        settings or DetectorSettings(), metric=metric, calendar=calendar
    ).evaluate(s.stamps, s.y, test_from=start)
    alerts = [d.timestamp for d in dets if d.is_anomaly]
    per_week: Counter[str] = Counter()
    for d in dets:
        iso = d.timestamp.isocalendar()
        key = f"{iso.year}-W{iso.week:02d}"
        per_week[key] += int(d.is_anomaly)
    return BacktestResult(len(alerts), alerts, dict(sorted(per_week.items())), len(dets), dets)
