"""Bands for many series at once (charts), computed by the live detector itself.

A chart must show the band the detector used, or users see bands that disagree with alerts.
So there is no second model here: every series is walked forward by
:meth:`~tidegauge.core.detectors.seasonal.detector.SeasonalDetector.evaluate`, with the same
calendar, feedback and excluded points as live detection, and the band of each tested point is
the one :func:`~tidegauge.core.detectors.seasonal.scoring.score_points` gave it. A vectorised
refit of all series at once existed before and ignored the calendar, feedback and
changepoints; its bands drifted from the alerts' (issue 12).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from tidegauge.core.detectors.base import DetectorSettings, FloatArray
from tidegauge.core.detectors.feedback import FeedbackEffect
from tidegauge.core.detectors.seasonal.detector import SeasonalDetector
from tidegauge.core.detectors.seasonal.model import Timestamps, prepare
from tidegauge.core.model import Feedback

FeedbackInput = Sequence[tuple[datetime, Feedback | str]] | FeedbackEffect | None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Scores of the tested points of many series (rows) at shared test times (columns).

    Points the detector could not score (missing values, too little history yet) are NaN.
    """

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


def evaluate_batch(
    timestamps: Timestamps,
    values: npt.ArrayLike,
    *,
    test_from: datetime,
    settings: DetectorSettings | None = None,
    detectors: SeasonalDetector | Sequence[SeasonalDetector] | None = None,
    feedback: Sequence[FeedbackInput] | None = None,
    exclude: Sequence[Sequence[datetime]] | None = None,
) -> BatchResult:
    """Score every row of ``values`` (series on the shared grid ``timestamps``) from
    ``test_from`` on, exactly as live detection scores it.

    ``detectors``: one detector for all rows or one per row (settings, metric, calendar);
    default ``SeasonalDetector(settings)``. ``feedback`` and ``exclude``: per row, what
    :meth:`SeasonalDetector.evaluate` takes (user feedback; earlier alerted points).
    """
    y_all = np.asarray(values, dtype=np.float64)
    if y_all.ndim == 1:
        y_all = y_all[None, :]
    n_rows = y_all.shape[0]
    if isinstance(detectors, SeasonalDetector) or detectors is None:
        dets = [detectors or SeasonalDetector(settings or DetectorSettings())] * n_rows
    else:
        dets = list(detectors)
    for name, per_row in (("detectors", dets), ("feedback", feedback), ("exclude", exclude)):
        if per_row is not None and len(per_row) != n_rows:
            raise ValueError(f"{name}: {len(per_row)} given for {n_rows} series")
    grid = prepare(timestamps, np.zeros(len(y_all[0])))
    test_times = [s for s in grid.stamps if s >= test_from]
    col = {s: j for j, s in enumerate(test_times)}
    shape = (n_rows, len(test_times))
    arrays = {k: np.full(shape, np.nan) for k in ("obs", "exp", "lo", "hi", "z", "p")}
    anomalous = np.zeros(shape, dtype=bool)
    seasonality: list[str] = []
    trained = np.zeros(n_rows, dtype=np.int64)
    for r in range(n_rows):
        found = dets[r].evaluate(
            timestamps,
            y_all[r],
            test_from=test_from,
            exclude=exclude[r] if exclude is not None else None,
            feedback=feedback[r] if feedback is not None else None,
        )
        names = [str(d.details["seasonality"]) for d in found if "seasonality" in d.details]
        seasonality.append(names[-1] if names else "none")
        trained[r] = max((d.training_points for d in found), default=0)
        for d in found:
            j = col.get(d.timestamp)
            if j is None:
                continue
            for key, v in (
                ("obs", d.observed),
                ("exp", d.expected),
                ("lo", d.lower),
                ("hi", d.upper),
                ("z", d.score),
                ("p", d.p_value if d.expected is not None else None),
            ):
                arrays[key][r, j] = math.nan if v is None else float(v)
            anomalous[r, j] = d.is_anomaly
    return BatchResult(
        test_times=test_times,
        observed=arrays["obs"],
        expected=arrays["exp"],
        lower=arrays["lo"],
        upper=arrays["hi"],
        score=arrays["z"],
        p_value=arrays["p"],
        is_anomaly=anomalous,
        seasonality=seasonality,
        training_points=trained,
    )
