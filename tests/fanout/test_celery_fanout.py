"""Fan-out over Celery with real workers, real brokers and PostgreSQL as the store.

Each test runs the same DuckDB warehouse twice: once in a single process with its own
store, once fanned out to a fleet of ``tidegauge worker`` processes, and compares what the
two stores hold by natural keys: points, alerts, incidents, schema snapshots and the cost
ledger (one row per query: a table collected twice would double its rows).
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fanout.fleet import END, Fleet, build_warehouse, diff, fingerprint, write_project
from tests.hardening.pg import scratch_database
from tests.servers import require_server
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import RunReport, run
from tidegauge.store.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TABLES = 60
REDIS = "redis://127.0.0.1:6379/0"
RABBIT = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fanout-wh") / "w.duckdb"
    build_warehouse(path, TABLES)
    return path


@pytest.fixture(scope="module")
def reference(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What one process stores from the warehouse as of END (computed once per module)."""
    require_server("postgres")
    folder = tmp_path_factory.mktemp("fanout-ref")
    shutil.copy(warehouse, folder / "w.duckdb")
    with scratch_database() as url:
        report, store = run_at(write_project(folder, url))
        assert report.failed_tables == {}
        got = fingerprint(store)
        store.close()
    return got


@pytest.fixture
def stores() -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases: the single process's store and the fleet's."""
    require_server("postgres")
    with scratch_database() as single, scratch_database() as fleet:
        yield single, fleet


class Setup:
    def __init__(self, root: Path, warehouse: Path, stores: tuple[str, str]) -> None:
        self.root, self.warehouse, self.stores = root, warehouse, stores
        self.fleets: list[Fleet] = []
        self.queue = f"tg-test-{uuid.uuid4().hex[:10]}"  # this test's tasks only

    def project(self, name: str, store_url: str, execution: str | None) -> Path:
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        if not (folder / "w.duckdb").exists():
            shutil.copy(self.warehouse, folder / "w.duckdb")
        return write_project(folder, store_url, execution=execution)

    def single(self) -> Path:
        return self.project("single", self.stores[0], None)

    def fanned(self, broker: str = REDIS, **extra: Any) -> Path:
        opts = {
            "type": "celery",
            "broker": broker,
            "queue": self.queue,
            "chunk_size": 6,
            "timeout": "5m",
            **extra,
        }
        flow = "{" + ", ".join(f"{k}: {v}" for k, v in opts.items()) + "}"
        return self.project("fleet", self.stores[1], flow)

    def fleet(self, config: Path, n: int) -> Fleet:
        fleet = Fleet(config, n, logs=self.root / f"logs{len(self.fleets)}")
        self.fleets.append(fleet)  # registered before start: the finalizer always stops it
        fleet.start()
        from tidegauge.fanout.celery_engine import make_app

        app = make_app(load_project(config).execution)
        try:
            fleet.wait_ready(app)
        finally:
            app.close()
        return fleet


@pytest.fixture
def setup(tmp_path: Path, warehouse: Path, stores: tuple[str, str]) -> Iterator[Setup]:
    require_server("redis")
    s = Setup(tmp_path, warehouse, stores)
    try:
        yield s
    finally:
        for fleet in s.fleets:
            fleet.stop()


def run_at(config: Path, when: Any = END, progress: Any = None) -> tuple[RunReport, Store]:
    project = load_project(config)
    store = Store.open(project.store_url())
    return run(project, store, Clock.fixed(when), notify=False, progress=progress), store


def assert_same(single: Store | dict[str, Any], fleet: Store) -> dict[str, Any]:
    a = single if isinstance(single, dict) else fingerprint(single)
    b = fingerprint(fleet)
    assert diff(a, b) == {}
    return a


def test_fleet_of_three_stores_what_one_process_stores(setup: Setup) -> None:
    single = setup.single()
    ref, ref_store = run_at(single)
    config = setup.fanned()
    fleet = setup.fleet(config, 3)
    report, store = run_at(config)

    assert report.failed_tables == {}, fleet.log_tail()
    assert report.tables == ref.tables == TABLES + 1
    assert report.fanout["chunks"] == 11 and report.fanout["failed"] == 0
    assert len(report.fanout["workers"]) >= 2  # the work was shared, not done by one
    got = assert_same(ref_store, store)
    volume = [i for i in got["incidents"] if i[0] == "volume"]
    assert [(i[1], sorted({m[1] for m in i[6]})) for i in volume] == [
        ("raw.t_0000", ["analytics.v_0000", "raw.t_0000"])
    ]

    # an hour later, after a schema change: schema changes travel back from the workers
    for folder in ("single", "fleet"):
        import duckdb

        con = duckdb.connect(str(setup.root / folder / "w.duckdb"))
        con.execute("ALTER TABLE raw.t_0003 DROP COLUMN status")
        con.close()
    later = END + timedelta(hours=1)
    ref2, _ = run_at(single, later)
    again, _ = run_at(config, later)
    assert again.failed_tables == {}
    assert {a["kind"] for a in again.alerts} == {a["kind"] for a in ref2.alerts}
    got = assert_same(ref_store, store)
    assert ("raw.t_0003", "removed", "status") in [e[:3] for e in got["schema_events"]]

    # the same moment again: nothing collected twice, nothing new stored
    rerun, _ = run_at(config, later)
    assert rerun.alerts == [] and rerun.incidents_opened == [] and rerun.points == 0
    assert fingerprint(store) == got


def test_fleet_over_rabbitmq(setup: Setup, reference: dict[str, Any]) -> None:
    require_server("rabbitmq")
    config = setup.fanned(broker=RABBIT)  # results come back over rpc://
    setup.fleet(config, 2)
    seen: list[tuple[str, int, int]] = []
    report, store = run_at(config, progress=lambda *a: seen.append(a))
    assert report.failed_tables == {} and report.fanout["failed"] == 0
    assert_same(reference, store)
    # the progress bar moves one table at a time, up to every table of the run
    assert [(done, total) for _, done, total in seen] == [
        (k, TABLES + 1) for k in range(1, TABLES + 2)
    ]
    assert len({name for name, _, _ in seen}) == TABLES + 1


def test_workers_detecting_their_own_chunks_find_the_same_incident(
    setup: Setup, reference: dict[str, Any]
) -> None:
    """``detect: workers``: each chunk is its own false-discovery-rate family, so
    borderline points may differ from one process; points, the ledger and the injected
    incident may not."""
    config = setup.fanned(detect="workers")
    setup.fleet(config, 2)
    report, store = run_at(config)
    assert report.failed_tables == {}
    a, b = reference, fingerprint(store)
    assert a["points"] == b["points"] and a["ledger"] == b["ledger"]
    volume = [i for i in b["incidents"] if i[0] == "volume"]
    assert [i[1] for i in volume] == ["raw.t_0000"]
    assert {m[1] for m in volume[0][6]} == {"raw.t_0000", "analytics.v_0000"}


def _kill_a_busy_pool_process(config: Path, fleet: Fleet, done: threading.Event) -> list[int]:
    """SIGKILL the pool process that is running a chunk (found with ``inspect active``)."""
    import os
    import signal

    from tidegauge.fanout.celery_engine import make_app

    app = make_app(load_project(config).execution)
    killed: list[int] = []
    try:
        while not killed and not done.is_set():
            active = app.control.inspect(destination=fleet.names, timeout=1.0).active() or {}
            for tasks in active.values():
                for t in tasks:
                    if t.get("worker_pid"):
                        os.kill(int(t["worker_pid"]), signal.SIGKILL)
                        killed.append(int(t["worker_pid"]))
                        break
                if killed:
                    break
    finally:
        app.close()
    return killed


def _run_while(config: Path, action: Any) -> tuple[RunReport, Store, Any]:
    out: dict[str, Any] = {}
    done = threading.Event()

    def go() -> None:
        try:
            out["run"] = run_at(config)
        except BaseException as e:  # surfaced below
            out["error"] = e
        finally:
            done.set()

    t = threading.Thread(target=go, daemon=True)
    t.start()
    acted = action(done)
    t.join(600)
    if "error" in out:
        raise out["error"]
    report, store = out["run"]
    return report, store, acted


def test_killed_pool_process_chunk_is_sent_again(setup: Setup, reference: dict[str, Any]) -> None:
    config = setup.fanned(retries=1)
    fleet = setup.fleet(config, 2)
    report, store, killed = _run_while(
        config, lambda done: _kill_a_busy_pool_process(config, fleet, done)
    )
    assert killed, "no chunk was running to kill"
    assert report.fanout["retried"] == 1 and report.fanout["failed"] == 0, report.fanout
    assert report.failed_tables == {}
    assert_same(reference, store)


def test_failed_chunk_is_recorded_and_collected_by_the_next_run(
    setup: Setup, reference: dict[str, Any]
) -> None:
    config = setup.fanned(retries=0)
    fleet = setup.fleet(config, 2)
    report, store, killed = _run_while(
        config, lambda done: _kill_a_busy_pool_process(config, fleet, done)
    )
    assert killed
    assert report.fanout["failed"] == 1
    lost = set(report.failed_tables)
    assert 1 <= len(lost) <= 6 and all(
        "WorkerLostError" in e for e in report.failed_tables.values()
    )
    run_row = store.runs()[0]
    assert run_row["status"] == "partial"
    failed_rows = {
        r["table_id"] for r in store.run_tables(run_row["id"]) if r["status"] == "failed"
    }
    assert {store.table(t).ref.fqn for t in failed_rows} == lost  # type: ignore[union-attr]

    # the next run as of the same moment collects exactly the lost tables
    again, _ = run_at(config)
    assert again.failed_tables == {}
    assert again.tables == len(lost)
    assert_same(reference, store)


def test_no_worker_means_failed_tables_not_a_hang_and_no_late_work(setup: Setup) -> None:
    config = setup.fanned(timeout="3s")
    report, store = run_at(config)
    assert report.fanout["timed_out"] == 11
    assert len(report.failed_tables) == TABLES + 1
    assert all("no answer within" in e for e in report.failed_tables.values())
    assert store.runs()[0]["status"] == "partial"

    # a worker that comes up later drops the expired tasks: nothing lands in the old run
    before = fingerprint(store)
    fleet = setup.fleet(config, 1)
    ok, _ = run_at(setup.fanned(timeout="5m"))  # a fresh run on the same queue completes
    assert ok.failed_tables == {} and ok.tables == TABLES + 1
    assert before["points"] == []
    old = store.runs()[1]
    assert all(r["status"] == "failed" for r in store.run_tables(old["id"]))
    del fleet
