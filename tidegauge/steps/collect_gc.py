"""Fewer passes of Python's cycle collector while a step allocates a great deal.

A metadata pass over 10,000 tables, or a first run's 166,000 points, creates millions of
objects that live until the step ends. With the default thresholds (a pass every 700 net
allocations, a full one every 100 of those) the collector walks everything alive again and
again: over a third of a 10,000-table pass's CPU went to it, growing with the tables. The
step runs with the objects alive at its start frozen (never walked again; they were alive
before and stay so) and a higher first threshold; both are restored afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: net allocations between two young-generation passes inside such a step
THRESHOLD = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(old[0], THRESHOLD), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
