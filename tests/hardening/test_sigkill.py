"""`tidegauge run` killed with SIGKILL at random points — during collection, between store
writes, during notification — and then run again. Nothing half-written looks successful,
no committed point is lost, the next run completes what is missing and exits 0, the store
then holds exactly what an uninterrupted run stores (field-health and categorical points
included), and every incident is delivered once (a request cut mid-flight is repeated with
the same idempotency key)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.notifiers.servers import HttpRecorder, Reply
from tests.test_pipeline import END, build_warehouse
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store

pytestmark = pytest.mark.slow

SEED = 20260310


def write_project(root: Path, hook: str) -> Path:
    (root / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "sqlite:///state.db"}}
tables:
  - match: "*"
    field_health: true
    categorical: true
channels:
  - name: hook
    type: webhook
    url: {hook}
    timeout_seconds: 30
"""
    )
    return root / "tidegauge.yml"


def state(store: Store) -> dict[str, Any]:
    tables = {t.id: t.ref.fqn for t in store.tables()}
    points = {
        (tables[tid], p.metric, p.column, p.segment, p.bucket_start, p.value)
        for tid in tables
        for p in store.points(tid)
    }
    alerts = store.alerts.list(limit=100_000)
    incidents = store.incidents.list()
    return {
        "points": points,
        "alerts": sorted(a["fingerprint"] for a in alerts),
        "ungrouped": [a["id"] for a in alerts if a["incident_id"] is None],
        "incidents": sorted((i["kind"], i["table"], i["title"]) for i in incidents),
        "incident_ids": sorted(i["id"] for i in incidents),
    }


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "w.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture(scope="module")
def reference(warehouse, tmp_path_factory) -> dict[str, Any]:
    """What one uninterrupted run stores and sends."""
    root = tmp_path_factory.mktemp("ref")
    shutil.copy(warehouse, root / "w.duckdb")
    rec = HttpRecorder().start()
    try:
        project = load_project(write_project(root, rec.url()))
        store = Store.open(project.store_url())
        run(project, store, Clock.fixed(END))
        out = state(store)
        out["sent"] = len({r.headers["idempotency-key"] for r in rec.requests})
        assert out["sent"] == len(out["incident_ids"]) >= 1
        return out
    finally:
        rec.stop()


