"""Metric history with its expected band, for charts and ``GET /api/v1/tables/{id}/metrics``.

Where an alert was raised, its stored band (what the detector actually used) is shown. For the
rest of the window the band comes from :func:`~tidegauge.core.detectors.seasonal.evaluate_batch`,
which walks every series forward with the live detector itself: the detector that detection
builds for the series (:func:`tidegauge.steps.detect.series_detector`: its settings and the
table's calendar), the user's feedback and the points already alerted on. So no shown point is
inside its own baseline, and the band on the chart is the one an alert would be judged against.

The walk is path-dependent: where it starts decides when the detector refits, which transform
it picks and which points it has flagged (and keeps out of later baselines), so a walk from
two days back and one from thirty give different bands at the same time. So every series is
walked once from one start, :func:`walk_start` (the widest range a page offers, before the
latest run), and every range, page and API call slices that walk: a point shows the same band
on the 2d and the 30d chart, the column's page and the incident's. Walks are cached per series
until the next run, so a table's ranges and column pages share them (a window reaching further
back than the start walks from its own start).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tidegauge.config import Project
from tidegauge.core.detectors.base import DetectorSettings, FloatArray
from tidegauge.core.detectors.seasonal import SeasonalDetector, evaluate_batch
from tidegauge.steps.detect import series_detector
from tidegauge.store import browse
from tidegauge.store.alerts import series_key
from tidegauge.store.store import Store
from tidegauge.web.cache import RunCache
from tidegauge.web.charts import ChartData, Mark

SeriesKey = tuple[str, str, str]  # metric, column ('' for table level), segment

DISPLAY = timedelta(days=14)
#: the widest range a page offers (a table page's 30d): every band walk starts this far back
WIDEST = timedelta(days=30)
TRAINING = timedelta(days=28)
MIN_HISTORY = DetectorSettings().min_history

#: walks kept, weighed by points: at most about 90 MB with their times (a month of hourly
#: points is 720; the demo charts about 1,100 series)
_cache = RunCache(max_entries=8192, max_weight=1_000_000)
_keys_cache = RunCache(max_entries=1024)


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
    come from a detector at default settings (still with the stored feedback and alerts).

    The band is a slice of one walk per series from :func:`walk_start` on, the same for every
    range and page that shows the series (see the module's docstring)."""
    start = _hour(now - display)
    origin = min(walk_start(store, now), start)
    scope = (table_id, origin, project is not None)

    def walk(missing: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Walk]:
        found = _walk(store, table_id, [m[-1] for m in missing], origin, now, project)
        return dict(zip(missing, found, strict=True))

    walks = _cache.get_many(
        store, [(*scope, k) for k in keys], walk, weight=lambda w: 1 + len(w.times)
    )
    alerts = _series_alerts(store, table_id, keys, start)
    out = []
    for k in keys:
        s = walks[(*scope, k)].since(start)
        s.alerts = alerts.get(k, [])
        pos = {t: i for i, t in enumerate(s.times)}
        for a in s.alerts:  # the band the detector used wins over the display model
            i = pos.get(a["data_time"])
            if i is not None and a["lower"] is not None and a["upper"] is not None:
                s.lower[i], s.upper[i] = a["lower"], a["upper"]
                s.expected[i] = a["expected"]
        out.append(s)
    return out


def series_keys(store: Store, table_id: int) -> list[tuple[str, str, str, int]]:
    """:func:`browse.series_keys`, kept until the next run (only a run writes points): a table
    page and each of its column and range variants asked it again, a scan of the table's
    points each time."""
    return _keys_cache.get(store, (table_id,), lambda: browse.series_keys(store, table_id))


def walk_start(store: Store, now: datetime) -> datetime:
    """Where band walks start: :data:`WIDEST` before the latest run's data time (before
    ``now`` when there is no run), to the hour. It moves only when a run writes, and every
    range a page offers lies after it."""
    runs = store.runs(limit=1)
    end = runs[0]["as_of"] if runs and runs[0]["as_of"] is not None else now
    return _hour(end - WIDEST)


