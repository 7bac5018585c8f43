"""How user feedback on alerts changes what a detector learns.

The store persists feedback as plain ``(data_time, Feedback)`` pairs per series; this module
turns them into a :class:`FeedbackEffect` that the detectors apply when they train:

- ``expected``: the alert marked a change the user wanted (a migration, a new customer).
  The point joins the training set and a changepoint is placed there, so the level after it
  is learned from the points after it and becomes the new normal at once, while the seasonal
  shape keeps being learned from all history.
- ``false_positive``: the point joins the training set and the series' band widens by
  ``FP_WIDEN`` for each false positive, up to ``FP_MAX_FACTOR``: repeated complaints make a
  series progressively quieter, which is what a user saying "this is noise" means.
- ``fixed``: the point was a real incident that has been repaired: it stays out of training
  forever, so the incident does not become part of normal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from tidegauge.core.model import Feedback

FP_WIDEN = 1.25
FP_MAX_FACTOR = 3.0


@dataclass(frozen=True, slots=True)
class FeedbackEffect:
    """What feedback does to training: pure data, cheap to recompute on every run."""

    exclude: frozenset[datetime] = frozenset()
    include: frozenset[datetime] = frozenset()
    changepoints: tuple[datetime, ...] = ()
    band_factor: float = 1.0

    def training_mask(
        self, timestamps: Sequence[datetime], flagged: npt.NDArray[np.bool_] | None = None
    ) -> npt.NDArray[np.bool_]:
        """Which points may train a baseline: not ``fixed``, and not flagged unless cleared."""
        n = len(timestamps)
        mask = np.ones(n, dtype=bool)
        for i, ts in enumerate(timestamps):
            cleared = ts in self.include
            if ts in self.exclude or (flagged is not None and flagged[i] and not cleared):
                mask[i] = False
        return mask


def compile_feedback(entries: Iterable[tuple[datetime, Feedback | str]]) -> FeedbackEffect:
    """Fold a series' feedback history into its training effect (the latest word wins per point).

    >>> from datetime import datetime
    >>> eff = compile_feedback([(datetime(2024, 1, 2), "false_positive"),
    ...                         (datetime(2024, 1, 5), "false_positive")])
    >>> round(eff.band_factor, 4)
    1.5625
    """
    latest: dict[datetime, Feedback] = {}
    for ts, fb in entries:
        latest[ts] = Feedback(fb)
    exclude = {ts for ts, fb in latest.items() if fb is Feedback.FIXED}
    include = {ts for ts, fb in latest.items() if fb is not Feedback.FIXED}
    changepoints = tuple(sorted(ts for ts, fb in latest.items() if fb is Feedback.EXPECTED))
    n_fp = sum(1 for fb in latest.values() if fb is Feedback.FALSE_POSITIVE)
    factor = min(FP_MAX_FACTOR, FP_WIDEN**n_fp)
    return FeedbackEffect(
        exclude=frozenset(exclude),
        include=frozenset(include),
        changepoints=changepoints,
        band_factor=factor,
    )
