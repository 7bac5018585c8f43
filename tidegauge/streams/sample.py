"""What one poll reads from the broker, bounded, and how its points reach the store.

A poll reads three things besides offsets and groups, and each is bounded so that a poll
over thousands of partitions costs about the same as one over a few hundred:

* **the payload sample**: the newest ``sample_per_partition`` messages of each partition,
  over at most ``sample_partitions`` partitions and about ``sample_messages`` messages per
  poll (fewer per partition when many are read). When a stream has more partitions
  than that, each topic gets its share of partitions and the partitions read **rotate**
  from poll to poll (and so do the topics, if there are more topics than the budget), so
  every partition is sampled within a few polls. A sink topic is always read whole since
  the previous poll: reconciliation counts every message.
* **lag in seconds**: the timestamp of the message at a group's committed offset. A
  partition whose committed message the sample already read costs nothing; otherwise one
  message is read per group and topic, on the partition furthest behind. With partitions
  produced evenly that is the oldest unread message; the age is a lower bound otherwise.
* **the points**, written in one transaction for the whole stream.

>>> rotate(list(range(12)), 3, 0), rotate(list(range(12)), 3, 1), rotate([0, 1], 3, 5)
([0, 1, 2], [3, 4, 5], [0, 1])
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from tidegauge.core.model import MetricPoint
from tidegauge.store.bulk import point_rows
from tidegauge.store.points import upsert_point_rows
from tidegauge.streams.kafka import TP, Message

if TYPE_CHECKING:
    from tidegauge.store.store import Store

#: a sink topic's messages read per partition per poll for reconciliation
SINK_READ_CAP = 50_000
#: however many partitions are sampled, each gives at least this many of its newest
MIN_PER_PARTITION = 5


def rotate(items: Sequence[int], k: int, turn: int) -> list[int]:
    """The ``turn``-th window of ``k`` items, wrapping around."""
    if k >= len(items):
        return list(items)
    start = (turn * k) % len(items)
    return [items[(start + i) % len(items)] for i in range(k)]


def plan_sample(
    offsets: Mapping[TP, tuple[int, int]],
    *,
    per_partition: int,
    budget: int,
    messages: int,
    idle: set[str],
    polls: Mapping[str, int],
    sinks: Mapping[str, dict[int, float]],
) -> tuple[dict[TP, tuple[int, int]], set[str], bool]:
    """(ranges to read, sink topics with a gap, whether the sample rotates).

    ``polls``: per topic, how many polls have seen it (the rotation's turn); ``sinks``: per
    sink topic, each partition's end at the previous poll (empty on its first poll).
    """
    by_topic: dict[str, list[int]] = {}
    for (t, p), (low, high) in sorted(offsets.items()):
        if t not in idle and (high > low or t in sinks):
            by_topic.setdefault(t, []).append(p)
    ranges: dict[TP, tuple[int, int]] = {}
    gaps: set[str] = set()
    for t in [t for t in by_topic if t in sinks]:
        for p in by_topic.pop(t):
            low, high = offsets[(t, p)]
            start = max(low, high - per_partition)
            prev = sinks[t].get(p)
            if prev is not None:
                start = max(low, int(prev))
                if high - start > SINK_READ_CAP:  # too far behind: a gap, not a read
                    start = max(low, high - per_partition)
                    gaps.add(t)
            ranges[(t, p)] = (start, 2**62)  # to the partition's real end (see kafka.py)
    total = sum(len(ps) for ps in by_topic.values())
    rotating = per_partition > 0 and total > budget
    if rotating:
        topics = sorted(by_topic)
        share = max(1, budget // len(topics))
        if len(topics) > budget:  # not even one partition each: the topics take turns
            turns = math.ceil(len(topics) / budget)
            topics = [t for t in topics if (zlib.crc32(t.encode()) + polls.get(t, 0)) % turns == 0]
        by_topic = {t: rotate(by_topic[t], share, polls.get(t, 0)) for t in topics}
    chosen = sum(len(ps) for ps in by_topic.values())
    if per_partition > 0 and chosen:
        # the newest few of each partition, at most ``messages`` in all
        per = max(MIN_PER_PARTITION, min(per_partition, messages // chosen))
        rotating = rotating or per < per_partition
        for t, ps in by_topic.items():
            for p in ps:
                low, high = offsets[(t, p)]
                ranges[(t, p)] = (max(low, high - per), 2**62)
    return ranges, gaps, rotating


def lag_reads(
    committed: Mapping[str, Mapping[str, Mapping[int, int]]],
    ends: Mapping[TP, int],
    known: Mapping[tuple[TP, int], int],
) -> list[tuple[TP, int]]:
    """The (partition, offset) messages to read for lag in seconds (see the module doc).

    ``committed``: topic → group → partition → committed offset; ``known``: timestamps
    already read by the sample, by (partition, offset).
    """
    wanted: set[tuple[TP, int]] = set()
    for t, groups in committed.items():
        for offs in groups.values():
            behind = [
                (ends[(t, p)] - off, p, off)
                for p, off in offs.items()
                if (t, p) in ends and off < ends[(t, p)]
            ]
            if not behind:
                continue
            # the furthest behind; among equals, one the sample already read
            _, p, off = max(behind, key=lambda b: (b[0], ((t, b[1]), b[2]) in known, -b[1]))
            if ((t, p), off) not in known:
                wanted.add(((t, p), off))
    return sorted(wanted)


def stamps_of(messages: Iterable[Message]) -> dict[tuple[TP, int], int]:
    return {
        ((m.topic, m.partition), m.offset): m.timestamp_ms
        for m in messages
        if m.timestamp_ms is not None
    }


def by_topic(
    committed: Iterable[tuple[str, Mapping[TP, int]]],
) -> dict[str, dict[str, dict[int, int]]]:
    """(group, {partition: offset}) pairs as topic → group → partition → offset."""
    out: dict[str, dict[str, dict[int, int]]] = {}
    for g, offs in committed:
        for (t, p), off in offs.items():
            out.setdefault(t, {}).setdefault(g, {})[p] = off
    return out


def write_points(
    store: Store,
    points: Mapping[int, Sequence[MetricPoint]],
    *,
    run_id: int | None,
    now: datetime,
) -> int:
    """Upsert every topic's points in one transaction; how many were written."""
    rows = point_rows(((tid, p) for tid, pts in points.items() for p in pts), now, run_id)
    return upsert_point_rows(store, rows)
