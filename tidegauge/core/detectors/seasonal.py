"""Metric series: a robust seasonal regression baseline, tested one point at a time.

The model, fitted on *all* training points at once (history is never split per weekday):

    g(y_t) = level + trend·t + Σ_k steps_k(t) + daily harmonics(hour) + weekday dummies
             + weekend × daily harmonics + noise

where ``g`` is a variance-stabilising power transform (identity, square root or log) chosen
from the series' own mean-variance relation. Coefficients come from iteratively reweighted
least squares, Huber then Tukey bisquare, so a past spike ends with weight zero instead of
inflating the band for weeks; points flagged earlier, known incidents and ``fixed`` alerts are
left out of training altogether. Whether the series is seasonal is decided per fit by BIC among
{no seasonality, daily, daily + weekly} using the robust residual scale.

The band is a prediction interval: robust scale (MAD) × Student-t quantile × sqrt(1 + leverage),
with degrees of freedom reduced both for a short history (the MAD's efficiency is about 37%) and
for heavy tails seen in the training residuals. Each tested point is scored against a baseline
fitted only on points strictly before it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from tidegauge.core.detectors.base import (
    SECONDS_PER_DAY,
    Detection,
    DetectorSettings,
    Direction,
    FloatArray,
    fmt_number,
    t_isf,
    t_sf,
)
from tidegauge.core.detectors.feedback import FeedbackEffect, compile_feedback
from tidegauge.core.model import Feedback

BoolArray = npt.NDArray[np.bool_]
Timestamps = Sequence[datetime] | npt.NDArray[Any]
Values = Sequence[float | None] | npt.NDArray[Any]

HUBER_C = 1.345
BISQUARE_C = 4.685
MAD_EFFICIENCY = 0.37  # asymptotic efficiency of the MAD scale vs the standard deviation
REL_SCALE_FLOOR = 0.005  # below half a percent of the level, wiggles are not news
_WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# input normalisation


@dataclass(frozen=True, slots=True)
class Series:
    """A cleaned series: sorted, one value per timestamp, non-finite values as NaN."""

    stamps: list[datetime]
    t: FloatArray  # absolute seconds since the epoch
    sow: FloatArray  # wall-clock seconds since Monday 00:00 (local time when tz-aware)
    y: FloatArray
    bucket: float  # seconds

    @property
    def points_per_day(self) -> float:
        return SECONDS_PER_DAY / self.bucket


def _epoch_sow(ts: datetime) -> tuple[float, float]:
    epoch = ts.timestamp() if ts.tzinfo is not None else (
        ts.replace(tzinfo=UTC) - _EPOCH
    ).total_seconds()
    sow = ts.weekday() * SECONDS_PER_DAY + ts.hour * 3600 + ts.minute * 60 + ts.second
    return epoch, float(sow)


def to_datetimes(timestamps: Timestamps) -> list[datetime]:
    """Python datetimes from datetimes or numpy ``datetime64`` (taken as naive UTC)."""
    if isinstance(timestamps, np.ndarray) and np.issubdtype(timestamps.dtype, np.datetime64):
        secs = timestamps.astype("datetime64[s]").astype(np.int64)
        base = datetime(1970, 1, 1)
        return [base + timedelta(seconds=int(s)) for s in secs]
    return [t if isinstance(t, datetime) else datetime.fromisoformat(str(t)) for t in timestamps]


def infer_bucket(t: FloatArray) -> float:
    """Bucket size in seconds: the median positive spacing, snapped to common sizes."""
    d = np.diff(np.unique(t))
    if d.size == 0:
        return SECONDS_PER_DAY
    med = float(np.median(d))
    for nice in (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800):
        if abs(med - nice) <= 0.05 * nice:
            return float(nice)
    return max(med, 1.0)


def prepare(timestamps: Timestamps, values: Values) -> Series:
    """Sort by time, keep the last value of duplicated timestamps, make non-finite NaN."""
    stamps = to_datetimes(timestamps)
    if len(stamps) != len(values):
        raise ValueError("timestamps and values differ in length")
    yv = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    yv[~np.isfinite(yv)] = np.nan
    pairs = [_epoch_sow(s) for s in stamps]
    t = np.array([p[0] for p in pairs], dtype=np.float64)
    sow = np.array([p[1] for p in pairs], dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t, sow, yv = t[order], sow[order], yv[order]
    stamps = [stamps[i] for i in order]
    if t.size > 1:
        keep = np.append(t[1:] != t[:-1], True)  # the last of equal timestamps wins
        t, sow, yv = t[keep], sow[keep], yv[keep]
        stamps = [s for s, k in zip(stamps, keep, strict=True) if k]
    return Series(stamps=stamps, t=t, sow=sow, y=yv, bucket=infer_bucket(t))


# ---------------------------------------------------------------------------------------------
# design


@dataclass(frozen=True, slots=True)
class Spec:
    """Which seasonal terms a fit carries."""

    daily: int = 0  # number of daily harmonics
    weekly: bool = False  # weekday dummies
    weekend_daily: int = 0  # harmonics of a separate weekend daily shape

    @property
    def name(self) -> str:
        parts = [p for p, on in (("daily", self.daily), ("weekly", self.weekly)) if on]
        return "+".join(parts) or "none"


def candidate_specs(bucket: float, span_seconds: float) -> list[Spec]:
    """Seasonal models worth trying given the bucket size and how much history there is."""
    specs = [Spec()]
    sub_daily = bucket < SECONDS_PER_DAY
    per_day = SECONDS_PER_DAY / bucket
    k = int(min(4, max(0, (per_day - 1) // 2)))
    if sub_daily and k > 0 and span_seconds >= 2 * SECONDS_PER_DAY:
        specs.append(Spec(daily=k))
    if bucket <= SECONDS_PER_DAY and span_seconds >= 14 * SECONDS_PER_DAY:
        specs.append(Spec(daily=k if sub_daily else 0, weekly=True,
                          weekend_daily=min(2, k) if sub_daily else 0))
    return specs


def design(
    t: FloatArray,
    sow: FloatArray,
    spec: Spec,
    *,
    t_end: float,
    span: float,
    trend: bool,
    steps: Sequence[float] = (),
) -> tuple[FloatArray, BoolArray]:
    """Design matrix and a mask of its seasonal columns."""
    cols: list[FloatArray] = [np.ones_like(t)]
    seasonal: list[bool] = [False]
    if trend:
        cols.append((t - t_end) / max(span, 1.0))
        seasonal.append(False)
    for c in steps:
        cols.append((t >= c).astype(np.float64))
        seasonal.append(False)
    phase = 2.0 * math.pi * np.mod(sow, SECONDS_PER_DAY) / SECONDS_PER_DAY
    for k in range(1, spec.daily + 1):
        cols += [np.cos(k * phase), np.sin(k * phase)]
        seasonal += [True, True]
    if spec.weekly:
        dow = np.floor(sow / SECONDS_PER_DAY)
        for d in range(1, 7):
            cols.append((dow == d).astype(np.float64))
            seasonal.append(True)
        weekend = (dow >= 5).astype(np.float64)
        for k in range(1, spec.weekend_daily + 1):
            cols += [weekend * np.cos(k * phase), weekend * np.sin(k * phase)]
            seasonal += [True, True]
    return np.column_stack(cols), np.array(seasonal, dtype=bool)


# ---------------------------------------------------------------------------------------------
# robust fitting


def _wls(x: FloatArray, y: FloatArray, w: FloatArray) -> FloatArray:
    # Normal equations on the small p×p system: lstsq's SVD through a multithreaded BLAS
    # costs ~100× more on a busy 2-core machine, and p (≤ ~25 terms) keeps this well posed.
    xtw = x.T * w
    a = xtw @ x
    a[np.diag_indices_from(a)] += 1e-10 * max(float(np.trace(a)), 1e-300) / a.shape[0]
    try:
        beta = np.linalg.solve(a, xtw @ y)
    except np.linalg.LinAlgError:
        sw = np.sqrt(w)
        beta, *_ = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)
    return np.asarray(beta, dtype=np.float64)


def robust_fit(
    x: FloatArray, y: FloatArray, scale_floor: float, iters: int = 8
) -> tuple[FloatArray, float, FloatArray]:
    """Huber then bisquare IRLS; returns coefficients, MAD scale of residuals, final weights."""
    w = np.ones(y.size)
    beta = _wls(x, y, w)
    s = scale_floor
    for it in range(iters):
        r = y - x @ beta
        s = max(1.4826 * float(np.median(np.abs(r))), scale_floor)
        u = np.abs(r) / s
        if it < 3:
            w = np.minimum(1.0, HUBER_C / np.maximum(u, 1e-12))
        else:
            w = np.where(u < BISQUARE_C, (1.0 - (u / BISQUARE_C) ** 2) ** 2, 0.0)
        if np.count_nonzero(w) <= x.shape[1]:
            w = np.minimum(1.0, HUBER_C / np.maximum(u, 1e-12))
        beta = _wls(x, y, w)
    r = y - x @ beta
    s = max(1.4826 * float(np.median(np.abs(r))), scale_floor)
    return beta, s, w


def rho_bisquare(u: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Tukey's bounded loss: ``u**2 / 2`` near zero, ``c**2 / 6`` for rejected points."""
    v = np.minimum(np.abs(u) / BISQUARE_C, 1.0)
    return np.asarray((BISQUARE_C**2 / 6.0) * (1.0 - (1.0 - v * v) ** 3))


