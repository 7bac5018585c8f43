"""Reconciliation: a topic's messages per bucket of event time against its sink table's rows.

Once a bucket has settled (``settle`` after its end, so the loader has caught up), the
messages whose event time falls in it (counted by the poll, see
:mod:`tidegauge.streams.events`) are compared with the sink rows whose ``table_timestamp``
falls in it: one query per sink per poll, built with sqlglot for the sink's engine. Fewer
rows is loss, more is duplication; either is an alert on the *sink table* naming both
counts, and since the topic sits upstream of the sink in lineage, a problem on the topic
(a stopped consumer) becomes the root of that symptom's incident.

Naive sink timestamps are taken as UTC.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlglot import exp

from tidegauge.core.model import Alert, AlertKind, MetricPoint, Severity, TableRef
from tidegauge.streams.metrics import EVENT_MESSAGES, RECONCILE_GAP, SINK_ROWS
from tidegauge.streams.poll import topic_ref

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store
    from tidegauge.streams.config import KafkaStreamConfig, SinkConfig

log = logging.getLogger("tidegauge.streams")

#: settled buckets re-checked each poll (a late loader may still land rows)
RECHECK_BUCKETS = 5


def _literal(at: datetime) -> exp.Expression:
    return exp.cast(
        exp.Literal.string(at.strftime("%Y-%m-%d %H:%M:%S")), exp.DataType.build("timestamp")
    )


def sink_count_query(
    table: exp.Table, column: str, buckets: list[datetime], seconds: int
) -> exp.Select:
    """``SELECT SUM(CASE WHEN ts in bucket i THEN 1 ELSE 0 END) AS b<i>, ...`` in one scan
    of the buckets' range."""
    col = exp.column(column)
    step = timedelta(seconds=seconds)
    items = [
        exp.alias_(
            exp.Sum(
                this=exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.and_(
                                exp.GTE(this=col.copy(), expression=_literal(b)),
                                exp.LT(this=col.copy(), expression=_literal(b + step)),
                            ),
                            true=exp.Literal.number(1),
                        )
                    ],
                    default=exp.Literal.number(0),
                )
            ),
            f"b{i}",
        )
        for i, b in enumerate(buckets)
    ]
    return (
        exp.select(*items)
        .from_(table.copy())
        .where(
            exp.and_(
                exp.GTE(this=col.copy(), expression=_literal(min(buckets))),
                exp.LT(this=col.copy(), expression=_literal(max(buckets) + step)),
            )
        )
    )


def _sink_table(project: Project, store: Store, sink: SinkConfig) -> tuple[int, TableRef] | None:
    names = [w.name for w in project.warehouses]
    wh = sink.warehouse or (names[0] if names else None)
    for t in store.tables():
        if t.ref.warehouse == wh and t.ref.fqn.lower() == sink.table.lower():
            return t.id, t.ref
    return None


def reconcile(
    project: Project,
    store: Store,
    cfg: KafkaStreamConfig,
    now: datetime,
    run_id: int | None,
    errors: dict[str, str] | None = None,
) -> list[tuple[Alert, int]]:
    """Compare settled buckets of every sink of ``cfg``; alerts on the sink tables."""
    from tidegauge.steps.discover import connect
    from tidegauge.warehouses.base import WarehouseError

    out: list[tuple[Alert, int]] = []
    bucket = cfg.bucket_seconds
    step = timedelta(seconds=bucket)
    settled_before = now - cfg.settle - step  # a bucket starting before this has settled
    for sink in cfg.sinks:
        if not sink.table_timestamp:
            continue
        ref = topic_ref(cfg.name, sink.topic)
        topic_id = next((t.id for t in store.tables() if t.ref == ref), None)
        target = _sink_table(project, store, sink)
        if topic_id is None or target is None:
            continue
        sink_id, sink_ref = target
        since = settled_before - step * RECHECK_BUCKETS
        counts = {
            p.bucket_start: p.value or 0.0
            for p in store.points(topic_id, metric=EVENT_MESSAGES, since=since - step)
        }
        gaps = {p.bucket_start for p in store.points(topic_id, metric=RECONCILE_GAP, since=since)}
        buckets = sorted(
            b
            for b in counts
            if since <= b <= settled_before and b - step in counts and b not in gaps
        )
        if not buckets:
            continue
        wcfg = project.warehouse(sink_ref.warehouse)
        try:
            wh = connect(wcfg)
            try:
                q = sink_count_query(
                    wh.table_expression(sink_ref), sink.table_timestamp, buckets, bucket
                )
                row = wh.execute(q, comment="tidegauge: stream reconciliation").rows[0]
            finally:
                wh.close()
        except WarehouseError as e:
            if errors is not None:
                errors[f"stream:{cfg.name}:sink:{sink.table}"] = f"reconciliation: {e}"
            continue
        rows = {b: float(v or 0) for b, v in zip(buckets, row, strict=True)}
        store.upsert_points(
            topic_id,
            [
                MetricPoint(ref, SINK_ROWS, b, v, column=sink.table, bucket_seconds=bucket)
                for b, v in rows.items()
            ],
            run_id=run_id,
            now=now,
        )
        for b in buckets:
            msgs, got = counts[b], rows[b]
            if got == msgs:
                continue
            loss = got < msgs
            diff = abs(msgs - got)
            what = "missing from" if loss else "more rows than messages in"
            span = f"{b:%Y-%m-%d %H:%M}–{b + step:%H:%M} UTC"
            out.append(
                (
                    Alert(
                        kind=AlertKind.VOLUME if loss else AlertKind.DUPLICATES,
                        table=sink_ref,
                        metric="stream_reconciliation",
                        data_time=b,
                        detected_at=now,
                        observed=got,
                        expected=msgs,
                        severity=Severity.HIGH if diff >= 0.1 * max(msgs, 1) else Severity.LOW,
                        title=(
                            f"{diff:,.0f} messages of topic {sink.topic} {what} {sink_ref.fqn}"
                            if loss
                            else f"{diff:,.0f} {what} topic {sink.topic} in {sink_ref.fqn}"
                        ),
                        explanation={
                            "text": f"{span}: topic `{sink.topic}` ({cfg.name}) has "
                            f"{msgs:,.0f} messages with event time in the bucket, "
                            f"`{sink_ref.fqn}` has {got:,.0f} rows by `{sink.table_timestamp}`"
                            f" ({'loss' if loss else 'duplication'} of {diff:,.0f})",
                            "messages": msgs,
                            "rows": got,
                            "topic": sink.topic,
                            "stream": cfg.name,
                        },
                    ),
                    sink_id,
                )
            )
    return out
