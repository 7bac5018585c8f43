"""High-frequency series (15-minute buckets or finer): the one detector the product alerts with.

On an hourly or daily series the seasonal detector compares each hour and weekday with its own
past, and that is the whole test. On a series of :data:`HIGH_FREQUENCY_POINTS_PER_DAY` points a
day or more, the incidents are mostly changes of *behaviour* a single band cannot see (a level
that drifts off, a noise that doubles, a rhythm that breaks, a plateau never stayed at), and the
test is the ensemble of :func:`.context.ensemble_scores`: the seven change views of
:func:`.stream.stream_scores` and the context novelty at two resolutions with forgetting,
combined by Bonferroni, with one alert per event.

:func:`high_frequency_scores` is that test on a whole series; the product
(``steps/detect.py``, through :func:`high_frequency_detections`) and the NAB benchmark
(``bench/nab.py``) both call it, so the benchmark's figure describes what the product alerts on.

:func:`high_frequency_detections` keeps the seasonal detector's shape of a verdict (expected
value and band, for charts and severity) and replaces its verdict and p-value by the
ensemble's on every tested point:

- a point alerts when the ensemble starts an event there (``p <= alpha``, the sensitivity's
  per-point level, after ``quiet`` calm points) and the change is at least the series' minimum
  effect (``min_abs_change`` / ``min_rel_change`` against the seasonal expectation);
- every tested point carries the ensemble's p-value, so the run's false-discovery control
  sees every test that was made, not only the alerts;
- the explanation says which member fired (a change view, or the novelty of the sequence) in
  plain words, with the tail probabilities of both members in ``details``.

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from tidegauge.core.detectors.base import (
    SECONDS_PER_DAY,
    Detection,
    DetectorSettings,
    fmt_number,
    normal_isf,
    normal_sf,
)
from tidegauge.core.detectors.context import EnsembleScores, ensemble_scores
from tidegauge.core.detectors.feedback import FeedbackEffect, compile_feedback
from tidegauge.core.detectors.seasonal.model import Series, Timestamps, Values, prepare
from tidegauge.core.detectors.stream import FEATURES, MIN_CALIBRATION
from tidegauge.core.model import Feedback

#: the ensemble replaces the seasonal verdict on series of this many points a day or more
#: (15-minute buckets or finer): a shape of a few points only means something at sub-hour
#: grain, and hourly or daily series already compare each hour and weekday with its own past
HIGH_FREQUENCY_POINTS_PER_DAY = 96

#: what each change view looks at, in words
VIEW_WORDS = {
    "point": "the value is far from the recent values",
    "level": "the recent level moved away from the usual one",
    "spread": "the recent variability is unlike the usual one",
    "pattern": "the recent pattern is unlike any earlier one",
    "range": "the value is outside the whole history of the series",
    "daily": "the recent level is unlike the same time on earlier days",
    "weekly": "the recent level is unlike the same time in earlier weeks",
}
CONTEXT_WORDS = "the last values form a sequence this series has not produced before"


@dataclass(frozen=True, slots=True)
class HighFrequencyScores:
    """:func:`high_frequency_scores`: the series as tested and the ensemble's scores."""

    series: Series
    points_per_day: float
    scores: EnsembleScores

    def member(self, i: int) -> str:
        """Which member carries point ``i``'s p-value: ``context`` or a change view's name."""
        st, cx = self.scores.stream, self.scores.context
        if float(cx.p_value[i]) < float(st.p_value[i]):
            return "context"
        return FEATURES[int(np.argmin(st.feature_p[i]))]


def points_per_day(series: Series) -> float:
    return SECONDS_PER_DAY / max(series.bucket, 1.0)


def high_frequency_scores(
    timestamps: Timestamps,
    values: Values,
    settings: DetectorSettings | None = None,
    *,
    alpha: float | None = None,
) -> HighFrequencyScores | None:
    """The ensemble over a whole series (sorted, deduplicated as the seasonal detector sees
    it); None for a series coarser than :data:`HIGH_FREQUENCY_POINTS_PER_DAY`."""
    s = prepare(timestamps, values)
    per_day = points_per_day(s)
    if s.y.size == 0 or per_day < HIGH_FREQUENCY_POINTS_PER_DAY:
        return None
    return HighFrequencyScores(s, per_day, ensemble_scores(s.y, per_day, settings, alpha=alpha))


