"""End to end against the real broker: a day of traffic with a daily shape is backfilled,
then a consumer group stops, a producer drops to 20%, a new enum value appears and a
payload field is renamed. Each is found within two polls, with a plain explanation, and
topics sit upstream of their sink table in lineage.

Time is compressed with the injectable clock: producer-set timestamps write a day of
history in seconds, and each poll advances the clock by one minute bucket.
"""

from __future__ import annotations

import csv
import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.streams.broker import Broker
from tests.streams.kit import Producer, commit, create_topics
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.core.model import AlertKind
from tidegauge.runner import run
from tidegauge.steps.lineage import load_graph
from tidegauge.store.store import Store
from tidegauge.streams.kafka import KafkaStream

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
PARTITIONS = 3
STATUSES = ["paid", "pending", "shipped"]


def per_minute(at: datetime) -> int:
    """A daily shape: quiet at night, busy in the evening (about 20-80 a minute)."""
    hour = at.hour + at.minute / 60
    return round(50 + 30 * math.sin((hour - 12) / 24 * 2 * math.pi))


def order(
    rng: random.Random, i: int, *, status: str | None = None, rename: bool = False
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "order_id": i,
        "status": status or rng.choice(STATUSES),
        "customer": {"email": f"user{i}@example.com", "country": rng.choice(["DE", "FR"])},
    }
    doc["total" if rename else "amount"] = round(rng.uniform(5, 200), 2)
    return doc


def minute(
    prod: Producer, rng: random.Random, start: datetime, n: int, counter: list[int], **kw: Any
) -> None:
    for k in range(n):
        counter[0] += 1
        at = start + timedelta(seconds=60 * k / max(n, 1))
        prod.send("orders", order(rng, counter[0], **kw), at, partition=counter[0] % PARTITIONS)


def project_file(tmp_path: Path, bootstrap: str) -> Path:
    import duckdb

    wh = tmp_path / "w.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema raw")
    con.execute("create table raw.orders (order_id int, status varchar, created_at timestamp)")
    con.close()
    (tmp_path / "tidegauge.yml").write_text(
        f"""\
warehouses:
  - type: duckdb
    path: w.duckdb
store:
  url: sqlite:///state.db
streams:
  - name: events
    type: kafka
    bootstrap_servers: {bootstrap}
    include: [orders]
    pii_fields: [email]
    history_days: 1
    timeout: 5s
    settle: 2m
    sinks:
      - {{topic: orders, table: raw.orders, table_timestamp: created_at}}
"""
    )
    return tmp_path / "tidegauge.yml"


