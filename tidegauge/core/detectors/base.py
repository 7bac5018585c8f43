"""Settings and result types shared by every detector, plus the few distributions they need.

The distributions are implemented here (numpy + math only) so that ``core`` needs no scipy:
the normal tail through a Chebyshev fit of ``erfc`` (relative error < 1.2e-7), the normal
quantile through Acklam's rational approximation refined by one Halley step, and Student's t
through the Peizer-Pratt normalising transform, which is accurate to about 1% in the tail
probability for the degrees of freedom we use (>= 2) and, unlike a table, works on arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

# re-exported: the detectors import it from here
from tidegauge.core.direction import Direction as Direction

FloatArray = npt.NDArray[np.float64]

SECONDS_PER_DAY = 86_400.0


class Sensitivity(StrEnum):
    """How readily a detector alerts.

    Each level is a budget of chance false alarms *per series per day*; a detector turns it
    into a per-point test level by dividing by the number of buckets in a day, so an hourly
    and a daily series of the same sensitivity raise false alarms at the same daily rate.
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def daily_alpha(self) -> float:
        return {"low": 0.0005, "medium": 0.002, "high": 0.01}[self.value]


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Knobs shared by the detectors; every default is chosen from principle, not tuned.

    Attributes:
        sensitivity: a level, or a float in (0, 0.5): the per-point two-sided test level.
        direction: which deviations alert.
        min_history: no alert before this many usable training points.
        min_abs_change: an alert also needs ``|observed - expected|`` at least this large.
        min_rel_change: ... and at least this fraction of ``|expected|``.
        fdr_q: false-discovery level across the series evaluated in one run.
        max_training_days: how far back a baseline looks (``None``: 6 weeks for sub-daily
            buckets, 26 weeks for daily and coarser ones).
        band_factor: multiplies the band half-width (feedback raises it).
        shift_accept_points: a run of this many consecutive same-side alerts is taken as a
            level shift: the detector alerts on its first points, then learns the new level
            (``None``: one day of buckets, at least 3).
    """

    sensitivity: Sensitivity | float = Sensitivity.MEDIUM
    direction: Direction = Direction.BOTH
    min_history: int = 14
    min_abs_change: float = 0.0
    min_rel_change: float = 0.0
    fdr_q: float = 0.05
    max_training_days: float | None = None
    band_factor: float = 1.0
    shift_accept_points: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.sensitivity, float) and not 0.0 < self.sensitivity < 0.5:
            raise ValueError("a float sensitivity is a per-point test level in (0, 0.5)")
        if self.min_history < 1:
            raise ValueError("min_history must be at least 1")
        if self.band_factor <= 0:
            raise ValueError("band_factor must be positive")

    def point_alpha(self, points_per_day: float) -> float:
        """Two-sided per-point test level for a series with this many buckets a day."""
        if isinstance(self.sensitivity, Sensitivity):
            return min(0.2, self.sensitivity.daily_alpha / max(points_per_day, 1.0))
        return float(self.sensitivity)

    def training_seconds(self, bucket_seconds: float) -> float:
        """How far back a baseline looks for a series with this bucket size."""
        if self.max_training_days is not None:
            return self.max_training_days * SECONDS_PER_DAY
        return (42.0 if bucket_seconds < SECONDS_PER_DAY else 182.0) * SECONDS_PER_DAY

    def with_(self, **changes: Any) -> DetectorSettings:
        """A copy with some fields changed (frozen dataclass helper)."""
        return replace(self, **changes)


@dataclass(slots=True)
class Detection:
    """One tested point (or event) and the evidence behind the verdict."""

    is_anomaly: bool
    timestamp: datetime
    observed: float | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    score: float = 0.0
    p_value: float = 1.0
    seasonal: float = 0.0
    trend: float = 0.0
    training_points: int = 0
    direction: Direction | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# distributions


def normal_sf(z: npt.ArrayLike) -> FloatArray:
    """Upper tail ``P(Z > z)`` of the standard normal, vectorised."""
    x = np.asarray(z, dtype=np.float64) / math.sqrt(2.0)
    ax = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * ax)
    poly = (
        -ax * ax
        - 1.26551223
        + t
        * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886807
                            + t
                            * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
    )
    erfc_abs = t * np.exp(poly)
    erfc = np.where(x >= 0, erfc_abs, 2.0 - erfc_abs)
    return np.asarray(0.5 * erfc, dtype=np.float64)


_A = (
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.3577518672690,
    -30.66479806614716,
    2.506628277459239,
)
_B = (
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
)
_C = (
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
)
_D = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)


def normal_isf(p: float) -> float:
    """``z`` with ``P(Z > z) = p`` (inverse upper tail), for ``0 < p < 1``."""
    p = min(max(p, 1e-300), 1.0 - 1e-16)
    q = 1.0 - p  # lower-tail probability of the answer
    if q < 0.02425:
        r = math.sqrt(-2.0 * math.log(q))
        x = (((((_C[0] * r + _C[1]) * r + _C[2]) * r + _C[3]) * r + _C[4]) * r + _C[5]) / (
            (((_D[0] * r + _D[1]) * r + _D[2]) * r + _D[3]) * r + 1.0
        )
    elif q > 1.0 - 0.02425:
        r = math.sqrt(-2.0 * math.log(p))
        x = -(((((_C[0] * r + _C[1]) * r + _C[2]) * r + _C[3]) * r + _C[4]) * r + _C[5]) / (
            (((_D[0] * r + _D[1]) * r + _D[2]) * r + _D[3]) * r + 1.0
        )
    else:
        r = q - 0.5
        s = r * r
        x = (
            (((((_A[0] * s + _A[1]) * s + _A[2]) * s + _A[3]) * s + _A[4]) * s + _A[5])
            * r
            / (((((_B[0] * s + _B[1]) * s + _B[2]) * s + _B[3]) * s + _B[4]) * s + 1.0)
        )
    # one Halley refinement against the upper tail
    err = float(normal_sf(x)) - p
    dens = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    if dens > 0:
        u = -err / dens
        x = x - u / (1.0 + 0.5 * x * u)
    return x


def _pp_scale(df: FloatArray) -> tuple[FloatArray, FloatArray]:
    a = df - 2.0 / 3.0 + 0.1 / df
    b = df - 5.0 / 6.0
    return a, b


def t_sf(t: npt.ArrayLike, df: npt.ArrayLike) -> FloatArray:
    """Upper tail ``P(T > t)`` of Student's t with ``df`` (>= 2 used) degrees of freedom."""
    tt = np.asarray(t, dtype=np.float64)
    d = np.maximum(np.asarray(df, dtype=np.float64), 2.0)
    a, b = _pp_scale(d)
    z = a * np.sqrt(np.log1p(tt * tt / d) / b)
    return np.where(tt >= 0, normal_sf(z), 1.0 - normal_sf(z))