def robust_bic(resid: npt.NDArray[Any], ref_scale: npt.ArrayLike, p: int) -> npt.NDArray[Any]:
    """``2 sum(rho(r / s_ref)) + p log n`` along the last axis, with one scale for all models.

    A MAD-based BIC would let a model without weekly terms "explain" weekends by rejecting
    them as outliers (they are under half the points); with a common reference scale and a
    bounded loss every rejected point pays its full price.
    """
    s_ref = np.asarray(ref_scale, dtype=np.float64)
    if s_ref.ndim == 1:
        s_ref = s_ref[:, None]
    n = resid.shape[-1]
    return np.asarray(2.0 * np.sum(rho_bisquare(resid / s_ref), axis=-1) + p * math.log(n))


def tail_df(z: FloatArray) -> float:
    """Degrees of freedom of a t whose tail matches the standardised residuals ``z``.

    Compares the 97.5% quantile of ``|z|`` to its median (the scale is MAD-based), against
    the same ratio for t distributions; ``inf`` when the tails look normal or data are few.
    """
    if z.size < 80:
        return math.inf
    az = np.abs(z)
    med = float(np.median(az))
    if med <= 0:
        return math.inf
    ratio = float(np.quantile(az, 0.975)) / med
    for df in (2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0):
        ref = float(t_isf(0.0125, df)) / float(t_isf(0.25, df))
        if ratio >= ref:
            return df
    return math.inf


