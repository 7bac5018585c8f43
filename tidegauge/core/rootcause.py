"""Root-cause hints: which segment moved most when a volume or metric went wrong.

A segment is blamed only when it explains more of the change than its share of the rows
would: when a whole table drops, its biggest segment also "loses the most rows", but that
says nothing about the cause. If the change were spread evenly, every segment would move by
the table's own factor (observed total / usual total); a segment is blamed only when its
count departs from that prediction by more than counting noise explains (a Poisson
z-score of at least 3, the usual "three sigma").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

#: how many standard deviations of counting noise (Poisson: sqrt of the predicted count) a
#: segment must depart from an evenly spread change to be blamed
NOISE_SIGMAS = 3.0


@dataclass(frozen=True)
class SegmentMove:
    column: str
    value: str
    observed: float
    expected: float
    share_of_change: float  # this segment's part of the total change, in [0, 1]
    usual_share: float = 0.0  # this segment's usual part of the column's rows, in [0, 1]

    @property
    def text(self) -> str:
        direction = "fell" if self.observed < self.expected else "rose"
        return (
            f"`{self.column}` = `{self.value}` {direction} from about {self.expected:,.0f} "
            f"to {self.observed:,.0f} rows: {self.share_of_change:.0%} of the change, "
            f"though it usually holds {self.usual_share:.0%} of the rows"
        )


def _departs_from_even_change(
    observed: float, expected: float, total_observed: float, total_expected: float
) -> bool:
    """Did this segment move more than the whole column, beyond counting noise?"""
    if total_expected <= 0:
        return observed > expected
    predicted = expected * total_observed / total_expected
    return abs(observed - predicted) >= NOISE_SIGMAS * math.sqrt(max(predicted, 1.0))


def segment_that_moved(
    counts: Mapping[str, Mapping[str, Sequence[tuple[datetime, float]]]],
    at: datetime,
    *,
    weeks: int = 4,
) -> SegmentMove | None:
    """The (column, value) whose count at ``at`` departs most from its usual level, when
    that departure is concentrated in it (see the module docstring); else ``None``.

    ``counts`` maps column → value → [(bucket_start, count)]. The usual level is the
    median of the same bucket in previous weeks (or previous days when weeks are short),
    so daily and weekly seasonality do not masquerade as a cause.
    """
    best: SegmentMove | None = None
    for column, values in sorted(counts.items()):
        moves: list[tuple[str, float, float]] = []
        for value, series in sorted(values.items()):
            by_time = dict(series)
            observed = by_time.get(at, 0.0)
            history = [
                by_time[at - timedelta(weeks=k)]
                for k in range(1, weeks + 1)
                if at - timedelta(weeks=k) in by_time
            ]
            if len(history) < 2:
                history = [
                    by_time[at - timedelta(days=k)]
                    for k in range(1, 8)
                    if at - timedelta(days=k) in by_time
                ]
            if not history and observed == 0:
                continue
            expected = median(history) if history else 0.0
            moves.append((value, observed, expected))
        total_change = sum(abs(o - e) for _, o, e in moves)
        total_expected = sum(e for _, _, e in moves)
        if total_change <= 0:
            continue
        value, observed, expected = max(moves, key=lambda m: (abs(m[1] - m[2]), m[0]))
        share = abs(observed - expected) / total_change
        usual = expected / total_expected if total_expected > 0 else 0.0
        total_observed = sum(o for _, o, _ in moves)
        if share <= usual or not _departs_from_even_change(
            observed, expected, total_observed, total_expected
        ):
            continue  # it moved with everything else: no more to blame than its share
        cand = SegmentMove(column, value, observed, expected, share, usual)
        if best is None or abs(cand.observed - cand.expected) > abs(best.observed - best.expected):
            best = cand
    return best
