"""Context novelty: has the series just done something it has never done before?

The band and change views of :mod:`.stream` ask how *far* the recent values are from the usual
ones. Many incidents on high-frequency series are instead a *sequence* never seen: a value
reached the wrong way, a rhythm that breaks, a plateau at a level visited before but never
stayed at. This detector learns which short sequences the series produces and scores each new
point by how new its sequences are, using only earlier points:

1. *quantise*: each value becomes a level (an integer bin). The bin width is the central 99%
   range of the history divided by ``bins``; bins are unbounded, so a value beyond every
   earlier one falls in a new bin. The width is re-learned each time the history doubles (the
   counts below are then recounted from the stored levels), so the resolution always follows
   the range the series has shown. With several resolutions (``bins``; the ensemble uses
   :data:`ENSEMBLE_BINS`) the novelties below are averaged over them: on a noisy series nearly
   every fine sequence is new, and a move into a new regime only shows at the coarse one.
2. *contexts*: the level sequences ending at ``t`` of length 1 to ``order`` (the level itself,
   the step into it, the last three levels...). Each has a count of earlier occurrences ``c``;
   its novelty is ``1 / (1 + c)`` (1 for a sequence never seen, fading as it repeats). The raw
   score of the point is the mean novelty over the lengths. With ``memory_days`` (the
   ensemble: :data:`ENSEMBLE_MEMORY_DAYS`) counts are forgotten: each halves over that time
   without its sequence, so a shape the series stopped producing weeks ago is new again.
3. *likelihood*: the raw score is noisy on a noisy series, so as in Numenta's anomaly
   likelihood what is judged is its mean over the last ``short`` points, against the history
   of that mean: a generalised Pareto tail fitted to its own past (:func:`.stream.fit_tail`)
   turns it into a tail probability. The mean is at most 1 by construction, so the tail is
   fitted as a bounded one that ends there (``upper=1``); an unbounded fit puts probability
   past 1 and so overstates how often the most novel stretches occur. A series whose every
   few points bring a new sequence (pure noise) learns that this is normal; a series that
   repeats itself alerts on the first sequence it has not produced before.

The result is a per-point tail probability like :func:`.stream.stream_scores` gives, and the
same one-alert-per-event rule (:func:`.stream.alerts_from`). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tidegauge.core.detectors.base import (
    DetectorSettings,
    Direction,
    FloatArray,
)
from tidegauge.core.detectors.stream import (
    MAX_CALIBRATION,
    MIN_CALIBRATION,
    StreamScores,
    Tail,
    _rolling_ref,
    alerts_from,
    fit_tail,
    quiet_points,
    seasonal_residual,
    stream_scores,
)

#: levels across the central 99% of the history
BINS = 20
#: the ensemble's member (:func:`ensemble_scores`) also looks at a coarse resolution: the fine
#: one sees a new shape, the coarse one a new regime that the noise of the fine levels hides
ENSEMBLE_BINS = (20, 5)
#: and forgets: a sequence's count halves over this many days without it (a week, the longest
#: cycle the stream views know), so what the series has not done for weeks is new again
ENSEMBLE_MEMORY_DAYS = 7.0
#: longest level sequence remembered
ORDER = 3
#: the quantiser is first learned on this many points (or a day of points, if more)
MIN_LEARN = 100


@dataclass(frozen=True, slots=True)
class ContextScores:
    """Per-point results of :func:`context_scores` (arrays aligned with the input)."""

    p_value: FloatArray  # tail probability of the recent novelty (1 where not scored)
    alert: npt.NDArray[np.bool_]
    novelty: FloatArray  # raw novelty of each point, in [0, 1] (NaN while learning)
    level: npt.NDArray[np.int64]  # the quantised level of each point
    alpha: float


def _quantiser(history: FloatArray, bins: int) -> tuple[float, float]:
    """Origin and bin width from the central 99% of ``history``."""
    lo, hi = (float(v) for v in np.quantile(history, (0.005, 0.995)))
    width = (hi - lo) / bins
    if not width > 0:  # a constant history: any move is a new level
        width = 1e-6 * (abs(lo) + 1.0)
    return lo, width


def _contexts(levels: Sequence[int], t: int, order: int) -> list[tuple[int, ...]]:
    return [tuple(levels[t - k + 1 : t + 1]) for k in range(1, min(order, t + 1) + 1)]


def _novelty(
    y: FloatArray, bins: int, order: int, learn: int, half_life: float = math.inf
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Raw novelty of every point at one resolution (NaN while learning), and its levels.

    With a finite ``half_life`` (in points), a sequence's count halves over that many points
    without it: what the series has not done for long becomes new again."""
    n = y.size
    novelty = np.full(n, np.nan)
    levels = np.zeros(n, dtype=np.int64)
    counts: dict[tuple[int, ...], tuple[float, int]] = {}
    decay = math.log(2.0) / half_life if math.isfinite(half_life) else 0.0

    def seen(c: tuple[int, ...], t: int) -> float:
        k, at = counts.get(c, (0.0, t))
        k = k * math.exp(-decay * (t - at)) if decay else k
        counts[c] = (k + 1.0, t)
        return k

    next_refit = learn
    origin, width = 0.0, 1.0
    for t in range(n):
        if t == next_refit:
            # (re)learn the resolution from all history, recount every sequence at it
            origin, width = _quantiser(y[:t], bins)
            levels[:t] = np.floor((y[:t] - origin) / width).astype(np.int64)
            counts.clear()
            lv = levels.tolist()
            for s in range(t):
                for c in _contexts(lv, s, order):
                    seen(c, s)
            next_refit = 2 * t
        if t < learn:
            continue
        levels[t] = math.floor((y[t] - origin) / width)
        ctxs = _contexts(levels[max(0, t - order + 1) : t + 1].tolist(), min(t, order - 1), order)
        novelty[t] = sum(1.0 / (1.0 + seen(c, t)) for c in ctxs) / len(ctxs)
    return novelty, levels


