"""Stream detection on stored minute series: the learned lag baseline and schema rules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tidegauge.core.model import AlertKind, MetricPoint, TableInfo
from tidegauge.store.store import Store
from tidegauge.streams.config import KafkaStreamConfig
from tidegauge.streams.detect import topic_alerts
from tidegauge.streams.metrics import LAG_SECONDS
from tidegauge.streams.poll import GroupReport, TopicReport, topic_ref
from tidegauge.streams.profile import profile_payloads
from tidegauge.streams.status import ConsumerStatus

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
CFG = KafkaStreamConfig(name="events", bootstrap_servers="127.0.0.1:1")


def _topic(store: Store) -> TopicReport:
    ref = topic_ref("events", "orders")
    tid = store.upsert_tables([TableInfo(ref)], NOW)[0]
    tr = TopicReport("events", "orders", tid, 1, 0, 0, None, None, None)
    tr.polls_seen = 10
    return tr


def test_lag_seconds_far_above_its_learned_baseline_alerts() -> None:
    store = Store.open("sqlite://")
    tr = _topic(store)
    rng = random.Random(3)
    start = NOW - timedelta(days=2)
    pts = [
        MetricPoint(
            tr.ref,
            LAG_SECONDS,
            start + timedelta(minutes=m),
            4 + rng.random() * 2,
            "billing",
            None,
            60,
        )
        for m in range(2 * 1440 - 1)
    ]
    pts.append(
        MetricPoint(tr.ref, LAG_SECONDS, NOW - timedelta(minutes=1), 240.0, "billing", None, 60)
    )
    store.upsert_points(tr.table_id, pts, run_id=None, now=NOW)
    tr.groups["billing"] = GroupReport("billing", 900, 240.0, 1.0, ConsumerStatus.OK, 1)
    alerts = topic_alerts(CFG, store, tr, NOW, "medium")
    (lag,) = [a for a in alerts if a.metric == LAG_SECONDS]
    assert lag.kind is AlertKind.FRESHNESS and lag.column == "billing"
    assert "lag in seconds of billing" in lag.explanation["text"]


def test_a_field_changing_type_is_an_explicit_alert() -> None:
    store = Store.open("sqlite://")
    tr = _topic(store)
    tr.previous_schema = {"amount": "number", "status": "string"}
    tr.previous_present = {"amount": 1.0, "status": 1.0}
    tr.profile = profile_payloads([b'{"amount": "12.50", "status": "paid"}'] * 20, pii=())
    tr.schema = tr.profile.schema()
    alerts = topic_alerts(CFG, store, tr, NOW, "medium")
    (changed,) = [a for a in alerts if a.kind is AlertKind.SCHEMA_CHANGE]
    assert changed.column == "amount" and changed.segment == "type_changed"
    assert "number → string" in changed.explanation["text"]