@dataclass(frozen=True, slots=True)
class Transform:
    """A power transform ``g`` (lambda 1: identity, 0.5: sqrt, 0: log(y + offset))."""

    lam: float = 1.0
    offset: float = 0.0

    def fwd(self, y: FloatArray) -> FloatArray:
        if self.lam == 1.0:
            return y
        if self.lam == 0.5:
            return np.sqrt(np.maximum(y, 0.0))
        return np.log(np.maximum(y, 0.0) + self.offset)

    def inv(self, g: FloatArray) -> FloatArray:
        if self.lam == 1.0:
            return g
        if self.lam == 0.5:
            return np.maximum(g, 0.0) ** 2
        return np.maximum(np.exp(g) - self.offset, 0.0)


def choose_transform(y: FloatArray) -> Transform:
    """The variance-stabilising transform for a series, by rule.

    Warehouse metrics (row counts, sums, rates) mostly vary multiplicatively: a 10% drop is
    the same news at night and at noon, and a level shift scales the seasonal shape. So
    positive series are modelled in logs (with a small offset, 1% of the median, so values near
    zero do not dominate), non-negative series with zeros (sparse counts) in square roots,
    and anything that goes negative as is. A Box-Cox profile likelihood was tried and found
    too noisy to choose reliably on a few weeks of daily data.
    """
    if y.size == 0 or float(np.min(y)) < 0:
        return Transform()
    med = float(np.median(y))
    if med <= 0:
        return Transform()
    if float(np.min(y)) > 0:
        return Transform(0.0, 0.01 * med)
    return Transform(0.5)


