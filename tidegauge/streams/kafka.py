"""The Kafka adapter: topics, end offsets, consumer groups' committed offsets, and reads.

Every call that can be batched is: one metadata request for all topics, one ``ListOffsets``
call for all partitions, one ``DescribeConsumerGroups`` for all groups, and the committed
offsets of all groups requested at once (the client sends one request per group, in
parallel). No per-partition round trip happens in a poll except reading samples, which
assigns every partition at once and lets the client batch the fetches.

tidegauge reads under its own group id with ``assign``/``seek`` and never commits, so it
never moves anyone's offsets.

Two broker quirks are coded for (both measured on Tansu, the broker the tests run):

* offsets-for-times answers offset 0 for every timestamp; when the answer is not plausible
  (an offset whose message is older than the timestamp asked), :meth:`offset_for_time`
  falls back to a binary search over offsets reading message timestamps;
* the reported high watermark lags behind the real end by up to one producer batch
  (57,600 messages produced, watermarks summing to 53,712); reads go on past it until the
  partition's end-of-file event, whose offset is the real end, and callers take the
  larger of the two.

``confluent_kafka`` is imported lazily: ``import tidegauge`` never needs it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidegauge.streams.config import KafkaStreamConfig

log = logging.getLogger("tidegauge.streams")

TP = tuple[str, int]
#: partitions per ListOffsets call: bounded so one huge request never hits a size limit
OFFSETS_CHUNK = 4000
#: partitions assigned at once when reading: with 2,400 assigned Tansu delivered 676 of
#: 4,800 messages in 10 s and 1,031 partitions never reached their end (measured); in
#: chunks of this size each read finishes in a fraction of a second
READ_CHUNK = 300


def _chunks(items: list[TP], size: int) -> list[list[TP]]:
    return [items[lo : lo + size] for lo in range(0, len(items), size)]


class StreamError(Exception):
    """A stream cannot be polled (unreachable, refused, misconfigured); names the stream."""


@dataclass(frozen=True, slots=True)
class Message:
    """What tidegauge keeps of one message while it profiles it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    value: bytes | None
    size: int


@dataclass
class GroupInfo:
    group: str
    state: str = "unknown"
    members: int = 0
    #: (topic, partition) → committed offset
    committed: dict[TP, int] = field(default_factory=dict)
    error: str | None = None


def _quiet_logger() -> logging.Logger:
    # librdkafka logs every failed connect to stderr; route it to our logger at DEBUG
    lg = logging.getLogger("tidegauge.streams.librdkafka")
    lg.propagate = False
    if not lg.handlers:
        lg.addHandler(logging.NullHandler())
    return lg


def _import() -> Any:
    try:
        import confluent_kafka
    except ImportError:
        raise StreamError(
            "the Kafka client is not installed: pip install 'tidegauge[kafka]'"
        ) from None
    return confluent_kafka


