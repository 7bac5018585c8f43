"""Which buckets a run tests: those since the table's previous run, or the last day, and
the buckets that were still empty at the previous run (a batch load filled them since)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tidegauge.core.clock import floor_time
from tidegauge.store.bulk import previous_runs_as_of
from tidegauge.store.store import Store

INITIAL_TEST_WINDOW = timedelta(days=1)
#: how far back before its usual window a run tests buckets filled since the previous run:
#: a weekly load's week; a table silent for longer reports through freshness instead
MAX_CATCH_UP = timedelta(days=7)


def previous_run_as_of(store: Store, table_id: int, now: datetime) -> datetime | None:
    """``as_of`` of the latest earlier run that collected this table."""
    return previous_runs_as_of(store, [table_id], now).get(table_id)


def test_from(
    store: Store, table_id: int, now: datetime, bucket: int, recheck: int, first_run: bool
) -> datetime:
    """Start of the first bucket this run tests for a table (without catching up: see
    :func:`first_tested`)."""
    prev = None if first_run else previous_run_as_of(store, table_id, now)
    return first_tested(prev, now, bucket, recheck)


def first_tested(
    previous_run: datetime | None,
    now: datetime,
    bucket: int,
    recheck: int,
    resumed_after: datetime | None = None,
) -> datetime:
    """Start of the first tested bucket, given the ``as_of`` of the table's previous run.

    ``resumed_after`` is the newest bucket stored before this run. The buckets after it had
    no rows yet at the previous run: in a table loaded once a day and watched every hour,
    yesterday's hours arrive together, long after the previous run's window, and would
    otherwise never be tested. They are, back to :data:`MAX_CATCH_UP` before the window,
    and so is that newest bucket, which detection holds back while it may still be filling.
    """
    if previous_run is None:
        return floor_time(now - INITIAL_TEST_WINDOW, bucket)
    start = floor_time(previous_run, bucket) - timedelta(seconds=bucket * recheck)
    if resumed_after is not None:
        start = min(start, max(floor_time(resumed_after, bucket), start - MAX_CATCH_UP))
    return start