@dataclass(frozen=True, slots=True)
class Fit:
    """A fitted baseline, enough to predict and explain any later point."""

    spec: Spec
    transform: Transform
    beta: FloatArray
    seasonal_mask: BoolArray
    xtwx_inv: FloatArray
    scale: float
    df: float
    n_train: int
    span_days: float
    t_end: float
    span: float
    trend: bool
    steps: tuple[float, ...]
    seasonal_mean: float

    def predict(
        self, t: FloatArray, sow: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Expected value, seasonal term (both in transformed units) and leverage."""
        x, _ = design(t, sow, self.spec, t_end=self.t_end, span=self.span, trend=self.trend,
                      steps=self.steps)
        exp = x @ self.beta
        seas = x[:, self.seasonal_mask] @ self.beta[self.seasonal_mask] - self.seasonal_mean
        lev = np.einsum("ij,jk,ik->i", x, self.xtwx_inv, x)
        return exp, seas, np.maximum(lev, 0.0)


def fit_baseline(
    t: FloatArray,
    sow: FloatArray,
    y: FloatArray,
    bucket: float,
    steps: Sequence[float] = (),
    transform: Transform | None = None,
) -> Fit:
    """Fit the robust seasonal baseline on training points (all finite, any order)."""
    t_end = float(t.max())
    span = float(t_end - t.min())
    n = y.size
    trend = n >= 10 and span >= 3 * bucket
    steps_used = tuple(c for c in steps if np.count_nonzero(t >= c) >= 1
                       and np.count_nonzero(t < c) >= 1)
    specs = candidate_specs(bucket, span + bucket)
    if transform is not None:
        tr = transform
    else:
        tr = choose_transform(y)
    if tr.lam == 0.0 and float(np.min(y)) <= -tr.offset:
        tr = Transform()
    g = tr.fwd(y)
    g_level = float(np.median(np.abs(g))) if n else 0.0
    if tr.lam == 0.0:
        floor = REL_SCALE_FLOOR
    elif tr.lam == 0.5:
        floor = REL_SCALE_FLOOR * 0.5 * g_level
    else:
        floor = REL_SCALE_FLOOR * g_level
    floor = max(floor, 1e-9)
    best: tuple[float, Spec, FloatArray, float, FloatArray, FloatArray, BoolArray] | None = None
    s_ref: float | None = None
    for spec in reversed(specs):  # richest first: its scale is the common reference
        x, smask = design(t, sow, spec, t_end=t_end, span=span, trend=trend, steps=steps_used)
        p = x.shape[1]
        if n <= p + 2:
            continue
        beta, s, w = robust_fit(x, g, floor)
        if s_ref is None:
            s_ref = s
        bic = float(robust_bic(g - x @ beta, s_ref, p))
        if best is None or bic <= best[0] + 1e-9:
            best = (bic, spec, beta, s, w, x, smask)
    if best is None:  # too few points for any regression: the median level
        x, smask = design(t, sow, Spec(), t_end=t_end, span=span, trend=False)
        med = float(np.median(g)) if n else 0.0
        s = max(1.4826 * float(np.median(np.abs(g - med))) if n else 0.0, floor)
        beta = np.array([med])
        w = np.ones(n)
        best = (0.0, Spec(), beta, s, w, x, smask)
        trend = False
        steps_used = ()
    _, spec, beta, s, w, x, smask = best
    p = x.shape[1]
    n_used = float(np.count_nonzero(w > 0))
    if n_used > p + 1:  # residuals of a p-parameter fit understate the noise
        s *= math.sqrt(n_used / (n_used - p))
    xtwx = (x * w[:, None]).T @ x
    xtwx_inv = np.asarray(np.linalg.pinv(xtwx), dtype=np.float64)
    n_eff = float(np.count_nonzero(w > 0))
    df_small = max(2.0, MAD_EFFICIENCY * (n_eff - p))
    resid = (g - x @ beta) / s
    df = min(df_small, tail_df(resid))
    seas_mean = float(np.mean(x[:, smask] @ beta[smask])) if smask.any() else 0.0
    return Fit(
        spec=spec, transform=tr, beta=beta, seasonal_mask=smask, xtwx_inv=xtwx_inv, scale=s,
        df=df, n_train=n, span_days=(span + bucket) / SECONDS_PER_DAY, t_end=t_end, span=span,
        trend=trend, steps=steps_used, seasonal_mean=seas_mean,
    )


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


def score_points(
    fit: Fit, t: FloatArray, sow: FloatArray, y: FloatArray, alpha: float, band_factor: float,
    direction: Direction,
) -> list[PointScore]:
    """Score points against a fit: robust z, p-value and the band at level ``alpha``."""
    g_exp, g_seas, lev = fit.predict(t, sow)
    sd = fit.scale * np.sqrt(1.0 + lev) * band_factor
    q = float(t_isf(alpha / 2.0, fit.df))
    tr = fit.transform
    exp = tr.inv(g_exp)
    lo = tr.inv(g_exp - q * sd)
    hi = tr.inv(g_exp + q * sd)
    seas_raw = exp - tr.inv(g_exp - g_seas)
    out: list[PointScore] = []
    gy = tr.fwd(y)
    z = (gy - g_exp) / sd
    for i in range(y.size):
        zi = float(z[i])
        if direction is Direction.UP:
            p = float(2.0 * t_sf(zi, fit.df)) if zi > 0 else 1.0
        elif direction is Direction.DOWN:
            p = float(2.0 * t_sf(-zi, fit.df)) if zi < 0 else 1.0
        else:
            p = float(2.0 * t_sf(abs(zi), fit.df))
        out.append(PointScore(
            observed=float(y[i]), expected=float(exp[i]), lower=float(lo[i]), upper=float(hi[i]),
            z=zi, p_value=min(1.0, p), seasonal=float(seas_raw[i]),
            trend=float(exp[i] - seas_raw[i]),
        ))
    return out


def _season_phrase(fit: Fit, ts: datetime, bucket: float) -> str:
    if fit.spec.weekly and fit.spec.daily:
        return f" for {_WEEKDAYS[ts.weekday()]} at {ts:%H:%M}"
    if fit.spec.weekly:
        return f" for {_WEEKDAYS[ts.weekday()]}"
    if fit.spec.daily:
        return f" at {ts:%H:%M}"
    return ""


def _history_phrase(fit: Fit, bucket: float) -> str:
    if fit.span_days >= 2:
        return f"{fit.span_days:.0f} days ({fit.n_train} points)"
    return f"{fit.n_train} points"


def explain(metric: str, ps: PointScore, fit: Fit, ts: datetime, bucket: float,
            anomalous: bool) -> str:
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
        f"{fmt_number(ps.expected)} ({band}){_season_phrase(fit, ts, bucket)}, learned from "
        f"{_history_phrase(fit, bucket)}"
    )


# ---------------------------------------------------------------------------------------------
# the detector


@dataclass
class SeasonalDetector:
    """Seasonal, trend-aware, robust detector for one metric series.

    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2024, 1, 1)
    >>> ts = [t0 + timedelta(days=i) for i in range(40)]
    >>> ys = [100.0 + (i % 7) for i in range(39)] + [20.0]
    >>> det = SeasonalDetector(DetectorSettings()).evaluate(ts, ys, test_from=ts[-1])
    >>> det[0].is_anomaly
    True
    """

    settings: DetectorSettings = field(default_factory=DetectorSettings)
    metric: str = "value"
    refit_every: int | None = None

    def evaluate(
        self,
        timestamps: Timestamps,
        values: Values,
        *,
        test_from: datetime,
        exclude: Sequence[datetime] | npt.NDArray[np.bool_] | None = None,
        feedback: Sequence[tuple[datetime, Feedback | str]] | FeedbackEffect | None = None,
    ) -> list[Detection]:
        """Test every point at or after ``test_from`` against the points strictly before it.

        Points this call flags stay out of later baselines, unless a run of
        ``shift_accept_points`` same-side alerts shows a level shift, which is then learned.
        """
        s = prepare(timestamps, values)
        cfg = self.settings
        eff = feedback if isinstance(feedback, FeedbackEffect) else compile_feedback(
            feedback or ())
        n = s.y.size
        usable = np.isfinite(s.y)
        if exclude is not None:
            if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
                ex = np.asarray(exclude, dtype=bool)
                if ex.size != n:
                    raise ValueError("exclude mask must match the (deduplicated) series")
                usable &= ~ex
            else:
                ex_t = {_epoch_sow(d)[0] for d in to_datetimes(exclude)}
                usable &= ~np.isin(s.t, np.array(sorted(ex_t), dtype=np.float64))
        fb_mask = eff.training_mask(s.stamps)
        usable &= fb_mask
        forced = np.array([d in eff.include for d in s.stamps], dtype=bool)
        changepoints = [_epoch_sow(c)[0] for c in eff.changepoints]
        band_factor = cfg.band_factor * eff.band_factor
        alpha = cfg.point_alpha(s.points_per_day)
        test_t = _epoch_sow(test_from)[0] if isinstance(test_from, datetime) else float(test_from)
        test_idx = np.flatnonzero(s.t >= test_t)
        refit = self.refit_every or max(1, round(s.points_per_day / 4))
        accept = cfg.shift_accept_points or max(3, round(s.points_per_day / 4))
        window = cfg.training_seconds(s.bucket)
        flagged = np.zeros(n, dtype=bool)
        run: list[int] = []
        run_sign = 0
        out: list[Detection] = []
        fit: Fit | None = None
        tr_cache: tuple[Transform, int] | None = None
        since_fit = refit
        for i in (int(k) for k in test_idx):
            ts = s.stamps[i]
            if not np.isfinite(s.y[i]):
                out.append(Detection(False, ts, observed=None, reason=f"{self.metric} is missing",
                                     details={"status": "missing"}))
                continue
            train = usable & (s.t < s.t[i]) & (s.t >= s.t[i] - window) & (~flagged | forced)
            n_train = int(np.count_nonzero(train))
            if n_train < cfg.min_history:
                out.append(Detection(
                    False, ts, observed=float(s.y[i]), training_points=n_train,
                    reason=f"learning: {n_train} of {cfg.min_history} points of history",
                    details={"status": "learning"}))
                fit = None
                continue
            if fit is None or since_fit >= refit:
                # the transform is re-chosen only as history grows materially (it is costly)
                if tr_cache is None or n_train > 1.5 * tr_cache[1]:
                    tr_cache = None
                fit = fit_baseline(s.t[train], s.sow[train], s.y[train], s.bucket, changepoints,
                                   transform=tr_cache[0] if tr_cache else None)
                if tr_cache is None:
                    tr_cache = (fit.transform, n_train)
                since_fit = 0
            since_fit += 1
            ps = score_points(fit, s.t[i:i + 1], s.sow[i:i + 1], s.y[i:i + 1], alpha,
                              band_factor, cfg.direction)[0]
            det = self._decide(ps, fit, ts, s.bucket, alpha)
            out.append(det)
            sign = int(np.sign(ps.z))
            if det.is_anomaly and not forced[i]:
                flagged[i] = True
                if sign == run_sign:
                    run.append(i)
                else:
                    run, run_sign = [i], sign
                if len(run) >= accept:
                    # a persistent shift: learn the new level from its first point on
                    changepoints = sorted({*changepoints, float(s.t[run[0]])})
                    flagged[run] = False
                    det.details["level_shift_accepted"] = True
                    run, run_sign = [], 0
                    fit = None
            else:
                run, run_sign = [], 0
        return out

    def _decide(self, ps: PointScore, fit: Fit, ts: datetime, bucket: float,
                alpha: float) -> Detection:
        cfg = self.settings
        diff = ps.observed - ps.expected
        big_enough = abs(diff) >= cfg.min_abs_change and (
            cfg.min_rel_change <= 0 or abs(diff) >= cfg.min_rel_change * abs(ps.expected))
        outside = ps.observed > ps.upper or ps.observed < ps.lower
        side_ok = (cfg.direction is Direction.BOTH
                   or (cfg.direction is Direction.UP and diff > 0)
                   or (cfg.direction is Direction.DOWN and diff < 0))
        anomalous = bool(outside and side_ok and big_enough and ps.p_value <= alpha)
        return Detection(
            is_anomaly=anomalous, timestamp=ts, observed=ps.observed, expected=ps.expected,
            lower=ps.lower, upper=ps.upper, score=ps.z, p_value=ps.p_value,
            seasonal=ps.seasonal, trend=ps.trend, training_points=fit.n_train,
            direction=Direction.UP if diff > 0 else Direction.DOWN,
            reason=explain(self.metric, ps, fit, ts, bucket, anomalous),
            details={
                "seasonality": fit.spec.name, "transform": fit.transform.lam,
                "scale": fit.scale, "df": fit.df, "alpha": alpha,
                "training_days": round(fit.span_days, 2),
                "changepoints": len(fit.steps),
            },
        )


# ---------------------------------------------------------------------------------------------
# the batch path: many series on one shared time grid


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Scores of the tested points of many series (rows) at shared test times (columns)."""

    test_times: list[datetime]
    observed: FloatArray
    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    score: FloatArray
    p_value: FloatArray
    is_anomaly: npt.NDArray[np.bool_]
    seasonality: list[str]
    training_points: npt.NDArray[np.int64]


