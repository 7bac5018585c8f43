"""One poll of every configured stream: offsets, groups and a sample become metric points.

A topic is stored as the table ``<stream>:kafka.<topic>``. Its series (see
:data:`STREAM_METRICS`) are minute buckets (``bucket:``), or snapshots at the poll time
(``bucket_seconds`` 0) for what describes a moment: the summed end offset the next poll
subtracts from, a group's committed offset and status. Everything the next poll needs is
read back from these points, so ``tidegauge run`` (one poll per process) and
``tidegauge watch`` (a poll every interval) behave the same.

Messages per bucket come from end offsets: the growth since the previous poll is spread
over the buckets the interval covers. On a topic's first poll its retained history (up to
``history_days``) is read once for message timestamps and counted per bucket, so the
detectors have a baseline with its daily shape on day one.

One stream failing (unreachable, refused) is recorded with an error naming it and never
stops the other streams or the tables.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tidegauge.core.clock import floor_time
from tidegauge.core.model import MetricPoint, TableInfo, TableRef
from tidegauge.store.bulk import PointFilter, latest_snapshots, stream_points
from tidegauge.streams.avro import payload_decoder, raw
from tidegauge.streams.backfill import backfill
from tidegauge.streams.events import event_points
from tidegauge.streams.kafka import KafkaStream, Message, StreamError
from tidegauge.streams.metrics import (
    BYTES,
    COMMITTED,
    END_OFFSET,
    EVENT_MESSAGES,
    LAG,
    LAG_AT_POLL,
    LAG_SECONDS,
    LAST_MESSAGE,
    MEMBERS,
    MESSAGES,
    PARTITIONS,
    PRESENT,
    RATE,
    SKEW,
    START_OFFSET,
    STATUS,
    VALUE_COUNT,
)
from tidegauge.streams.payload import profile_points, record_schemas, skew
from tidegauge.streams.profile import Profile, profile_payloads
from tidegauge.streams.sample import (
    by_topic,
    lag_reads,
    plan_sample,
    stamps_of,
    write_points,
)
from tidegauge.streams.status import ConsumerStatus, Observation, evaluate

if TYPE_CHECKING:
    from tidegauge.store.store import Store
    from tidegauge.streams.config import KafkaStreamConfig

log = logging.getLogger("tidegauge.streams")

SCHEMA = "kafka"
STATE_LOOKBACK = timedelta(days=2)
#: a topic's earliest offsets are asked every this many polls (and on its first)
START_EVERY = 10


def topic_ref(stream: str, topic: str) -> TableRef:
    return TableRef(stream, SCHEMA, topic)


@dataclass
class GroupReport:
    group: str
    lag: int
    lag_seconds: float | None
    rate: float | None
    status: ConsumerStatus
    members: int
    previous_status: ConsumerStatus = ConsumerStatus.OK


@dataclass
class TopicReport:
    stream: str
    topic: str
    table_id: int
    partitions: int
    end_offset: int
    messages: int  # since the previous poll (or backfilled on the first)
    rate: float | None  # messages per second since the previous poll
    last_message_at: datetime | None
    skew: float | None
    groups: dict[str, GroupReport] = field(default_factory=dict)
    profile: Profile | None = None
    first_poll: bool = False
    previous_schema: dict[str, str] | None = None
    schema: dict[str, str] = field(default_factory=dict)
    previous_present: dict[str, float] = field(default_factory=dict)
    known_values: dict[str, dict[str, datetime]] = field(default_factory=dict)
    #: path → earlier bucket → value → messages sampled (vanished values are judged on it)
    value_history: dict[str, dict[datetime, dict[str, float]]] = field(default_factory=dict)
    polls_seen: int = 0

    @property
    def ref(self) -> TableRef:
        return topic_ref(self.stream, self.topic)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "topic": self.topic,
            "table_id": self.table_id,
            "partitions": self.partitions,
            "end_offset": self.end_offset,
            "messages": self.messages,
            "rate_per_second": None if self.rate is None else round(self.rate, 3),
            "last_message_at": self.last_message_at,
            "skew": None if self.skew is None else round(self.skew, 3),
            "groups": {
                g.group: {
                    "lag": g.lag,
                    "lag_seconds": g.lag_seconds,
                    "rate_per_second": None if g.rate is None else round(g.rate, 3),
                    "status": g.status.value,
                    "members": g.members,
                }
                for g in self.groups.values()
            },
            "schema": self.schema,
        }


@dataclass
class StreamReport:
    name: str
    topics: list[TopicReport] = field(default_factory=list)
    error: str | None = None
    deleted_topics: list[str] = field(default_factory=list)
    vanished_groups: list[str] = field(default_factory=list)
    points: int = 0
    seconds: float = 0.0
    #: the sample covered part of the partitions, rotating from poll to poll (sample.py)
    rotating: bool = False
    #: seconds spent in each phase of the poll (broker calls, store, reads, compute)
    phases: dict[str, float] = field(default_factory=dict)
    #: what went wrong without stopping the poll (a schema registry that did not answer)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "error": self.error,
            "topics": [t.as_dict() for t in self.topics],
            "deleted_topics": self.deleted_topics,
            "vanished_groups": self.vanished_groups,
            "points": self.points,
            "seconds": round(self.seconds, 3),
            "sample_rotating": self.rotating,
            "phases": self.phases,
            "problems": self.problems,
        }


@dataclass
class _History:
    """What one topic's stored points say about the previous polls."""

    end_offset: tuple[datetime, float] | None = None
    start_offset: float | None = None
    committed: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    lags: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    status: dict[str, float] = field(default_factory=dict)
    present: dict[str, float] = field(default_factory=dict)
    values: dict[str, dict[str, datetime]] = field(default_factory=dict)
    bucket_messages: dict[datetime, float] = field(default_factory=dict)
    bucket_values: dict[tuple[str, str], float] = field(default_factory=dict)
    #: path → bucket → value → messages sampled, for the buckets before the current one
    value_buckets: dict[str, dict[datetime, dict[str, float]]] = field(default_factory=dict)
    polls: int = 0
    #: sink topics: each partition's real end at the previous poll
    partition_ends: dict[int, float] = field(default_factory=dict)
    event_counts: dict[datetime, float] = field(default_factory=dict)