def test_four_stream_problems_are_found_within_two_polls(tmp_path: Path, broker: Broker) -> None:
    rng = random.Random(7)
    create_topics(broker.bootstrap, {"orders": PARTITIONS})
    prod = Producer(broker.bootstrap)
    counter = [0]
    t = T0 - timedelta(days=1)
    while t < T0:
        minute(prod, rng, t, per_minute(t), counter)
        t += timedelta(minutes=1)
    prod.flush()

    project = load_project(project_file(tmp_path, broker.bootstrap))
    store = Store.open(project.store_url())
    now = [T0]
    clock = Clock(lambda: now[0])
    cfg = project.streams[0]

    loaded: dict[tuple[str, int], int] = {}

    def order_row(m: Any) -> tuple[Any, Any, datetime]:
        assert m.value is not None and m.timestamp_ms is not None
        order = json.loads(m.value)
        when = datetime.fromtimestamp(m.timestamp_ms / 1000, UTC).replace(tzinfo=None)
        return order["order_id"], order["status"], when

    def keep_up() -> None:
        """The `billing` consumer: loads every new message into raw.orders, then commits."""
        import duckdb

        with KafkaStream(cfg) as ks:
            ends = ks.end_offsets({"orders": PARTITIONS})
            ranges = {tp: (loaded.get(tp, 0), 2**62) for tp in ends}
            rows = [order_row(m) for m in ks.read(ranges, budget=30)]
            loaded.update({tp: max(loaded.get(tp, 0), ks.ends.get(tp, 0)) for tp in ends})
        batch = tmp_path / "batch.csv"  # COPY: row-by-row inserts of a day take minutes
        with batch.open("w", newline="") as f:
            csv.writer(f).writerows(rows)
        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        if rows:
            con.execute(f"copy raw.orders from '{batch}' (header false)")
        con.close()
        commit(broker.bootstrap, "billing", dict(loaded))

    keep_up()
    first = run(project, store, clock, notify=False)
    assert not first.warehouse_errors, first.warehouse_errors
    backfilled = store.points(store.find_table("kafka.orders").id, metric="messages")
    assert len(backfilled) >= 1440
    assert sum(p.value or 0 for p in backfilled) == pytest.approx(counter[0], rel=0.01)

    events = {"stop": 5, "drop": 9, "new_value": 13, "rename": 17}
    found: dict[int, list[Any]] = {}
    billing_running = True
    for poll in range(1, 21):
        start = now[0]
        n = per_minute(start)
        if poll >= events["drop"]:
            n = max(1, round(n * 0.2))
        if poll == events["new_value"]:
            minute(prod, rng, start, n - 3, counter, rename=poll >= events["rename"])
            minute(prod, rng, start + timedelta(seconds=50), 3, counter, status="refunded")
        else:
            minute(prod, rng, start, n, counter, rename=poll >= events["rename"])
        prod.flush()
        if poll >= events["stop"]:
            billing_running = False
        if billing_running:
            keep_up()
        now[0] = start + timedelta(minutes=1)
        rep = run(project, store, clock, notify=False)
        assert not rep.warehouse_errors, rep.warehouse_errors
        found[poll] = [a["alert"] for a in rep.alerts]

    def first_poll(pred: Any) -> int | None:
        for poll in sorted(found):
            if any(pred(a) for a in found[poll]):
                return poll
        return None

    stop = first_poll(lambda a: a.metric == "consumer_status" and a.segment == "stopped")
    drop = first_poll(lambda a: a.metric == "messages" and a.observed < a.expected)
    new = first_poll(lambda a: a.kind is AlertKind.CATEGORY_NEW_VALUE and a.segment == "refunded")
    renamed = first_poll(
        lambda a: a.kind is AlertKind.SCHEMA_CHANGE and a.column == "total" and a.segment == "added"
    )
    removed = first_poll(
        lambda a: (
            a.kind is AlertKind.SCHEMA_CHANGE and a.column == "amount" and a.segment == "removed"
        )
    )
    assert stop is not None and 0 <= stop - events["stop"] <= 2, found
    assert drop is not None and 0 <= drop - events["drop"] <= 2
    assert new is not None and 0 <= new - events["new_value"] <= 1
    assert renamed is not None and 0 <= renamed - events["rename"] <= 1
    assert removed == renamed
    # nothing before the first problem: no false alarm in the quiet polls
    assert all(not found[p] for p in range(1, events["stop"]))

    texts = {a.title: a.explanation["text"] for p in found for a in found[p]}
    stop_text = next(v for k, v in texts.items() if "billing" in k)
    assert "has stopped" in stop_text and "messages behind" in stop_text
    new_text = next(v for k, v in texts.items() if "refunded" in k)
    assert "first seen at" in new_text and "status" in new_text
    rename_text = next(v for k, v in texts.items() if "`total`" in k)
    assert "renamed?" in rename_text
    # pii values are never stored
    tid = store.find_table("kafka.orders").id
    stored_values = {p.segment for p in store.points(tid, metric="value_count")}
    assert "refunded" in stored_values and not any("@" in (v or "") for v in stored_values)
    # the topic is an OpenLineage-named node upstream of its sink table
    graph = load_graph(store)
    assert graph is not None
    topic = graph.resolve("kafka.orders")
    assert topic.id == f"openlineage:kafka://{broker.bootstrap}/orders"
    assert "raw.orders" in {graph.node(d).display for _, d in graph.downstream(topic.id).edges}
    # every stream alert is in an incident, like a table's
    stored = [a for p in found for a in found[p]]
    assert all((store.alerts.get(a.id) or {}).get("incident_id") is not None for a in stored)
    # the stopped consumer leaves raw.orders short: reconciliation says so, with the counts,
    # and that symptom on the sink joins the topic's incident as a downstream effect
    loss = [a for a in stored if a.metric == "stream_reconciliation"]
    assert loss and all(a.table.fqn == "raw.orders" and a.observed < a.expected for a in loss)
    assert min(a.data_time for a in loss) >= T0 + timedelta(minutes=events["stop"] - 1)
    assert "messages with event time in the bucket" in loss[0].explanation["text"]
    stop_alert = next(a for a in stored if a.metric == "consumer_status")
    stop_row, loss_row = store.alerts.get(stop_alert.id), store.alerts.get(loss[0].id)
    assert stop_row is not None and loss_row is not None
    root_incident = stop_row["incident_id"]
    assert loss_row["incident_id"] == root_incident
    incident = store.incidents.get(root_incident)
    assert incident is not None
    assert str(incident["table"]).endswith("orders") and "kafka" in str(incident["table"])
