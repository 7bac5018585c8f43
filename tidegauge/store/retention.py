"""Retention of metric history: fine points for a while, then one point a day, then nothing.

Points finer than a day (hourly buckets, snapshots taken at every run) older than
``fine_days`` are rolled up to one point per series and UTC day, stored at the day's start
with ``bucket_seconds`` = 86400; points older than ``keep_days`` are deleted. Detection
reads ``history_days`` (at least 43 days) of history, so ``fine_days`` may not be shorter.

How a day's values become one (:func:`rollup_value`) is each metric's roll-up in the metric
catalogue (:mod:`tidegauge.core.catalogue`): counts of rows in a bucket are summed (the day's
count), maxima and minima stay maxima and minima, rates, means, quantiles and custom metrics
are the mean of the day's values; snapshots (``bucket_seconds`` 0: row count, last-modified
time…) keep the day's last value whatever their metric.

The prune works table by table in short transactions, so it never holds long locks, can
be stopped at any point and run again: it is idempotent. A day that already has its daily
point keeps it; finer points that arrive later for such a day (a backfill) are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.sql import ColumnElement

from tidegauge.core.catalogue import Rollup, spec
from tidegauge.store import schema as s
from tidegauge.store.engine import upsert, utc

# the policy is its own module: a project's validation checks it without loading the store
# (SQLAlchemy), which ``tidegauge init`` never opens
from tidegauge.store.retention_policy import DAY, MIN_FINE_DAYS, Retention
from tidegauge.store.store import Store

__all__ = ["DAY", "MIN_FINE_DAYS", "PruneReport", "Retention", "prune", "rollup_value"]


@dataclass
class PruneReport:
    """What a prune did. ``inserted`` counts daily points written (a day that already had
    its daily point keeps it)."""

    tables: int = 0
    rolled_series_days: int = 0
    deleted: int = 0
    inserted: int = 0
    expired: int = 0
    seconds: float = 0.0
    fine_before: datetime | None = None
    keep_after: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "rolled_series_days": self.rolled_series_days,
            "deleted": self.deleted,
            "inserted": self.inserted,
            "expired": self.expired,
            "seconds": round(self.seconds, 3),
            "fine_before": self.fine_before.isoformat() if self.fine_before else None,
            "keep_after": self.keep_after.isoformat() if self.keep_after else None,
        }


def day_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def rollup_of(metric: str) -> Rollup:
    """How ``metric`` rolls up into a day: the catalogue's word; the mean for a name it does
    not know (a metric an older version stored)."""
    try:
        return spec(metric).rollup
    except KeyError:
        return Rollup.MEAN


def rollup_value(metric: str, points: Sequence[tuple[datetime, float | None]]) -> float | None:
    """One day's value of a series from its finer points (time, value), any order."""
    kept = [(t, v) for t, v in points if v is not None]
    if not kept:
        return None
    values = [v for _, v in kept]
    rule = rollup_of(metric)
    if rule is Rollup.SUM:
        return float(sum(values))
    if rule is Rollup.MAX:
        return max(values)
    if rule is Rollup.MIN:
        return min(values)
    if rule is Rollup.LAST:
        return max(kept, key=lambda p: p[0])[1]
    return sum(values) / len(values)


def snapshot_value(points: Sequence[tuple[datetime, float | None]]) -> float | None:
    """A snapshot series' value for the day: the last one taken."""
    return max(points, key=lambda p: p[0])[1]


def _fine(t: Any) -> ColumnElement[bool]:
    fine: ColumnElement[bool] = t.c.bucket_seconds < DAY
    return fine


def prune_table(
    store: Store,
    table_id: int,
    fine_before: datetime,
    keep_after: datetime | None,
    report: PruneReport,
) -> None:
    """Roll up one table's fine points older than ``fine_before``; drop those before
    ``keep_after``. One transaction."""
    t = s.metric_points
    with store.engine.begin() as c:
        if keep_after is not None:
            report.expired += c.execute(
                delete(t).where(t.c.table_id == table_id, t.c.bucket_start < keep_after)
            ).rowcount
        rows = c.execute(
            select(
                t.c.metric,
                t.c.column_name,
                t.c.segment,
                t.c.bucket_start,
                t.c.bucket_seconds,
                t.c.value,
                t.c.collected_at,
            ).where(t.c.table_id == table_id, _fine(t), t.c.bucket_start < fine_before)
        ).all()
        if not rows:
            return
        groups: dict[tuple[str, str, str, datetime], list[Any]] = {}
        for r in rows:
            at: datetime = utc(r.bucket_start)  # type: ignore[assignment]
            groups.setdefault((r.metric, r.column_name, r.segment, day_start(at)), []).append(
                (at, r.value, r.bucket_seconds, r.collected_at)
            )
        daily: list[dict[str, Any]] = []
        for (metric, column, segment, day), pts in groups.items():
            pairs = [(at, v) for at, v, _, _ in pts]
            snapshots = all(sec == 0 for _, _, sec, _ in pts)
            value = snapshot_value(pairs) if snapshots else rollup_value(metric, pairs)
            daily.append(
                {
                    "table_id": table_id,
                    "column_name": column,
                    "segment": segment,
                    "metric": metric,
                    "bucket_start": day,
                    "bucket_seconds": DAY,
                    "value": value,
                    "collected_at": max(p[3] for p in pts),
                    "run_id": None,
                }
            )
        report.deleted += c.execute(
            delete(t).where(t.c.table_id == table_id, _fine(t), t.c.bucket_start < fine_before)
        ).rowcount
        keys = ["table_id", "column_name", "segment", "metric", "bucket_start"]
        c.execute(upsert(store.dialect, t, None, keys, None), daily)
        report.inserted += len(daily)
        report.rolled_series_days += len(groups)


def table_ids(store: Store) -> list[int]:
    with store.engine.connect() as c:
        return [int(r[0]) for r in c.execute(select(s.tables.c.id).order_by(s.tables.c.id))]


def prune(
    store: Store, policy: Retention, now: datetime, tables: Iterable[int] | None = None
) -> PruneReport:
    """Apply ``policy`` to every table (or ``tables``), one short transaction per table."""
    started = time.perf_counter()
    fine_before = day_start(now - timedelta(days=policy.fine_days))
    keep_after = (
        day_start(now - timedelta(days=policy.keep_days)) if policy.keep_days is not None else None
    )
    report = PruneReport(fine_before=fine_before, keep_after=keep_after)
    for tid in tables if tables is not None else table_ids(store):
        prune_table(store, tid, fine_before, keep_after, report)
        report.tables += 1
    report.seconds = time.perf_counter() - started
    return report
