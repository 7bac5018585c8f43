"""What a topic's payload sample becomes: profile points, the payload schema, the skew.

Only aggregates are stored: per path its presence, null share, distinct count and mean,
and per categorical value its count (never a ``pii_fields`` value). The schema of the
payload is stored as the topic's columns, with a snapshot when it changed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tidegauge.core.model import ColumnInfo, MetricPoint, TableInfo, TableRef, TypeFamily
from tidegauge.streams.metrics import (
    DISTINCT,
    MEAN,
    NULL_RATE,
    OVERSIZED,
    PARSE_FAILURES,
    PRESENT,
    VALUE_COUNT,
)

if TYPE_CHECKING:
    from tidegauge.store.store import Store
    from tidegauge.streams.config import KafkaStreamConfig
    from tidegauge.streams.kafka import Message
    from tidegauge.streams.poll import StreamReport
    from tidegauge.streams.profile import Profile

FAMILIES = {
    "string": TypeFamily.STRING,
    "integer": TypeFamily.INTEGER,
    "float": TypeFamily.FLOAT,
    "number": TypeFamily.FLOAT,
    "boolean": TypeFamily.BOOLEAN,
    "array": TypeFamily.ARRAY,
    "object": TypeFamily.STRUCT,
    "timestamp": TypeFamily.TIMESTAMP,
    "date": TypeFamily.DATE,
    "bytes": TypeFamily.BINARY,
}


def skew(sample: list[Message], partitions: int) -> float | None:
    """Busiest partition's share of the newest messages over an even share (1 = even)."""
    if len(sample) < partitions * 5:
        return None
    per: dict[int, int] = defaultdict(int)
    for m in sample:
        per[m.partition] += 1
    return float(max(per.values()) / (len(sample) / partitions))


def profile_points(
    ref: TableRef, prof: Profile, cfg: KafkaStreamConfig, cur: datetime, bucket: int, h: Any
) -> list[MetricPoint]:
    out = [
        MetricPoint(ref, PARSE_FAILURES, cur, prof.failure_rate, bucket_seconds=bucket),
        MetricPoint(ref, OVERSIZED, cur, float(prof.oversized), bucket_seconds=bucket),
    ]
    if not prof.parsed:
        return out
    for path, f in sorted(prof.fields.items()):
        out.append(
            MetricPoint(
                ref,
                PRESENT,
                cur,
                (f.present - f.nulls) / prof.parsed,
                column=path,
                bucket_seconds=bucket,
            )
        )
        out.append(
            MetricPoint(
                ref, NULL_RATE, cur, prof.null_rate(path), column=path, bucket_seconds=bucket
            )
        )
        if f.pii:
            continue
        out.append(
            MetricPoint(ref, DISTINCT, cur, float(f.distinct()), column=path, bucket_seconds=bucket)
        )
        if f.mean is not None:
            out.append(MetricPoint(ref, MEAN, cur, f.mean, column=path, bucket_seconds=bucket))
    for path, f in sorted(prof.categorical(cfg.categorical_max_distinct).items()):
        for value, n in sorted(f.values.items()):
            before = h.bucket_values.get((path, value), 0.0)
            out.append(
                MetricPoint(
                    ref,
                    VALUE_COUNT,
                    cur,
                    before + n,
                    column=path,
                    segment=value,
                    bucket_seconds=bucket,
                )
            )
    return out


def record_schemas(store: Store, report: StreamReport, now: datetime) -> None:
    """The payload schema as the topic's columns (and a snapshot when it changed)."""
    changed = [tr for tr in report.topics if tr.schema and tr.schema != (tr.previous_schema or {})]
    if not changed:
        return
    infos = []
    for tr in changed:
        cols = tuple(
            ColumnInfo(path, typ, FAMILIES.get(typ, TypeFamily.OTHER), True, i)
            for i, (path, typ) in enumerate(sorted(tr.schema.items()))
        )
        infos.append(TableInfo(tr.ref, columns=cols))
        store.add_snapshot(tr.table_id, cols, now)
    store.upsert_tables(infos, now)
