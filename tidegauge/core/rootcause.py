"""Root-cause hints: which segment moved most when a volume or metric went wrong.

A segment is blamed only when it explains more of the change than its share of the rows
would: when a whole table drops, its biggest segment also "loses the most rows", but that
says nothing about the cause. Blame needs the change to be concentrated in the segment —
its own relative change clearly larger than that of the other rows of its column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

#: the segment's relative change must be at least this many times that of the rest of the
#: column: a uniform change (every segment moving by the same fraction) gives 1
CONCENTRATION = 2.0


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


def _relative(observed: float, expected: float) -> float:
    if expected > 0:
        return abs(observed - expected) / expected
    return float("inf") if observed > 0 else 0.0


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
        rest_observed = sum(o for v, o, _ in moves if v != value)
        rest_expected = sum(e for v, _, e in moves if v != value)
        own = _relative(observed, expected)
        rest = _relative(rest_observed, rest_expected)
        if share <= usual or own < CONCENTRATION * rest:
            continue  # it moved with everything else: no more to blame than its share
        cand = SegmentMove(column, value, observed, expected, share, usual)
        if best is None or abs(cand.observed - cand.expected) > abs(best.observed - best.expected):
            best = cand
    return best
