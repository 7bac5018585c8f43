"""Metric series: a robust seasonal regression baseline, tested one point at a time.

- :mod:`.model`: input normalisation, the design, the robust fit and the fitted baseline
  (:class:`~.model.Fit`);
- :mod:`.scoring`: a point against a fit, the band and the verdict: the one band computation;
- :mod:`.detector`: :class:`~.detector.SeasonalDetector`, the live walk-forward (level shifts,
  episodes, calendar, feedback);
- :mod:`.batch`: :func:`~.batch.evaluate_batch`, bands of many series for charts, by the live
  detector itself.
"""

from tidegauge.core.detectors.seasonal.batch import BatchResult, evaluate_batch
from tidegauge.core.detectors.seasonal.detector import SeasonalDetector
from tidegauge.core.detectors.seasonal.model import (
    Fit,
    Series,
    Timestamps,
    Transform,
    Values,
    _epoch_sow,
    fit_baseline,
    infer_bucket,
    prepare,
    to_datetimes,
)
from tidegauge.core.detectors.seasonal.scoring import PointScore, decide, explain, score_points

__all__ = [
    "BatchResult",
    "Fit",
    "PointScore",
    "SeasonalDetector",
    "Series",
    "Timestamps",
    "Transform",
    "Values",
    "_epoch_sow",
    "decide",
    "evaluate_batch",
    "explain",
    "fit_baseline",
    "infer_bucket",
    "prepare",
    "score_points",
    "to_datetimes",
]
