"""Which buckets a run tests: those since the table's previous run, or the last day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from tidegauge.core.clock import floor_time
from tidegauge.store import schema as s
from tidegauge.store.engine import utc
from tidegauge.store.store import Store

INITIAL_TEST_WINDOW = timedelta(days=1)


def previous_run_as_of(store: Store, table_id: int, now: datetime) -> datetime | None:
    """``as_of`` of the latest earlier run that collected this table."""
    with store.engine.connect() as c:
        v = c.execute(
            select(func.max(s.runs.c.as_of))
            .select_from(s.runs.join(s.run_tables, s.run_tables.c.run_id == s.runs.c.id))
            .where(
                s.run_tables.c.table_id == table_id,
                s.runs.c.as_of < now,
                s.runs.c.status.in_(["success", "partial"]),
            )
        ).scalar()
    return utc(v)


def test_from(store: Store, table_id: int, now: datetime, bucket: int, recheck: int,
              first_run: bool) -> datetime:
    """Start of the first bucket this run tests for a table."""
    prev = None if first_run else previous_run_as_of(store, table_id, now)
    if prev is None:
        return floor_time(now - INITIAL_TEST_WINDOW, bucket)
    return floor_time(prev, bucket) - timedelta(seconds=bucket * recheck)
