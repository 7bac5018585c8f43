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


#: how many ``fewer_collections`` blocks are open in this process (a run holds one around
#: all its steps, and collection and detection their own inside it), and the thresholds the
#: outermost one found
_depth = 0
_outer: tuple[int, ...] = ()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Freeze what is alive and raise the first threshold until the block ends.

    Blocks nest: an inner block freezes what is alive at its own start too, and only the
    outermost one unfreezes and restores the thresholds it found, so a step inside a run
    never hands the run's frozen objects back to the collector, and blocks that overlap in
    threads leave the collector as the first found it. Cyclic garbage made inside waits
    for the outermost block's end.
    """
    global _depth, _outer
    if _depth == 0:
        _outer = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(_outer[0], THRESHOLD), *_outer[1:])
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.set_threshold(*_outer)
            gc.unfreeze()
