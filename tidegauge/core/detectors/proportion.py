"""Rates of rows (null, empty, zero, negative, true): tested as proportions, not as numbers.

A bucket's null rate is ``k`` nulls out of ``n`` rows. Treating it as a continuous value
fails both ways: a robust median of a mostly-zero series is 0 with no spread, so one
null in a quiet hour "deviates infinitely"; and a bucket of 20 rows moves in steps of
5%. Here the baseline is the pooled historical rate, the test is binomial with an
over-dispersion factor learned from how much the history's buckets actually vary, and
an alert also needs an effect a person would care about.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np

from tidegauge.core.detectors.base import Detection, DetectorSettings, Direction, normal_sf

#: an alert needs the rate to move by at least this much (absolute) ...
MIN_ABS_EFFECT = 0.02
#: ... and by at least this multiple of the baseline rate
MIN_REL_EFFECT = 1.0
#: and at least this many rows that make the difference: with thousands of tests a run, a
#: bucket of 47 rows with 5 nulls (p ~ 1e-4 against a usual 0.5%) turns up by chance every
#: few runs, and 5 rows is not worth paging anyone about however small the p-value
MIN_ROWS_EFFECT = 20
#: ... counted over the run of adjacent buckets that all moved the same way: 8 nulls in each
#: of six quiet night hours is 48 rows of a real problem, though no one hour reaches 20
MIN_HISTORY_BUCKETS = 24
#: below this many expected events per bucket the Poisson tail replaces the normal one
SMALL_EXPECTED = 30.0


@dataclass(frozen=True, slots=True)
class RatePoint:
    timestamp: datetime
    rate: float
    rows: float


def _dispersion(k: np.ndarray, n: np.ndarray, p0: float) -> float:
    """How much more the history varies than a binomial would (≥ 1), robustly."""
    var = n * p0 * (1 - p0)
    ok = var > 0
    if ok.sum() < 8:
        return 1.0
    z2 = (k[ok] - n[ok] * p0) ** 2 / var[ok]
    # Pearson's chi-square per degree of freedom (1 for a pure binomial, whatever the bucket
    # size — a median would be biased by discreteness on small counts); each term is capped
    # so one past incident cannot inflate the band for weeks
    return max(1.0, float(np.mean(np.minimum(z2, 25.0))))


def evaluate_rates(
    history: Sequence[RatePoint],
    tested: Sequence[RatePoint],
    settings: DetectorSettings,
    metric: str = "null_rate",
    points_per_day: float = 24.0,
) -> list[Detection]:
    """Test each point of ``tested`` against the pooled rate of ``history``.

    ``history`` must not contain the tested points (the caller passes training points
    only: earlier buckets, alerted points removed).
    """
    hist = [h for h in history if h.rows > 0 and math.isfinite(h.rate)]
    if len(hist) < MIN_HISTORY_BUCKETS:
        return [
            Detection(
                False,
                t.timestamp,
                observed=t.rate,
                training_points=len(hist),
                reason=f"learning: {len(hist)} of {MIN_HISTORY_BUCKETS} buckets seen",
            )
            for t in tested
        ]
    n_h = np.array([h.rows for h in hist], dtype=np.float64)
    k_h = np.array([h.rate * h.rows for h in hist], dtype=np.float64)
    # Jeffreys-style smoothing keeps a never-seen rate above zero without inventing one
    p0 = float((k_h.sum() + 0.5) / (n_h.sum() + 1.0))
    phi = _dispersion(k_h, n_h, p0)
    alpha = settings.point_alpha(points_per_day)
    step = 86400.0 / points_per_day
    scored: list[tuple[RatePoint, float, float, float, bool]] = []
    slots: list[Detection | None] = []  # the tested order; None: filled once runs are known
    where: list[int] = []  # scored[i] fills slots[where[i]]
    for t in tested:
        if t.rows <= 0 or not math.isfinite(t.rate):
            slots.append(
                Detection(
                    False,
                    t.timestamp,
                    observed=t.rate,
                    training_points=len(hist),
                    reason="no rows in this bucket",
                )
            )
            continue
        n = t.rows
        k = t.rate * n
        sd = math.sqrt(phi * n * p0 * (1 - p0))
        z = (k - n * p0) / max(sd, 1e-12)
        up = settings.direction in (Direction.UP, Direction.BOTH)
        down = settings.direction in (Direction.DOWN, Direction.BOTH)
        lam = n * p0
        if lam < SMALL_EXPECTED:
            # few expected events: the normal tail is far too thin (5 nulls where 0.8 are
            # usual is p≈0.001, not 1e-6); use the quasi-Poisson tail instead
            p_up = _poisson_sf(k / phi, lam / phi) if up else 1.0
            p_down = (1.0 - _poisson_sf(k / phi + 1.0, lam / phi)) if down else 1.0
        else:
            p_up = float(normal_sf(z)[()]) if up else 1.0
            p_down = float(normal_sf(-z)[()]) if down else 1.0
        p_value = min(1.0, 2 * min(p_up, p_down)) if up and down else min(p_up, p_down)
        effect = abs(t.rate - p0)
        moved = (
            p_value < alpha
            and effect >= max(MIN_ABS_EFFECT, settings.min_abs_change)
            and effect >= MIN_REL_EFFECT * p0
        )
        scored.append((t, z, p_value, k - n * p0, moved))
        where.append(len(slots))
        slots.append(None)
    sustained = _sustained_excess(scored, step)
    for i, (t, z, p_value, excess, moved) in enumerate(scored):
        n = t.rows
        run_buckets, run_excess = sustained[i]
        bad = moved and max(abs(excess), run_excess) >= MIN_ROWS_EFFECT
        half = float(_z_for(alpha)) * math.sqrt(phi * p0 * (1 - p0) / n)
        lower, upper = max(0.0, p0 - half), min(1.0, p0 + half)
        word = metric.replace("_", " ")
        reason = (
            f"{word} {t.rate:.1%} ({t.rate * n:,.0f} of {n:,.0f} rows) against a usual "
            f"{p0:.2%} (band {lower:.1%}–{upper:.1%}), learned from {int(n_h.sum()):,} rows "
            f"in {len(hist)} buckets"
        )
        details: dict[str, object] = {
            "rows": n,
            "dispersion": round(phi, 3),
            "model": "binomial",
        }
        if bad and abs(excess) < MIN_ROWS_EFFECT:
            reason += (
                f"; {run_excess:,.0f} rows off the usual rate over {run_buckets} adjacent "
                "buckets that all moved this way"
            )
            details["sustained"] = {"buckets": run_buckets, "rows": round(run_excess, 1)}
        made = Detection(
            bad,
            t.timestamp,
            observed=t.rate,
            expected=p0,
            lower=lower,
            upper=upper,
            score=z,
            p_value=p_value,
            training_points=len(hist),
            direction=Direction.UP if z > 0 else Direction.DOWN,
            reason=reason,
            details=details,
        )
        slots[where[i]] = made
    return [d for d in slots if d is not None]


def _sustained_excess(
    scored: Sequence[tuple[RatePoint, float, float, float, bool]], step: float
) -> list[tuple[int, float]]:
    """Per scored bucket: the length and the summed excess rows (absolute) of the run of
    adjacent buckets around it that all moved significantly in the same direction (its own
    when it did not move: 1 bucket, its own excess)."""
    out: list[tuple[int, float]] = [(1, abs(s[3])) for s in scored]
    i = 0
    while i < len(scored):
        if not scored[i][4]:
            i += 1
            continue
        j = i
        while (
            j + 1 < len(scored)
            and scored[j + 1][4]
            and (scored[j + 1][3] > 0) == (scored[i][3] > 0)
            and abs((scored[j + 1][0].timestamp - scored[j][0].timestamp).total_seconds() - step)
            < 1.0
        ):
            j += 1
        total = abs(sum(s[3] for s in scored[i : j + 1]))
        for m in range(i, j + 1):
            out[m] = (j - i + 1, total)
        i = j + 1
    return out


def _poisson_sf(k: float, lam: float) -> float:
    """``P(X >= k)`` for X ~ Poisson(lam), with ``k`` rounded to the nearest count."""
    kk = max(0, round(k))
    if kk == 0:
        return 1.0
    term = math.exp(-lam)
    cdf = term
    for i in range(1, kk):
        term *= lam / i
        cdf += term
    return min(1.0, max(0.0, 1.0 - cdf))


@lru_cache(maxsize=256)
def _z_for(alpha: float) -> float:
    """Two-sided normal quantile for ``alpha`` (a bisection on the survival function).

    Cached: a run asks for the same few levels thousands of times (a first run over a wide
    table spent more on this bisection than on the rest of its rate detection)."""
    lo, hi = 0.0, 40.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if float(normal_sf(mid)[()]) * 2 > alpha:
            lo = mid
        else:
            hi = mid
    return hi
