"""When tables last received data, read from their stored points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidegauge.core.detectors.freshness import times_of_updates
from tidegauge.core.metrics import Metric
from tidegauge.store.store import Store

__all__ = ["latest_data_time", "update_times"]

#: how far back a table's updates are read for its learned cadence
HISTORY = timedelta(days=29)


def latest_data_time(store: Store, table_id: int) -> datetime | None:
    """When a table last received data, from stored points: the timestamp column's maximum,
    the engine's last-modified time, or the end of the newest non-empty bucket."""
    from sqlalchemy import func, select

    from tidegauge.core.metrics import Metric
    from tidegauge.store import schema as s
    from tidegauge.store.engine import utc

    mp = s.metric_points
    with store.engine.connect() as c:
        epoch = c.execute(
            select(func.max(mp.c.value)).where(
                mp.c.table_id == table_id,
                mp.c.metric.in_([Metric.MAX_TIMESTAMP.value, Metric.LAST_MODIFIED.value]),
            )
        ).scalar()
        bucket = c.execute(
            select(mp.c.bucket_start, mp.c.bucket_seconds)
            .where(
                mp.c.table_id == table_id,
                mp.c.metric == Metric.BUCKET_ROW_COUNT.value,
                mp.c.segment == "",
                mp.c.value > 0,
            )
            .order_by(mp.c.bucket_start.desc())
            .limit(1)
        ).first()
    times = []
    if epoch is not None:
        times.append(datetime.fromtimestamp(float(epoch), UTC))
    start = utc(bucket[0]) if bucket is not None else None
    if bucket is not None and start is not None:
        times.append(start + timedelta(seconds=int(bucket[1] or 0)))
    return max(times) if times else None


def update_times(store: Store, table_id: int, now: datetime) -> list[datetime]:
    """When a table received data: buckets with rows, and metadata modification times."""
    points = [
        *store.points(table_id, metric=Metric.BUCKET_ROW_COUNT.value, since=now - HISTORY),
        *store.points(table_id, metric=Metric.LAST_MODIFIED.value, since=now - HISTORY),
    ]
    return times_of_updates(points, now)
