"""Which buckets a run tests: those since the table's previous run, or the last day."""

from __future__ import annotations

from datetime import datetime, timedelta

from tidegauge.core.clock import floor_time
from tidegauge.store.bulk import previous_runs_as_of
from tidegauge.store.store import Store

INITIAL_TEST_WINDOW = timedelta(days=1)


def previous_run_as_of(store: Store, table_id: int, now: datetime) -> datetime | None:
    """``as_of`` of the latest earlier run that collected this table."""
    return previous_runs_as_of(store, [table_id], now).get(table_id)


def test_from(
    store: Store, table_id: int, now: datetime, bucket: int, recheck: int, first_run: bool
) -> datetime:
    """Start of the first bucket this run tests for a table."""
    prev = None if first_run else previous_run_as_of(store, table_id, now)
    return first_tested(prev, now, bucket, recheck)


def first_tested(
    previous_run: datetime | None, now: datetime, bucket: int, recheck: int
) -> datetime:
    """Start of the first tested bucket, given the ``as_of`` of the table's previous run."""
    if previous_run is None:
        return floor_time(now - INITIAL_TEST_WINDOW, bucket)
    return floor_time(previous_run, bucket) - timedelta(seconds=bucket * recheck)
