"""Upserting metric points that arrive outside a table run (stream polls, in-process probes):
one transaction for a whole batch, keyed like every other point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tidegauge.store import schema as s
from tidegauge.store.batches import executemany_raw
from tidegauge.store.engine import upsert
from tidegauge.store.writes import POINT_COLUMNS, POINT_KEY

if TYPE_CHECKING:
    from tidegauge.store.store import Store


def upsert_point_rows(store: Store, rows: Sequence[tuple[Any, ...]]) -> int:
    """Write rows shaped like ``POINT_COLUMNS`` in one transaction; how many were written."""
    if not rows:
        return 0
    t = s.metric_points
    stmt = upsert(
        store.dialect, t, None, POINT_KEY, ["value", "bucket_seconds", "collected_at", "run_id"]
    )
    with store.engine.begin() as c:
        executemany_raw(c, stmt, t, POINT_COLUMNS, list(rows))
    return len(rows)
