"""A consumer group's status on a topic over a window of polls, the way Burrow judges lag.

Burrow does not alert on a lag threshold: it looks at the committed offsets and lags of the
last few observations and asks what the consumer is doing.

* ``ok``: the lag was zero at some point of the window, or it is not growing;
* ``falling_behind``: the consumer commits, but the lag grew at every observation;
* ``stalled``: the group has live members but its committed offset has not moved for longer
  than the group's own cadence, while its lag stayed or grew;
* ``stopped``: the same, with no live members (nobody is consuming);
* ``rewound``: the committed offset went backwards (a reset: messages are read again).

>>> w = [Observation(100, 0), Observation(100, 20), Observation(100, 40)]
>>> evaluate(w, members=0).value, evaluate(w, members=2).value
('stopped', 'stalled')
>>> evaluate([Observation(100, 5), Observation(50, 60)], members=1).value
'rewound'

The whole window is read, as Burrow does, but a stop is not made to wait for the window to
fill with unchanged offsets (that delays it by the window's length). Instead the window
teaches the group's cadence: the longest stretch of polls it went without committing before.
A group quiet for longer than that (and for at least :data:`MIN_WINDOW` polls) with lag that
stayed or grew has stopped or stalled. A group that commits at every poll is found after two
polls; one that commits every five polls is not called stopped after three.

>>> every_3 = [Observation(c, 5) for c in (10, 10, 10, 20, 20, 20, 30, 30, 30)]
>>> evaluate(every_3, members=1).value
'ok'
>>> evaluate([*every_3, Observation(30, 9)], members=1).value
'stalled'
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

#: fewer observations than this say nothing yet about a trend or a stop
MIN_WINDOW = 3


class ConsumerStatus(StrEnum):
    OK = "ok"
    FALLING_BEHIND = "falling_behind"
    STALLED = "stalled"
    STOPPED = "stopped"
    REWOUND = "rewound"

    @property
    def code(self) -> int:
        """Stored as a number in the ``consumer_status`` series."""
        return list(ConsumerStatus).index(self)

    @classmethod
    def from_code(cls, code: float | None) -> ConsumerStatus:
        members = list(cls)
        i = int(code or 0)
        return members[i] if 0 <= i < len(members) else cls.OK

    @property
    def problem(self) -> bool:
        return self is not ConsumerStatus.OK

    @property
    def sentence(self) -> str:
        return {
            ConsumerStatus.OK: "is keeping up",
            ConsumerStatus.FALLING_BEHIND: "is falling behind: its lag grew at every poll",
            ConsumerStatus.STALLED: "is stalled: it has members but its offset has not moved",
            ConsumerStatus.STOPPED: "has stopped: no members and its offset has not moved",
            ConsumerStatus.REWOUND: "was rewound: its committed offset went backwards",
        }[self]


@dataclass(frozen=True, slots=True)
class Observation:
    """One poll: the group's committed offset (summed over partitions) and its lag."""

    committed: float
    lag: float


def _runs(window: Sequence[Observation]) -> list[list[Observation]]:
    """The window cut where the committed offset changed (oldest first)."""
    runs: list[list[Observation]] = []
    for o in window:
        if runs and runs[-1][-1].committed == o.committed:
            runs[-1].append(o)
        else:
            runs.append([o])
    return runs


def evaluate(window: Sequence[Observation], *, members: int) -> ConsumerStatus:
    """The status of the latest observation given the window, oldest first."""
    if not window:
        return ConsumerStatus.OK
    if len(window) >= 2 and window[-1].committed < window[-2].committed:
        return ConsumerStatus.REWOUND
    if window[-1].lag <= 0 or len(window) < MIN_WINDOW:
        return ConsumerStatus.OK
    runs = _runs(window)
    quiet = runs[-1]  # the polls since the offset last moved
    cadence = max((len(r) for r in runs[:-1]), default=0)
    if (
        len(quiet) >= MIN_WINDOW
        and len(quiet) > cadence
        and quiet[-2].lag > 0
        and all(b.lag >= a.lag for a, b in itertools.pairwise(quiet))
    ):
        return ConsumerStatus.STALLED if members > 0 else ConsumerStatus.STOPPED
    if any(o.lag <= 0 for o in window):
        return ConsumerStatus.OK
    if all(b.lag > a.lag for a, b in itertools.pairwise(window)):
        return ConsumerStatus.FALLING_BEHIND
    return ConsumerStatus.OK
