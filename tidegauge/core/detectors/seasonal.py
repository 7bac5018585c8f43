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
for heavy tails seen in the training residuals (of the points the bisquare kept: a holiday or an
old incident is an anomaly, not noise). Counts (non-negative integers) are never judged more
surprising than Poisson noise at their expected value allows (3 against an expected 1 happens 8%
of the time). Each tested point is scored against a baseline fitted only on points strictly
before it.

A run of same-side alerts is taken as a level shift and learned; if the series then comes back
to the old level (a holiday, an outage), the shift is recognised as a temporary episode: the
changepoint is dropped and the episode leaves training, so the day after does not alert again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from tidegauge.core.calendar import SpecialDays
from tidegauge.core.detectors import special as sp
from tidegauge.core.detectors.base import (
    SECONDS_PER_DAY,
    Detection,
    DetectorSettings,
    Direction,
    FloatArray,
    fmt_number,
    normal_sf,
    poisson_band,
    poisson_tail,
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
#: runs of rejected points are episodes (left out of the noise's tails) while they cover at most
#: this share of the history (a holiday is 2.4% of six weeks); more, and they are normal
MAX_EPISODE_SHARE = 0.05
#: a series whose training history takes at most this many distinct values (over at least
#: DISCRETE_MIN_HISTORY points) is discrete: see SeasonalDetector._seen_before
DISCRETE_MAX_VALUES = 12
DISCRETE_MIN_HISTORY = 50
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
    epoch = (
        ts.timestamp()
        if ts.tzinfo is not None
        else (ts.replace(tzinfo=UTC) - _EPOCH).total_seconds()
    )
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
    """Seasonal models worth trying given the bucket size and how much history there is.

    A smooth daily shape (4 harmonics) from two days on; from a week on also a sharp one (up
    to 11 harmonics: an hourly shape with steps, e.g. a shop that opens at 08:00), and from two
    weeks on weekdays and a weekend shape on top of the sharpest daily shape available.
    """
    specs = [Spec()]
    sub_daily = bucket < SECONDS_PER_DAY
    per_day = SECONDS_PER_DAY / bucket
    k = int(min(4, max(0, (per_day - 1) // 2)))
    k_sharp = int(min(11, max(0, (per_day - 1) // 2)))
    if sub_daily and k > 0 and span_seconds >= 2 * SECONDS_PER_DAY:
        specs.append(Spec(daily=k))
    sharp = sub_daily and k_sharp > k and span_seconds >= 7 * SECONDS_PER_DAY
    if sharp:
        specs.append(Spec(daily=k_sharp))
    if bucket <= SECONDS_PER_DAY and span_seconds >= 14 * SECONDS_PER_DAY:
        specs.append(
            Spec(
                daily=(k_sharp if sharp else k) if sub_daily else 0,
                weekly=True,
                weekend_daily=min(2, k) if sub_daily else 0,
            )
        )
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
    xw = x * w[:, None]  # (xw)ᵀx is ~2.5× faster than (xᵀ w) x: memory order
    a = xw.T @ x
    a[np.diag_indices_from(a)] += 1e-10 * max(float(np.trace(a)), 1e-300) / a.shape[0]
    try:
        beta = np.linalg.solve(a, xw.T @ y)
    except np.linalg.LinAlgError:
        sw = np.sqrt(w)
        beta, *_ = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)
    return np.asarray(beta, dtype=np.float64)


def _inv_small(a: FloatArray) -> FloatArray:
    """Inverse of a small symmetric p×p matrix (LU with a tiny ridge; pinv if singular).

    ``np.linalg.pinv`` goes through an SVD that a multithreaded BLAS makes ~100× slower on a
    busy machine; an LU solve of a ridge-stabilised p×p system does not.
    """
    b = np.array(a, dtype=np.float64)
    b[np.diag_indices_from(b)] += 1e-10 * max(float(np.trace(b)), 1e-300) / max(b.shape[0], 1)
    try:
        inv = np.linalg.solve(b, np.eye(b.shape[0]))
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(b)
    if not np.all(np.isfinite(inv)):
        inv = np.linalg.pinv(b)
    return np.asarray(inv, dtype=np.float64)


def robust_fit(
    x: FloatArray,
    y: FloatArray,
    scale_floor: float,
    iters: int = 8,
    start: FloatArray | None = None,
) -> tuple[FloatArray, float, FloatArray]:
    """Huber then bisquare IRLS; returns coefficients, MAD scale of residuals, final weights.

    ``start``: residuals of a previous fit on (nearly) the same history: the iterations then
    start from its bisquare weights and need only three steps (a warm start).
    """
    if start is not None and start.size == y.size:
        s0 = max(1.4826 * float(np.median(np.abs(start))), scale_floor)
        u0 = np.abs(start) / s0
        w = np.where(u0 < BISQUARE_C, (1.0 - (u0 / BISQUARE_C) ** 2) ** 2, 0.0)
        if np.count_nonzero(w) <= x.shape[1]:
            w = np.ones(y.size)
        first_bisquare, iters = 0, 2
    else:
        w = np.ones(y.size)
        first_bisquare = 3
    beta = _wls(x, y, w)
    s = scale_floor
    for it in range(iters):
        r = y - x @ beta
        s = max(1.4826 * float(np.median(np.abs(r))), scale_floor)
        u = np.abs(r) / s
        if it < first_bisquare:
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


def _episodes(rejected: BoolArray, t: FloatArray | None = None) -> BoolArray:
    """Rejected points with a rejected neighbour in time: parts of an episode."""
    if rejected.size < 2:
        return np.zeros(rejected.shape, dtype=bool)
    if t is not None:
        order = np.argsort(t, kind="stable")
        out = np.zeros(rejected.shape, dtype=bool)
        out[order] = _episodes(rejected[order])
        return out
    nb = np.zeros(rejected.shape, dtype=bool)
    nb[1:] |= rejected[:-1]
    nb[:-1] |= rejected[1:]
    return rejected & nb


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
    counts: bool = False  # training values are non-negative integers: Poisson at least
    #: counts modelled in logs: ``scale`` is the multiplicative part of the noise, and each
    #: point adds Poisson noise at its expected count (see :func:`count_noise_var`)
    poisson: bool = False

    def predict(self, t: FloatArray, sow: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Expected value, seasonal term (both in transformed units) and leverage."""
        x, _ = design(
            t, sow, self.spec, t_end=self.t_end, span=self.span, trend=self.trend, steps=self.steps
        )
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
    spec: Spec | None = None,
    previous: Fit | None = None,
    count_noise: bool = False,
) -> Fit:
    """Fit the robust seasonal baseline on training points (all finite, any order).

    ``spec`` skips the choice of seasonality (BIC over :func:`candidate_specs`) when a recent
    fit on nearly the same history already made it; ``previous`` (such a fit, same transform)
    warm-starts the robust iterations from its residuals.
    """
    t_end = float(t.max())
    span = float(t_end - t.min())
    n = y.size
    trend = n >= 10 and span >= 3 * bucket
    steps_used = tuple(
        c for c in steps if np.count_nonzero(t >= c) >= 1 and np.count_nonzero(t < c) >= 1
    )
    specs = candidate_specs(bucket, span + bucket)
    if spec is not None and spec in specs:
        specs = [spec]
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
    for cand in reversed(specs):  # richest first: its scale is the common reference
        x, smask = design(t, sow, cand, t_end=t_end, span=span, trend=trend, steps=steps_used)
        p = x.shape[1]
        if n <= p + 2:
            continue
        warm = None
        if previous is not None and len(specs) == 1 and previous.transform == tr:
            warm = g - previous.predict(t, sow)[0]
        beta, s, w = robust_fit(x, g, floor, start=warm)
        if s_ref is None:
            s_ref = s
        bic = float(robust_bic(g - x @ beta, s_ref, p))
        if best is None or bic <= best[0] + 1e-9:
            best = (bic, cand, beta, s, w, x, smask)
    if best is None:  # too few points for any regression: the median level
        x, smask = design(t, sow, Spec(), t_end=t_end, span=span, trend=False)
        med = float(np.median(g)) if n else 0.0
        s = max(1.4826 * float(np.median(np.abs(g - med))) if n else 0.0, floor)
        beta = np.array([med])
        w = np.ones(n)
        best = (0.0, Spec(), beta, s, w, x, smask)
        trend = False
        steps_used = ()
    _, chosen, beta, s, w, x, smask = best
    p = x.shape[1]
    counts = bool(n and np.all(y >= 0) and np.all(y == np.round(y)))
    # counts in logs: Poisson noise is large at night (17 rows) and small at the peak (200
    # rows); one scale for both would be too wide at the peak and too narrow at night, and
    # the mixture would look heavy-tailed. The noise is Poisson at the fitted count plus a
    # multiplicative part, the scale left once the typical Poisson variance is taken out.
    poisson = count_noise and counts and tr.lam == 0.0
    v_pois = count_noise_var(x @ beta, tr.offset) if poisson else None
    if v_pois is not None:
        s = math.sqrt(max(s * s - float(np.median(v_pois)), floor * floor))
    n_used = float(np.count_nonzero(w > 0))
    if n_used > p + 1:  # residuals of a p-parameter fit understate the noise
        s *= math.sqrt(n_used / (n_used - p))
    xtwx = (x * w[:, None]).T @ x
    xtwx_inv = _inv_small(xtwx)
    n_eff = float(np.count_nonzero(w > 0))
    df_small = max(2.0, MAD_EFFICIENCY * (n_eff - p))
    resid = (g - x @ beta) / (s if v_pois is None else np.sqrt(s * s + v_pois))
    # the tails of the *noise*: a run of points the bisquare rejected (a holiday, an old
    # incident) is an anomaly, not noise, and counting it would widen every band for weeks;
    # isolated rejected points are the noise's own tails and count
    episode = _episodes(w == 0, t)
    if episode.mean() > MAX_EPISODE_SHARE:  # that common, the "episodes" are normal behaviour
        episode[:] = False
    df = min(df_small, tail_df(resid[~episode]))
    seas_mean = float(np.mean(x[:, smask] @ beta[smask])) if smask.any() else 0.0
    return Fit(
        spec=chosen,
        transform=tr,
        beta=beta,
        seasonal_mask=smask,
        xtwx_inv=xtwx_inv,
        scale=s,
        df=df,
        n_train=n,
        span_days=(span + bucket) / SECONDS_PER_DAY,
        t_end=t_end,
        span=span,
        trend=trend,
        steps=steps_used,
        seasonal_mean=seas_mean,
        counts=counts,
        poisson=poisson,
    )


def _anscombe(y: FloatArray) -> FloatArray:
    return np.asarray(2.0 * np.sqrt(np.maximum(y, 0.0) + 0.375))


def _anscombe_inv(a: FloatArray) -> FloatArray:
    return np.asarray(
        np.where(a > 0, np.maximum((np.maximum(a, 0.0) / 2.0) ** 2 - 0.375, 0.0), 0.0)
    )


def count_noise_var(g: npt.NDArray[Any], offset: float | npt.NDArray[Any]) -> FloatArray:
    """Variance of Poisson noise in ``log(y + offset)`` units at the count ``exp(g) - offset``
    (delta method, with Anscombe's +0.25/+0.5 keeping it finite near zero)."""
    mu = np.maximum(np.exp(np.minimum(g, 80.0)) - offset, 0.0)
    den = mu + offset + 0.5
    return np.asarray((mu + 0.25) / (den * den))


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
    g_exp = g_exp + shift
    dof = fit.df if df is None else df
    q = float(t_isf(alpha / 2.0, dof))
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
    else:
        sd = fit.scale * np.sqrt(1.0 + lev) * band_factor
        if extra_sd > 0:
            sd = np.sqrt(sd**2 + extra_sd**2)
        lo = tr.inv(g_exp - q * sd)
        hi = tr.inv(g_exp + q * sd)
        z = (tr.fwd(y) - g_exp) / sd
    out: list[PointScore] = []
    for i in range(y.size):
        zi = float(z[i])
        if direction is Direction.UP:
            p = float(2.0 * t_sf(zi, dof)) if zi > 0 else 1.0
        elif direction is Direction.DOWN:
            p = float(2.0 * t_sf(-zi, dof)) if zi < 0 else 1.0
        else:
            p = float(2.0 * t_sf(abs(zi), dof))
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
            )
        )
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


def explain(
    metric: str, ps: PointScore, fit: Fit, ts: datetime, bucket: float, anomalous: bool
) -> str:
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
    #: holidays and other special days: they never train a baseline and are tested as
    #: :mod:`~tidegauge.core.detectors.special` describes
    calendar: SpecialDays | None = None
    #: whether the metric counts things (rows, values): its noise is then Poisson at the count
    #: plus a multiplicative part. None: when the metric's name says ``count``. An integer
    #: median of amounts is not a count.
    counts: bool | None = None

    @property
    def counts_things(self) -> bool:
        return self.counts if self.counts is not None else "count" in self.metric.lower()

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
        Points on the calendar's special days never train a baseline and never start a level
        shift; they are tested by the special-day rules (:mod:`.special`).
        """
        s = prepare(timestamps, values)
        cfg = self.settings
        eff = feedback if isinstance(feedback, FeedbackEffect) else compile_feedback(feedback or ())
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
        cal = self.calendar
        special = np.zeros(n, dtype=bool)
        day_of: list[date] = []
        if cal is not None and cal.dates:
            day_of = cal.local_dates(s.stamps, s.bucket)
            special = np.fromiter((d in cal.dates for d in day_of), dtype=bool, count=n)
        examples_ok = usable & special  # earlier special days that may teach a holiday level
        usable &= ~special
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
        auto_cp: list[tuple[float, int, int]] = []  # accepted shifts: time, index, sign
        out: list[Detection] = []
        fit: Fit | None = None
        tr_cache: tuple[Transform, int, Spec] | None = None
        since_fit = refit
        for i in (int(k) for k in test_idx):
            ts = s.stamps[i]
            if not np.isfinite(s.y[i]):
                out.append(
                    Detection(
                        False,
                        ts,
                        observed=None,
                        reason=f"{self.metric} is missing",
                        details={"status": "missing"},
                    )
                )
                continue
            train = usable & (s.t < s.t[i]) & (s.t >= s.t[i] - window) & (~flagged | forced)
            n_train = int(np.count_nonzero(train))
            if n_train < cfg.min_history:
                out.append(
                    Detection(
                        False,
                        ts,
                        observed=float(s.y[i]),
                        training_points=n_train,
                        reason=f"learning: {n_train} of {cfg.min_history} points of history",
                        details={"status": "learning"},
                    )
                )
                fit = None
                continue
            if fit is None or since_fit >= refit:
                # the transform and the seasonality are re-chosen only as history grows
                # materially (choosing them is most of the cost of a fit)
                if tr_cache is None or n_train > 1.5 * tr_cache[1]:
                    tr_cache = None
                fit = fit_baseline(
                    s.t[train],
                    s.sow[train],
                    s.y[train],
                    s.bucket,
                    changepoints,
                    transform=tr_cache[0] if tr_cache else None,
                    spec=tr_cache[2] if tr_cache else None,
                    previous=fit if tr_cache else None,
                    count_noise=self.counts_things,
                )
                if tr_cache is None:
                    tr_cache = (fit.transform, n_train, fit.spec)
                since_fit = 0
            since_fit += 1
            ps = score_points(
                fit,
                s.t[i : i + 1],
                s.sow[i : i + 1],
                s.y[i : i + 1],
                alpha,
                band_factor,
                cfg.direction,
            )[0]
            det = self._decide(ps, fit, ts, s.bucket, alpha)
            if det.is_anomaly and not forced[i]:
                det = self._seen_before(det, s.y[train], alpha)
            if special[i]:
                ok = examples_ok & (~flagged | forced) & (s.t >= s.t[i] - window)
                det = self._special_day(ps, det, fit, s, i, day_of, ok, alpha, band_factor)
                out.append(det)
                if det.is_anomaly and not forced[i]:
                    flagged[i] = True
                run, run_sign = [], 0  # a holiday is not the start of a new level
                continue
            sign = int(np.sign(ps.z))
            if det.is_anomaly and not forced[i] and auto_cp and sign == -auto_cp[-1][2]:
                # back the other way after an accepted shift: was it a temporary episode (a
                # holiday, an outage) rather than a new level? Test against the old level.
                cp_t, cp_i, _ = auto_cp[-1]
                alt_cps = [c for c in changepoints if c != cp_t]
                episode = np.zeros(n, dtype=bool)
                episode[cp_i:i] = True
                alt_train = train & ~episode
                if np.count_nonzero(alt_train) >= cfg.min_history:
                    alt_fit = fit_baseline(
                        s.t[alt_train],
                        s.sow[alt_train],
                        s.y[alt_train],
                        s.bucket,
                        alt_cps,
                        transform=tr_cache[0] if tr_cache else None,
                        spec=tr_cache[2] if tr_cache else None,
                        count_noise=self.counts_things,
                    )
                    alt_ps = score_points(
                        alt_fit,
                        s.t[i : i + 1],
                        s.sow[i : i + 1],
                        s.y[i : i + 1],
                        alpha,
                        band_factor,
                        cfg.direction,
                    )[0]
                    alt_det = self._decide(alt_ps, alt_fit, ts, s.bucket, alpha)
                    if not alt_det.is_anomaly:
                        changepoints = alt_cps
                        flagged |= episode & ~forced
                        auto_cp.pop()
                        fit, ps, det, since_fit = alt_fit, alt_ps, alt_det, 1
                        det.details["episode_ended"] = True
                        sign = int(np.sign(ps.z))
            out.append(det)
            if det.is_anomaly and not forced[i]:
                flagged[i] = True
                if sign == run_sign:
                    run.append(i)
                else:
                    run, run_sign = [i], sign
                if len(run) >= accept:
                    # a persistent shift: learn the new level from its first point on
                    changepoints = sorted({*changepoints, float(s.t[run[0]])})
                    auto_cp.append((float(s.t[run[0]]), run[0], sign))
                    flagged[run] = False
                    det.details["level_shift_accepted"] = True
                    run, run_sign = [], 0
                    fit = None
            else:
                run, run_sign = [], 0
        return out

    def _special_day(
        self,
        ps: PointScore,
        det: Detection,
        fit: Fit,
        s: Series,
        i: int,
        day_of: list[date],
        ok: BoolArray,
        alpha: float,
        band_factor: float,
    ) -> Detection:
        """The verdict on a point that falls on a special day (policy: :mod:`.special`)."""
        cal = self.calendar
        assert cal is not None
        cfg, tr, ts, today = self.settings, fit.transform, s.stamps[i], day_of[i]
        past = np.array([j for j in np.flatnonzero(ok[:i]) if day_of[j] != today], dtype=np.int64)
        g_past = fit.predict(s.t[past], s.sow[past])[0]
        ex = sp.examples(
            [day_of[j] for j in past], tr.fwd(s.y[past]) - g_past, s.y[past], tr.inv(g_past)
        )
        pt = (fit, s.t[i : i + 1], s.sow[i : i + 1], s.y[i : i + 1], alpha, band_factor)
        diff = ps.observed - ps.expected
        info = {
            "special_day": today.isoformat(),
            "calendar": cal.label,
            "special_day_examples": ex.n,
        }
        # the floor (or ceiling) a holiday stays within, tested like any expectation
        side = Direction.DOWN if diff < 0 else Direction.UP
        share = sp.floor_share(cal, ex) if side is Direction.DOWN else sp.ceiling_share(cal, ex)
        floor_ps: PointScore | None = None
        floor_hit = False
        if diff != 0 and cal.allows(diff) and math.isfinite(share) and ps.expected > 0:
            g_e = tr.fwd(np.array([ps.expected]))
            shift = float((tr.fwd(np.array([share * ps.expected])) - g_e)[0])
            floor_ps = score_points(*pt, side, shift=shift)[0]
            floor_hit = self._decide(floor_ps, fit, ts, s.bucket, alpha).is_anomaly
        base = explain(self.metric, ps, fit, ts, s.bucket, True)
        if floor_hit and floor_ps is not None:
            limit = floor_ps.lower if side is Direction.DOWN else floor_ps.upper
            return replace(
                det,
                is_anomaly=True,
                p_value=floor_ps.p_value,
                score=floor_ps.z,
                lower=limit if side is Direction.DOWN else ps.lower,
                upper=limit if side is Direction.UP else ps.upper,
                reason=sp.beyond_floor(base, today, cal, side, share, limit),
                details={**det.details, **info, "special_day_test": "floor"},
            )
        if ex.n >= sp.MIN_EXAMPLES:
            effect, spread = ex.level()
            hp = score_points(
                *pt,
                cfg.direction,
                shift=effect,
                extra_sd=spread * math.sqrt(1.0 + 1.0 / ex.n),
                df=max(2.0, min(fit.df, ex.n - 1.0)),
            )[0]
            hdet = self._decide(hp, fit, ts, s.bucket, alpha)
            hdet.reason = sp.holiday_level(
                self.metric,
                hp.observed,
                hp.expected,
                hp.lower,
                hp.upper,
                ps.expected,
                today,
                cal,
                ex.n,
                hdet.is_anomaly,
            )
            hdet.details.update(info, special_day_test="holiday_level", normal_expected=ps.expected)
            return hdet
        if det.is_anomaly and cal.allows(diff):
            if floor_ps is None:  # no floor (``floor: 0``) or nothing to be a share of
                limit = 0.0 if side is Direction.DOWN else math.inf
            else:
                limit = floor_ps.lower if side is Direction.DOWN else floor_ps.upper
            return replace(
                det,
                is_anomaly=False,
                p_value=1.0 if floor_ps is None else floor_ps.p_value,
                lower=limit if side is Direction.DOWN else ps.lower,
                upper=limit if side is Direction.UP else ps.upper,
                reason=sp.not_alerted(base, today, cal, side, share, limit),
                details={**det.details, **info, "special_day_test": "not_alerted"},
            )
        det.reason = sp.noted(det.reason, today, cal)
        det.details.update(info, special_day_test="as_usual")
        return det

    def _seen_before(self, det: Detection, history: FloatArray, alpha: float) -> Detection:
        """A series that takes only a few values (the median of a price list, a count that is
        0, 1 or 2) jumps between them by nature; a jump to a value that has been as far out
        often enough in the training history is not news, however far it is from the band."""
        vals = history[np.isfinite(history)]
        obs, exp_v = det.observed, det.expected
        if obs is None or exp_v is None or vals.size < DISCRETE_MIN_HISTORY:
            return det
        if np.unique(vals).size > DISCRETE_MAX_VALUES:
            return det
        k = int(np.count_nonzero(vals >= obs) if obs > exp_v else np.count_nonzero(vals <= obs))
        p_emp = min(1.0, 2.0 * (k + 1) / (vals.size + 1))
        if k == 0 or p_emp <= alpha:
            return det
        return replace(
            det,
            is_anomaly=False,
            p_value=max(det.p_value, p_emp),
            reason=(
                f"{self.metric} {fmt_number(obs)} is outside the band, but the series takes "
                f"only a few values and was this far out in {k} of the last {vals.size} "
                "buckets"
            ),
            details={
                **det.details,
                "seen_before": {"buckets": k, "of": int(vals.size), "p_value": p_emp},
            },
        )

    def _decide(
        self, ps: PointScore, fit: Fit, ts: datetime, bucket: float, alpha: float
    ) -> Detection:
        cfg = self.settings
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
            reason=explain(self.metric, ps, fit, ts, bucket, anomalous),
            details={
                "seasonality": fit.spec.name,
                "transform": fit.transform.lam,
                "scale": fit.scale,
                "df": fit.df,
                "alpha": alpha,
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


def _sub_cols(n: int, most: int = 240) -> slice:
    """Every k-th column, at most about ``most`` of them: robust scales from a subsample.

    The MAD of 240 residuals has a relative error of ~6%, far below what separates an alert
    from a wiggle, and costs a third of the MAD of 720.
    """
    return slice(0, n, max(1, n // most))


def _rows_mad(r: npt.NDArray[np.float32], cols: slice) -> FloatArray:
    sub = np.abs(r[:, cols])
    k = (sub.shape[1] - 1) // 2
    return 1.4826 * np.partition(sub, k, axis=1)[:, k].astype(np.float64)


def _tail_df_rows(az: npt.NDArray[np.float32]) -> FloatArray:
    """Row-wise :func:`tail_df` on absolute standardised residuals (in time order).

    Runs of rejected points (beyond the bisquare cut-off: a holiday, an incident) are episodes,
    not noise, so they do not count: they are replaced by the row's median, which leaves the
    median where it was. Isolated rejected points are the noise's own tails and count.
    """
    n = az.shape[1]
    if n < 80:
        return np.full(az.shape[0], np.inf)
    k_med, k_q = (n - 1) // 2, round(0.975 * (n - 1))
    med = np.partition(az, k_med, axis=1)[:, k_med : k_med + 1]
    out = az >= BISQUARE_C
    nb = np.zeros_like(out)
    nb[:, 1:] |= out[:, :-1]
    nb[:, :-1] |= out[:, 1:]
    ep = out & nb
    ep &= (ep.mean(axis=1) <= MAX_EPISODE_SHARE)[:, None]
    inl = np.where(ep, med, az)  # runs of rejected points are episodes, not noise
    part = np.partition(inl, (k_med, k_q), axis=1)
    ratio = part[:, k_q] / np.maximum(part[:, k_med], 1e-30)
    df = np.full(az.shape[0], np.inf)
    for d in (50.0, 20.0, 10.0, 6.0, 4.0, 3.0, 2.0):
        ref = float(t_isf(0.0125, d)) / float(t_isf(0.25, d))
        df = np.where(ratio >= ref, d, df)
    return df


def _rho_sum(r: npt.NDArray[np.float32], s_ref: FloatArray) -> FloatArray:
    """Row sums of :func:`rho_bisquare` of ``r / s_ref`` in float32, in place where possible."""
    v = np.abs(r) / (BISQUARE_C * s_ref[:, None]).astype(np.float32)
    np.minimum(v, 1.0, out=v)
    np.multiply(v, v, out=v)
    np.subtract(1.0, v, out=v)
    w3 = v * v
    w3 *= v
    return np.asarray(
        (BISQUARE_C**2 / 6.0) * (r.shape[1] - w3.sum(axis=1, dtype=np.float64)), dtype=np.float64
    )


@dataclass(frozen=True, slots=True)
class _Design:
    spec: Spec
    x: npt.NDArray[np.float32]  # training design, n × p
    proj: npt.NDArray[np.float32]  # (XᵀX)⁻¹Xᵀ, p × n
    xt: FloatArray  # test design
    lev: FloatArray  # leverage of the test points


def _batch_design(
    spec: Spec,
    t_tr: FloatArray,
    s_tr: FloatArray,
    t_te: FloatArray,
    s_te: FloatArray,
    t_end: float,
    span: float,
) -> _Design:
    x, _ = design(t_tr, s_tr, spec, t_end=t_end, span=span, trend=True)
    xt, _ = design(t_te, s_te, spec, t_end=t_end, span=span, trend=True)
    inv = _inv_small(x.T @ x)
    lev = np.einsum("ij,jk,ik->i", xt, inv, xt)
    return _Design(
        spec, x.astype(np.float32), (inv @ x.T).astype(np.float32), xt, np.maximum(lev, 0.0)
    )


def _batch_transform(
    y: npt.NDArray[np.float32], med: FloatArray
) -> tuple[npt.NDArray[np.int8], FloatArray]:
    """Per row, :func:`choose_transform`'s rule: 0 log(y + 1% median), 1 sqrt, 2 identity."""
    lo = np.min(y, axis=1).astype(np.float64)
    lam = np.full(y.shape[0], 2, dtype=np.int8)
    lam[(lo >= 0) & (med > 0)] = 1
    lam[(lo > 0) & (med > 0)] = 0
    return lam, np.where(lam == 0, 0.01 * np.abs(med), 0.0)


def _fwd(y: npt.NDArray[Any], lam: npt.NDArray[np.int8], off: FloatArray) -> npt.NDArray[Any]:
    out = np.array(y, copy=True)
    lg, sq = lam == 0, lam == 1
    if lg.any():
        out[lg] = np.log(np.maximum(y[lg], 0.0) + off[lg, None].astype(y.dtype))
    if sq.any():
        out[sq] = np.sqrt(np.maximum(y[sq], 0.0))
    return out


def _inv(g: FloatArray, lam: npt.NDArray[np.int8], off: FloatArray) -> FloatArray:
    out = np.array(g, dtype=np.float64, copy=True)
    lg, sq = lam == 0, lam == 1
    if lg.any():
        out[lg] = np.maximum(np.exp(np.clip(g[lg], -700, 700)) - off[lg, None], 0.0)
    if sq.any():
        out[sq] = np.maximum(g[sq], 0.0) ** 2
    return out


def _pois_var_log(g: npt.NDArray[Any], off: FloatArray) -> npt.NDArray[Any]:
    """:func:`count_noise_var` with one offset per row."""
    return count_noise_var(g, off[:, None].astype(g.dtype))


def _poisson_sd(e: FloatArray, lam: npt.NDArray[np.int8], off: FloatArray) -> FloatArray:
    """Sd of Poisson noise at the expected count, in transformed units (delta method)."""
    mu = np.maximum(_inv(e, lam, off), 0.0)
    sd = np.sqrt(mu + 0.25)
    out = sd.copy()
    lg, sq = lam == 0, lam == 1
    out[lg] = sd[lg] / (mu[lg] + off[lg, None] + 0.5)
    out[sq] = 0.5
    return out


def evaluate_batch(
    timestamps: Timestamps,
    values: npt.ArrayLike,
    *,
    test_from: datetime,
    settings: DetectorSettings | None = None,
    chunk: int = 4096,
    iters: int = 3,
) -> BatchResult:
    """Score many series sharing one time grid, vectorised across series.

    Every series is fitted once on the points before ``test_from`` (within
    ``max_training_days``) and each later point is scored against that fit, so no tested point
    is in its own baseline. The model is the single-series one (same transform rule, same
    seasonal candidates chosen per series by robust BIC, same prediction band), fitted by
    IRLS in its pseudo-observation form so that every series shares one projection matrix:
    ``beta = P (fitted + psi(residual))`` with ``P = (XᵀX)⁻¹Xᵀ``, Huber then bisquare. Missing
    values (NaN) are imputed from the fit during the iterations, which is what weight zero
    means in that form. Everything large is float32 matrix algebra; robust scales come from
    a column subsample (see :func:`_sub_cols`). Counts (non-negative integers) get a band at
    least as wide as Poisson noise at the expected count.
    """
    cfg = settings or DetectorSettings()
    stamps = to_datetimes(timestamps)
    pairs = [_epoch_sow(d) for d in stamps]
    t = np.array([p[0] for p in pairs])
    sow = np.array([p[1] for p in pairs])
    order = np.argsort(t, kind="stable")
    t, sow = t[order], sow[order]
    stamps = [stamps[i] for i in order]
    y_all = np.asarray(values, dtype=np.float64)
    if y_all.ndim == 1:
        y_all = y_all[None, :]
    y_all = y_all[:, order]
    bucket = infer_bucket(t)
    t0 = _epoch_sow(test_from)[0]
    window = cfg.training_seconds(bucket)
    tr_idx = np.flatnonzero((t < t0) & (t >= t0 - window))
    te_idx = np.flatnonzero(t >= t0)
    if tr_idx.size < max(cfg.min_history, 3):
        raise ValueError("not enough training points before test_from")
    t_tr, s_tr, t_te, s_te = t[tr_idx], sow[tr_idx], t[te_idx], sow[te_idx]
    t_end, span = float(t_tr.max()), float(t_tr.max() - t_tr.min())
    n_tr = tr_idx.size
    designs = [
        _batch_design(sp, t_tr, s_tr, t_te, s_te, t_end, span)
        for sp in candidate_specs(bucket, span + bucket)
    ]
    designs = [d for d in designs if n_tr > d.x.shape[1] + 2] or designs[:1]
    specs = [d.spec for d in designs]
    alpha = cfg.point_alpha(SECONDS_PER_DAY / bucket)
    n_series = y_all.shape[0]
    shape = (n_series, te_idx.size)
    res = {k: np.empty(shape) for k in ("exp", "lo", "hi", "z", "p")}
    seas_names: list[str] = []
    cols = _sub_cols(n_tr)
    full = designs[-1]
    for a in range(0, n_series, chunk):
        y = y_all[a : a + chunk]
        m = y.shape[0]
        y_tr = y[:, tr_idx[0] : tr_idx[-1] + 1].astype(np.float32)  # t is sorted: contiguous
        y_te = y[:, te_idx[0] : te_idx[-1] + 1]
        finite = np.isfinite(y_tr)
        all_finite = bool(finite.all())
        sub = y_tr[:, cols]
        if all_finite:
            k = (sub.shape[1] - 1) // 2
            med = np.partition(sub, k, axis=1)[:, k].astype(np.float64)
        else:
            med = np.nanmedian(np.where(np.isfinite(sub), sub, np.nan), axis=1)
            med = np.where(np.isfinite(med), med, 0.0)
            y_tr = np.where(finite, y_tr, med[:, None].astype(np.float32))
        lam, off = _batch_transform(y_tr, med)
        counts = np.all((y_tr >= 0) & (y_tr == np.round(y_tr)), axis=1)
        hetero = counts & (lam == 0)
        g = _fwd(y_tr, lam, off)
        g_te = _fwd(y_te, lam, off)
        g_med = np.abs(_fwd(med[:, None], lam, off)[:, 0])
        floor = (
            np.where(
                lam == 0, REL_SCALE_FLOOR, np.where(lam == 1, 0.5, 1.0) * REL_SCALE_FLOOR * g_med
            )
            + 1e-9
        )
        # robust fit of the richest model; missing values follow the fit
        beta = g @ full.proj.T
        scale = floor
        clean = g
        for it in range(iters):
            fitted = beta @ full.x.T
            if not all_finite:
                g = np.where(finite, g, fitted)
            r = g - fitted
            scale = np.maximum(_rows_mad(r, cols), floor)
            c = ((HUBER_C if it < iters - 1 else BISQUARE_C) * scale)[:, None].astype(np.float32)
            if it < iters - 1:
                psi = np.clip(r, -c, c)
            else:
                u = r / c
                u *= u
                np.subtract(1.0, u, out=u)
                np.maximum(u, 0.0, out=u)
                psi = r * u * u
            clean = fitted + psi
            beta = clean @ full.proj.T
        # nested models refit the cleaned observations; BIC with one reference scale
        g_sub = g[:, cols]
        every = slice(None)
        best_bic = np.full(m, np.inf)
        best_k = np.zeros(m, dtype=np.int64)
        e_best = np.zeros((m, te_idx.size))
        s_best = np.ones(m)
        az_best: npt.NDArray[np.float32] | None = None
        s_ref: FloatArray | None = None
        lev_best = np.zeros((m, te_idx.size))
        p_best = np.ones(m)
        for k in range(len(designs) - 1, -1, -1):
            d = designs[k]
            p = d.x.shape[1]
            b_k = beta if k == len(designs) - 1 else clean @ d.proj.T
            r = g_sub - b_k @ d.x[cols].T  # residuals on the subsample only
            s_k = np.maximum(_rows_mad(r, every), floor)
            if s_ref is None:
                s_ref = s_k
            bic = 2.0 * _rho_sum(r, s_ref) + p * math.log(r.shape[1])
            better = bic <= best_bic + 1e-9
            best_bic = np.where(better, bic, best_bic)
            best_k = np.where(better, k, best_k)
            e_best = np.where(better[:, None], b_k.astype(np.float64) @ d.xt.T, e_best)
            lev_best = np.where(better[:, None], d.lev[None, :], lev_best)
            p_best = np.where(better, float(p), p_best)
            if hetero.any():
                # counts in logs: noise = Poisson at the fitted count + a multiplicative part
                v2 = np.where(hetero[:, None], _pois_var_log(g_sub - r, off), 0.0)
                s_m2 = np.maximum(s_k**2 - np.median(v2, axis=1), floor**2)
                s_k = np.where(hetero, np.sqrt(s_m2), s_k)
                sd_tr = np.where(hetero[:, None], np.sqrt(s_m2[:, None] + v2), s_k[:, None])
                az = (np.abs(r) / sd_tr).astype(np.float32)
            else:
                az = np.abs(r) / s_k[:, None].astype(np.float32)
            s_best = np.where(better, s_k, s_best)
            az_best = az if az_best is None else np.where(better[:, None], az, az_best)
        assert az_best is not None
        n_used = float(n_tr)
        s_best = s_best * np.sqrt(n_used / np.maximum(n_used - p_best, 1.0))
        df = np.minimum(np.maximum(2.0, MAD_EFFICIENCY * (n_tr - p_best)), _tail_df_rows(az_best))
        if hetero.any():
            v_te = np.where(hetero[:, None], _poisson_sd(e_best, lam, off), 0.0)
            sd = np.sqrt(s_best[:, None] ** 2 + v_te**2)
        else:
            sd = s_best[:, None] * np.ones_like(e_best)
        sd = sd * np.sqrt(1.0 + lev_best) * cfg.band_factor
        if counts.any():  # never narrower than Poisson noise at the expected count
            sd = np.where(counts[:, None], np.maximum(sd, _poisson_sd(e_best, lam, off)), sd)
        z = (g_te - e_best) / sd
        q = np.empty(m)
        for dv in np.unique(df):
            q[df == dv] = float(t_isf(alpha / 2.0, dv))
        sl = slice(a, a + m)
        res["exp"][sl] = _inv(e_best, lam, off)
        res["lo"][sl] = _inv(e_best - q[:, None] * sd, lam, off)
        res["hi"][sl] = _inv(e_best + q[:, None] * sd, lam, off)
        res["z"][sl] = z
        if cfg.direction is Direction.UP:
            zz = np.where(z > 0, z, 0.0)
        elif cfg.direction is Direction.DOWN:
            zz = np.where(z < 0, -z, 0.0)
        else:
            zz = np.abs(z)
        pv = np.minimum(1.0, 2.0 * t_sf(np.nan_to_num(zz), df[:, None]))
        if counts.any():
            # a count is never more surprising than Poisson noise at its expected value says
            # (Anscombe's root transform makes that tail nearly normal from a count of ~2 on)
            mu = np.maximum(res["exp"][sl], 0.0)
            za = 2.0 * (np.sqrt(np.maximum(y_te, 0.0) + 0.375) - np.sqrt(mu + 0.375))
            if cfg.direction is Direction.UP:
                za = np.where(za > 0, za, 0.0)
            elif cfg.direction is Direction.DOWN:
                za = np.where(za < 0, -za, 0.0)
            pp = np.minimum(1.0, 2.0 * normal_sf(np.abs(np.nan_to_num(za))))
            pv = np.where(counts[:, None], np.maximum(pv, pp), pv)
        res["p"][sl] = pv
        seas_names += [specs[int(k)].name for k in best_k]
    obs = y_all[:, te_idx]
    diff = obs - res["exp"]
    big = np.abs(diff) >= cfg.min_abs_change
    if cfg.min_rel_change > 0:
        big &= np.abs(diff) >= cfg.min_rel_change * np.abs(res["exp"])
    anomalous = (
        np.isfinite(obs) & big & (res["p"] <= alpha) & ((obs > res["hi"]) | (obs < res["lo"]))
    )
    return BatchResult(
        test_times=[stamps[i] for i in te_idx],
        observed=obs,
        expected=res["exp"],
        lower=res["lo"],
        upper=res["hi"],
        score=res["z"],
        p_value=res["p"],
        is_anomaly=anomalous,
        seasonality=seas_names,
        training_points=np.count_nonzero(np.isfinite(y_all[:, tr_idx]), axis=1).astype(np.int64),
    )