def _count(db: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5)
        try:
            return int(con.execute(sql).fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0  # not migrated yet


def rows(sql: str) -> Callable[[Path, HttpRecorder], bool]:
    return lambda db, rec: _count(db, sql) > 0


def random_delay(i: int) -> Callable[[Path, HttpRecorder], bool]:
    delay = random.Random(SEED + i).uniform(0.0, 0.8)
    started: list[float] = []

    def trigger(db: Path, rec: HttpRecorder) -> bool:
        if not started:
            if _count(db, "SELECT count(*) FROM runs") == 0:
                return False
            started.append(time.monotonic())
        return time.monotonic() - started[0] >= delay

    return trigger


SCENARIOS: dict[str, Callable[[Path, HttpRecorder], bool]] = {
    "collection": rows("SELECT count(*) FROM run_tables"),
    "categorical-stored": rows("SELECT count(*) FROM metric_points WHERE metric = 'value_count'"),
    "alerts-stored": rows("SELECT count(*) FROM alerts"),
    "incident-opened": rows("SELECT count(*) FROM incidents"),
    "outbox-written": rows("SELECT count(*) FROM outbox"),
    "mid-send": lambda db, rec: bool(rec.requests),
    **{f"random-{i}": random_delay(i) for i in range(3)},
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_killed_run_is_completed_by_the_next(scenario, warehouse, reference, tmp_path):
    shutil.copy(warehouse, tmp_path / "w.duckdb")
    rec = HttpRecorder().start()
    try:
        config = write_project(tmp_path, rec.url())
        project = load_project(config)
        Store.open(project.store_url()).close()  # migrated before the child starts
        if scenario == "mid-send":
            rec.reply(Reply(hang=30.0))  # the first delivery stalls: killed inside it
        cmd = _run_command(config)
        env = {**os.environ, "PYTHONPATH": os.getcwd()}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        trigger = SCENARIOS[scenario]
        db = tmp_path / "state.db"
        deadline = time.monotonic() + 120
        while proc.poll() is None and not trigger(db, rec):
            assert time.monotonic() < deadline, "the trigger never fired"
            time.sleep(0.005)
        killed = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=30)
        assert code == (-signal.SIGKILL if killed else 0)

        store = Store.open(project.store_url())
        before = state(store)
        runs = store.runs()
        if killed:
            # nothing half-written looks finished
            assert [r["status"] for r in runs] == ["running"]
        if scenario in ("collection", "categorical-stored") and killed:
            # a table's work is committed when it is done, not with the whole chunk
            assert before["points"]
        # committed points are never lost, and the next run completes the rest and exits 0
        again = subprocess.run(_run_command(config), env=env, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr[-2000:]
        report = json.loads(again.stdout)
        after = state(store)
        assert before["points"] <= after["points"]
        assert after["points"] == reference["points"]
        assert after["alerts"] == reference["alerts"]
        assert after["ungrouped"] == []
        assert after["incidents"] == reference["incidents"]
        if killed:
            assert store.runs()[1]["status"] == "failed"
            assert "interrupted" in (store.runs()[1]["error"] or "")
        assert store.runs()[0]["status"] == "success", report
        assert report["failed_tables"] == {} and report["warehouse_errors"] == {}
        # field health and categorical values are in what was compared
        metrics = {p[1] for p in after["points"]}
        assert {"value_count", "null_rate", "distinct_count", "bucket_row_count"} <= metrics

        # every incident delivered, once per idempotency key; nothing left in the outbox
        outbox = {r["incident_id"]: r for r in _outbox(store)}
        assert sorted(outbox) == after["incident_ids"]
        assert all(r["status"] == "sent" for r in outbox.values())
        keys = [r.headers["idempotency-key"] for r in rec.requests]
        assert len(set(keys)) == reference["sent"]
        if scenario != "mid-send":
            assert len(keys) == len(set(keys))  # no repeat unless a request was cut mid-flight
        # and a further run sends nothing more
        run(project, store, Clock.fixed(END))
        assert len(rec.requests) == len(keys)
    finally:
        rec.stop()


def _run_command(config: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tidegauge.cli.main",
        "--config",
        str(config),
        "run",
        "--now",
        END.isoformat(),
        "--json",
    ]


def _outbox(store: Store) -> list[dict[str, Any]]:
    from tidegauge.store.outbox import OutboxRepo

    return OutboxRepo(store).rows()


def test_reclaim_fails_dead_runs_and_frees_dead_holders(tmp_path):
    import socket
    from datetime import UTC, datetime, timedelta

    from tidegauge.runner import holder_name
    from tidegauge.steps.recover import reclaim

    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    wall = datetime.now(UTC)
    dead_pid = 4_000_000  # above the default pid_max of 32768 and rarely in use
    with pytest.raises(ProcessLookupError):
        os.kill(dead_pid, 0)
    dead = f"{socket.gethostname()}:{dead_pid}:1"
    own = store.start_run(as_of=END, now=wall, holder=holder_name())  # its store went away
    killed = store.start_run(as_of=END, now=wall, holder=dead)
    remote_old = store.start_run(as_of=END, now=wall - timedelta(hours=7), holder="elsewhere:1:1")
    remote_new = store.start_run(as_of=END, now=wall, holder="elsewhere:2:1")
    assert store.acquire_lease("group", dead, timedelta(minutes=30), wall)

    failed = reclaim(store, wall, holder_name())
    status = {r["id"]: r["status"] for r in store.runs()}
    assert status == {own: "failed", killed: "failed", remote_old: "failed", remote_new: "running"}
    assert sorted(failed) == sorted([own, killed, remote_old])
    # the dead holder's lease is free at once, not in 30 minutes
    assert store.acquire_lease("group", "me", timedelta(minutes=1), wall)
