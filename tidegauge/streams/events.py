"""Messages of a sink topic counted per bucket of *event time*, for reconciliation.

A sink topic is read whole between polls (every message since each partition's previous
end), so each message's event time (``timestamp_field`` in the payload, else the message
timestamp) lands in its bucket. A poll that could not read everything records a gap, and
the buckets it touches are never reconciled (a count known to be short would look like loss).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tidegauge.core.clock import floor_time, parse_instant
from tidegauge.core.model import MetricPoint, TableRef
from tidegauge.streams.profile import Decode, value_at

if TYPE_CHECKING:
    from tidegauge.streams.config import KafkaStreamConfig
    from tidegauge.streams.kafka import Message


def event_time(m: Message, field: str | None, decode: Decode = json.loads) -> datetime | None:
    """The message's event time: the payload field when configured and readable."""
    if field:
        v = value_at(m.value, field, decode)
        got = _as_time(v)
        if got is not None:
            return got
    if m.timestamp_ms is None:
        return None
    return datetime.fromtimestamp(m.timestamp_ms / 1000, UTC)


def _as_time(v: Any) -> datetime | None:
    if isinstance(v, datetime):  # an Avro timestamp logical type
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        # epoch seconds, or milliseconds (anything past year 5138 in seconds is ms)
        return datetime.fromtimestamp(v / 1000 if v > 1e11 else v, UTC)
    if isinstance(v, str):
        try:
            return parse_instant(v)
        except ValueError:
            return None
    return None


def event_points(
    ref: TableRef,
    cfg: KafkaStreamConfig,
    messages: list[Message],
    h: Any,
    ends: dict[int, int],
    now: datetime,
    *,
    gap: bool,
    decode: Decode = json.loads,
) -> list[MetricPoint]:
    """Per-partition ends, event-time counts added to the stored ones, and a gap mark."""
    from tidegauge.streams.metrics import END_OFFSET, EVENT_MESSAGES, RECONCILE_GAP

    bucket = cfg.bucket_seconds
    out = [MetricPoint(ref, END_OFFSET, now, float(e), segment=str(p)) for p, e in ends.items()]
    prev = h.end_offset[0] if h.end_offset else None
    if gap or prev is None:
        out.append(
            MetricPoint(ref, RECONCILE_GAP, floor_time(now, bucket), 1.0, bucket_seconds=bucket)
        )
        if prev is None:
            return out
    counts: dict[datetime, float] = defaultdict(float)
    # every bucket the interval covers is an observation, even with no message in it
    b = floor_time(prev, bucket)
    while b <= floor_time(now, bucket):
        counts[b] += 0.0
        b += timedelta(seconds=bucket)
    for m in messages:
        at = event_time(m, cfg.timestamp_field, decode)
        if at is not None:
            counts[floor_time(at, bucket)] += 1
    return out + [
        MetricPoint(ref, EVENT_MESSAGES, b, h.event_counts.get(b, 0.0) + c, bucket_seconds=bucket)
        for b, c in sorted(counts.items())
    ]
