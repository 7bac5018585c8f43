"""The seasonal model: input normalisation, design, robust fit and the fitted baseline.

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
old incident is an anomaly, not noise). Where sub-daily noise is louder at some hours than
others (quiet hours: fewer rows behind a median), a second noise model scales it by time of
day (:func:`daily_spread`), and a point must be unusual under both. Counts (non-negative
integers) are never judged more surprising than Poisson noise at their expected value allows
(3 against an expected 1 happens 8% of the time). Each tested point is scored against a
baseline fitted only on points strictly before it (:mod:`.detector`); scoring a point against
a fit is :mod:`.scoring`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from tidegauge.core.detectors.base import SECONDS_PER_DAY, FloatArray, t_isf
from tidegauge.core.detectors.seasonal.spread import SPREAD_FLOOR, daily_spread, daily_terms

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


#: degrees of freedom a noise's tails are matched to (``inf``: normal)
TAIL_DFS = (2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0, math.inf)
#: from this many residuals on, the tails are judged by a high quantile; below, by likelihood
TAIL_QUANTILE_FROM = 80


def tail_df(z: FloatArray) -> float:
    """Degrees of freedom of a t whose tail matches the standardised residuals ``z``: a high
    quantile (97.5%) of ``|z|`` against its median (the scale is MAD-based), compared with
    the same ratio for t distributions. ``inf`` when the tails look normal or data are few."""
    if z.size < 30:
        return math.inf
    az = np.abs(z)
    med = float(np.median(az))
    if med <= 0:
        return math.inf
    tail = 0.0125
    ratio = float(np.quantile(az, 1.0 - 2.0 * tail)) / med
    for df in TAIL_DFS[:-1]:
        ref = float(t_isf(tail, df)) / float(t_isf(0.25, df))
        if ratio >= ref:
            return df
    return math.inf


def tail_mixture(z: FloatArray) -> tuple[tuple[float, float], ...]:
    """How heavy the noise's tails are, as ``(df, weight)`` pairs whose t tails are averaged.

    From 80 residuals on, one t (:func:`tail_df`). Below (two or three months of a daily
    metric) no single quantile, nor any single t, can tell: a median with t(5) noise passed as
    normal in about a third of 60-point histories, and its medians then alerted through any
    family correction (bench/detect_family.py). There the tails are a posterior average: every
    t of ``TAIL_DFS`` (a prior even in log df) weighted by its likelihood of all the residuals
    (:func:`t_log_likelihoods`). Normal-looking noise keeps most of its weight on light tails;
    a short history that cannot rule heavy tails out keeps their share, and a p-value far out
    is then the average of what each t says, dominated by the heavy ones.
    """
    if z.size < 30:
        return ((math.inf, 1.0),)
    if z.size >= TAIL_QUANTILE_FROM:
        return ((tail_df(z), 1.0),)
    ll = t_log_likelihoods(z)
    if ll is None:
        return ((math.inf, 1.0),)
    w = np.exp(ll - ll.max())
    w /= w.sum()
    return tuple((df, float(x)) for df, x in zip(TAIL_DFS, w, strict=True) if x > 1e-6)


def t_log_likelihoods(z: FloatArray) -> FloatArray | None:
    """Log-likelihood of the residuals ``z`` under each t of ``TAIL_DFS`` (centred at 0, its
    scale profiled over a grid around the MAD scale); None when the MAD is 0."""
    z = z[np.isfinite(z)]
    mad = 1.4826 * float(np.median(np.abs(z))) if z.size else 0.0
    if mad <= 0:
        return None
    z2 = (z / mad) ** 2
    scales = np.exp(np.linspace(-1.0, 1.0, 41))  # relative to the MAD scale
    inv_s2 = 1.0 / scales**2
    out = np.empty(len(TAIL_DFS))
    for k, df in enumerate(TAIL_DFS):  # constants common to all (log sqrt(pi)) left out
        if math.isinf(df):
            ll = -0.5 * z2.sum() * inv_s2 - z.size * (np.log(scales) + 0.5 * math.log(2.0))
        else:
            c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df)
            ll = z.size * (c - np.log(scales)) - (df + 1) / 2 * np.log1p(
                np.outer(inv_s2, z2) / df
            ).sum(axis=1)
        out[k] = float(np.max(ll))
    return out


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
        # a band's far edge (a heavy-tailed quantile times a wide scale) can pass exp's range:
        # capped at LOG_CAP, it stays a finite "no limit that matters" instead of overflowing
        return np.maximum(np.exp(np.minimum(g, LOG_CAP)) - self.offset, 0.0)


#: the largest log value :meth:`Transform.inv` takes: exp(700) ~ 1e304, below float's limit
LOG_CAP = 700.0


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
    #: the noise's tails as ``(df, weight)`` pairs (:func:`tail_mixture`); ``df`` is the
    #: likeliest of them
    tails: tuple[tuple[float, float], ...] = ()
    #: a second noise model, the spread by time of day (:func:`daily_spread`): harmonic
    #: coefficients of the factor on ``scale``, and that model's own tails; None when the
    #: history cannot tell or the buckets are a day or longer
    spread: FloatArray | None = None
    spread_tails: tuple[tuple[float, float], ...] = ()

    def spread_factor(self, sow: FloatArray) -> FloatArray | None:
        """The noise's scale at these times of day relative to the whole day's (None: no
        second model)."""
        if self.spread is None:
            return None
        k = (self.spread.size - 1) // 2
        return np.maximum(daily_terms(sow, k) @ self.spread, SPREAD_FLOOR)

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
    if episode.mean() > MAX_EPISODE_SHARE and resid.size >= TAIL_QUANTILE_FROM:
        episode[:] = False  # that common, the "episodes" are normal behaviour
    # on a short history a run of rejected points is too long to be told from the tails by
    # its share: runs always stay out there (isolated rejected points, the tails, count)
    tail = resid[~episode]
    mix = tail_mixture(tail)
    tails = tuple((min(df_small, d), w) for d, w in mix)
    df = max(tails, key=lambda dw: dw[1])[0]
    seas_mean = float(np.mean(x[:, smask] @ beta[smask])) if smask.any() else 0.0
    # counts already carry Poisson noise at their expected count, which is the quiet hours'
    # loudness; a second model by hour would count it twice, and widen the hours where the
    # daily shape turns (the shape fits them worst), which is where a shifted day shows
    spread_fit = None if poisson else daily_spread(sow[~episode], tail, bucket, span + bucket)
    spread: FloatArray | None = None
    spread_tails: tuple[tuple[float, float], ...] = ()
    if spread_fit is not None:
        # the second model's tails, from residuals each divided by a spread fitted without
        # it: divided by one fitted to them, the values that made an hour loud would shrink
        # and the tails look lighter than new points will find them
        spread, loo = spread_fit
        own = tail_mixture(tail / loo)
        spread_tails = tuple((min(df_small, d), w) for d, w in own)
    return Fit(
        spec=chosen,
        transform=tr,
        beta=beta,
        seasonal_mask=smask,
        xtwx_inv=xtwx_inv,
        scale=s,
        df=df,
        tails=tails,
        n_train=n,
        span_days=(span + bucket) / SECONDS_PER_DAY,
        t_end=t_end,
        span=span,
        trend=trend,
        steps=steps_used,
        seasonal_mean=seas_mean,
        counts=counts,
        poisson=poisson,
        spread=spread,
        spread_tails=spread_tails,
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