def _histories(
    store: Store, ids: dict[int, TableRef], now: datetime, bucket: int, history_days: int
) -> dict[int, _History]:
    current = floor_time(now, bucket)
    state = PointFilter(
        now - STATE_LOOKBACK,
        frozenset({END_OFFSET, START_OFFSET, COMMITTED, LAG_AT_POLL, STATUS, PRESENT}),
    )
    values = PointFilter(now - timedelta(days=max(history_days, 1)), frozenset({VALUE_COUNT}))
    recent = PointFilter(current - timedelta(seconds=bucket), frozenset({MESSAGES}))
    events = PointFilter(now - timedelta(days=1), frozenset({EVENT_MESSAGES}))
    out: dict[int, _History] = {}
    for tid, points in stream_points(store, ids, [state, values, recent, events]):
        h = out[tid] = _History()
        for p in points:  # ordered by series, then time
            if p.value is None:
                continue
            if p.metric == END_OFFSET and p.segment is not None:
                h.partition_ends[int(p.segment)] = p.value
            elif p.metric == END_OFFSET:
                h.end_offset = (p.bucket_start, p.value)
                h.polls += 1
            elif p.metric == START_OFFSET:
                h.start_offset = p.value
            elif p.metric == EVENT_MESSAGES:
                h.event_counts[p.bucket_start] = p.value
            elif p.metric == COMMITTED and p.column:
                h.committed.setdefault(p.column, []).append((p.bucket_start, p.value))
            elif p.metric == LAG_AT_POLL and p.column:
                h.lags.setdefault(p.column, []).append((p.bucket_start, p.value))
            elif p.metric == STATUS and p.column:
                h.status[p.column] = p.value
            elif p.metric == PRESENT and p.column:
                h.present[p.column] = p.value
            elif p.metric == VALUE_COUNT and p.column and p.segment is not None:
                seen = h.values.setdefault(p.column, {})
                seen.setdefault(p.segment, p.bucket_start)
                if p.bucket_start >= current:
                    h.bucket_values[(p.column, p.segment)] = p.value
                else:
                    per = h.value_buckets.setdefault(p.column, {})
                    per.setdefault(p.bucket_start, {})[p.segment] = p.value
            elif p.metric == MESSAGES and p.bucket_start >= current - timedelta(seconds=bucket):
                h.bucket_messages[p.bucket_start] = p.value
    return out


