"""Streaming change detector: is the *recent behaviour* of a series unlike its own history?

A point-by-point band test (``seasonal``) asks whether one value is outside the band. Many real
incidents are not one wild value but a change of regime: a level that drifts off, a noise that
doubles, a pattern never seen before, a busy hour that does not come. This detector scores every
point, using only earlier points, with seven views of "the last few points against the history":

1. *point*: the robust z of the value against the median / MAD of the reference window (the
   previous ``ref_points`` values: two days, at most 750);
2. *level*: the mean of the last ``short`` point z's (a shift of one or two sigmas that no single
   point shows is plain in the mean of ten);
3. *spread*: the mean absolute step ``|y_t - y_{t-1}|`` of the last ``short`` points against the
   reference window's median step, on both sides (the ratio or its inverse, whichever is
   larger): a change of variance or of texture, a noise that doubles as much as a value that
   stops moving (a stuck sensor, a feed repeating its last value), which sits inside the usual
   range and which no other view sees until the usual values move away from it;
4. *pattern*: the distance from the last ``short`` values (as a vector) to their 3 nearest
   neighbours among all earlier such vectors (a shape never seen before);
5. *range*: how far the value lies outside the central 99% of *all* earlier values, in units of
   the reference scale (a level never seen before, however slowly it was reached);
6. *daily*: the mean of the last ``short`` residuals against the same time of day on the
   previous days (the median of up to ``SEASONAL_DAYS`` of them), over the residuals' robust
   scale in the reference window. A daily pattern moves the 2-day median / MAD of the views above
   by its whole amplitude, so a day whose peak is missing, halved or flattened looks normal to
   them; against the same hour of earlier days it stands out at once;
7. *weekly*: the same against the same time of the previous weeks (a weekday that behaves like a
   Sunday, a holiday).

A series without such a cycle just gets two more noisy views, which their calibration (below)
makes harmless.

None of these statistics has a known distribution on real data (heavy tails, autocorrelation,
quantised values), so each is *calibrated against its own past*: a generalised Pareto tail is
fitted (robustly, from quantiles of the excesses) to its historical values above a high quantile
(peaks over threshold), which turns the current value into a tail probability that extrapolates
beyond the history. No tail is trusted before the statistic has a day of its own history (at
least ``MIN_CALIBRATION`` values): a view averaged over ``short`` points is autocorrelated, and a
tail fitted on its first few dozen values is too light (the weekly view alerted on its first
hours, which was measured). The views are combined by Bonferroni (``7 × min p``). A point
alerts when the combined probability is at most the per-point level ``alpha``: by default the
sensitivity's ``DetectorSettings.point_alpha``, or one passed explicitly.

One alert per event: an event lasts while surprising points keep coming and ends after
``quiet`` unsurprising points in a row (a quarter of a day by default); see
:func:`alerts_from`. Feature values during an event stay in the calibration history (as in
Numenta's anomaly likelihood): leaving them out makes the tails too light and the detector alert
in cascades, which was measured.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from tidegauge.core.detectors.base import (
    SECONDS_PER_DAY,
    Detection,
    DetectorSettings,
    Direction,
    FloatArray,
    fmt_number,
)
from tidegauge.core.detectors.seasonal import Timestamps, Values, _epoch_sow, prepare

#: features and their names in explanations
FEATURES = ("point", "level", "spread", "pattern", "range", "daily", "weekly")
#: the daily view compares a point with the same time of day on this many earlier days
SEASONAL_DAYS = 3
#: GPD fit: at least this many exceedances over the threshold, which is at most this quantile
MIN_EXCEEDANCES = 30
MAX_TAIL_QUANTILE = 0.98
#: no tail probability from fewer historical values of a statistic than this
MIN_CALIBRATION = 60
#: tails are fitted on at most this many of the latest values of a statistic
MAX_CALIBRATION = 10_000
#: the range view needs this many points (or a day of points, if more) before its first range
RANGE_LEARN = 100


@dataclass(frozen=True, slots=True)
class StreamScores:
    """Per-point results of :func:`stream_scores` (arrays aligned with the input)."""

    p_value: FloatArray  # combined tail probability (1 where not scored)
    alert: np.ndarray  # bool: the point raises an alert
    feature_p: FloatArray  # (n, len(FEATURES)) tail probability per feature
    median: FloatArray  # reference median (the expected value)
    scale: FloatArray  # reference robust scale
    z: FloatArray  # point z
    alpha: float


def _ref_stats(y: FloatArray, absd: FloatArray, lo: int, t: int) -> tuple[float, float, float]:
    """Median, robust scale and typical |step| of the reference ``y[lo:t]``."""
    ref = y[lo:t]
    m = float(np.median(ref))
    tiny = 1e-9 * (abs(m) + 1.0)
    sc = max(1.4826 * float(np.median(np.abs(ref - m))), 0.1 * float(np.std(ref)), tiny)
    d = absd[lo + 1 : t]
    st = max(float(np.median(d)), 0.1 * float(np.mean(d)), tiny) if d.size else tiny
    return m, sc, st


def _rolling_ref(y: FloatArray, length: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Median, robust scale and median |step| of the previous ``length`` values, per t.

    Rows with fewer than 3 earlier values get NaN. Vectorised over blocks of rows.
    """
    n = y.size
    med = np.full(n, np.nan)
    scale = np.full(n, np.nan)
    step = np.full(n, np.nan)
    absd = np.abs(np.diff(y, prepend=y[0]))
    for t in range(3, min(length, n)):  # the short start: the window grows
        med[t], scale[t], step[t] = _ref_stats(y, absd, 0, t)
    if n > length:
        win = sliding_window_view(y, length)  # row r is y[r:r+length], the reference of r+length
        dwin = sliding_window_view(absd, length - 1)  # steps inside y[r:r+length]: absd[r+1:...]
        block = max(1, 2_000_000 // length)
        for a in range(0, n - length, block):
            b = min(n - length, a + block)
            ref = win[a:b]
            m = np.median(ref, axis=1)
            mad = 1.4826 * np.median(np.abs(ref - m[:, None]), axis=1)
            sd = np.std(ref, axis=1)
            tiny = 1e-9 * (np.abs(m) + 1.0)
            med[a + length : b + length] = m
            scale[a + length : b + length] = np.maximum(np.maximum(mad, 0.1 * sd), tiny)
            d = dwin[a + 1 : b + 1]
            step[a + length : b + length] = np.maximum(
                np.maximum(np.median(d, axis=1), 0.1 * np.mean(d, axis=1)), tiny
            )
    return med, scale, step


def _rolling_scale(r: FloatArray, length: int) -> FloatArray:
    """Robust scale (MAD, at least a tenth of the standard deviation) of the previous
    ``length`` finite values of ``r``, per t; NaN until 3 such values exist."""
    ok = np.isfinite(r)
    out = np.full(r.size, np.nan)
    if ok.sum() < 4:
        return out
    idx = np.flatnonzero(ok)
    _, sc, _ = _rolling_ref(r[idx], length)
    out[idx] = sc
    return out


def _history_range(y: FloatArray, every: int, start: int = 20) -> tuple[FloatArray, FloatArray]:
    """The central 99% of *all* earlier values (refreshed every ``every`` points), per t:
    the long-memory view, in which a level never seen before stands out.

    NaN before ``start`` points: the range of the first few dozen values is little more than
    their minimum and maximum, which the series keeps leaving while it shows its usual
    behaviour for the first time. Those early "new levels" would enter the view's own history
    and make a real new level later look like something seen before."""
    n = y.size
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    for t in range(start, n, every):
        q = np.quantile(y[max(0, t - MAX_CALIBRATION) : t], (0.005, 0.995))
        lo[t : t + every], hi[t : t + every] = q[0], q[1]
    lo[np.isinf(lo)] = np.nan
    hi[np.isinf(hi)] = np.nan
    return lo, hi


def seasonal_residual(y: FloatArray, period: int, days: int = SEASONAL_DAYS) -> FloatArray:
    """``y_t`` minus the median of ``y`` at the same phase on the previous ``days`` periods
    (as many as exist, at least one); NaN in the first period or when ``period < 2``."""
    n = y.size
    out = np.full(n, np.nan)
    if period < 2 or n <= period:
        return out
    lags = np.full((days, n), np.nan)
    for d in range(1, days + 1):
        if d * period < n:
            lags[d - 1, d * period :] = y[: n - d * period]
    valid = np.isfinite(lags).any(axis=0)
    out[valid] = y[valid] - np.nanmedian(lags[:, valid], axis=0)
    return out


def knn_surprise(
    y: FloatArray, dim: int, scale: float, k: int = 3, history: int = 4000
) -> FloatArray:
    """Mean distance from each lag vector ``y[t-dim+1..t]`` to its ``k`` nearest earlier ones.

    Only vectors ending at least ``dim`` points before ``t`` count (no overlap with the tested
    one), at most ``history`` of them. Distances are RMS over the vector, in units of
    ``scale``. NaN where fewer than ``k`` earlier vectors exist.
    """
    n = y.size
    out = np.full(n, np.nan)
    if n < 2 * dim + k:
        return out
    u = sliding_window_view(y / max(scale, 1e-300), dim).astype(np.float64)  # row r ends at r+dim-1
    sq = np.einsum("ij,ij->i", u, u)
    m = u.shape[0]
    block = 256
    for a in range(dim + k, m, block):
        b = min(m, a + block)
        lo = max(0, a - dim - history)
        hi = b - dim  # candidates end at least dim rows before the target
        cand = u[lo:hi]
        d2 = sq[a:b, None] + sq[None, lo:hi] - 2.0 * (u[a:b] @ cand.T)
        rows = np.arange(a, b)[:, None]
        cols = np.arange(lo, hi)[None, :]
        d2 = np.where((cols <= rows - dim) & (cols >= rows - dim - history), d2, np.inf)
        kk = min(k, d2.shape[1])
        part = np.partition(d2, kk - 1, axis=1)[:, :kk]
        dist = np.sqrt(np.maximum(part, 0.0) / dim).mean(axis=1)
        dist[~np.isfinite(dist)] = np.nan
        out[a + dim - 1 : b + dim - 1] = dist
    return out


@dataclass(frozen=True, slots=True)
class Tail:
    """A peaks-over-threshold fit: ``P(X >= x)`` of a statistic, from its history.

    Below the threshold ``u`` (a high quantile) the probability is reported as ``P(X >= u)``
    (ties included, so a statistic that never moves is never surprising): that is far from any
    alert level and spares keeping the whole history sorted.

    Above ``u`` the fitted tail only *extrapolates*: where the history already holds ``k``
    values at least as extreme (``exceed``: the values above ``u``, in increasing order), the
    probability is at least the lowest rate that ``k`` occurrences in ``n`` support with 99%
    confidence (:func:`poisson_lower`). A daily spike the series has shown on twenty earlier
    days is not a one-in-a-million event however light the fitted tail; one earlier occurrence
    (which may itself have been an incident) barely counts, and a value beyond all the history
    gets the extrapolated probability alone.
    """

    n: int
    u: float
    sigma: float
    xi: float
    pk: float  # P(X > u)
    p_at_u: float  # P(X >= u)
    exceed: tuple[float, ...] = ()

    def sf(self, x: float) -> float:
        if not math.isfinite(self.u):
            return 1.0
        if x <= self.u:
            return self.p_at_u
        e = (x - self.u) / self.sigma
        if abs(self.xi) < 1e-6:
            fitted = self.pk * math.exp(-e)
        elif 1.0 + self.xi * e <= 0.0:  # at or past a bounded tail's end point
            fitted = 0.0
        else:
            fitted = float(self.pk * (1.0 + self.xi * e) ** (-1.0 / self.xi))
        seen = len(self.exceed) - bisect_left(self.exceed, x)  # earlier values >= x
        return max(fitted, poisson_lower(seen) / self.n)


def poisson_lower(k: int, z: float = 2.326) -> float:
    """One-sided 99% lower confidence bound of a Poisson mean from ``k`` observed events
    (Wilson-Hilferty approximation; 0 for ``k = 0``)."""
    if k <= 0:
        return 0.0
    return k * max(0.0, 1.0 - 1.0 / (9.0 * k) - z / (3.0 * math.sqrt(k))) ** 3


def _gpd_shape(ratio: float) -> float:
    """``xi`` in [0, 1/2] with ``(10**xi - 1) / (2**xi - 1) = ratio`` (bisection; the ratio
    grows with ``xi`` from ln 10 / ln 2 at the exponential)."""

    def r(xi: float) -> float:
        return math.log(10.0) / math.log(2.0) if xi < 1e-9 else (10.0**xi - 1) / (2.0**xi - 1)

    if ratio <= r(0.0):
        return 0.0
    if ratio >= r(0.5):
        return 0.5
    lo, hi = 0.0, 0.5
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if r(mid) < ratio else (lo, mid)
    return 0.5 * (lo + hi)


def fit_tail(
    history: FloatArray, min_calibration: int = MIN_CALIBRATION, upper: float | None = None
) -> Tail:
    """Generalised Pareto tail over a high quantile of ``history``, fitted robustly.

    The shape comes from two quantiles of the excesses (for a GPD,
    ``Q90 / Q50 = (10**xi - 1) / (2**xi - 1)``) and the scale from their median, so one huge
    past value (an old incident) does not make the tail heavy for ever after, as the method of
    moments would.

    ``upper``: the statistic's end point, when it is bounded by construction (a proportion, a
    mean of values in [0, 1]). Its tail then has a negative shape and ends there (sigma =
    -xi (upper - u)), and the median excess alone fixes the shape. The unbounded fit (shape >= 0)
    puts probability past the end point, so near it, where the surprising values of such a
    statistic lie, it says "seen before now and then" of what is in fact rare.
    """
    h = history[np.isfinite(history)]
    n = h.size
    if n < max(min_calibration, MIN_CALIBRATION):
        return Tail(n, math.inf, 1.0, 0.0, 1.0, 1.0)
    k = max(MIN_EXCEEDANCES, math.ceil((1.0 - MAX_TAIL_QUANTILE) * n))
    top = np.partition(h, n - k - 1)[n - k - 1 :]  # the threshold and the k values above it
    u = float(top[0])
    exc = top[1:] - u
    exc = exc[exc > 0]
    tiny = 1e-6 * (abs(u) + 1.0)
    if exc.size >= 4:
        q50, q90 = (float(v) for v in np.quantile(exc, (0.5, 0.9)))
        xi = _gpd_shape(q90 / max(q50, 1e-300))
        sigma = q50 * xi / (2.0**xi - 1.0) if xi > 1e-6 else q50 / math.log(2.0)
    else:  # a statistic that (almost) never exceeds its quantile: a tiny nominal scale
        xi, sigma = 0.0, float(np.mean(exc)) if exc.size else 0.0
    if upper is not None and exc.size and upper > u:
        room = upper - u
        frac = min(float(np.median(exc)) / room, 0.999)
        xi = math.log(1.0 - frac) / math.log(2.0)  # the median excess of the bounded GPD
        sigma = -xi * room
    sigma = max(sigma, tiny)
    return Tail(
        n,
        u,
        sigma,
        xi,
        max(exc.size, 1) / n,
        float(np.count_nonzero(h >= u)) / n,
        tuple(np.sort(top[top > u]).tolist()),
    )


def _seasonal_level(y: FloatArray, period: int, kernel: FloatArray, length: int) -> FloatArray:
    """Mean of the last ``len(kernel)`` seasonal residuals over their recent robust scale."""
    n = y.size
    resid = seasonal_residual(y, period)
    has_r = np.isfinite(resid)
    r_mean = np.convolve(np.where(has_r, resid, 0.0), kernel)[:n]
    r_mean[~np.isfinite(np.convolve(np.where(has_r, 0.0, np.nan), kernel)[:n])] = np.nan
    return r_mean / _rolling_scale(resid, length)


def stream_scores(
    y: Sequence[float] | FloatArray,
    points_per_day: float,
    settings: DetectorSettings | None = None,
    *,
    ref_points: int | None = None,
    short: int | None = None,
    quiet: int | None = None,
    alpha: float | None = None,
) -> StreamScores:
    """Score every point of ``y`` (in time order, one value per bucket) against its past."""
    cfg = settings or DetectorSettings()
    y = np.asarray(y, dtype=np.float64).ravel()
    n = y.size
    if n == 0:
        e = np.zeros(0)
        return StreamScores(
            e,
            np.zeros(0, dtype=bool),
            np.ones((0, len(FEATURES))),
            e,
            e,
            e,
            alpha or cfg.point_alpha(points_per_day),
        )
    finite = np.isfinite(y)
    if not finite.all():  # carry the last value over gaps: they are never scored
        idx = np.where(finite, np.arange(n), 0)
        np.maximum.accumulate(idx, out=idx)
        y = np.where(finite, y, y[idx]) if finite.any() else np.zeros(n)
        y = np.where(np.isfinite(y), y, 0.0)
    alpha = alpha or cfg.point_alpha(points_per_day)
    per_day = max(points_per_day, 1.0)
    w = short or int(min(12, max(4, round(per_day / 24))))
    length = ref_points or int(min(max(3 * w, round(2 * per_day)), 750))
    gap = quiet or quiet_points(points_per_day, short)
    med, scale, step = _rolling_ref(y, length)
    knn = knn_surprise(y, w, 1.0)
    lo_q, hi_q = _history_range(y, w, max(RANGE_LEARN, min(round(per_day), 750)))
    kernel = np.ones(w) / w
    absd = np.abs(np.diff(y, prepend=y[0]))
    mean_step = np.convolve(absd, kernel)[:n]

    ratio = mean_step / step
    # both sides: a calm never seen is a change of texture too (a window without any step
    # counts as a hundred times calmer than usual, not infinitely)
    spread = np.maximum(ratio, 1.0 / np.maximum(ratio, 0.01))
    z = (y - med) / scale
    level = np.convolve(np.where(np.isfinite(z), z, 0.0), kernel)[:n]
    novel = np.maximum(0.0, np.maximum(y - hi_q, lo_q - y)) / scale
    # a daily cycle needs a few points a day; a daily series still has its weekly cycle
    daily = _seasonal_level(y, round(per_day) if per_day >= 4 else 0, kernel, length)
    weekly = _seasonal_level(y, round(7 * per_day), kernel, length)
    feats = np.stack(
        [np.abs(z), np.abs(level), spread, knn, novel, np.abs(daily), np.abs(weekly)],
        axis=1,
    )
    feats[:w] = np.nan
    nf = feats.shape[1]
    # a statistic averaged over w points is autocorrelated: its tail is only trusted after a
    # day of its own values (a new view, such as the weekly one, is silent for its first day)
    min_cal = max(MIN_CALIBRATION, round(per_day))
    fp = np.ones((n, nf))
    pval = np.ones(n)
    tails: list[Tail] | None = None
    fitted_at = 0
    for t in range(n):
        if not finite[t] or not np.isfinite(med[t]):
            continue
        hist_end = max(0, t - w)
        if tails is None or hist_end - fitted_at >= w:
            lo_h = max(0, hist_end - MAX_CALIBRATION)
            tails = [fit_tail(feats[lo_h:hist_end, k], min_cal) for k in range(nf)]
            fitted_at = hist_end
        for k in range(nf):
            if np.isfinite(feats[t, k]):
                fp[t, k] = tails[k].sf(float(feats[t, k]))
    if cfg.direction is not Direction.BOTH:
        # point-like views take the point's side, window views the recent level's side
        want = 1.0 if cfg.direction is Direction.UP else -1.0
        side = np.stack(
            [
                np.sign(z),
                np.sign(level),
                np.sign(level),
                np.sign(level),
                np.sign(z),
                np.sign(daily),
                np.sign(weekly),
            ],
            axis=1,
        )
        fp = np.where(side == want, fp, 1.0)
    pval = np.minimum(1.0, fp.min(axis=1) * nf) if n else pval
    pval[~finite] = 1.0
    alert = alerts_from(pval, alpha, gap)
    return StreamScores(
        p_value=pval, alert=alert, feature_p=fp, median=med, scale=scale, z=z, alpha=alpha
    )


def alerts_from(p_value: FloatArray, alpha: float, quiet: int) -> npt.NDArray[np.bool_]:
    """One alert per event: the first point with ``p <= alpha`` alerts; the event lasts while
    surprising points keep coming, and ends after ``quiet`` unsurprising points in a row. The
    next surprising point after that is a new event and alerts again.

    A fixed silence after each alert (a day, as before) hid a second, real incident that began
    within the day of an earlier alert, however clear it was; ending the event when the series
    has calmed down keeps one alert per event without that blind spot.
    """
    alert = np.zeros(p_value.size, dtype=bool)
    last = -(10**9)  # the last surprising point
    for t in np.flatnonzero(p_value <= alpha):
        if t - last > quiet:
            alert[t] = True
        last = int(t)
    return alert


def quiet_points(points_per_day: float, short: int | None = None) -> int:
    """How many unsurprising points in a row end an event: a quarter of a day (the seasonal
    detector's run length for a level shift), at least the short window."""
    per_day = max(points_per_day, 1.0)
    w = short or int(min(12, max(4, round(per_day / 24))))
    return max(w, round(per_day / 4))


@dataclass
class StreamDetector:
    """Change-of-behaviour detector for one metric series (see the module docstring)."""

    settings: DetectorSettings = field(default_factory=DetectorSettings)
    metric: str = "value"

    def evaluate(
        self, timestamps: Timestamps, values: Values, *, test_from: datetime
    ) -> list[Detection]:
        s = prepare(timestamps, values)
        res = stream_scores(s.y, s.points_per_day, self.settings)
        t0 = _epoch_sow(test_from)[0]
        out: list[Detection] = []
        for idx in np.flatnonzero(s.t >= t0):
            i = int(idx)
            obs = float(s.y[i])
            if not math.isfinite(obs):
                out.append(
                    Detection(
                        False,
                        s.stamps[i],
                        reason=f"{self.metric} is missing",
                        details={"status": "missing"},
                    )
                )
                continue
            m, sc = float(res.median[i]), float(res.scale[i])
            if not math.isfinite(m):
                out.append(
                    Detection(
                        False,
                        s.stamps[i],
                        observed=obs,
                        reason="learning",
                        details={"status": "learning"},
                    )
                )
                continue
            k = int(np.argmin(res.feature_p[i]))
            what = {
                "point": "the value",
                "level": "the recent level",
                "spread": "the recent variability",
                "pattern": "the recent pattern",
                "range": "the value, outside its whole history,",
                "daily": "the recent level against the same time on earlier days",
                "weekly": "the recent level against the same time in earlier weeks",
            }[FEATURES[k]]
            reason = (
                f"{self.metric} {fmt_number(obs)}: {what} is unusual against the "
                f"previous {fmt_number(m)} ± {fmt_number(sc)} "
                f"(tail probability {res.p_value[i]:.2g})"
            )
            out.append(
                Detection(
                    bool(res.alert[i]),
                    s.stamps[i],
                    observed=obs,
                    expected=m,
                    lower=m - 4 * sc,
                    upper=m + 4 * sc,
                    score=float(res.z[i]),
                    p_value=float(res.p_value[i]),
                    direction=Direction.UP if obs >= m else Direction.DOWN,
                    reason=reason,
                    details={
                        "feature": FEATURES[k],
                        "alpha": res.alpha,
                        "points_per_day": round(SECONDS_PER_DAY / s.bucket, 3),
                    },
                )
            )
        return out
