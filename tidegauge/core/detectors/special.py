"""Special days (holidays) in metric detection: what a holiday may do without alerting.

The policy, applied by :class:`~tidegauge.core.detectors.seasonal.SeasonalDetector` when it is
given a :class:`~tidegauge.core.calendar.SpecialDays` calendar:

1. **Training.** Buckets on a special day never train a baseline, whatever they show: a
   Christmas dip does not pull down the Mondays after it, and a Black Friday peak does not
   widen the band for weeks.
2. **Learned holiday level.** When the training window holds at least :data:`MIN_EXAMPLES`
   earlier special days, a special day is tested against them: its expectation is the normal
   baseline moved by the median effect those days showed (in the model's transformed units,
   so "30% lower" for a series modelled in logs), and its band is widened by how much those
   effects differed from one another, with Student-t tails of ``examples - 1`` degrees of
   freedom (three examples say little, and the band says so). The explanation says "expected
   holiday level".
3. **Otherwise, not alerted in the expected direction.** With fewer examples nothing says how
   deep a holiday goes, so a deviation in the calendar's ``expect`` direction (``down`` by
   default: warehouses are quieter on holidays) is not alerted: "holiday (calendar: US): not
   alerted". A deviation the other way is tested as on any day.
4. **The floor.** Either way a special day still alerts when it is clearly below ``floor`` (a
   share of the normal expected value, 10% by default; with ``expect: up``, clearly above its
   inverse). Earlier special days tighten it: a special day is never expected below half of the
   lowest level one of them reached. "Clearly" is the usual test at the usual level, against
   the floor as expectation, so an outage (volume to zero) on Christmas Day alerts and a quiet
   night hour of a few rows does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from tidegauge.core.calendar import SpecialDays
from tidegauge.core.detectors.base import Direction, FloatArray, fmt_number

#: earlier special days needed before a special day is tested against a learned holiday level
MIN_EXAMPLES = 3
#: the floor is never below this share of the lowest level an earlier special day reached
HISTORY_FLOOR_FACTOR = 0.5


@dataclass(frozen=True, slots=True)
class Examples:
    """Earlier special days, one per local date, measured against the normal baseline."""

    dates: list[date]
    effects: FloatArray  # median residual of the date's buckets, in transformed units
    ratios: FloatArray  # the date's observed total / expected total

    @property
    def n(self) -> int:
        return len(self.dates)

    def level(self) -> tuple[float, float]:
        """Median effect and the spread of effects (standard deviation, one degree less)."""
        m = float(np.median(self.effects))
        sd = float(np.std(self.effects, ddof=1)) if self.n > 1 else math.inf
        return m, sd


def examples(
    days: Sequence[date], resid: FloatArray, observed: FloatArray, expected: FloatArray
) -> Examples:
    """Group earlier special-day buckets by local date (``days[k]`` is bucket ``k``'s date).

    >>> ex = examples([date(2024, 1, 1), date(2024, 1, 1), date(2024, 5, 27)],
    ...               np.array([-0.3, -0.5, -0.2]), np.array([70.0, 60.0, 80.0]),
    ...               np.array([100.0, 100.0, 100.0]))
    >>> ex.n, ex.effects.round(2).tolist(), ex.ratios.round(2).tolist()
    (2, [-0.4, -0.2], [0.65, 0.8])
    """
    groups: dict[date, list[int]] = {}
    for k, d in enumerate(days):
        groups.setdefault(d, []).append(k)
    ordered = sorted(groups)
    effects = np.array([float(np.median(resid[groups[d]])) for d in ordered], dtype=np.float64)
    ratios = np.array(
        [
            float(np.sum(observed[groups[d]]) / s)
            if (s := float(np.sum(expected[groups[d]]))) > 0
            else math.nan
            for d in ordered
        ],
        dtype=np.float64,
    )
    return Examples(ordered, effects, ratios)


def floor_share(cal: SpecialDays, ex: Examples) -> float:
    """How low (a share of normal) a special day may go before the floor test applies."""
    low = ex.ratios[np.isfinite(ex.ratios) & (ex.ratios < 1.0)]
    if low.size == 0:
        return cal.floor
    return min(0.99, max(cal.floor, HISTORY_FLOOR_FACTOR * float(np.min(low))))


def ceiling_share(cal: SpecialDays, ex: Examples) -> float:
    """How high (a multiple of normal) a special day may go before the ceiling test applies."""
    ceiling = math.inf if cal.floor <= 0 else 1.0 / cal.floor
    high = ex.ratios[np.isfinite(ex.ratios) & (ex.ratios > 1.0)]
    if high.size:
        ceiling = max(1.01, min(ceiling, float(np.max(high)) / HISTORY_FLOOR_FACTOR))
    return ceiling


def tag(day: date, cal: SpecialDays) -> str:
    return f"calendar: {cal.label}, {day:%a %Y-%m-%d}"


def not_alerted(
    base: str, day: date, cal: SpecialDays, side: Direction, share: float, limit: float
) -> str:
    """``…; holiday (calendar: US, Wed 2024-12-25): not alerted — …``"""
    where = "below" if side is Direction.DOWN else "above"
    amount = f"{share:.0%} of" if side is Direction.DOWN else f"{share:.3g}× "
    return (
        f"{base}; holiday ({tag(day, cal)}): not alerted — a special day alerts only "
        f"{where} {amount} the usual level (about {fmt_number(limit)})"
    )


def beyond_floor(
    base: str, day: date, cal: SpecialDays, side: Direction, share: float, limit: float
) -> str:
    where = "below the floor of" if side is Direction.DOWN else "above the ceiling of"
    amount = f"{share:.0%} of it" if side is Direction.DOWN else f"{share:.3g}× it"
    return (
        f"{base}, and {where} {amount} (about {fmt_number(limit)}) that even a holiday "
        f"({tag(day, cal)}) stays within"
    )


def holiday_level(
    metric: str,
    observed: float,
    expected: float,
    lower: float,
    upper: float,
    normal: float,
    day: date,
    cal: SpecialDays,
    n: int,
    anomalous: bool,
) -> str:
    """``row count 690 is within the expected holiday level 700 (band …) …``"""
    diff = observed - expected
    if anomalous:
        rel = (
            f"{abs(diff) / abs(expected):.0%} {'above' if diff > 0 else 'below'}"
            if expected
            else ("above" if diff > 0 else "below")
        )
        verb = f"is {rel}"
    else:
        verb = "is within"
    return (
        f"{metric} {fmt_number(observed)} {verb} the expected holiday level "
        f"{fmt_number(expected)} (band {fmt_number(lower)}–{fmt_number(upper)}; "
        f"{tag(day, cal)}), learned from {n} earlier special days; a normal day would "
        f"expect {fmt_number(normal)}"
    )


def noted(base: str, day: date, cal: SpecialDays) -> str:
    return f"{base} (holiday: {tag(day, cal)})"
