"""Streams in the web app: the REST endpoints (in /openapi.json), the pages, the overview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.streams.broker import Broker
from tests.streams.kit import Producer, commit, create_topics
from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.store.store import Store
from tidegauge.streams.run import poll_streams
from tidegauge.web.server import create_app

pytestmark = pytest.mark.kafka


def test_streams_api_pages_and_overview(broker: Broker, tmp_path: Path) -> None:
    create_topics(broker.bootstrap, {"orders": 2})
    prod = Producer(broker.bootstrap)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(120):
        prod.send("orders", {"i": i, "status": "paid"}, now - timedelta(minutes=60 - i / 2), i % 2)
    prod.flush()
    commit(broker.bootstrap, "billing", {("orders", 0): 10, ("orders", 1): 60})
    project = Project.model_validate(
        {"streams": [{"name": "events", "bootstrap_servers": broker.bootstrap, "timeout": "5s"}]}
    )
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")  # the app has several threads
    poll_streams(project, store, now, None)
    poll_streams(project, store, now + timedelta(minutes=1), None)

    client = TestClient(create_app(project, store, clock=Clock.fixed(now + timedelta(minutes=1))))
    (stream,) = client.get("/api/v1/streams").json()
    (topic,) = stream["topics"]
    assert topic["topic"] == "orders" and topic["partitions"] == 2
    assert topic["groups"][0]["group"] == "billing" and topic["groups"][0]["lag"] == 50
    detail = client.get("/api/v1/streams/events/topics/orders").json()
    assert sum(p["value"] for p in detail["messages"]) == 120
    assert detail["schema"] == {"i": "integer", "status": "string"}
    assert detail["lag"]["billing"][-1]["messages"] == 50
    assert client.get("/api/v1/streams/events/topics/nope").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/streams" in paths and "/api/v1/streams/{stream}/topics/{topic}" in paths

    page = client.get("/streams/events/orders")
    assert page.status_code == 200
    assert (
        "Messages per bucket" in page.text
        and "Lag in seconds" in page.text
        and "<svg" in page.text
        and "billing" in page.text
    )
    assert "status" in page.text  # the payload schema's fields
    listing = client.get("/streams")
    assert listing.status_code == 200 and "/streams/events/orders" in listing.text
    overview = client.get("/")
    assert overview.status_code == 200 and 'href="/streams"' in overview.text
    assert client.get(f"/tables/{topic['table_id']}").status_code == 200  # like a table