def t_isf(p: float, df: npt.ArrayLike) -> FloatArray:
    """``t`` with ``P(T > t) = p`` for ``p < 0.5`` (inverse of :func:`t_sf`)."""
    z = normal_isf(p)
    d = np.maximum(np.asarray(df, dtype=np.float64), 2.0)
    a, b = _pp_scale(d)
    return np.asarray(np.sqrt(d * np.expm1((z / a) ** 2 * b)), dtype=np.float64)


def poisson_tail(k: float, lam: float, *, upper: bool) -> float:
    """``P(X >= k)`` (``upper``) or ``P(X <= k)`` for ``X ~ Poisson(lam)``, ``k`` rounded.

    Sums the probability mass in log space away from the mode (exact to float precision) for
    ``lam`` up to 1000; above that Anscombe's normal approximation of the root, with a
    continuity correction, is within a few percent far into the tails, at a fixed cost.
    """
    k = round(k)
    if lam <= 0:
        return 1.0 if (upper and k <= 0) or (not upper and k >= 0) else 0.0
    if upper and k <= 0:
        return 1.0
    if not upper and k < 0:
        return 0.0
    if lam > 1000:  # Anscombe's root transform: accurate here, and O(1)
        if upper:
            z = 2.0 * (math.sqrt(max(k - 0.5, 0.0) + 0.375) - math.sqrt(lam + 0.375))
        else:
            z = 2.0 * (math.sqrt(lam + 0.375) - math.sqrt(k + 0.5 + 0.375))
        return float(normal_sf(z))

    log_lam = math.log(lam)  # hoisted: chart bands sum millions of terms (web/bands.py)
    exp, lgamma = math.exp, math.lgamma

    def away(start: int, step: int) -> float:
        """Mass from ``start`` outward (away from the mode: the terms only shrink)."""
        if start < 0:
            return 0.0
        peak = -lam + start * log_lam - lgamma(start + 1)  # the log pmf at start
        total, j = 0.0, start
        while j >= 0:
            term = exp(-lam + j * log_lam - lgamma(j + 1) - peak)
            total += term
            if term < 1e-17 * total:
                break
            j += step
        return min(1.0, total * exp(peak))

    if upper:
        return away(k, 1) if k > lam else max(0.0, 1.0 - away(k - 1, -1))
    return away(k, -1) if k < lam else max(0.0, 1.0 - away(k + 1, 1))


def poisson_band(lam: float, alpha: float) -> tuple[float, float]:
    """Counts ``(lo, hi)`` with ``P(X < lo) <= alpha/2`` and ``P(X > hi) <= alpha/2``."""
    sd = math.sqrt(max(lam, 1e-12))
    z = normal_isf(alpha / 2.0)
    if lam > 1000:
        return (
            max(0.0, (math.sqrt(lam + 0.375) - z / 2) ** 2 - 0.375),
            (math.sqrt(lam + 0.375) + z / 2) ** 2 - 0.375,
        )
    hi = max(0, math.floor(lam + z * sd))
    while poisson_tail(hi + 1, lam, upper=True) > alpha / 2.0:
        hi += 1
    while hi > 0 and poisson_tail(hi, lam, upper=True) <= alpha / 2.0:
        hi -= 1
    lo = max(0, math.ceil(lam - z * sd))
    while lo > 0 and poisson_tail(lo - 1, lam, upper=False) > alpha / 2.0:
        lo -= 1
    while poisson_tail(lo, lam, upper=False) <= alpha / 2.0:
        lo += 1
    return float(lo), float(hi)


def fmt_number(x: float) -> str:
    """Human formatting for explanations: ``1,204``, ``0.0312``, ``3.1e+09``."""
    if not math.isfinite(x):
        return str(x)
    ax = abs(x)
    if ax >= 1e9:
        return f"{x:.3g}"
    if ax >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    if ax >= 1:
        return f"{x:,.2f}"
    if ax == 0:
        return "0"
    return f"{x:.3g}"
