"""A payload value that was regularly seen and stops appearing alerts, on the real broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.streams.broker import Broker
from tests.streams.kit import Producer, create_topics, stream_config
from tidegauge.core.model import AlertKind
from tidegauge.store.store import Store
from tidegauge.streams.detect import topic_alerts
from tidegauge.streams.poll import poll_stream

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_a_regular_value_that_stops_appearing_alerts_once_with_when_it_was_last_seen(
    broker: Broker, tmp_path: Path
) -> None:
    create_topics(broker.bootstrap, {"orders": 2})
    prod = Producer(broker.bootstrap)
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    cfg = stream_config(broker.bootstrap, history_days=0)
    found = []
    for minute in range(1, 8):
        now = T0 + timedelta(minutes=minute)
        kinds = ["card", "paypal", "voucher"] if minute <= 5 else ["card", "paypal"]
        prod.send_many(
            "orders",
            (
                ({"method": kinds[i % len(kinds)], "i": i}, now - timedelta(seconds=30))
                for i in range(60)
            ),
            partitions=2,
        )
        prod.flush()
        rep = poll_stream(cfg, store, now, None)
        assert rep.error is None
        (tr,) = rep.topics
        alerts = topic_alerts(cfg, store, tr, now, "medium")
        found.append([a for a in alerts if a.kind is AlertKind.CATEGORY_VANISHED])
    # present through minute 5, missing from the poll at minute 6: found then, and only then
    assert [len(f) for f in found] == [0, 0, 0, 0, 0, 1, 0], found
    (alert,) = found[5]
    assert alert.column == "method" and alert.segment == "voucher"
    text = alert.explanation["text"]
    assert "`voucher`" in text and "topic `orders`" in text
    # the last poll that saw it stored its sample in the bucket of minute 5
    assert "last seen in the bucket starting 2026-03-02 12:05 UTC" in text
    assert alert.explanation["last_seen"] == (T0 + timedelta(minutes=5)).isoformat()
    # the values still seen never alert
    assert {a.segment for f in found for a in f} == {"voucher"}
