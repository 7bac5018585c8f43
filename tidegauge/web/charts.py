"""Metric charts as server-side SVG: history, the expected band and anomalies, with real axes.

No JavaScript and no inline styles (the page's CSP forbids them): colours come from CSS
classes in ``static/tidegauge.css``; every number and date is formatted here so the chart
reads without hovering. Text is escaped; the result is safe to embed as :class:`Markup`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape

from markupsafe import Markup

from tidegauge.core import units
from tidegauge.core.catalogue import Rollup, Unit, spec
from tidegauge.core.metrics import CUSTOM_PREFIX

WIDTH = 760
HEIGHT = 230
PAD_LEFT = 64
PAD_RIGHT = 16
PAD_TOP = 14
PAD_BOTTOM = 38


@dataclass(frozen=True)
class Mark:
    """A point to call out: an alert (red) or one users said was fine (grey)."""

    at: datetime
    value: float
    label: str
    reviewed: bool = False
    href: str | None = None


@dataclass
class ChartData:
    times: list[datetime]
    values: list[float | None]
    lower: list[float | None] = field(default_factory=list)
    upper: list[float | None] = field(default_factory=list)
    expected: list[float | None] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


# --------------------------------------------------------------------------- units


def unit_of(metric: str) -> str:
    """How a metric's values read: ``percent``, ``seconds``, ``epoch``, ``count`` or ``number``
    (from the metric catalogue; custom metrics by their name)."""
    try:
        m = spec(metric)
    except KeyError:
        m = None
    if m is not None and not metric.startswith(CUSTOM_PREFIX):
        if m.unit is Unit.CHARACTERS:  # shortest and longest are counts, a mean is not
            return "number" if m.rollup is Rollup.MEAN else "count"
        return _CHART_UNITS.get(m.unit, "number")
    if metric.endswith("_rate"):
        return "percent"
    if metric.endswith("_seconds") or metric == "freshness":
        return "seconds"
    if metric.endswith("count"):
        return "count"
    return "number"


_CHART_UNITS = {
    Unit.RATIO: "percent",
    Unit.SECONDS: "seconds",
    Unit.TIMESTAMP: "epoch",
    Unit.ROWS: "count",
    Unit.VALUES: "count",
}


UNIT_LABELS = {
    "percent": "% of rows",
    "seconds": "lag",
    "epoch": "time (UTC)",
    "count": "rows",
    "number": "",
}


def format_value(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if unit == "percent":
        pct = value * 100
        return f"{pct:.2f}%" if abs(pct) < 10 else f"{pct:.1f}%"
    if unit == "seconds":
        return duration(value)
    if unit == "epoch":
        return f"{datetime.fromtimestamp(value, UTC):%Y-%m-%d %H:%M}"
    return compact(value)


def compact(value: float) -> str:
    """``1.2M``, ``35.4k``, ``812``, ``0.031``."""
    a = abs(value)
    if a >= 1e9:
        return f"{value / 1e9:.3g}B"
    if a >= 1e6:
        return f"{value / 1e6:.3g}M"
    if a >= 1e4:
        return f"{value / 1e3:.3g}k"
    if a >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    if a >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def duration(seconds: float) -> str:
    """A lag for reading (``8 h``, ``1 h 30 min``), never ``-0s``: see core/units.py."""
    return units.duration(seconds)


#: round steps of a duration axis: seconds, minutes, hours, days, weeks
_DURATION_STEPS = (
    1,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
    1209600,
    2592000,
)


def duration_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Ticks of a lag axis at round durations from zero (a lag is never negative).

    >>> [units.duration(t) for t in duration_ticks(0, 0)]
    ['0 s', '15 s', '30 s', '45 s', '1 min']
    >>> [units.duration(t) for t in duration_ticks(0, 28_800)]
    ['0 s', '2 h', '4 h', '6 h', '8 h']
    """
    lo, hi = max(lo, 0.0), max(hi, 0.0)
    if hi - lo < 60:  # a flat line of tiny lags: a minute of axis, not "1s, 0s, -0s"
        hi = lo + 60
    raw = (hi - lo) / max(target - 1, 1)
    step = float(next((s for s in _DURATION_STEPS if s >= raw), _DURATION_STEPS[-1]))
    start = math.floor(lo / step) * step
    ticks = [start]
    while ticks[-1] < hi and len(ticks) < 20:
        ticks.append(ticks[-1] + step)
    return ticks


