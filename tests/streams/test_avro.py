"""Avro payloads in the Confluent wire format, on the real broker, with a real registry.

The registry is a real HTTP server on loopback speaking the Schema Registry protocol
(tests/streams/registry.py); the messages are encoded with fastavro and produced to Tansu.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pytest

from tests.streams.broker import Broker, free_port
from tests.streams.kit import Producer, create_topics, stream_config
from tests.streams.registry import schema_registry
from tidegauge.store.store import Store
from tidegauge.streams.avro import wire
from tidegauge.streams.poll import poll_stream

pytestmark = pytest.mark.kafka


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ORDER = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "status", "type": {"type": "enum", "name": "S", "symbols": ["paid", "refunded"]}},
        {"name": "amount", "type": ["null", "double"], "default": None},
        {
            "name": "customer",
            "type": {
                "type": "record",
                "name": "Customer",
                "fields": [
                    {"name": "email", "type": "string"},
                    {"name": "country", "type": "string"},
                ],
            },
        },
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}


def encode(schema_id: int, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(ORDER), record)
    return wire(schema_id, buf.getvalue())


def order(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "status": "paid" if i % 4 else "refunded",
        "amount": None if i % 5 == 0 else 10.0 + i,
        "customer": {"email": f"u{i}@x.io", "country": "FR" if i % 2 else "DE"},
        "at": NOW - timedelta(minutes=1),
    }


def produce(broker: Broker, bodies: list[bytes]) -> None:
    create_topics(broker.bootstrap, {"orders": 2})
    prod = Producer(broker.bootstrap)
    prod.send_many("orders", ((b, NOW - timedelta(seconds=30)) for b in bodies), partitions=2)
    prod.flush()


def test_avro_payloads_are_decoded_with_schemas_from_the_registry(
    broker: Broker, tmp_path: Path
) -> None:
    good = [encode(1, order(i)) for i in range(40)]
    bad = [
        encode(99, order(0)),  # an id the registry does not know
        b'{"not": "avro"}',  # no magic byte
        encode(1, order(1))[:8],  # truncated record
    ]
    produce(broker, good + bad)
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    with schema_registry() as reg:
        reg.register(1, ORDER)
        cfg = stream_config(
            broker.bootstrap,
            format="avro",
            schema_registry={"url": reg.url},
            pii_fields=["email"],
            history_days=0,
        )
        rep = poll_stream(cfg, store, NOW, None)
    assert rep.error is None
    (tr,) = rep.topics
    prof = tr.profile
    assert prof is not None
    assert (prof.messages, prof.parsed, prof.failures) == (43, 40, 3)
    assert tr.schema == {
        "amount": "float",
        "at": "timestamp",
        "customer.country": "string",
        "customer.email": "string",
        "id": "integer",
        "status": "string",
    }
    assert prof.fields["status"].values == {"paid": 30, "refunded": 10}
    assert prof.null_rate("amount") == pytest.approx(8 / 40)
    assert not prof.fields["customer.email"].values  # PII: never kept
    assert reg.requests[1] == 1  # one fetch per schema id, however many messages
    assert reg.requests[99] == 1  # an unknown id is asked once per poll, not per message
    assert any(
        "stream 'events'" in p and "schema id 99 is unknown" in p and reg.url in p
        for p in rep.problems
    ), rep.problems


def test_an_unreachable_registry_is_named_and_the_poll_goes_on(
    broker: Broker, tmp_path: Path
) -> None:
    produce(broker, [encode(1, order(i)) for i in range(10)])
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    url = f"http://127.0.0.1:{free_port()}"
    cfg = stream_config(
        broker.bootstrap, format="avro", schema_registry={"url": url}, history_days=0
    )
    rep = poll_stream(cfg, store, NOW, None)
    assert rep.error is None  # offsets and groups still count
    (tr,) = rep.topics
    assert tr.end_offset == 10
    assert tr.profile is not None and tr.profile.failures == 10 and tr.profile.parsed == 0
    assert len(rep.problems) == 1
    assert "stream 'events'" in rep.problems[0] and "unreachable" in rep.problems[0]
    assert url in rep.problems[0]


def test_a_sinks_event_time_is_read_from_an_avro_timestamp_field() -> None:
    from tidegauge.streams.avro import AvroDecoder, SchemaRegistry
    from tidegauge.streams.events import event_time
    from tidegauge.streams.kafka import Message

    body = encode(5, order(3))
    with schema_registry() as reg:
        reg.register(5, ORDER)
        decode = AvroDecoder(SchemaRegistry(reg.url, "events"))
        m = Message("orders", 0, 0, int(NOW.timestamp() * 1000), body, len(body))
        assert event_time(m, "at", decode) == NOW - timedelta(minutes=1)
        # an undecodable payload falls back to the message timestamp
        junk = Message("orders", 0, 1, int(NOW.timestamp() * 1000), b"\x00\x00", 2)
        assert event_time(junk, "at", decode) == NOW
