"""Pick a table's timestamp columns by type and name.

Two different questions, two different answers:

* **freshness** — when did data last arrive? Load and update times answer it best
  (``_loaded_at``, ``updated_at``, ``_fivetran_synced``), because a late-arriving old event
  still counts as a load.
* **bucketing** — which time bucket does a row belong to? Event and creation times answer it
  best (``created_at``, ``event_time``, ``ts``), because they never change: a row bucketed by
  ``updated_at`` would move between buckets each time it is touched, and volume would drift.

A configured ``timestamp_column`` overrides both.

>>> from tidegauge.core.model import ColumnInfo, TypeFamily
>>> cols = [
...     ColumnInfo("id", "BIGINT", TypeFamily.INTEGER),
...     ColumnInfo("created_at", "TIMESTAMP", TypeFamily.TIMESTAMP),
...     ColumnInfo("_loaded_at", "TIMESTAMP", TypeFamily.TIMESTAMP),
... ]
>>> choice = choose_timestamps(cols)
>>> choice.bucket.name, choice.freshness.name
('created_at', '_loaded_at')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tidegauge.core.model import ColumnInfo, TypeFamily

__all__ = ["TimestampChoice", "choose_timestamps", "rank_candidates"]

#: load / sync / update times, best first: what freshness should read
LOAD_NAMES: tuple[str, ...] = (
    "loaded_at",
    "etl_loaded_at",
    "inserted_at",
    "ingested_at",
    "fivetran_synced",
    "airbyte_extracted_at",
    "airbyte_emitted_at",
    "sdc_batched_at",
    "sdc_extracted_at",
    "synced_at",
    "load_time",
    "load_ts",
    "dbt_updated_at",
    "updated_at",
    "modified_at",
    "last_modified",
    "last_modified_at",
    "last_updated",
    "updated",
    "modified",
    "update_time",
    "record_updated_at",
)

#: event / creation times, best first: what buckets should group by
EVENT_NAMES: tuple[str, ...] = (
    "created_at",
    "event_time",
    "event_timestamp",
    "event_ts",
    "event_at",
    "occurred_at",
    "happened_at",
    "ts",
    "timestamp",
    "event_date",
    "created",
    "create_time",
    "creation_time",
    "created_on",
    "inserted_at",
    "loaded_at",
    "etl_loaded_at",
    "ingested_at",
    "datetime",
    "time",
    "date",
)

# Times that describe something other than the row's arrival or occurrence.
_AVOID = re.compile(
    r"(deleted|expire|expiry|birth|dob|due|valid_to|valid_until|end|scheduled|deadline|"
    r"until|cancel|archived)"
)


@dataclass(frozen=True, slots=True)
class TimestampChoice:
    """The columns chosen for bucketing and for freshness, and the ranked candidates."""

    bucket: ColumnInfo | None
    freshness: ColumnInfo | None
    candidates: tuple[ColumnInfo, ...] = ()
    reason: str = ""


def _norm(name: str) -> str:
    return name.lower().lstrip("_")


#: the column families :func:`_score` considers at all
_TIME_FAMILIES = (TypeFamily.TIMESTAMP, TypeFamily.DATE)


def _score(column: ColumnInfo, names: Sequence[str]) -> float:
    """Higher is better; 0 means not a candidate. TIMESTAMP beats DATE at equal names."""
    if column.family not in _TIME_FAMILIES:
        return 0.0
    n = _norm(column.name)
    type_bonus = 1.0 if column.family is TypeFamily.TIMESTAMP else 0.0
    if n in names:
        return 100.0 - names.index(n) + type_bonus
    if _AVOID.search(n):
        return 1.0 + type_bonus
    if n.endswith(("_at", "_ts", "_time", "_timestamp")):
        return 20.0 + type_bonus
    if n.endswith(("_date", "_on", "_day")):
        return 10.0 + type_bonus
    return 5.0 + type_bonus


def rank_candidates(columns: Sequence[ColumnInfo]) -> list[ColumnInfo]:
    """Timestamp and date columns, the likeliest event/creation time first."""
    scored = [
        (max(_score(c, EVENT_NAMES), _score(c, LOAD_NAMES)), -i, c) for i, c in enumerate(columns)
    ]
    return [c for s, _, c in sorted(scored, key=lambda t: (t[0], t[1]), reverse=True) if s > 0]


def _best(columns: Sequence[ColumnInfo], names: Sequence[str]) -> ColumnInfo | None:
    best: tuple[float, int, ColumnInfo] | None = None
    for i, c in enumerate(columns):
        s = _score(c, names)
        if s > 0 and (best is None or (s, -i) > (best[0], best[1])):
            best = (s, -i, c)
    return best[2] if best else None


def choose_timestamps(
    columns: Sequence[ColumnInfo], override: str | None = None
) -> TimestampChoice:
    """Choose the bucketing and freshness columns.

    Args:
        columns: the table's columns.
        override: a configured ``timestamp_column``; matched case-insensitively and used for
            both purposes. When it names no column, nothing is chosen and ``reason`` says why
            (a typo must be visible, not silently replaced by a guess).
    """
    if not override and not any(c.family in _TIME_FAMILIES for c in columns):
        # no candidate at all (most tables of a wide warehouse): nothing to rank or score
        return TimestampChoice(None, None, (), "no timestamp or date column")
    ranked = tuple(rank_candidates(columns))
    if override:
        for c in columns:
            if c.name.lower() == override.lower():
                return TimestampChoice(c, c, ranked, f"configured timestamp_column {c.name}")
        return TimestampChoice(
            None, None, ranked, f"configured timestamp_column {override!r} is not a column"
        )
    bucket = _best(columns, EVENT_NAMES)
    fresh = _best(columns, LOAD_NAMES)
    if fresh is not None and _norm(fresh.name) not in LOAD_NAMES:
        # No load/update time: the event time is the best freshness signal left.
        fresh = bucket
    if bucket is None:
        return TimestampChoice(None, None, ranked, "no timestamp or date column")
    reason = f"bucket by {bucket.name}, freshness from {fresh.name if fresh else bucket.name}"
    return TimestampChoice(bucket, fresh or bucket, ranked, reason)
