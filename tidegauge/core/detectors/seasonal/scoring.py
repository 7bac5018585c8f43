"""Scoring against a fitted baseline: the one band computation.

Every band a user sees comes from :func:`score_points` (and, for a verdict, :func:`decide`):
the live detector's alerts, its calendar rules and the chart bands of
:func:`~tidegauge.core.detectors.seasonal.batch.evaluate_batch` alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from tidegauge.core.detectors.base import (
    Detection,
    DetectorSettings,
    Direction,
    FloatArray,
    fmt_number,
    poisson_band,
    poisson_tail,
    t_isf,
    t_sf,
)
from tidegauge.core.detectors.seasonal.model import Fit, _anscombe, _anscombe_inv

_WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")

# ---------------------------------------------------------------------------------------------
# scoring one point


@dataclass(frozen=True, slots=True)
class PointScore:
    """A point scored against a fit, before any decision."""

    observed: float
    expected: float
    lower: float
    upper: float
    z: float
    p_value: float
    seasonal: float
    trend: float
    #: the noise at this time of day relative to the whole day's (None: no such model)
    hour_noise: float | None = None


def score_points(
    fit: Fit,
    t: FloatArray,
    sow: FloatArray,
    y: FloatArray,
    alpha: float,
    band_factor: float,
    direction: Direction,
    *,
    shift: FloatArray | float = 0.0,
    extra_sd: float = 0.0,
    df: float | None = None,
) -> list[PointScore]:
    """Score points against a fit: robust z, p-value and the band at level ``alpha``.

    ``shift`` moves the expectation (in transformed units: a special day's level),
    ``extra_sd`` widens the noise by an independent term (the uncertainty of that level) and
    ``df`` replaces the fit's degrees of freedom.
    """
    g_exp, g_seas, lev = fit.predict(t, sow)
    spread = fit.spread_factor(sow)
    g_exp = g_exp + shift
    dof = fit.df if df is None else df
    mix = fit.tails if df is None and len(fit.tails) > 1 else ((dof, 1.0),)
    q = _mixture_isf(alpha / 2.0, mix)
    tr = fit.transform
    exp = tr.inv(g_exp)
    seas_raw = exp - tr.inv(g_exp - g_seas)
    if fit.poisson:
        # counts: Poisson noise at the expected count plus the multiplicative part, scored in
        # Anscombe's root units (2 sqrt(y + 3/8): Poisson noise has sd ~1 at every count), where
        # the multiplicative part has sd ~ sqrt(mu) * scale; exact enough from a count of ~1
        counts = np.maximum(exp, 0.0)
        mult = fit.scale**2 + extra_sd**2
        sd = np.sqrt(1.0 + counts * mult) * np.sqrt(1.0 + lev) * band_factor
        a_exp = _anscombe(counts)
        z = (_anscombe(y) - a_exp) / sd
        lo = _anscombe_inv(a_exp - q * sd)
        hi = _anscombe_inv(a_exp + q * sd)
        # (no second noise model here: a count's Poisson term is its quiet hours' loudness)
    else:
        sd = fit.scale * np.sqrt(1.0 + lev) * band_factor
        if extra_sd > 0:
            sd = np.sqrt(sd**2 + extra_sd**2)
        lo = tr.inv(g_exp - q * sd)
        hi = tr.inv(g_exp + q * sd)
        z = (tr.fwd(y) - g_exp) / sd
        if spread is not None:
            q_h = _mixture_isf(alpha / 2.0, fit.spread_tails)
            lo = np.minimum(lo, tr.inv(g_exp - q_h * sd * spread))
            hi = np.maximum(hi, tr.inv(g_exp + q_h * sd * spread))
    out: list[PointScore] = []
    for i in range(y.size):
        zi = float(z[i])
        p = _two_sided(zi, mix, direction)
        if spread is not None:
            # unusual against the noise of its hour too: the larger p (intersection-union)
            p = max(p, _two_sided(zi / float(spread[i]), fit.spread_tails, direction))
        lo_i, hi_i = float(lo[i]), float(hi[i])
        if fit.counts and math.isfinite(float(exp[i])) and float(exp[i]) < 1e7:
            # a count is never more surprising than Poisson noise at its expected value says:
            # 3 against an expected 1 happens 8% of the time
            mu = max(float(exp[i]), 0.0)
            up = poisson_tail(float(y[i]), mu, upper=True)
            down = poisson_tail(float(y[i]), mu, upper=False)
            if direction is Direction.UP:
                p_pois = 2.0 * up if y[i] > mu else 1.0
            elif direction is Direction.DOWN:
                p_pois = 2.0 * down if y[i] < mu else 1.0
            else:
                p_pois = 2.0 * min(up, down)
            p = max(p, min(1.0, p_pois))
            p_lo, p_hi = poisson_band(mu, alpha)
            lo_i, hi_i = min(lo_i, p_lo), max(hi_i, p_hi)
        out.append(
            PointScore(
                observed=float(y[i]),
                expected=float(exp[i]),
                lower=lo_i,
                upper=hi_i,
                z=zi,
                p_value=min(1.0, p),
                seasonal=float(seas_raw[i]),
                trend=float(exp[i] - seas_raw[i]),
                hour_noise=None if spread is None else float(spread[i]),
            )
        )
    return out


def _two_sided(z: float, mix: tuple[tuple[float, float], ...], direction: Direction) -> float:
    """Twice the tail beyond ``z`` on the watched side (1 on the other side)."""
    if direction is Direction.UP:
        return 2.0 * _mixture_sf(z, mix) if z > 0 else 1.0
    if direction is Direction.DOWN:
        return 2.0 * _mixture_sf(-z, mix) if z < 0 else 1.0
    return 2.0 * _mixture_sf(abs(z), mix)


def _season_phrase(fit: Fit, ts: datetime) -> str:
    if fit.spec.weekly and fit.spec.daily:
        return f" for {_WEEKDAYS[ts.weekday()]} at {ts:%H:%M}"
    if fit.spec.weekly:
        return f" for {_WEEKDAYS[ts.weekday()]}"
    if fit.spec.daily:
        return f" at {ts:%H:%M}"
    return ""


#: from this factor on, a sentence says its hour is louder than the day
LOUD_HOUR_WORDS = 1.25


def _loud_phrase(ps: PointScore, ts: datetime) -> str:
    f = ps.hour_noise
    if f is None or f < LOUD_HOUR_WORDS:
        return ""
    return f"; at {ts:%H:%M} the noise is usually {f:.1f}× the day's"


def _history_phrase(fit: Fit) -> str:
    if fit.span_days >= 2:
        return f"{fit.span_days:.0f} days ({fit.n_train} points)"
    return f"{fit.n_train} points"


def explain(metric: str, ps: PointScore, fit: Fit, ts: datetime, anomalous: bool) -> str:
    """One human sentence that says what was seen against what was expected and why."""
    diff = ps.observed - ps.expected
    if ps.expected != 0:
        rel = f"{abs(diff) / abs(ps.expected):.0%} {'above' if diff > 0 else 'below'}"
    else:
        rel = "above" if diff > 0 else "below"
    verb = "is" if anomalous else "is within the band:"
    band = f"band {fmt_number(ps.lower)}–{fmt_number(ps.upper)}"
    return (
        f"{metric} {fmt_number(ps.observed)} {verb} {rel} the expected "
        f"{fmt_number(ps.expected)} ({band}){_season_phrase(fit, ts)}, learned from "
        f"{_history_phrase(fit)}{_loud_phrase(ps, ts)}"
    )


def decide(
    cfg: DetectorSettings,
    metric: str,
    ps: PointScore,
    fit: Fit,
    ts: datetime,
    alpha: float,
) -> Detection:
    """The verdict on a scored point: outside the band, on the watched side, big enough (the
    settings' minimum changes) and with ``p <= alpha``."""
    diff = ps.observed - ps.expected
    big_enough = abs(diff) >= cfg.min_abs_change and (
        cfg.min_rel_change <= 0 or abs(diff) >= cfg.min_rel_change * abs(ps.expected)
    )
    outside = ps.observed > ps.upper or ps.observed < ps.lower
    side_ok = (
        cfg.direction is Direction.BOTH
        or (cfg.direction is Direction.UP and diff > 0)
        or (cfg.direction is Direction.DOWN and diff < 0)
    )
    anomalous = bool(outside and side_ok and big_enough and ps.p_value <= alpha)
    return Detection(
        is_anomaly=anomalous,
        timestamp=ts,
        observed=ps.observed,
        expected=ps.expected,
        lower=ps.lower,
        upper=ps.upper,
        score=ps.z,
        p_value=ps.p_value,
        seasonal=ps.seasonal,
        trend=ps.trend,
        training_points=fit.n_train,
        direction=Direction.UP if diff > 0 else Direction.DOWN,
        reason=explain(metric, ps, fit, ts, anomalous),
        details={
            "seasonality": fit.spec.name,
            "transform": fit.transform.lam,
            "scale": fit.scale,
            "df": fit.df,
            "alpha": alpha,
            "training_days": round(fit.span_days, 2),
            "changepoints": len(fit.steps),
            **({} if ps.hour_noise is None else {"hour_noise": round(ps.hour_noise, 3)}),
        },
    )


def _mixture_sf(z: float, mix: tuple[tuple[float, float], ...]) -> float:
    """Upper tail of a weighted average of t distributions (:func:`.model.tail_mixture`)."""
    if len(mix) == 1:
        return float(t_sf(z, mix[0][0]))
    dfs = np.array([df for df, _ in mix])
    w = np.array([x for _, x in mix])
    return float(w @ t_sf(np.full(dfs.size, z), dfs))


def _mixture_isf(p: float, mix: tuple[tuple[float, float], ...]) -> float:
    """The ``z`` whose upper tail under the mixture is ``p``: the lightest and the heaviest
    member's quantiles bracket it; the mixture's tail is evaluated on a fine grid between them
    at once and interpolated in log probability."""
    qs = [float(t_isf(p, df)) for df, _ in mix]
    if len(mix) == 1:
        return qs[0]
    lo, hi = min(qs), max(qs)
    if hi - lo < 1e-9:
        return lo
    zs = np.linspace(lo, hi, 257)
    dfs = np.array([df for df, _ in mix])
    w = np.array([x for _, x in mix])
    sf = w @ t_sf(zs[None, :], dfs[:, None])
    logs = np.log(np.maximum(sf, 1e-300))[::-1]  # increasing, for interpolation
    return float(np.interp(math.log(p), logs, zs[::-1]))
