"""``tidegauge run`` polls streams, ``tidegauge streams`` shows them, ``watch`` loops; one
unreachable stream is a clear error naming it while tables and the other stream go on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.streams.broker import Broker, free_port
from tests.streams.kit import Producer, commit, create_topics, delete_topics
from tidegauge.cli.main import app

pytestmark = pytest.mark.kafka

runner = CliRunner()


def write_project(tmp_path: Path, bootstrap: str) -> None:
    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.orders as select range as id from range(10)")
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
    bootstrap_servers: {bootstrap}
    history_days: 1
    timeout: 5s
    max_message_bytes: 2000
  - name: down
    bootstrap_servers: 127.0.0.1:{free_port()}
    timeout: 2s
"""
    )


def cli(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--config", str(tmp_path / "tidegauge.yml"), *args])


def test_run_streams_watch_and_bad_input(tmp_path: Path, broker: Broker) -> None:
    create_topics(broker.bootstrap, {"orders": 2, "scratch": 1})
    prod = Producer(broker.bootstrap)
    now = datetime.now(UTC)
    for i in range(200):
        prod.send("orders", {"i": i, "status": "paid"}, now - timedelta(minutes=30 - i / 10), i % 2)
    prod.send("orders", b"{not json", now, partition=0)
    prod.send("orders", b'{"blob": "' + b"x" * 5000 + b'"}', now, partition=0)
    prod.send("scratch", {"x": 1}, now)
    prod.flush()
    commit(broker.bootstrap, "billing", {("orders", 0): 50, ("orders", 1): 100})
    write_project(tmp_path, broker.bootstrap)

    r = cli(tmp_path, "run", "--json", "--no-notify")
    assert r.exit_code == 3, r.output  # partial: one stream failed, the rest went through
    report = json.loads(r.output)
    assert report["tables"] == 1  # the tables ran
    err = report["warehouse_errors"]["stream:down"]
    assert "stream 'down'" in err and "cannot reach the brokers" in err

    r = cli(tmp_path, "streams", "--json")
    assert r.exit_code == 0, r.output
    events, down = json.loads(r.output)
    assert down["error"] and "stream 'down'" in down["error"]
    topics = {t["topic"]: t for t in events["topics"]}
    assert set(topics) == {"orders", "scratch"}
    orders = topics["orders"]
    assert orders["partitions"] == 2 and orders["end_offset"] == 202
    (g,) = orders["groups"]
    assert g["group"] == "billing" and g["lag"] == 102 - 50  # partition 1 is caught up
    assert g["lag_seconds"] > 0
    assert set(orders["schema"]) == {"i", "status"}

    # the malformed and the oversized message were counted, not fatal
    from tidegauge.store.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    tid = store.find_table("kafka.orders").id
    assert [p.value for p in store.points(tid, metric="oversized_count")][-1] == 1
    rate = [p.value for p in store.points(tid, metric="parse_failure_rate")][-1]
    assert rate is not None and rate > 0

    # a deleted topic is recorded as dropped, not a crash
    delete_topics(broker.bootstrap, ["scratch"])
    r = cli(tmp_path, "watch", "--interval", "1s", "--passes", "2", "--no-notify")
    assert r.exit_code == 0, r.output
    assert "streams pass" in r.output and "stream 'down'" in r.output
    r = cli(tmp_path, "streams", "--json")
    topics = {t["topic"]: t for t in json.loads(r.output)[0]["topics"]}
    assert topics["scratch"]["dropped"] is True and topics["orders"]["dropped"] is False

    r = cli(tmp_path, "streams")
    assert r.exit_code == 0 and "billing" in r.output
