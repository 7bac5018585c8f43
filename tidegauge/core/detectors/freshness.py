"""Freshness: learn when a table is updated, alert when an update is overdue.

From the history of update times the detector learns a *cadence*:

- the period: the median gap between updates, snapped to a round period (every N minutes,
  hourly, every N hours, daily, weekly) when the gaps agree with it, else ``irregular``;
- the phase: where in the period updates land ("hourly at :05", "daily around 06:10"), as a
  circular median, with its spread (a robust deviation);
- for daily loads, the weekdays on which loads happen (weekday-only pipelines are common);
- a tolerance: the larger of a robust 99.9% quantile of the lateness seen so far and a fixed
  fraction of the period, so a clock that is always one minute late never alerts.

An update is overdue when ``now`` is past the next expected update plus the tolerance. For an
irregular table the gap since the last update is compared with the history of gaps. An SLA set
in configuration overrides learning: the table is overdue when the last update is older than it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from tidegauge.core.detectors.base import Detection, Direction
from tidegauge.core.metrics import Metric
from tidegauge.core.model import MetricPoint

_PERIODS = (
    60,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    14400,
    21600,
    43200,
    86400,
    604800,
)
MIN_UPDATES = 6
TOLERANCE_FRACTION = 0.25  # of the period, at least
MIN_TOLERANCE = 120.0  # seconds


def _secs(d: datetime) -> float:
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.timestamp()


def _fmt_delta(seconds: float) -> str:
    s = abs(seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


@dataclass(frozen=True, slots=True)
class Cadence:
    """A learned update schedule."""

    period: float | None  # seconds; None: irregular
    phase: float  # seconds into the period (UTC) where updates land
    spread: float  # robust deviation of the phase, seconds
    tolerance: float  # seconds allowed past the expected time
    weekdays: frozenset[int]  # for daily cadences: weekdays (0 = Monday) with loads
    gap_quantile: float  # for irregular tables: a high quantile of gaps, seconds
    n_updates: int

    @property
    def description(self) -> str:
        if self.period is None:
            return (
                f"irregular (gaps up to {_fmt_delta(self.gap_quantile)}, "
                f"{self.n_updates} updates seen)"
            )
        p = self.period
        pm = f" ± {_fmt_delta(self.spread)}" if self.spread >= 30 else ""
        if p == 3600:
            return f"hourly at :{int(self.phase // 60):02d}{pm}"
        if p < 3600:
            return f"every {p / 60:.0f} minutes{pm}"
        if p < 86400:
            return f"every {p / 3600:.0f} hours from {_clock(self.phase)}{pm}"
        if p == 86400:
            days = (
                ""
                if len(self.weekdays) == 7
                else " on " + ",".join("MTWTFSS"[d] for d in sorted(self.weekdays))
            )
            return f"daily around {_clock(self.phase)} UTC{pm}{days}"
        return f"every {p / 86400:.0f} days around {_clock(self.phase % 86400)} UTC{pm}"


def _clock(sec: float) -> str:
    sec = sec % 86400
    return f"{int(sec // 3600):02d}:{int(sec % 3600 // 60):02d}"


def _circular_median(phases: np.ndarray, period: float) -> float:
    ang = 2 * math.pi * phases / period
    mean_ang = math.atan2(float(np.mean(np.sin(ang))), float(np.mean(np.cos(ang))))
    centre = (mean_ang / (2 * math.pi) * period) % period
    dev = (phases - centre + period / 2) % period - period / 2
    return float((centre + float(np.median(dev))) % period)


def learn_cadence(update_times: Sequence[datetime]) -> Cadence | None:
    """Learn the cadence from past update times; ``None`` with fewer than MIN_UPDATES."""
    t = np.unique(np.array([_secs(u) for u in update_times], dtype=np.float64))
    if t.size < MIN_UPDATES:
        return None
    gaps = np.diff(t)
    med = float(np.median(gaps))
    gq = float(np.quantile(gaps, 0.99)) if gaps.size >= 20 else float(np.max(gaps)) * 1.5
    period: float | None = None
    for p in _PERIODS:
        # most gaps must be a small multiple of the period (skipped loads allowed)
        if abs(med - p) <= 0.2 * p:
            mult = gaps / p
            near = np.abs(mult - np.round(mult)) <= 0.25
            if np.mean(near & (np.round(mult) >= 1)) >= 0.8:
                period = float(p)
            break
    if period is None:
        return Cadence(None, 0.0, 0.0, 0.0, frozenset(range(7)), gq, int(t.size))
    phases = np.mod(t, period)
    phase = _circular_median(phases, period)
    dev = (phases - phase + period / 2) % period - period / 2
    spread = 1.4826 * float(np.median(np.abs(dev)))
    late = np.quantile(np.maximum(dev, 0.0), 0.999) if dev.size >= 20 else float(np.max(dev))
    tolerance = max(float(late) * 1.5, 4.0 * spread, TOLERANCE_FRACTION * period, MIN_TOLERANCE)
    weekdays = frozenset(range(7))
    if period == 86400 and t[-1] - t[0] >= 14 * 86400:
        seen = {datetime.fromtimestamp(x, UTC).weekday() for x in t}
        weekdays = frozenset(seen)
    return Cadence(period, phase, spread, tolerance, weekdays, gq, int(t.size))


def next_expected(c: Cadence, last: float) -> float:
    """The next time an update is due after the update at ``last`` (seconds)."""
    assert c.period is not None
    base = last - ((last - c.phase + c.period / 2) % c.period - c.period / 2)
    nxt = base + c.period
    if c.period == 86400:
        for _ in range(7):
            if datetime.fromtimestamp(nxt, UTC).weekday() in c.weekdays:
                break
            nxt += 86400
    return nxt


@dataclass
class FreshnessDetector:
    """Learned-cadence freshness monitor for one table."""

    table: str = "table"

    def evaluate(
        self, update_times: Sequence[datetime], now: datetime, sla: timedelta | None = None
    ) -> Detection:
        """Is the table overdue at ``now``? Updates after ``now`` are ignored."""
        now_s = _secs(now)
        past = sorted(u for u in update_times if _secs(u) <= now_s)
        if not past:
            return Detection(
                False,
                now,
                reason=f"{self.table}: no update seen yet",
                details={"status": "learning"},
            )
        last = _secs(past[-1])
        age = now_s - last
        details: dict[str, object] = {"last_update": past[-1].isoformat(), "age_seconds": age}
        if sla is not None:
            limit = sla.total_seconds()
            bad = age > limit
            return Detection(
                bad,
                now,
                observed=age,
                expected=limit,
                lower=None,
                upper=limit,
                score=age / max(limit, 1.0),
                p_value=0.0 if bad else 1.0,
                training_points=len(past),
                direction=Direction.UP,
                reason=(
                    f"{self.table} last updated {_fmt_delta(age)} ago, "
                    f"{'beyond' if bad else 'within'} its SLA of {_fmt_delta(limit)}"
                ),
                details={**details, "kind": "sla", "sla_seconds": limit},
            )
        c = learn_cadence(past)
        if c is None:
            return Detection(
                False,
                now,
                observed=age,
                training_points=len(past),
                reason=f"{self.table}: learning its cadence ({len(past)} updates)",
                details={**details, "status": "learning"},
            )
        details["cadence"] = c.description
        if c.period is None:
            limit = c.gap_quantile * 1.5
            gaps = np.diff(np.array(sorted(_secs(u) for u in past)))
            p = float((1 + np.sum(gaps >= age)) / (gaps.size + 1))
            bad = age > limit
            return Detection(
                bad,
                now,
                observed=age,
                expected=float(np.median(gaps)),
                upper=limit,
                score=age / max(limit, 1.0),
                p_value=p,
                training_points=len(past),
                direction=Direction.UP,
                reason=(
                    f"{self.table} last updated {_fmt_delta(age)} ago; it updates "
                    f"{c.description}; overdue after {_fmt_delta(limit)}"
                ),
                details={**details, "kind": "irregular", "limit_seconds": limit},
            )
        due = next_expected(c, last)
        deadline = due + c.tolerance
        late = now_s - due
        bad = now_s > deadline
        due_dt = datetime.fromtimestamp(due, UTC)
        when = f"{due_dt:%Y-%m-%d %H:%M} UTC"
        if bad:
            reason = (
                f"{self.table} is {_fmt_delta(late)} overdue: it updates {c.description} "
                f"and the update due {when} has not landed (last {_fmt_delta(age)} ago; "
                f"learned from {c.n_updates} updates)"
            )
        else:
            reason = f"{self.table} is fresh: updates {c.description}, next due {when}"
        return Detection(
            bad,
            now,
            observed=age,
            expected=due - last,
            lower=None,
            upper=deadline - last,
            score=late / max(c.tolerance, 1.0),
            p_value=0.0 if bad else 1.0,
            training_points=c.n_updates,
            direction=Direction.UP,
            reason=reason,
            details={
                **details,
                "kind": "cadence",
                "expected_update": due_dt.isoformat(),
                "lateness_seconds": max(late, 0.0),
                "tolerance_seconds": c.tolerance,
                "period_seconds": c.period,
            },
        )


def times_of_updates(points: Sequence[MetricPoint], now: datetime) -> list[datetime]:
    """When a table received data, from its stored points: the end of every bucket that has
    rows (a bucket's data is complete at its end), and every metadata modification time."""
    out: set[datetime] = set()
    for p in points:
        if p.metric == Metric.BUCKET_ROW_COUNT and p.segment is None and p.value and p.value > 0:
            out.add(p.bucket_start + timedelta(seconds=p.bucket_seconds))
        elif p.metric == Metric.LAST_MODIFIED and p.value:
            out.add(datetime.fromtimestamp(p.value, UTC))
    return sorted(t for t in out if t <= now)


#: how much staler than usual a table must be before an overdue update is news
USUAL_MARGIN = 1 + TOLERANCE_FRACTION


def usual_staleness(observed: Sequence[tuple[datetime, float]], now: datetime) -> float | None:
    """How stale a table usually is when a run looks at it, in seconds; None before a whole
    (UTC) day of looks.

    ``observed`` holds, per run, its time and the seconds since the table's newest row (or
    its last modification) then. Update times taken from rows say when the data happened,
    not when it landed: a table loaded nightly with yesterday's events has rows in every
    hour yet is up to a day old when an hourly run looks. What earlier runs saw says how
    old it usually gets: the median over the days before today of each day's stalest look,
    or, when larger and at least two earlier weeks were seen, the least over those weeks of
    the stalest look within an hour of this time of the week (no loads at weekends). Today
    is left out, and a median and a least are taken, so that an outage, going on or past,
    does not teach that outages are normal.
    """
    now_s = _secs(now)
    today = int(now_s // 86400)
    daily: dict[int, float] = {}
    weekly: dict[int, float] = {}
    week = 7 * 86400.0
    for when, value in observed:
        t, v = _secs(when), max(float(value), 0.0)
        day = int(t // 86400)
        if day >= today:
            continue
        daily[day] = max(daily.get(day, 0.0), v)
        ago = now_s - t
        weeks = round(ago / week)
        if weeks >= 1 and abs(ago - weeks * week) <= 3600:
            weekly[weeks] = max(weekly.get(weeks, 0.0), v)
    if not daily:
        return None
    usual = float(np.median(list(daily.values())))
    if len(weekly) >= 2:
        usual = max(usual, min(weekly.values()))
    return usual


def landings(
    observed: Sequence[tuple[datetime, float]], now: datetime
) -> list[tuple[float, float]]:
    """When data landed, as runs saw it: per move of the table's newest row, the time it
    landed (seconds) and how far the newest row moved (seconds). ``observed`` as in
    :func:`usual_staleness`, this run's look (at ``now``) included.

    A landing is only known to fall between the run that first saw it and the run before:
    the midpoint stands for it, so that runs a day apart over a nightly batch still find a
    missed night at the first run after it."""
    now_s = _secs(now)
    seen = sorted((_secs(t), _secs(t) - float(v)) for t, v in observed if _secs(t) <= now_s)
    out: list[tuple[float, float]] = []
    newest: float | None = None
    before: float | None = None
    for t, row in seen:
        if newest is not None and before is not None and row > newest + 1.0:
            out.append(((before + t) / 2, row - newest))
        newest = row if newest is None else max(newest, row)
        before = t
    return out


def last_arrival(
    observed: Sequence[tuple[datetime, float]], now: datetime
) -> tuple[float, float] | None:
    """When the table's current newest row landed, and how far the newest row usually
    moves when it moves (the median of its last moves: a nightly batch moves it a day), in
    seconds; None when no run has seen it move yet (:func:`landings`)."""
    moves = landings(observed, now)
    if not moves:
        return None
    return moves[-1][0], float(np.median([m for _, m in moves[-30:]]))


def late_by_looks(
    staleness: float,
    observed: Sequence[tuple[datetime, float]],
    now: datetime,
    overdue_after: float | None = None,
) -> bool:
    """Whether what runs saw agrees that a table ``staleness`` seconds old is late.

    Not when it is no staler than usual when a run looks (:func:`usual_staleness`, with a
    margin). Nor, for a table loaded in batches, when its newest row last moved less than
    its usual move ago (:func:`last_arrival`): a nightly batch is due about a day after the
    last one landed. A table is taken as loaded in batches when it is usually staler, when
    runs look, than ``overdue_after`` (the age at which its rows' cadence calls it late);
    a table fresher than that when looked at is fed continuously, and runs far apart would
    mistake their own spacing for its moves. Before a whole day of looks, or before any
    move was seen, the looks cannot say: the update times' cadence alone decides."""
    usual = usual_staleness(observed, now)
    if usual is None or staleness <= usual * USUAL_MARGIN + MIN_TOLERANCE:
        return usual is None
    if overdue_after is not None and usual <= overdue_after:
        return True
    arrival = last_arrival(observed, now)
    if arrival is None:
        return True
    landed, move = arrival
    return _secs(now) - landed > move * USUAL_MARGIN + MIN_TOLERANCE
