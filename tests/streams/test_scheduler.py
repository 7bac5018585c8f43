"""``serve``'s scheduler polls streams at their own interval between table runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.streams.broker import Broker
from tests.streams.kit import Producer, create_topics
from tidegauge.config import load_project
from tidegauge.store.store import Store
from tidegauge.web.scheduler import Scheduler

pytestmark = pytest.mark.kafka


def test_streams_are_polled_at_their_interval_between_hourly_runs(
    tmp_path: Path, broker: Broker
) -> None:
    create_topics(broker.bootstrap, {"orders": 1})
    prod = Producer(broker.bootstrap)
    prod.send("orders", {"status": "paid"}, datetime.now(UTC))
    prod.flush()
    (tmp_path / "tidegauge.yml").write_text(
        f"""\
store:
  url: sqlite:///{tmp_path}/state.db
streams:
  - name: events
    bootstrap_servers: {broker.bootstrap}
    history_days: 0
    timeout: 5s
    poll_interval: 1s
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store.url)
    sched = Scheduler(project, store, interval=3600)  # tables: hourly
    assert sched.stream_every == 1.0
    sched.start()
    try:
        deadline = time.monotonic() + 30
        while sched.stream_passes < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sched.stop()
    assert sched.runs == 1  # the hourly run, at start
    assert sched.stream_passes >= 2  # and the streams between, every second
    streams_only = [r for r in store.runs(limit=20) if (r.get("stats") or {}).get("streams_only")]
    assert len(streams_only) >= 2