def _inv_log(v: FloatArray, use_log: BoolArray) -> FloatArray:
    return np.where(use_log[:, None], np.exp(np.clip(v, -700, 700)), v)


def _rowwise_median(a: npt.NDArray[np.floating[Any]]) -> FloatArray:
    return np.asarray(np.median(a, axis=1), dtype=np.float64)


def _tail_df_rows(az: FloatArray) -> FloatArray:
    """Row-wise :func:`tail_df` on absolute standardised residuals."""
    n = az.shape[1]
    if n < 80:
        return np.full(az.shape[0], np.inf)
    k_med, k_q = (n - 1) // 2, round(0.975 * (n - 1))
    part = np.partition(az, (k_med, k_q), axis=1)
    ratio = part[:, k_q] / np.maximum(part[:, k_med], 1e-300)
    df = np.full(az.shape[0], np.inf)
    for d in (50.0, 20.0, 10.0, 6.0, 4.0, 3.0, 2.0):
        ref = float(t_isf(0.0125, d)) / float(t_isf(0.25, d))
        df = np.where(ratio >= ref, d, df)
    return df


def _batch_robust(
    g: FloatArray, x: FloatArray, pinv: FloatArray, floor: FloatArray, iters: int
) -> tuple[FloatArray, FloatArray]:
    """Robust regression of every row of ``g`` on the shared design ``x``.

    Uses the pseudo-observation form of IRLS (Huber, then bisquare): each step refits least
    squares to ``fitted + psi(residual)``, which needs only the shared pseudo-inverse. The MAD
    scale is re-estimated after the first and the Huber steps only (medians dominate the cost).
    Returns the coefficients and the cleaned pseudo-observations.
    """
    beta = g @ pinv.T
    s = floor
    clean = g
    for it in range(iters):
        fitted = beta @ x.T
        r = g - fitted
        if it in (0, 2):
            s = np.maximum(1.4826 * _rowwise_median(np.abs(r)), floor)
        c = ((HUBER_C if it < 2 else BISQUARE_C) * s)[:, None].astype(g.dtype)
        if it < 2:
            psi = np.clip(r, -c, c)
        else:
            u = r / c
            psi = np.where(np.abs(u) < 1.0, r * (1.0 - u * u) ** 2, 0.0).astype(g.dtype)
        clean = fitted + psi
        beta = clean @ pinv.T
    return beta, clean


