"""The in-process probe: minute aggregates of what a real consumer handled, in the store."""

from __future__ import annotations

import pytest

from tests.streams.broker import Broker
from tests.streams.kit import Producer, create_topics, quiet
from tidegauge.store.store import Store
from tidegauge.streams import observe
from tidegauge.streams.probe import OBSERVED, OBSERVED_BYTES


@pytest.mark.kafka
def test_observe_wraps_a_real_consumer_and_flushes_minute_aggregates(broker: Broker) -> None:
    from datetime import UTC, datetime

    from confluent_kafka import Consumer, TopicPartition

    create_topics(broker.bootstrap, {"clicks": 2})
    prod = Producer(broker.bootstrap)
    now = datetime.now(UTC)
    for i in range(500):
        prod.send("clicks", {"i": i}, now, partition=i % 2)
    prod.flush()
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "app", "logger": quiet()}
    )
    consumer.assign([TopicPartition("clicks", p, 0) for p in range(2)])
    store = Store.open("sqlite://")
    handled = 0
    # observe() polls a confluent Consumer too; its annotation says Iterable only
    with observe(consumer, store=store, stream="web", member="w1") as seen:  # type: ignore[arg-type]
        for m in seen:
            handled += len(m.value())
            if seen.totals().get("clicks", 0) >= 500:
                break
    consumer.close()
    tid = store.find_table("kafka.clicks").id
    counts = store.points(tid, metric=OBSERVED)
    assert sum(p.value or 0 for p in counts) == 500 and {p.segment for p in counts} == {"w1"}
    assert sum(p.value or 0 for p in store.points(tid, metric=OBSERVED_BYTES)) == handled


def test_observe_takes_plain_dicts_and_bytes_without_a_store() -> None:
    items = [{"topic": "a", "value": b"xy", "timestamp": 0.0}, b"raw", {"value": None}]
    seen = observe(items, topic="misc")
    assert list(seen) == items
    assert seen.totals() == {"a": 1, "misc": 2}
    assert seen.flush() == 0