def context_scores(
    y: Sequence[float] | FloatArray,
    points_per_day: float,
    settings: DetectorSettings | None = None,
    *,
    bins: int | Sequence[int] = BINS,
    order: int = ORDER,
    memory_days: float | None = None,
    short: int | None = None,
    quiet: int | None = None,
    alpha: float | None = None,
) -> ContextScores:
    """Score every point of ``y`` (in time order, one value per bucket) by the novelty of its
    recent level sequences against everything before it."""
    cfg = settings or DetectorSettings()
    alpha = alpha or cfg.point_alpha(points_per_day)
    y = np.asarray(y, dtype=np.float64).ravel()
    n = y.size
    finite = np.isfinite(y)
    if n and not finite.all():  # carry the last value over gaps: they are never scored
        idx = np.where(finite, np.arange(n), 0)
        np.maximum.accumulate(idx, out=idx)
        y = np.where(finite, y, y[idx]) if finite.any() else np.zeros(n)
        y = np.where(np.isfinite(y), y, 0.0)
    if n == 0:
        empty = np.zeros(0)
        return ContextScores(empty, np.zeros(0, dtype=bool), empty, np.zeros(0, np.int64), alpha)
    per_day = max(points_per_day, 1.0)
    w = short or int(min(12, max(4, round(per_day / 24))))
    gap = quiet or quiet_points(points_per_day, short)
    learn = max(MIN_LEARN, min(round(per_day), 750))
    resolutions = (bins,) if isinstance(bins, int) else tuple(bins)
    life = memory_days * per_day if memory_days else math.inf
    per_res = [_novelty(y, b, order, learn, life) for b in resolutions]
    novelty = np.mean(np.stack([nv for nv, _ in per_res]), axis=0)
    levels = per_res[0][1]
    # the likelihood of the recent novelty, from the history of that same mean
    kernel = np.ones(w) / w
    recent = np.convolve(np.where(np.isfinite(novelty), novelty, np.nan), kernel)[:n]
    min_cal = max(MIN_CALIBRATION, round(per_day))
    pval = np.ones(n)
    tail: Tail | None = None
    fitted_at = 0
    for t in range(n):
        if not finite[t] or not np.isfinite(recent[t]):
            continue
        hist_end = max(0, t - w)  # the history of the mean: windows ending before this one's
        if tail is None or hist_end - fitted_at >= w:
            # novelty is at most 1 (a point whose every sequence is new): a bounded tail
            tail = fit_tail(
                recent[max(0, hist_end - MAX_CALIBRATION) : hist_end], min_cal, upper=1.0
            )
            fitted_at = hist_end
        pval[t] = tail.sf(float(recent[t]))
    if cfg.direction is not Direction.BOTH:
        # a sequence has no side: judge it by where the recent values sit against the same
        # time on earlier days (against the recent median while there is no earlier day)
        dev = seasonal_residual(y, round(per_day)) if per_day >= 4 else np.full(n, np.nan)
        med = _rolling_ref(y, max(3 * w, min(round(per_day), 750)))[0]
        dev = np.where(np.isfinite(dev), dev, y - med)
        side = np.sign(np.convolve(np.where(np.isfinite(dev), dev, 0.0), kernel)[:n])
        pval = np.where(side == (1.0 if cfg.direction is Direction.UP else -1.0), pval, 1.0)
    pval[~finite] = 1.0
    return ContextScores(
        p_value=pval,
        alert=alerts_from(pval, alpha, gap),
        novelty=novelty,
        level=levels,
        alpha=alpha,
    )


@dataclass(frozen=True, slots=True)
class EnsembleScores:
    """:func:`ensemble_scores`: the change views and the context novelty, combined."""

    p_value: FloatArray
    alert: npt.NDArray[np.bool_]
    stream: StreamScores
    context: ContextScores
    alpha: float


def combine(*p_values: FloatArray) -> FloatArray:
    """Bonferroni over ensemble members: ``k × min p`` (valid whatever their dependence)."""
    low: FloatArray = np.min(np.stack([np.asarray(p, dtype=np.float64) for p in p_values]), axis=0)
    return np.minimum(1.0, len(p_values) * low)


def ensemble_scores(
    y: Sequence[float] | FloatArray,
    points_per_day: float,
    settings: DetectorSettings | None = None,
    *,
    alpha: float | None = None,
) -> EnsembleScores:
    """How far the recent values are (:func:`.stream.stream_scores`) and how new their sequence
    is (:func:`context_scores`), as one tail probability per point with one alert per event."""
    cfg = settings or DetectorSettings()
    alpha = alpha or cfg.point_alpha(points_per_day)
    st = stream_scores(y, points_per_day, cfg, alpha=alpha)
    cx = context_scores(
        y,
        points_per_day,
        cfg,
        alpha=alpha,
        bins=ENSEMBLE_BINS,
        memory_days=ENSEMBLE_MEMORY_DAYS,
    )
    p = combine(st.p_value, cx.p_value)
    return EnsembleScores(p, alerts_from(p, alpha, quiet_points(points_per_day)), st, cx, alpha)