def _axis_value(value: float, unit: str, step: float) -> str:
    if unit == "percent":
        pct, st = value * 100, step * 100
        digits = 0 if st >= 1 else min(3, max(1, -math.floor(math.log10(st))))
        return f"{pct:.{digits}f}%"
    if unit == "seconds":
        return units.duration(value, parts=1 if step >= 60 else 2)
    if unit == "epoch":
        return f"{datetime.fromtimestamp(value, UTC):%d %b %H:%M}"
    if abs(value) >= 1e4:
        return compact(value)
    digits = 0 if step >= 1 else min(4, -math.floor(math.log10(step)))
    return f"{value:,.{digits}f}"


# --------------------------------------------------------------------------- ticks


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 × 10^k) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks: list[float] = []
    v = start
    while v <= hi + step * 0.5 and len(ticks) < 20:
        ticks.append(round(v, 12))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


_TIME_STEPS = [
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=7),
    timedelta(days=14),
    timedelta(days=30),
]


def time_ticks(start: datetime, end: datetime, target: int = 7) -> list[tuple[datetime, str]]:
    """Ticks at round hours or midnights; labels carry the date where the day changes."""
    span = max((end - start).total_seconds(), 3600.0)
    step = next((st for st in _TIME_STEPS if span / st.total_seconds() <= target), _TIME_STEPS[-1])
    sec = int(step.total_seconds())
    epoch = int(start.timestamp())
    first = epoch - epoch % sec + (sec if epoch % sec else 0)
    out: list[tuple[datetime, str]] = []
    t = first
    last_day = None
    while t <= end.timestamp():
        d = datetime.fromtimestamp(t, UTC)
        if sec >= 86400:
            label = f"{d:%a %d %b}"
        elif d.date() != last_day or (d.hour == 0 and d.minute == 0):
            label = f"{d:%d %b %H:%M}"
        else:
            label = f"{d:%H:%M}"
        last_day = d.date()
        out.append((d, label))
        t += sec
    return out


# --------------------------------------------------------------------------- drawing