def evaluate_batch(
    timestamps: Timestamps,
    values: npt.ArrayLike,
    *,
    test_from: datetime,
    settings: DetectorSettings | None = None,
    chunk: int = 4096,
    iters: int = 4,
) -> BatchResult:
    """Score many series sharing one time grid, vectorised across series.

    Every series is fitted once on the points before ``test_from`` (within
    ``max_training_days``) and each later point is scored against that fit, so no tested point
    is in its own baseline. Missing values (NaN) are imputed from the fit during the
    iterations, which is what weight zero means in the pseudo-observation algorithm. The
    transform is chosen per series between identity and log, and the seasonal model per series
    by BIC, as in the single-series path.
    """
    cfg = settings or DetectorSettings()
    stamps = to_datetimes(timestamps)
    pairs = [_epoch_sow(d) for d in stamps]
    t = np.array([p[0] for p in pairs])
    sow = np.array([p[1] for p in pairs])
    order = np.argsort(t, kind="stable")
    t, sow = t[order], sow[order]
    stamps = [stamps[i] for i in order]
    y_all = np.asarray(values, dtype=np.float64)[:, order]
    bucket = infer_bucket(t)
    t0 = _epoch_sow(test_from)[0]
    window = cfg.training_seconds(bucket)
    tr_idx = np.flatnonzero((t < t0) & (t >= t0 - window))
    te_idx = np.flatnonzero(t >= t0)
    if tr_idx.size < max(cfg.min_history, 3):
        raise ValueError("not enough training points before test_from")
    t_tr, s_tr, t_te, s_te = t[tr_idx], sow[tr_idx], t[te_idx], sow[te_idx]
    t_end, span = float(t_tr.max()), float(t_tr.max() - t_tr.min())
    specs = candidate_specs(bucket, span + bucket)
    designs = []
    for spec in specs:
        x, _ = design(t_tr, s_tr, spec, t_end=t_end, span=span, trend=True)
        xt, _ = design(t_te, s_te, spec, t_end=t_end, span=span, trend=True)
        xtx_inv = np.linalg.pinv(x.T @ x)
        lev = np.einsum("ij,jk,ik->i", xt, xtx_inv, xt)
        designs.append((spec, x, xt, np.linalg.pinv(x), lev))
    n_tr = tr_idx.size
    alpha = cfg.point_alpha(SECONDS_PER_DAY / bucket)
    n_series = y_all.shape[0]
    shape = (n_series, te_idx.size)
    res = {k: np.empty(shape) for k in ("exp", "lo", "hi", "z", "p")}
    seas_names: list[str] = []
    for a in range(0, n_series, chunk):
        y = y_all[a:a + chunk]
        y_tr = y[:, tr_idx[0]:tr_idx[-1] + 1].astype(np.float32)  # t is sorted: contiguous
        y_te = y[:, te_idx[0]:te_idx[-1] + 1]
        finite = np.isfinite(y_tr)
        if finite.all():
            med = _rowwise_median(y_tr)
        else:
            med = np.nanmedian(np.where(finite, y_tr, np.nan), axis=1)
            med = np.where(np.isfinite(med), med, 0.0)
        y_tr = np.where(finite, y_tr, med[:, None])
        # transform: log where the series is positive and its noise grows with its level
        _, x_l, _, pinv_l, _ = designs[-1]
        fit0 = (y_tr @ pinv_l.T.astype(np.float32)) @ x_l.T.astype(np.float32)
        r0 = y_tr - fit0
        pos = np.all(y_tr > 0, axis=1) & np.all(fit0 > 0, axis=1)
        lf = np.log(np.maximum(fit0, 1e-30))
        la = np.log(np.abs(r0) + 1e-12)
        lf_c = lf - lf.mean(axis=1, keepdims=True)
        slope = np.sum(lf_c * (la - la.mean(axis=1, keepdims=True)), axis=1) / np.maximum(
            np.sum(lf_c * lf_c, axis=1), 1e-12)
        ratio = np.max(fit0, axis=1) / np.maximum(np.min(fit0, axis=1), 1e-30)
        use_log = pos & (slope > 0.75) & (ratio >= 1.5)
        g = np.where(use_log[:, None], np.log(np.maximum(y_tr, 1e-30)), y_tr)
        g_te = np.where(use_log[:, None], np.log(np.maximum(y_te, 1e-300)), y_te)
        g_lvl = np.abs(np.where(use_log, np.log(np.maximum(med, 1e-30)), med))
        floor = np.where(use_log, REL_SCALE_FLOOR, 1e-9 + REL_SCALE_FLOOR * g_lvl)
        g32 = g
        # robust fit of the richest model; nested models refit its cleaned observations
        _, x_f, _, pinv_f, _ = designs[-1]
        _, clean = _batch_robust(g32, x_f.astype(np.float32), pinv_f.astype(np.float32),
                                 floor, iters)
        best_bic = np.full(y.shape[0], np.inf)
        best: dict[str, FloatArray] = {}
        best_spec = np.zeros(y.shape[0], dtype=np.int64)
        s_ref: FloatArray | None = None
        for k, (_, x, xt, pinv, lev) in reversed(list(enumerate(designs))):
            p = x.shape[1]
            if n_tr <= p + 2:
                continue
            beta = (clean @ pinv.T.astype(np.float32)).astype(np.float64)
            r = g32 - (beta @ x.T).astype(np.float32)
            s = np.maximum(1.4826 * _rowwise_median(np.abs(r)).astype(np.float64), floor)
            if s_ref is None:
                s_ref = s
            bic = robust_bic(r, s_ref.astype(np.float32), p).astype(np.float64)
            better = bic <= best_bic + 1e-9
            best_bic = np.where(better, bic, best_bic)
            best_spec = np.where(better, k, best_spec)
            e = beta @ xt.T
            df = np.full(e.shape[0], max(2.0, MAD_EFFICIENCY * (n_tr - p)))
            sd = s[:, None] * np.sqrt(1.0 + lev)[None, :] * cfg.band_factor
            az = np.abs(r) / s[:, None].astype(np.float32)
            for key, val in (("e", e), ("sd", sd), ("df", df), ("az", az)):
                cur = best.get(key)
                if cur is None:
                    best[key] = val
                elif val.ndim == 1:
                    best[key] = np.where(better, val, cur)
                else:
                    best[key] = np.where(better[:, None], val, cur)
        e, sd = best["e"], best["sd"]
        df = np.minimum(best["df"], _tail_df_rows(best["az"]))[:, None] * np.ones_like(e)
        z = (g_te - e) / sd
        q = np.empty_like(df)
        for d in np.unique(df):
            q[df == d] = float(t_isf(alpha / 2.0, d))
        sl = slice(a, a + y.shape[0])
        res["exp"][sl] = _inv_log(e, use_log)
        res["lo"][sl] = _inv_log(e - q * sd, use_log)
        res["hi"][sl] = _inv_log(e + q * sd, use_log)
        res["z"][sl] = z
        if cfg.direction is Direction.UP:
            zz = np.where(z > 0, z, 0.0)
        elif cfg.direction is Direction.DOWN:
            zz = np.where(z < 0, -z, 0.0)
        else:
            zz = np.abs(z)
        res["p"][sl] = np.minimum(1.0, 2.0 * t_sf(np.nan_to_num(zz), df))
        seas_names += [specs[int(k)].name for k in best_spec]
    obs = y_all[:, te_idx]
    diff = obs - res["exp"]
    big = np.abs(diff) >= cfg.min_abs_change
    if cfg.min_rel_change > 0:
        big &= np.abs(diff) >= cfg.min_rel_change * np.abs(res["exp"])
    anomalous = np.isfinite(obs) & big & (res["p"] <= alpha) & (
        (obs > res["hi"]) | (obs < res["lo"]))
    return BatchResult(
        test_times=[stamps[i] for i in te_idx], observed=obs, expected=res["exp"],
        lower=res["lo"], upper=res["hi"], score=res["z"], p_value=res["p"],
        is_anomaly=anomalous, seasonality=seas_names,
        training_points=np.count_nonzero(np.isfinite(y_all[:, tr_idx]), axis=1).astype(np.int64),
    )
