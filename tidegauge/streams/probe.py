"""``tidegauge.streams.observe``: minute aggregates of what application code consumes.

Wrap the loop that consumes, and tidegauge records, per topic and minute, how many
messages went through, their bytes, the newest message time and how old messages were when
processed (the consumer's own lag in seconds), and flushes them to the store:

>>> from tidegauge.store.store import Store
>>> store = Store.open("sqlite://")
>>> msgs = [{"topic": "orders", "timestamp": 1767225600.0 + i, "value": b"{}"} for i in range(90)]
>>> with observe(msgs, store=store, stream="app", member="worker-1") as seen:
...     for m in seen:
...         pass  # the application's own handling
>>> seen.totals()["orders"]
90

A message is a confluent-kafka ``Message``, a dict (``topic``, ``timestamp`` in seconds or
``datetime``, ``value``), or anything else (counted under ``topic=``). Per message the
probe does a handful of attribute reads and one dict update; the store is written every
``flush_every`` seconds (checked every 256 messages) and on exit. Each process writes its
own series (``member``: host and pid by default), so several members of a group never
overwrite each other's counts.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidegauge.store.store import Store

__all__ = ["Observer", "observe"]

OBSERVED = "observed_messages"
OBSERVED_BYTES = "observed_bytes"
OBSERVED_AGE = "observed_age_seconds"  # max age of a message when it was processed


class Observer:
    """Iterate it instead of the source; see the module docstring."""

    def __init__(
        self,
        source: Iterable[Any],
        *,
        store: Store | str | None,
        stream: str,
        topic: str | None = None,
        bucket_seconds: int = 60,
        flush_every: float = 30.0,
        member: str | None = None,
    ) -> None:
        self.source = source
        self.stream = stream
        self.topic = topic or "unknown"
        self.bucket = bucket_seconds
        self.flush_every = flush_every
        self.member = member or f"{socket.gethostname()}:{os.getpid()}"
        self._store = store
        # (topic, bucket index) → [messages, bytes, newest ts, max age]
        self._agg: dict[tuple[str, int], list[float]] = {}
        self._next_flush = time.monotonic() + flush_every
        self._flushed_ids: dict[str, int] = {}
        self._done: dict[str, int] = {}  # messages of buckets already written for good

    # --- the hot path ---------------------------------------------------------------------
    def __iter__(self) -> Iterator[Any]:
        source = self.source
        if hasattr(source, "poll") and hasattr(source, "subscribe"):
            source = _consumed(source)  # a confluent-kafka Consumer
        agg = self._agg
        bucket = self.bucket
        default_topic = self.topic
        clock = time.time
        for n, m in enumerate(source, 1):
            now = clock()
            if isinstance(m, dict):
                topic = m.get("topic", default_topic)
                ts = m.get("timestamp", now)
                if isinstance(ts, datetime):
                    ts = ts.timestamp()
                value = m.get("value")
            elif hasattr(m, "timestamp") and callable(m.timestamp):
                topic = m.topic() or default_topic
                kind, ms = m.timestamp()
                ts = ms / 1000.0 if kind else now
                value = m.value()
            else:
                topic, ts, value = default_topic, now, m
            key = (topic, int(now // bucket))
            row = agg.get(key)
            if row is None:
                row = agg[key] = [0.0, 0.0, 0.0, 0.0]
            row[0] += 1
            if value is not None and hasattr(value, "__len__"):
                row[1] += len(value)
            if ts > row[2]:
                row[2] = ts
            age = now - ts
            if age > row[3]:
                row[3] = age
            yield m
            if not n & 255 and time.monotonic() >= self._next_flush:
                self.flush()

    # --- flushing ---------------------------------------------------------------------------
    def _open_store(self) -> Store | None:
        if self._store is None or not isinstance(self._store, str):
            return self._store
        from tidegauge.store.store import Store

        self._store = Store.open(self._store)
        return self._store

    def totals(self) -> dict[str, int]:
        """Messages seen per topic since the observer started."""
        out = dict(self._done)
        for (topic, _), row in self._agg.items():
            out[topic] = out.get(topic, 0) + int(row[0])
        return out

    def flush(self) -> int:
        """Write the held buckets (cumulative within each bucket); returns points written."""
        from tidegauge.core.model import MetricPoint, TableInfo
        from tidegauge.streams.poll import topic_ref

        self._next_flush = time.monotonic() + self.flush_every
        store = self._open_store()
        if store is None or not self._agg:
            return 0
        now = datetime.now(UTC)
        topics = sorted({t for t, _ in self._agg} - set(self._flushed_ids))
        if topics:
            infos = [TableInfo(topic_ref(self.stream, t)) for t in topics]
            for info, tid in zip(infos, store.upsert_tables(infos, now), strict=True):
                self._flushed_ids[info.ref.name] = tid
        written = 0
        by_topic: dict[str, list[MetricPoint]] = {}
        for (topic, b), (count, size, _, age) in self._agg.items():
            ref = topic_ref(self.stream, topic)
            start = datetime.fromtimestamp(b * self.bucket, UTC)
            seg = self.member
            by_topic.setdefault(topic, []).extend(
                [
                    MetricPoint(ref, OBSERVED, start, count, None, seg, self.bucket),
                    MetricPoint(ref, OBSERVED_BYTES, start, size, None, seg, self.bucket),
                    MetricPoint(ref, OBSERVED_AGE, start, round(age, 3), None, seg, self.bucket),
                ]
            )
        for topic, pts in by_topic.items():
            written += store.upsert_points(self._flushed_ids[topic], pts, run_id=None, now=now)
        # buckets before the current one are complete: written for the last time
        current = int(time.time() // self.bucket)
        for key in [k for k in self._agg if k[1] < current]:
            self._done[key[0]] = self._done.get(key[0], 0) + int(self._agg.pop(key)[0])
        return written

    def __enter__(self) -> Observer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()


def _consumed(consumer: Any, timeout: float = 1.0) -> Iterator[Any]:
    """Messages of a confluent-kafka Consumer until it is closed; error events are skipped
    (the client reports them through its own callbacks)."""
    while True:
        try:
            m = consumer.poll(timeout)
        except RuntimeError:  # closed
            return
        if m is None or m.error() is not None:
            continue
        yield m


def observe(
    source: Iterable[Any],
    *,
    store: Store | str | None = None,
    stream: str = "app",
    topic: str | None = None,
    bucket_seconds: int = 60,
    flush_every: float = 30.0,
    member: str | None = None,
) -> Observer:
    """Wrap a consumer (or any iterable of messages) to record minute aggregates.

    ``store``: a :class:`~tidegauge.store.store.Store` or its URL; ``None`` keeps the
    aggregates in memory only (``Observer.totals``).
    """
    return Observer(
        source,
        store=store,
        stream=stream,
        topic=topic,
        bucket_seconds=bucket_seconds,
        flush_every=flush_every,
        member=member,
    )
