"""What the CLI, the API and the UI show about streams, read from the store (no broker).

One shape for all three: per stream, its last error and topics; per topic its partitions,
rates, freshness, skew, payload schema and consumer groups with lag and status, as the
latest poll stored them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tidegauge.store.bulk import PointFilter, stream_points
from tidegauge.streams import metrics as M
from tidegauge.streams import poll as P
from tidegauge.streams.status import ConsumerStatus

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store

RECENT = timedelta(days=2)


def last_errors(store: Store) -> dict[str, str]:
    """``stream name → error`` of the latest run that polled streams."""
    for r in store.runs(limit=20):
        errs = (r.get("stats") or {}).get("warehouse_errors") or {}
        streams = {k.split(":", 2)[1]: v for k, v in errs.items() if k.startswith("stream:")}
        if r.get("status") in ("success", "partial"):
            return streams
    return {}


def streams_summary(
    project: Project, store: Store, now: datetime | None = None
) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    names = {s.name for s in project.streams}
    tables = [
        t
        for t in store.tables(include_dropped=True)
        if t.ref.warehouse in names and t.ref.schema == P.SCHEMA
    ]
    refs = {t.id: t.ref for t in tables}
    since = now - RECENT
    latest: dict[int, dict[tuple[str, str | None], tuple[datetime, float | None, int]]] = {}
    for tid, points in stream_points(
        store, refs, [PointFilter(since, frozenset(M.STREAM_METRICS))]
    ):
        cur = latest.setdefault(tid, {})
        for p in points:
            if p.metric == M.VALUE_COUNT:
                continue
            k = (p.metric, p.column)
            if k not in cur or p.bucket_start >= cur[k][0]:
                cur[k] = (p.bucket_start, p.value, p.bucket_seconds)
    errors = last_errors(store)
    out = []
    for cfg in project.streams:
        topics = []
        for t in sorted(
            (t for t in tables if t.ref.warehouse == cfg.name), key=lambda t: t.ref.name
        ):
            cur = latest.get(t.id, {})

            def val(metric: str, column: str | None = None, *, _cur: Any = cur) -> float | None:
                hit = _cur.get((metric, column))
                return None if hit is None else hit[1]

            groups = sorted({c for (m, c) in cur if m == M.STATUS and c})
            last = val(M.LAST_MESSAGE)
            msgs = cur.get((M.MESSAGES, None))
            topics.append(
                {
                    "topic": t.ref.name,
                    "table_id": t.id,
                    "dropped": t.dropped_at is not None,
                    "partitions": val(M.PARTITIONS),
                    "retained_messages": t.row_count,
                    "end_offset": val(M.END_OFFSET),
                    "messages_last_bucket": None if msgs is None else msgs[1],
                    "rate_per_second": None
                    if msgs is None or not msgs[2]
                    else round((msgs[1] or 0) / msgs[2], 3),
                    "last_message_at": None
                    if last is None
                    else datetime.fromtimestamp(last, UTC).isoformat(),
                    "skew": val(M.SKEW),
                    "schema": {c.name: c.data_type for c in store.columns(t.id)},
                    "groups": [
                        {
                            "group": g,
                            "lag": val(M.LAG_AT_POLL, g),
                            "lag_seconds": val(M.LAG_SECONDS, g),
                            "rate_per_second": val(M.RATE, g),
                            "members": val(M.MEMBERS, g),
                            "status": ConsumerStatus.from_code(val(M.STATUS, g)).value,
                        }
                        for g in groups
                    ],
                }
            )
        out.append(
            {
                "name": cfg.name,
                "bootstrap_servers": cfg.bootstrap_servers,
                "namespace": cfg.namespace,
                "error": errors.get(cfg.name),
                "topics": topics,
            }
        )
    return out