def _segments(xs: Sequence[float], ys: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Split a polyline at missing values."""
    segs: list[list[tuple[float, float]]] = []
    cur: list[tuple[float, float]] = []
    for x, y in zip(xs, ys, strict=True):
        if y is None or not math.isfinite(y):
            if cur:
                segs.append(cur)
            cur = []
        else:
            cur.append((x, y))
    if cur:
        segs.append(cur)
    return segs


def _path(points: Sequence[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def metric_chart(
    data: ChartData,
    *,
    metric: str,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """An accessible SVG line chart with the expected band and anomaly marks."""
    unit = unit_of(metric)
    pairs = [(t, v) for t, v in zip(data.times, data.values, strict=True)]
    if not pairs:
        return Markup(
            f'<svg class="chart empty" viewBox="0 0 {width} 60" role="img" '
            f'aria-label="{escape(title)}: no data"><text x="{width / 2}" y="34" '
            f'class="chart-empty" text-anchor="middle">No points collected yet</text></svg>'
        )
    if unit in ("percent", "count", "seconds"):  # a band below zero (or above 100%) says nothing
        ceiling = 1.0 if unit == "percent" else math.inf
        data = ChartData(
            data.times,
            data.values,
            [_clip(v, 0.0, ceiling) for v in data.lower],
            [_clip(v, 0.0, ceiling) for v in data.upper],
            data.expected,
            data.marks,
        )
    t0, t1 = data.times[0], data.times[-1]
    if t1 <= t0:
        t1 = t0 + timedelta(hours=1)
    finite = [
        v for v in (*data.values, *data.lower, *data.upper) if v is not None and math.isfinite(v)
    ]
    finite += [m.value for m in data.marks if math.isfinite(m.value)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if unit in ("percent", "count") and lo >= 0:
        lo = 0.0
    yt = duration_ticks(lo, hi) if unit == "seconds" else nice_ticks(lo, hi)
    ylo, yhi = yt[0], yt[-1]
    step = yt[1] - yt[0] if len(yt) > 1 else 1.0
    plot_w = width - PAD_LEFT - PAD_RIGHT
    plot_h = height - PAD_TOP - PAD_BOTTOM
    span = (t1 - t0).total_seconds()

    def x_of(t: datetime) -> float:
        return PAD_LEFT + plot_w * (t - t0).total_seconds() / span

    def y_of(v: float) -> float:
        return PAD_TOP + plot_h * (1 - (v - ylo) / ((yhi - ylo) or 1.0))

    xs = [x_of(t) for t in data.times]
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    # grid and y axis
    for v in yt:
        y = y_of(v)
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(_axis_value(v, unit, step))}</text>'
        )
    unit_label = UNIT_LABELS.get(unit, "")
    if unit_label:
        parts.append(
            f'<text class="axis-label" x="12" y="{PAD_TOP + plot_h / 2:.1f}" '
            f'transform="rotate(-90 12 {PAD_TOP + plot_h / 2:.1f})" '
            f'text-anchor="middle">{escape(unit_label)}</text>'
        )
    # x axis
    base = PAD_TOP + plot_h
    parts.append(
        f'<line class="axis" x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{base}" y2="{base}"/>'
    )
    for t, label in time_ticks(t0, t1):
        x = x_of(t)
        if x < PAD_LEFT - 0.5 or x > width - PAD_RIGHT + 0.5:
            continue
        parts.append(
            f'<line class="tickmark" x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}"/>'
        )
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{base + 17}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{width - PAD_RIGHT}" y="{height - 4}" '
        f'text-anchor="end">UTC</text>'
    )
    # band
    if data.lower and data.upper:
        for band in _band_segments(xs, data.lower, data.upper):
            top = [(x, y_of(u)) for x, _, u in band]
            bottom = [(x, y_of(lo_)) for x, lo_, _ in reversed(band)]
            parts.append(f'<path class="band" d="{_path(top + bottom)} Z"/>')
    if data.expected:
        for seg in _segments(xs, data.expected):
            parts.append(f'<path class="expected" d="{_path([(x, y_of(v)) for x, v in seg])}"/>')
    # values
    for seg in _segments(xs, data.values):
        pts = [(x, y_of(v)) for x, v in seg]
        if len(pts) == 1:
            parts.append(f'<circle class="dot" cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="2"/>')
        else:
            parts.append(f'<path class="line" d="{_path(pts)}"/>')
    # anomalies
    for m in data.marks:
        if not (t0 <= m.at <= t1) or not math.isfinite(m.value):
            continue
        cls = "mark reviewed" if m.reviewed else "mark"
        tip = f"{m.at:%a %d %b %H:%M} UTC — {format_value(m.value, unit)} — {m.label}"
        circle = (
            f'<circle class="{cls}" cx="{x_of(m.at):.1f}" cy="{y_of(m.value):.1f}" r="5">'
            f"<title>{escape(tip)}</title></circle>"
        )
        if m.href:
            circle = f'<a href="{escape(m.href)}">{circle}</a>'
        parts.append(circle)
    parts.append("</svg>")
    return Markup("".join(parts))


def _clip(v: float | None, lo: float, hi: float) -> float | None:
    return None if v is None else min(max(v, lo), hi)


def _band_segments(
    xs: Sequence[float], lower: Sequence[float | None], upper: Sequence[float | None]
) -> list[list[tuple[float, float, float]]]:
    segs: list[list[tuple[float, float, float]]] = []
    cur: list[tuple[float, float, float]] = []
    for x, lo, hi in zip(xs, lower, upper, strict=True):
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
            if cur:
                segs.append(cur)
            cur = []
        else:
            cur.append((x, lo, hi))
    if cur:
        segs.append(cur)
    return segs


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 28) -> Markup:
    """A tiny trend line for lists (no axes)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if len(vals) < 2:
        return Markup("")
    lo, hi = min(vals), max(vals)
    rng = (hi - lo) or 1.0
    n = len(values) - 1
    pts = [
        (width * i / n, height - 2 - (height - 4) * (v - lo) / rng)
        for i, v in enumerate(values)
        if v is not None and math.isfinite(v)
    ]
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" aria-hidden="true">'
        f'<path class="line" d="{_path(pts)}"/></svg>'
    )