def _spread(count: float, since: datetime, until: datetime, bucket: int) -> dict[datetime, float]:
    """``count`` messages that arrived between two polls, over the buckets they cover."""
    if until <= since:
        return {floor_time(until, bucket): count}
    total = (until - since).total_seconds()
    out: dict[datetime, float] = {}
    b = floor_time(since, bucket)
    while b < until:
        end = b + timedelta(seconds=bucket)
        overlap = (min(end, until) - max(b, since)).total_seconds()
        if overlap > 0:
            out[b] = count * overlap / total
        b = end
    return out


def poll_stream(
    cfg: KafkaStreamConfig, store: Store, now: datetime, run_id: int | None
) -> StreamReport:
    """One poll of one stream; a broker error is recorded on the report, not raised."""
    started = time.perf_counter()
    report = StreamReport(cfg.name)
    try:
        with KafkaStream(cfg) as ks:
            _poll(ks, cfg, store, now, run_id, report)
    except StreamError as e:
        report.error = str(e)
        log.error("%s", e)
    report.seconds = time.perf_counter() - started
    return report


def _poll(
    ks: KafkaStream,
    cfg: KafkaStreamConfig,
    store: Store,
    now: datetime,
    run_id: int | None,
    report: StreamReport,
) -> None:
    bucket = cfg.bucket_seconds
    decode, registry = payload_decoder(cfg, report.problems)
    lap = _Laps(report.phases)
    topics = ks.topics()
    lap("topics")
    known = {t.ref.name: t for t in store.tables() if t.ref.warehouse == cfg.name}
    hist = _histories(
        store,
        {known[t].id: topic_ref(cfg.name, t) for t in topics if t in known},
        now,
        bucket,
        cfg.history_days,
    )
    lap("history")
    # the earliest offsets move only with retention: asked for new topics and a rotating
    # tenth of the others; the rest keep the sum the previous poll stored
    start_of = {t: h.start_offset for t in topics if t in known and (h := hist.get(known[t].id))}
    ask_start = {
        t
        for t in topics
        if start_of.get(t) is None
        or (zlib.crc32(t.encode()) + hist[known[t].id].polls) % START_EVERY == 0
    }
    # the groups' requests wait on the broker while the offsets are asked: side by side
    with ThreadPoolExecutor(1, thread_name_prefix="tidegauge-groups") as pool:
        asked = pool.submit(ks.groups)
        offsets = ks.end_offsets(topics, earliest=ask_start)
        lap("offsets")
        groups = asked.result()
    lap("groups")
    starts: dict[str, float] = {t: v for t, v in start_of.items() if v is not None}
    for t, n in topics.items():
        ours = [offsets[(t, p)] for p in range(n) if (t, p) in offsets]
        if t in ask_start:
            starts[t] = float(sum(low for low, _ in ours))
        elif sum(high for _, high in ours) < starts[t]:  # recreated since: it starts again
            starts[t] = 0.0
    report.deleted_topics = sorted(set(known) - set(topics))
    snaps = latest_snapshots(store, [t.id for t in known.values()])
    infos = [
        TableInfo(
            topic_ref(cfg.name, t),
            row_count=max(
                0, int(sum(offsets[(t, p)][1] for p in range(n) if (t, p) in offsets) - starts[t])
            ),
            columns=tuple(snaps[known[t].id].columns)
            if t in known and known[t].id in snaps
            else (),
        )
        for t, n in sorted(topics.items())
    ]
    ids = store.upsert_tables(infos, now)
    store.mark_dropped(cfg.name, set(ids), now)
    tid_of = {info.ref.name: tid for info, tid in zip(infos, ids, strict=True)}
    lap("tables")

    # the sample: the newest ``sample_per_partition`` of each partition, bounded (sample.py)
    prev_end: dict[str, float] = {
        t: h.end_offset[1] for t, tid in tid_of.items() if (h := hist.get(tid)) and h.end_offset
    }
    sink_topics = {s.topic for s in cfg.sinks if s.table_timestamp}
    hw_total: dict[str, int] = defaultdict(int)
    for (t, _p), (_low, high) in offsets.items():
        hw_total[t] += high
    # a topic whose watermarks add up to exactly the end the previous poll read has nothing
    # new and is not read; below it, the watermarks lag (see kafka.py): read to the end
    idle = {t for t, v in prev_end.items() if hw_total.get(t, 0) == v and t not in sink_topics}
    ranges, gaps, report.rotating = plan_sample(
        offsets,
        per_partition=cfg.sample_per_partition,
        budget=cfg.sample_partitions,
        messages=cfg.sample_messages,
        idle=idle,
        polls={t: h.polls for t, tid in tid_of.items() if (h := hist.get(tid))},
        sinks={
            t: (h.partition_ends if (h := hist.get(tid_of[t])) else {})
            for t in sink_topics
            if t in tid_of
        },
    )
    samples: dict[str, list[Message]] = defaultdict(list)
    lap("history")
    for m in ks.read(ranges, budget=ks.timeout):
        samples[m.topic].append(m)
    real_end = {tp: max(high, ks.ends.get(tp, high)) for tp, (_, high) in offsets.items()}

    # lag in seconds: the timestamp of the message at each group's committed offset
    committed_by = by_topic((g.group, g.committed) for g in groups.values())
    stamps = {k: v for ms in samples.values() for k, v in stamps_of(ms).items()}
    wanted = lag_reads(committed_by, real_end, stamps)
    lap("sample_read")
    if wanted:
        stamps.update(ks.timestamps_at(wanted))

    new = {t for t in topics if (h := hist.get(tid_of[t])) is None or h.end_offset is None}
    lap("lag_read")
    backfilled_all = backfill(
        ks,
        cfg,
        {tp: (offsets[tp][0], e) for tp, e in real_end.items() if tp[0] in new},
        now,
    )
    lap("backfill")
    points: dict[int, list[MetricPoint]] = defaultdict(list)
    for t, n in sorted(topics.items()):
        tid = tid_of[t]
        ref = topic_ref(cfg.name, t)
        h = hist.get(tid, _History())
        ends = {p: real_end[(t, p)] for p in range(n) if (t, p) in real_end}
        total_end = float(sum(ends.values()))
        if t in idle:  # not read: what the previous poll knew still stands
            total_end = max(total_end, prev_end[t])
        first = h.end_offset is None
        tr = TopicReport(cfg.name, t, tid, n, int(total_end), 0, None, None, None, first_poll=first)
        tr.polls_seen = h.polls
        pts = points[tid]
        if first:
            backfilled = backfilled_all.get(t, {})
            for b, c in sorted(backfilled.items()):
                pts.append(MetricPoint(ref, MESSAGES, b, c, bucket_seconds=bucket))
            tr.messages = int(sum(backfilled.values()))
        else:
            assert h.end_offset is not None
            since, before = h.end_offset
            grown = total_end - before if total_end >= before else total_end  # recreated
            tr.messages = int(grown)
            secs = (now - since).total_seconds()
            tr.rate = grown / secs if secs > 0 else None
            for b, c in _spread(grown, since, now, bucket).items():
                c += h.bucket_messages.get(b, 0.0)  # an earlier poll filled part of it
                pts.append(MetricPoint(ref, MESSAGES, b, round(c, 3), bucket_seconds=bucket))
        pts.append(MetricPoint(ref, END_OFFSET, now, total_end))
        pts.append(MetricPoint(ref, START_OFFSET, now, starts[t]))
        pts.append(MetricPoint(ref, PARTITIONS, now, float(n)))
        sample = samples.get(t, [])
        if t in sink_topics:
            pts += event_points(
                ref,
                cfg,
                sample,
                h,
                ends,
                now,
                gap=t in gaps or first,
                decode=decode or raw,
            )
        if not first:
            # only what arrived since the previous poll: the last N of each partition may
            # reach back past it on a quiet topic, and old messages would hide a change
            cutoff = h.end_offset[0].timestamp() * 1000 if h.end_offset else 0
            sample = [m for m in sample if m.timestamp_ms is None or m.timestamp_ms >= cutoff]
        if sample:
            newest = max((m.timestamp_ms for m in sample if m.timestamp_ms), default=None)
            if newest is not None:
                tr.last_message_at = datetime.fromtimestamp(newest / 1000, UTC)
                pts.append(MetricPoint(ref, LAST_MESSAGE, now, newest / 1000))
        if not first and prev_end.get(t) is not None and n > 1 and not report.rotating:
            tr.skew = skew(sample, n)
            if tr.skew is not None:
                pts.append(MetricPoint(ref, SKEW, now, tr.skew))
        cur = floor_time(now, bucket)
        if sample:
            tr.profile = prof = (
                profile_payloads(
                    (m.value for m in sample),
                    pii=cfg.pii_fields,
                    timestamps=(m.timestamp_ms for m in sample),
                    max_bytes=cfg.max_message_bytes,
                    decode=decode,
                )
                if decode is not None
                else None
            )
            mean_size = sum(m.size for m in sample) / len(sample)
            pts.append(
                MetricPoint(
                    ref,
                    BYTES,
                    cur,
                    round(mean_size * max(tr.messages, 0), 1),
                    bucket_seconds=bucket,
                )
            )
            if prof is not None:
                pts.extend(profile_points(ref, prof, cfg, cur, bucket, h))
                tr.schema = prof.schema()
        tr.previous_schema = (
            {c.name: c.data_type for c in snaps[known[t].id].columns}
            if t in known and known[t].id in snaps
            else None
        )
        tr.previous_present = dict(h.present)
        tr.known_values = h.values
        tr.value_history = h.value_buckets
        # consumer groups on this topic
        for name, mine in sorted(committed_by.get(t, {}).items()):  # the groups on this topic
            g = groups[name]
            lag = sum(max(0, ends.get(p, 0) - off) for p, off in mine.items())
            committed = float(sum(mine.values()))
            ages = [
                (now.timestamp() * 1000 - stamps[((t, p), off)]) / 1000
                for p, off in mine.items()
                if ((t, p), off) in stamps and off < ends.get(p, 0)
            ]
            lag_s = max(0.0, max(ages)) if lag > 0 and ages else (0.0 if lag == 0 else None)
            prev = h.committed.get(g.group, [])
            rate = None
            if prev:
                secs = (now - prev[-1][0]).total_seconds()
                rate = (committed - prev[-1][1]) / secs if secs > 0 else None
            window = [
                Observation(c, lag_v)
                for (_, c), (_, lag_v) in zip(
                    prev[-(cfg.window - 1) :],
                    h.lags.get(g.group, [])[-(cfg.window - 1) :],
                    strict=False,
                )
            ]
            status = evaluate([*window, Observation(committed, lag)], members=g.members)
            gr = GroupReport(
                g.group,
                lag,
                lag_s,
                rate,
                status,
                g.members,
                ConsumerStatus.from_code(h.status.get(g.group)),
            )
            tr.groups[g.group] = gr
            pts += [
                MetricPoint(ref, LAG_AT_POLL, now, float(lag), column=g.group),
                MetricPoint(ref, LAG, cur, float(lag), column=g.group, bucket_seconds=bucket),
                MetricPoint(ref, COMMITTED, now, committed, column=g.group),
                MetricPoint(ref, STATUS, now, float(status.code), column=g.group),
                MetricPoint(ref, MEMBERS, now, float(g.members), column=g.group),
            ]
            if lag_s is not None:
                pts.append(
                    MetricPoint(
                        ref,
                        LAG_SECONDS,
                        cur,
                        round(lag_s, 3),
                        column=g.group,
                        bucket_seconds=bucket,
                    )
                )
            if rate is not None:
                pts.append(
                    MetricPoint(
                        ref, RATE, cur, round(rate, 4), column=g.group, bucket_seconds=bucket
                    )
                )
        report.topics.append(tr)
    seen_groups = {g for tr in report.topics for g in tr.groups}
    had = {g for h in hist.values() for g, s in h.status.items()}
    report.vanished_groups = sorted(had - seen_groups - set(groups))
    lap("compute")
    report.points += write_points(store, points, run_id=run_id, now=now)
    if registry is not None:
        report.problems += list(registry.problems)
    record_schemas(store, report, now)
    lap("write")


class _Laps:
    """Seconds since the previous lap, by phase name."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        t = time.perf_counter()
        self.into[name] = round(self.into.get(name, 0.0) + t - self.t, 3)
        self.t = t
