"""A topic's message counts per bucket over its retained history, read on first sight.

The detectors then have a baseline with its daily shape on day one.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tidegauge.core.clock import floor_time
from tidegauge.streams.kafka import TP, KafkaStream

if TYPE_CHECKING:
    from tidegauge.streams.config import KafkaStreamConfig

#: backfill reads at most this many retained messages per topic (timestamps only)
BACKFILL_MAX_MESSAGES = 5_000_000


def backfill(
    ks: KafkaStream,
    cfg: KafkaStreamConfig,
    bounds: dict[TP, tuple[int, int]],
    now: datetime,
) -> dict[str, dict[datetime, float]]:
    """Messages per bucket over the retained history (up to ``history_days``), per topic.

    The first offset inside the window is found for every partition of every new topic at
    once (offsets-for-times, or the batched binary search when the broker's answer is
    wrong); from there the timestamps of the retained messages are read and counted.
    Buckets without messages between the first and the current one are stored as zeros:
    no message is an observation too.
    """
    bucket = cfg.bucket_seconds
    if cfg.history_days <= 0 or not bounds:
        return {}
    since_ms = int((now - timedelta(days=cfg.history_days)).timestamp() * 1000)
    starts = ks.offsets_for_time(bounds, since_ms)
    budget = BACKFILL_MAX_MESSAGES // max(1, len(bounds))
    ranges = {tp: (max(starts[tp], end - budget), end) for tp, (_, end) in bounds.items()}
    counts: dict[str, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    now_ms = now.timestamp() * 1000
    for m in ks.read(ranges, budget=max(ks.timeout, 120.0)):
        if m.timestamp_ms is None or m.timestamp_ms < since_ms or m.timestamp_ms > now_ms:
            continue
        at = floor_time(datetime.fromtimestamp(m.timestamp_ms / 1000, UTC), bucket)
        counts[m.topic][at] += 1
    last = floor_time(now, bucket)
    out: dict[str, dict[datetime, float]] = {}
    for topic, per in counts.items():
        b = min(per)
        while b <= last:
            per.setdefault(b, 0.0)
            b += timedelta(seconds=bucket)
        out[topic] = dict(per)
    return out