def _hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Walk:
    """One series walked by the live detector from a start: its points from there on and the
    band of each (NaN: none), kept in arrays (a walk is cached per run)."""

    metric: str
    column: str
    segment: str
    times: list[datetime]
    values: FloatArray  # NaN: a missing value
    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    band_from: datetime | None  # first time the band covers

    def since(self, start: datetime) -> BandedSeries:
        """The walk from ``start`` on, as a chart series (``band_from``: its first point
        with a band)."""
        i = bisect_left(self.times, start)
        times = self.times[i:]
        s = BandedSeries(
            self.metric,
            self.column,
            self.segment,
            times,
            _optional(self.values[i:]),
            _optional(self.expected[i:]),
            _optional(self.lower[i:]),
            _optional(self.upper[i:]),
        )
        if self.band_from is not None:
            s.band_from = next((t for t in times if t >= self.band_from), None)
        return s


def _optional(a: FloatArray) -> list[float | None]:
    """Floats as JSON and the charts take them: None where not finite."""
    return [v if math.isfinite(v) else None for v in a.tolist()]


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


def _walk(
    store: Store,
    table_id: int,
    keys: list[SeriesKey],
    start: datetime,
    now: datetime,
    project: Project | None,
) -> list[Walk]:
    """Each series of ``keys`` walked by its live detector from ``start`` on, with
    :data:`TRAINING` of history before it."""
    raw = browse.series_points(store, table_id, keys, since=start - TRAINING)
    table = store.table(table_id) if project is not None else None
    settings = project.settings_for(table.ref.fqn) if project and table else None
    feedback = store.alerts.feedback_for(table_id)
    flagged = store.alerts.flagged_times(table_id)

    def detector(k: SeriesKey, first: datetime) -> SeasonalDetector:
        if project is None or settings is None:
            return SeasonalDetector(metric=k[0])
        return series_detector(project, settings, k[0], k[1] or None, first, now)

    groups: dict[tuple[datetime, ...], list[SeriesKey]] = {}
    for k in keys:
        pts = [(t, v) for t, v in raw.get(k, []) if v is None or math.isfinite(v)]
        raw[k] = pts
        grid = tuple(t for t, _ in pts)
        if grid:
            groups.setdefault(grid, []).append(k)
    bands: dict[SeriesKey, tuple[list[datetime], FloatArray, FloatArray, FloatArray]] = {}
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
    shown: dict[tuple[datetime, ...], list[datetime]] = {}  # one list per grid, shared
    out: list[Walk] = []
    for k in keys:
        pts = [(t, v) for t, v in raw.get(k, []) if t >= start]
        grid = tuple(t for t, _ in raw.get(k, []))
        times = shown.setdefault(grid, [t for t, _ in pts])
        values = np.array([math.nan if v is None else v for _, v in pts], dtype=np.float64)
        e, lo, hi = (np.full(len(pts), math.nan) for _ in range(3))
        band = bands.get(k)
        band_from = None
        if band is not None:
            test_times, be, blo, bhi = band
            at = {t: i for i, t in enumerate(times)}
            idx = np.array([at.get(t, -1) for t in test_times], dtype=np.int64)
            ok = idx >= 0
            e[idx[ok]], lo[idx[ok]], hi[idx[ok]] = be[ok], blo[ok], bhi[ok]
            band_from = test_times[0] if test_times else None
        out.append(Walk(*k, times, values, e, lo, hi, band_from))
    return out


def _test_from(grid: list[datetime], start: datetime) -> datetime | None:
    """The window start, or later when there is too little history before it to fit."""
    if len(grid) <= MIN_HISTORY + 1:
        return None
    first_ok = grid[MIN_HISTORY]
    candidate = max(start, first_ok)
    after = [t for t in grid if t >= candidate]
    return after[0] if after else None
