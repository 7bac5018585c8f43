"""The Kafka adapter against a real broker (Tansu), with its quirks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.streams.broker import Broker
from tests.streams.kit import Producer, commit, create_topics, stream_config
from tidegauge.streams.kafka import KafkaStream, StreamError

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def test_topics_offsets_groups_and_reads(broker: Broker) -> None:
    create_topics(broker.bootstrap, {"orders": 3, "bids_eu": 2, "payments": 1})
    prod = Producer(broker.bootstrap)
    prod.send_many(
        "orders", (({"i": i}, T0 + timedelta(seconds=i)) for i in range(300)), partitions=3
    )
    prod.flush()
    commit(broker.bootstrap, "billing", {("orders", 0): 40, ("orders", 1): 100})
    cfg = stream_config(broker.bootstrap, include=["orders", "bids*"])
    with KafkaStream(cfg) as ks:
        topics = ks.topics()
        assert topics == {"orders": 3, "bids_eu": 2}
        ends = ks.end_offsets(topics)
        assert set(ends) == {
            ("orders", 0),
            ("orders", 1),
            ("orders", 2),
            *(("bids_eu", p) for p in range(2)),
        }
        # the high watermark may lag the real end by one batch; reading finds the real end
        msgs = list(ks.read({("orders", p): (0, 10**12) for p in range(3)}))
        assert len(msgs) == 300
        assert all(ks.ends[("orders", p)] == 100 for p in range(3))
        assert all(ends[("orders", p)][1] <= 100 for p in range(3))
        groups = ks.groups()
        assert groups["billing"].committed == {("orders", 0): 40, ("orders", 1): 100}
        assert not any(g.startswith("tidegauge-probe") for g in groups)
        stamps = ks.timestamps_at([(("orders", 0), 40), (("orders", 1), 10)])
        assert stamps[(("orders", 0), 40)] == int((T0 + timedelta(seconds=120)).timestamp() * 1000)
        # offsets-for-times: Tansu answers 0 for everything; the fallback finds the offset
        at = int((T0 + timedelta(seconds=150)).timestamp() * 1000)
        assert ks.offset_for_time(("orders", 0), at, 0, 100) == 50
        assert ks.offset_for_time(("orders", 0), at + 10**9, 0, 100) == 100
        assert ks.offset_for_time(("orders", 0), 0, 0, 100) == 0


def test_an_unreachable_broker_names_the_stream() -> None:
    from tests.streams.broker import free_port

    cfg = stream_config(f"127.0.0.1:{free_port()}", name="clicks", timeout="2s")
    with KafkaStream(cfg) as ks, pytest.raises(StreamError) as e:
        ks.topics()
    assert "stream 'clicks'" in str(e.value) and "cannot reach the brokers" in str(e.value)
