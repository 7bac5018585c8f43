"""Root-cause hints: which segment moved most when a volume or metric went wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median


@dataclass(frozen=True)
class SegmentMove:
    column: str
    value: str
    observed: float
    expected: float
    share_of_change: float  # this segment's part of the total change, in [0, 1]

    @property
    def text(self) -> str:
        direction = "fell" if self.observed < self.expected else "rose"
        return (
            f"`{self.column}` = `{self.value}` {direction} from about {self.expected:,.0f} "
            f"to {self.observed:,.0f} rows: {self.share_of_change:.0%} of the change"
        )


def segment_that_moved(
    counts: Mapping[str, Mapping[str, Sequence[tuple[datetime, float]]]],
    at: datetime,
    *,
    weeks: int = 4,
) -> SegmentMove | None:
    """The (column, value) whose count at ``at`` departs most from its usual level.

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
        total = sum(abs(o - e) for _, o, e in moves)
        if total <= 0:
            continue
        value, observed, expected = max(moves, key=lambda m: (abs(m[1] - m[2]), m[0]))
        share = abs(observed - expected) / total
        cand = SegmentMove(column, value, observed, expected, share)
        if best is None or abs(cand.observed - cand.expected) > abs(best.observed - best.expected):
            best = cand
    return best
