"""Metric history with its expected band, for charts and ``GET /api/v1/tables/{id}/metrics``.

Where an alert was raised, its stored band (what the detector actually used) is shown. For the
rest of the window the band comes from :func:`~tidegauge.core.detectors.seasonal.evaluate_batch`,
which walks every series forward with the live detector itself: the detector that detection
builds for the series (:func:`tidegauge.steps.detect.series_detector`: its settings and the
table's calendar), the user's feedback and the points already alerted on. So no shown point is
inside its own baseline, and the band on the chart is the one an alert would be judged against.
Results are cached until the next run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tidegauge.config import Project
from tidegauge.core.detectors.base import DetectorSettings
from tidegauge.core.detectors.seasonal import SeasonalDetector, evaluate_batch
from tidegauge.steps.detect import series_detector
from tidegauge.store import browse
from tidegauge.store.alerts import series_key
from tidegauge.store.store import Store
from tidegauge.web.cache import RunCache
from tidegauge.web.charts import ChartData, Mark

SeriesKey = tuple[str, str, str]  # metric, column ('' for table level), segment

DISPLAY = timedelta(days=14)
TRAINING = timedelta(days=28)
MIN_HISTORY = DetectorSettings().min_history

_cache = RunCache(max_entries=512)


@dataclass
class BandedSeries:
    metric: str
    column: str
    segment: str
    times: list[datetime] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    expected: list[float | None] = field(default_factory=list)
    lower: list[float | None] = field(default_factory=list)
    upper: list[float | None] = field(default_factory=list)
    band_from: datetime | None = None  # first time the model band covers
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        flagged = {a["data_time"]: a for a in self.alerts}
        return {
            "metric": self.metric,
            "column": self.column or None,
            "segment": self.segment or None,
            "band_from": self.band_from,
            "points": [
                {
                    "at": t,
                    "value": v,
                    "expected": e,
                    "lower": lo,
                    "upper": hi,
                    "alert_id": flagged[t]["id"] if t in flagged else None,
                }
                for t, v, e, lo, hi in zip(
                    self.times, self.values, self.expected, self.lower, self.upper, strict=True
                )
            ],
        }

    def chart(self, alert_href: str | None = None) -> ChartData:
        marks = []
        for a in self.alerts:
            value = a["observed"]
            if value is None or not math.isfinite(value):
                continue
            marks.append(
                Mark(
                    at=a["data_time"],
                    value=value,
                    label=a["title"] or a["kind"],
                    reviewed=a["feedback"] in ("expected", "false_positive"),
                    href=alert_href.format(id=a["id"]) if alert_href else None,
                )
            )
        return ChartData(self.times, self.values, self.lower, self.upper, self.expected, marks)


def banded(
    store: Store,
    table_id: int,
    keys: list[SeriesKey],
    now: datetime,
    *,
    display: timedelta = DISPLAY,
    project: Project | None = None,
) -> list[BandedSeries]:
    """History of ``keys`` over the last ``display`` with bands and the alerts on them.

    ``project``: the project whose settings and calendar detection uses; without it the bands
    come from a detector at default settings (still with the stored feedback and alerts)."""
    start = (now - display).replace(minute=0, second=0, microsecond=0)
    model = _cache.get(
        store,
        ("band", table_id, tuple(keys), start, project is not None),
        lambda: _compute(store, table_id, keys, start, now, project),
    )
    alerts = _series_alerts(store, table_id, keys, start)
    out = []
    for s in model:
        s = BandedSeries(
            s.metric,
            s.column,
            s.segment,
            list(s.times),
            list(s.values),
            list(s.expected),
            list(s.lower),
            list(s.upper),
            s.band_from,
        )
        s.alerts = alerts.get((s.metric, s.column, s.segment), [])
        pos = {t: i for i, t in enumerate(s.times)}
        for a in s.alerts:  # the band the detector used wins over the display model
            i = pos.get(a["data_time"])
            if i is not None and a["lower"] is not None and a["upper"] is not None:
                s.lower[i], s.upper[i] = a["lower"], a["upper"]
                s.expected[i] = a["expected"]
        out.append(s)
    return out


def _series_alerts(
    store: Store, table_id: int, keys: list[SeriesKey], since: datetime
) -> dict[SeriesKey, list[dict[str, Any]]]:
    rows, _ = browse.list_alerts(
        store, browse.AlertFilter(table_id=table_id), limit=2000, count=False
    )
    wanted = set(keys)
    out: dict[SeriesKey, list[dict[str, Any]]] = {}
    for a in rows:
        k = (a["metric"], a["column"] or "", a["segment"] or "")
        if k in wanted and a["data_time"] >= since:
            out.setdefault(k, []).append(a)
    return out


def _compute(
    store: Store,
    table_id: int,
    keys: list[SeriesKey],
    start: datetime,
    now: datetime,
    project: Project | None,
) -> list[BandedSeries]:
    raw = browse.series_points(store, table_id, keys, since=start - TRAINING)
    table = store.table(table_id) if project is not None else None
    settings = project.settings_for(table.ref.fqn) if project and table else None
    feedback = store.alerts.feedback_for(table_id)
    flagged = store.alerts.flagged_times(table_id)

    def detector(k: SeriesKey, first: datetime) -> SeasonalDetector:
        if project is None or settings is None:
            return SeasonalDetector(metric=k[0])
        return series_detector(project, settings, k[0], k[1] or None, first, now)

    out: list[BandedSeries] = []
    groups: dict[tuple[datetime, ...], list[SeriesKey]] = {}
    for k in keys:
        pts = [(t, v) for t, v in raw.get(k, []) if v is None or math.isfinite(v)]
        raw[k] = pts
        grid = tuple(t for t, _ in pts)
        if grid:
            groups.setdefault(grid, []).append(k)
    bands: dict[SeriesKey, tuple[list[datetime], np.ndarray, np.ndarray, np.ndarray]] = {}
    for grid, members in groups.items():
        test_from = _test_from(list(grid), start)
        if test_from is None:
            continue
        y = np.array(
            [[np.nan if v is None else v for _, v in raw[k]] for k in members], dtype=np.float64
        )
        skeys = [series_key(table_id, m, c or None, g or None) for m, c, g in members]
        try:
            res = evaluate_batch(
                list(grid),
                y,
                test_from=test_from,
                detectors=[detector(k, grid[0]) for k in members],
                feedback=[feedback.get(sk, []) for sk in skeys],
                exclude=[sorted(flagged.get(sk, ())) for sk in skeys],
            )
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            continue
        for row, k in enumerate(members):
            bands[k] = (res.test_times, res.expected[row], res.lower[row], res.upper[row])
    for k in keys:
        metric, column, segment = k
        s = BandedSeries(metric, column, segment)
        band = bands.get(k)
        lookup: dict[datetime, tuple[float, float, float]] = {}
        if band is not None:
            times, e, lo, hi = band
            lookup = {t: (float(e[i]), float(lo[i]), float(hi[i])) for i, t in enumerate(times)}
            s.band_from = times[0] if times else None
        for t, v in raw.get(k, []):
            if t < start:
                continue
            s.times.append(t)
            s.values.append(v)
            e_, lo_, hi_ = lookup.get(t, (math.nan, math.nan, math.nan))
            s.expected.append(e_ if math.isfinite(e_) else None)
            s.lower.append(lo_ if math.isfinite(lo_) else None)
            s.upper.append(hi_ if math.isfinite(hi_) else None)
        out.append(s)
    return out


def _test_from(grid: list[datetime], start: datetime) -> datetime | None:
    """The window start, or later when there is too little history before it to fit."""
    if len(grid) <= MIN_HISTORY + 1:
        return None
    first_ok = grid[MIN_HISTORY]
    candidate = max(start, first_ok)
    after = [t for t in grid if t >= candidate]
    return after[0] if after else None