def high_frequency_detections(
    detections: list[Detection],
    timestamps: Timestamps,
    values: Values,
    settings: DetectorSettings,
    metric: str,
    feedback: Sequence[tuple[datetime, Feedback | str]] | FeedbackEffect = (),
) -> list[Detection]:
    """The seasonal detector's ``detections`` of a high-frequency series, judged by the
    ensemble instead (see the module docstring). ``timestamps`` / ``values``: the whole series
    the detections were computed from. A series coarser than
    :data:`HIGH_FREQUENCY_POINTS_PER_DAY` is returned unchanged.

    ``feedback`` on the series' alerts acts as it does on the seasonal detector: the latest
    ``expected`` change starts the ensemble's history afresh there (the level after it is the
    new normal), and ``false_positive`` marks make it quieter, its per-point level lowered as a
    normal band widened by the same factor would lower it."""
    if not detections:
        return detections
    full = prepare(timestamps, values)
    per_day = points_per_day(full)
    if full.y.size == 0 or per_day < HIGH_FREQUENCY_POINTS_PER_DAY:
        return detections
    eff = feedback if isinstance(feedback, FeedbackEffect) else compile_feedback(feedback)
    alpha = quieter(settings.point_alpha(per_day), eff.band_factor)
    start = eff.changepoints[-1] if eff.changepoints else None
    series = full if start is None else _since(full, start)
    if start is not None and series.y.size == 0:  # a new normal with no point yet
        return [_learning_since(d, start) if d.timestamp >= start else d for d in detections]
    hf = HighFrequencyScores(
        series, per_day, ensemble_scores(series.y, per_day, settings, alpha=alpha)
    )
    res = hf.scores
    at = {ts: i for i, ts in enumerate(hf.series.stamps)}
    out: list[Detection] = []
    for d in detections:
        i = at.get(d.timestamp)
        if start is not None and i is not None and i < MIN_CALIBRATION:
            out.append(_learning_since(d, start))  # too little of the new normal yet
            continue
        if i is None or d.expected is None or d.details.get("status") in ("missing", "learning"):
            out.append(d)  # not a test: no value, or no baseline yet
            continue
        p = float(res.p_value[i])
        member = hf.member(i)
        alert = bool(res.alert[i]) and _big_enough(d, settings)
        words = CONTEXT_WORDS if member == "context" else VIEW_WORDS[member]
        obs = fmt_number(d.observed or 0.0)
        reason = (
            f"{metric} {obs}: {words} (tail probability {_probability(p)}, expected about "
            f"{fmt_number(d.expected)})"
            if alert
            else f"{metric} {obs}: nothing this series has not done before "
            f"(tail probability {_probability(p)})"
        )
        out.append(
            replace(
                d,
                is_anomaly=alert,
                p_value=p,
                reason=reason,
                details={
                    **d.details,
                    "detector": "high_frequency_ensemble",
                    "member": member,
                    # what changed, in words: the alert's sentence says it (core/explain.py),
                    # since the value alone may sit inside its usual range (a stuck sensor)
                    "change": words,
                    "stream_p_value": float(res.stream.p_value[i]),
                    "context_p_value": float(res.context.p_value[i]),
                    "alpha": res.alpha,
                    "points_per_day": round(hf.points_per_day, 3),
                },
            )
        )
    return out


def quieter(alpha: float, band_factor: float) -> float:
    """The per-point level of a band widened by ``band_factor`` (1: unchanged): the normal
    quantile of ``alpha`` moved out by that factor."""
    if band_factor <= 1.0:
        return alpha
    return float(2.0 * normal_sf(band_factor * normal_isf(alpha / 2.0))[()])


def _since(s: Series, start: datetime) -> Series:
    """The points of ``s`` from ``start`` on (the history after an ``expected`` change)."""
    keep = np.asarray([ts >= start for ts in s.stamps], dtype=bool)
    return Series(
        stamps=[ts for ts, k in zip(s.stamps, keep, strict=True) if k],
        t=s.t[keep],
        sow=s.sow[keep],
        y=s.y[keep],
        bucket=s.bucket,
    )


def _learning_since(d: Detection, start: datetime) -> Detection:
    # not a test (no baseline of the new normal yet): no expectation, so the run's
    # false-discovery control does not count it
    return replace(
        d,
        is_anomaly=False,
        expected=None,
        lower=None,
        upper=None,
        p_value=1.0,
        reason=f"learning the new normal marked expected at {start:%Y-%m-%d %H:%M}",
        details={**d.details, "status": "learning", "detector": "high_frequency_ensemble"},
    )


def _big_enough(d: Detection, settings: DetectorSettings) -> bool:
    """The series' minimum change (``min_abs_change`` / ``min_rel_change``) holds for an
    ensemble alert as for a seasonal one: a change too small to matter does not alert."""
    if d.observed is None or d.expected is None:
        return False
    diff = abs(d.observed - d.expected)
    if not math.isfinite(diff):
        return True
    return diff >= settings.min_abs_change and diff >= settings.min_rel_change * abs(d.expected)


def _probability(p: float) -> str:
    """A tail probability as a person reads it: a bounded tail can end before the value,
    and "0" would claim an impossibility the model cannot know."""
    return f"{p:.2g}" if p >= 1e-16 else "below 1e-16"