class KafkaStream:
    """One connection to one configured stream; use as a context manager."""

    def __init__(self, config: KafkaStreamConfig) -> None:
        self.config = config
        self.timeout = config.timeout.total_seconds()
        self._admin: Any = None
        self._consumer: Any = None
        self._errors: list[str] = []

    # --- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> KafkaStream:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _settings(self) -> dict[str, Any]:
        return {
            **self.config.client,
            "bootstrap.servers": self.config.bootstrap_servers,
            "logger": _quiet_logger(),
            "error_cb": self._on_error,
        }

    def _on_error(self, err: Any) -> None:
        self._errors.append(str(err))

    def connect(self) -> None:
        ck = _import()
        from confluent_kafka.admin import AdminClient

        try:
            self._admin = AdminClient(self._settings())
            self._consumer = ck.Consumer(
                {
                    **self._settings(),
                    "group.id": self.config.probe_group,
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "enable.partition.eof": True,
                    # short broker long-polls: seek-and-read-one (lag seconds, the
                    # offset search) waits on each fetch otherwise (measured: 0.45 s)
                    "fetch.wait.max.ms": 20,
                    "auto.offset.reset": "earliest",
                    "fetch.message.max.bytes": max(1_048_576, self.config.max_message_bytes),
                }
            )
        except ck.KafkaException as e:
            raise self._error(f"cannot create a client: {e}") from None

    def close(self) -> None:
        """Close the client, waiting at most ``timeout`` for it.

        A consumer's close once blocked for good after a poll over 12,000 partitions on
        Tansu (measured); a poll must never hang on it, so it closes in a daemon thread.
        """
        consumer, self._consumer, self._admin = self._consumer, None, None
        if consumer is None:
            return

        def shut() -> None:
            with suppress(RuntimeError):  # already closed
                consumer.close()

        closer = threading.Thread(target=shut, name="tidegauge-kafka-close", daemon=True)
        closer.start()
        closer.join(self.timeout)
        if closer.is_alive():
            log.warning("stream '%s': the Kafka client did not close in time", self.config.name)

    def _error(self, what: str) -> StreamError:
        seen = "; ".join(dict.fromkeys(self._errors[-3:]))
        detail = f" (client said: {seen})" if seen and seen not in what else ""
        return StreamError(
            f"stream '{self.config.name}' ({self.config.bootstrap_servers}): {what}{detail}"
        )

    # --- metadata ------------------------------------------------------------------------
    def topics(self) -> dict[str, int]:
        """Partition counts of the topics the stream watches, by name."""
        ck = _import()
        try:
            md = self._admin.list_topics(timeout=self.timeout)
        except ck.KafkaException as e:
            raise self._error(f"cannot reach the brokers: {e.args[0]}") from None
        out = {}
        for name, t in md.topics.items():
            if t.error is not None or not self.config.matches_topic(name):
                continue
            out[name] = len(t.partitions)
        return out

    def end_offsets(
        self, partitions: dict[str, int], *, earliest: set[str] | None = None
    ) -> dict[TP, tuple[int, int]]:
        """(earliest, high watermark) of every partition, in a few batched calls.

        The earliest offsets are asked only for the topics in ``earliest`` (None: all); the
        others read 0.
        """
        from confluent_kafka import TopicPartition

        offset_spec: Any = _import().admin.OffsetSpec
        tps = [(t, p) for t, n in sorted(partitions.items()) for p in range(n)]
        latest, first = offset_spec.latest(), offset_spec.earliest()
        early = [tp for tp in tps if earliest is None or tp[0] in earliest]
        # every chunk's request is sent before any answer is awaited: one round trip in all
        sent_ends = [
            self._request_offsets({TopicPartition(t, p): latest for t, p in part})
            for part in _chunks(tps, OFFSETS_CHUNK)
        ]
        sent_starts = [
            self._request_offsets({TopicPartition(t, p): first for t, p in part})
            for part in _chunks(early, OFFSETS_CHUNK)
        ]
        ends = {k: v for f in sent_ends for k, v in self._offsets_of(f).items()}
        starts = {k: v for f in sent_starts for k, v in self._offsets_of(f).items()}
        return {tp: (max(0, starts.get(tp, 0)), ends[tp]) for tp in tps if tp in ends}

    def _request_offsets(self, request: dict[Any, Any]) -> dict[Any, Any]:
        ck = _import()
        try:
            return dict(self._admin.list_offsets(request, request_timeout=self.timeout))
        except ck.KafkaException as e:
            raise self._error(f"cannot list offsets: {e.args[0]}") from None

    def _offsets_of(self, futures: dict[Any, Any]) -> dict[TP, int]:
        ck = _import()
        out: dict[TP, int] = {}
        for tp, fut in futures.items():
            try:
                out[(tp.topic, tp.partition)] = int(fut.result().offset)
            except ck.KafkaException as e:  # a topic deleted meanwhile: left out, not fatal
                log.info("%s: offsets of %s[%d]: %s", self.config.name, tp.topic, tp.partition, e)
        return out

    def _list_offsets(self, request: dict[Any, Any]) -> dict[TP, int]:
        return self._offsets_of(self._request_offsets(request))

    # --- consumer groups -----------------------------------------------------------------
    def groups(self) -> dict[str, GroupInfo]:
        """The watched consumer groups with their state, members and committed offsets."""
        ck = _import()
        from confluent_kafka import ConsumerGroupTopicPartitions

        try:
            listed = self._admin.list_consumer_groups(request_timeout=self.timeout).result()
        except ck.KafkaException as e:
            raise self._error(f"cannot list consumer groups: {e.args[0]}") from None
        names = sorted(
            g.group_id
            for g in listed.valid
            if self.config.matches_group(g.group_id)
            and not g.group_id.startswith("tidegauge-probe-")
        )
        infos = {g: GroupInfo(g) for g in names}
        if not names:
            return infos
        try:
            described = self._admin.describe_consumer_groups(names, request_timeout=self.timeout)
            for g, fut in described.items():
                try:
                    d = fut.result()
                    infos[g].state = str(d.state).rsplit(".", 1)[-1].lower()
                    infos[g].members = len(d.members)
                except ck.KafkaException as e:
                    infos[g].error = str(e)
        except (ck.KafkaException, NotImplementedError) as e:
            log.info("%s: describe groups: %s", self.config.name, e)
        # the client takes one group per request; all are in flight together
        futures = {
            g: self._admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(g)], request_timeout=self.timeout
            )
            for g in names
        }
        for g, fs in futures.items():
            for fut in fs.values():
                try:
                    res = fut.result()
                except ck.KafkaException as e:
                    infos[g].error = str(e)
                    continue
                for tp in res.topic_partitions or ():
                    if tp.offset >= 0 and tp.error is None:
                        infos[g].committed[(tp.topic, tp.partition)] = int(tp.offset)
        return infos

    # --- reading -------------------------------------------------------------------------
    def read(
        self, ranges: dict[TP, tuple[int, int]], *, budget: float | None = None
    ) -> Generator[Message, None, None]:
        """Messages of each partition from ``start`` until ``stop`` or the partition's end.

        ``stop`` may be beyond the reported high watermark (see the module docstring); a
        partition is done at its end-of-file event, whose offset :attr:`ends` records.
        Partitions are read :data:`READ_CHUNK` at a time.
        """
        self.ends: dict[TP, int] = {}
        todo = {tp: r for tp, r in ranges.items() if r[1] > r[0]}
        if not todo:
            return
        deadline = time.monotonic() + (budget if budget is not None else self.timeout)
        items = list(todo.items())
        for lo in range(0, len(items), READ_CHUNK):
            chunk = dict(items[lo : lo + READ_CHUNK])
            yield from self._read_chunk(chunk, deadline)
            if time.monotonic() >= deadline:
                break

    def _read_chunk(
        self, todo: dict[TP, tuple[int, int]], deadline: float
    ) -> Generator[Message, None, None]:
        ck = _import()
        from confluent_kafka import TopicPartition

        consumer = self._consumer
        assigned = [TopicPartition(t, p, start) for (t, p), (start, _) in todo.items()]
        consumer.assign(assigned)
        consumer.resume(assigned)  # a partition paused by an earlier read stays paused
        pending = set(todo)
        try:
            while pending and time.monotonic() < deadline:
                # a short wait: consume() waits its whole timeout unless the batch fills
                batch = consumer.consume(num_messages=1000, timeout=0.05)
                for m in batch:
                    tp = (m.topic(), m.partition())
                    err = m.error()
                    if err is not None:
                        if err.code() == ck.KafkaError._PARTITION_EOF:
                            self.ends[tp] = int(m.offset())
                            pending.discard(tp)
                        else:
                            log.info("%s: read %s: %s", self.config.name, tp, err)
                            if tp in pending and not err.retriable():
                                pending.discard(tp)
                        continue
                    if tp not in pending:
                        continue
                    off = int(m.offset())
                    stop = todo[tp][1]
                    # the message exists: the end is at least one past it
                    self.ends[tp] = max(self.ends.get(tp, 0), off + 1)
                    if off >= stop:
                        pending.discard(tp)
                        consumer.pause([TopicPartition(tp[0], tp[1])])
                        continue
                    if off + 1 >= stop:  # the last one wanted: no need to wait for more
                        pending.discard(tp)
                        consumer.pause([TopicPartition(tp[0], tp[1])])
                    kind, ts = m.timestamp()
                    value = m.value()
                    yield Message(
                        tp[0],
                        tp[1],
                        off,
                        int(ts) if kind != ck.TIMESTAMP_NOT_AVAILABLE else None,
                        value,
                        len(value) if value is not None else 0,
                    )
        finally:
            consumer.unassign()

    def timestamps_at(self, wanted: Iterable[tuple[TP, int]]) -> dict[tuple[TP, int], int]:
        """Message timestamp (ms) at each (partition, offset); one assign per distinct round.

        A partition asked at several offsets (several groups) is read in several rounds, one
        offset per partition per round, each round one batched fetch.
        """
        rounds: list[dict[TP, int]] = []
        for tp, off in sorted(set(wanted)):
            for r in rounds:
                if tp not in r:
                    r[tp] = off
                    break
            else:
                rounds.append({tp: off})
        out: dict[tuple[TP, int], int] = {}
        for r in rounds:
            ranges = {tp: (off, off + 1) for tp, off in r.items()}
            for m in self.read(ranges):
                if m.timestamp_ms is not None:
                    out[((m.topic, m.partition), m.offset)] = m.timestamp_ms
        return out

    def offset_for_time(self, tp: TP, ts_ms: int, low: int, high: int) -> int:
        """The first offset in [low, high) whose message timestamp is ≥ ``ts_ms``."""
        return self.offsets_for_time({tp: (low, high)}, ts_ms)[tp]

    def offsets_for_time(self, bounds: dict[TP, tuple[int, int]], ts_ms: int) -> dict[TP, int]:
        """Per partition, the first offset in [low, high) whose message is at or after
        ``ts_ms`` (``high`` when none is).

        The broker is asked first (offsets-for-times, one batched call) and every answer is
        checked against the timestamps around it: a broker that answers ``low`` for a time
        later than the message at ``low`` is wrong (Tansu says 0 for everything). Wrong or
        missing answers are found by a binary search over offsets reading timestamps, all
        partitions in step: each step is one batched read of one message per partition, so
        the search costs about log2(messages) reads, not that many per partition. Message
        timestamps are assumed non-decreasing within a partition, as they are for
        producer-set and log-append times alike in practice.
        """
        from confluent_kafka import TopicPartition

        todo = {tp: b for tp, b in bounds.items() if b[1] > b[0]}
        out = {tp: b[0] for tp, b in bounds.items() if tp not in todo}
        if not todo:
            return out
        offset_spec: Any = _import().admin.OffsetSpec
        answers: dict[TP, int] = {}
        with suppress(StreamError):  # no answer: search ourselves
            answers = self._list_offsets(
                {TopicPartition(t, p): offset_spec.for_timestamp(ts_ms) for t, p in todo}
            )
        guess = {
            tp: (todo[tp][1] if a < 0 else a)
            for tp, a in answers.items()
            if tp in todo and (a < 0 or todo[tp][0] <= a <= todo[tp][1])
        }
        at = self._stamps({tp: off for tp, off in guess.items() if off < todo[tp][1]})
        before = self._stamps({tp: off - 1 for tp, off in guess.items() if off > todo[tp][0]})
        for tp, off in guess.items():
            a, b = at.get(tp), before.get(tp)
            if (a is None or a >= ts_ms) and (b is None or b < ts_ms):
                out[tp] = off
        # binary search, all unresolved partitions together: the answer lies in [lo, hi]
        span = {tp: todo[tp] for tp in todo if tp not in out}
        while span:
            mids = {tp: (lo + hi) // 2 for tp, (lo, hi) in span.items()}
            stamps = self._stamps(mids)
            nxt = {}
            for tp, (lo, hi) in span.items():
                t = stamps.get(tp)
                lo, hi = (lo, mids[tp]) if t is None or t >= ts_ms else (mids[tp] + 1, hi)
                if lo < hi:
                    nxt[tp] = (lo, hi)
                else:
                    out[tp] = lo
            span = nxt
        return out

    def _stamps(self, offsets: dict[TP, int]) -> dict[TP, int]:
        """The timestamp of the message at one offset per partition, in one batched read."""
        if not offsets:
            return {}
        ranges = {tp: (off, off + 1) for tp, off in offsets.items()}
        return {
            (m.topic, m.partition): m.timestamp_ms
            for m in self.read(ranges)
            if m.timestamp_ms is not None and m.offset == offsets[(m.topic, m.partition)]
        }
