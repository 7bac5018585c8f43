"""Producing to and consuming from the test broker with the real client."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tidegauge.streams.config import KafkaStreamConfig


def quiet() -> logging.Logger:
    lg = logging.getLogger("tests.streams.librdkafka")
    lg.propagate = False
    if not lg.handlers:
        lg.addHandler(logging.NullHandler())
    return lg


def stream_config(bootstrap: str, **over: Any) -> KafkaStreamConfig:
    return KafkaStreamConfig.model_validate(
        {"name": "events", "bootstrap_servers": bootstrap, "timeout": "5s", **over}
    )


def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    # the stubs do not re-export NewTopic, and type config values as str/int/float though
    # the client takes a logging.Logger under "logger" (as documented)
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": quiet()})  # type: ignore[dict-item]
    futures = admin.create_topics([NewTopic(t, n, 1) for t, n in topics.items()])
    for f in futures.values():
        f.result()


def delete_topics(bootstrap: str, topics: list[str]) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": quiet()})  # type: ignore[dict-item]
    for f in admin.delete_topics(topics).values():
        f.result()


class Producer:
    def __init__(self, bootstrap: str) -> None:
        import confluent_kafka

        self.p = confluent_kafka.Producer(
            {"bootstrap.servers": bootstrap, "linger.ms": 20, "logger": quiet()}
        )
        self.n = 0

    def send(
        self,
        topic: str,
        value: dict[str, Any] | bytes,
        at: datetime,
        partition: int | None = None,
    ) -> None:
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        kw: dict[str, Any] = {"timestamp": int(at.timestamp() * 1000)}
        if partition is not None:
            kw["partition"] = partition
        while True:
            try:
                self.p.produce(topic, body, **kw)
                break
            except BufferError:
                self.p.poll(0.1)
        self.n += 1
        if self.n % 5000 == 0:
            self.p.poll(0)

    def send_many(
        self, topic: str, items: Iterable[tuple[dict[str, Any] | bytes, datetime]], partitions: int
    ) -> None:
        for i, (value, at) in enumerate(items):
            self.send(topic, value, at, partition=i % partitions)

    def flush(self, timeout: float = 30.0) -> None:
        left = self.p.flush(timeout)
        assert left == 0, f"{left} messages not delivered"


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit offsets as a consumer group would (a one-shot member of ``group``)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "logger": quiet(),
        }
    )
    try:
        c.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            asynchronous=False,
        )
    finally:
        c.close()
