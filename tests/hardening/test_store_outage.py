"""The store (PostgreSQL) goes away: its backends are terminated, then it refuses new
connections for a while. Runs and the web app recover without a restart
(``pool_pre_ping`` replaces dead pooled connections)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from tests.hardening.pg import admin, scratch_database
from tests.servers import require_server
from tests.test_pipeline import END, build_warehouse
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store
from tidegauge.web.server import create_app

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "w.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture
def setup(tmp_path, warehouse):
    require_server("postgres")
    shutil.copy(warehouse, tmp_path / "w.duckdb")
    with scratch_database() as url:
        (tmp_path / "tidegauge.yml").write_text(
            f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "{url}"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
"""
        )
        project = load_project(tmp_path / "tidegauge.yml")
        store = Store.open(project.store_url())
        try:
            yield project, store, url.rsplit("/", 1)[1]
        finally:
            store.close()


def kill_store(db: str) -> int:
    con = admin()
    try:
        return len(
            con.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [db],
            ).fetchall()
        )
    finally:
        con.close()


def test_store_backends_killed_mid_run_and_between_requests(setup):
    project, store, db = setup
    client = TestClient(create_app(project, store))
    assert client.get("/api/v1/runs").status_code == 200
    killed: list[int] = []

    def progress(name: str, done: int, total: int) -> None:
        if done == 1:
            killed.append(kill_store(db))

    report = run(project, store, Clock.fixed(END), progress=progress)
    assert killed and killed[0] >= 1  # pooled store connections were killed mid-run
    assert report.failed_tables == {}
    assert store.runs()[0]["status"] == "success"

    assert kill_store(db) >= 1  # the web app's pooled connections die between requests
    r = client.get("/api/v1/runs")
    assert r.status_code == 200 and r.json()[0]["status"] == "success"
    second = run(project, store, Clock.fixed(END + timedelta(hours=1)))
    assert store.runs()[0]["id"] == second.run_id and store.runs()[0]["status"] == "success"


def test_store_refusing_connections_for_a_while(setup):
    project, store, db = setup
    client = TestClient(create_app(project, store), raise_server_exceptions=False)
    run(project, store, Clock.fixed(END))
    con = admin()
    try:
        con.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        kill_store(db)
        # while it refuses: the API answers an error (no hang, no traceback) and a run fails
        r = client.get("/api/v1/runs")
        assert r.status_code == 503 and "traceback" not in r.text.lower()
        assert r.headers["retry-after"] == "5"
        with pytest.raises(OperationalError):
            run(project, store, Clock.fixed(END + timedelta(hours=1)))
    finally:
        con.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        con.close()
    # back: the same app and the same Store object work again, no restart
    assert client.get("/api/v1/runs").status_code == 200
    report = run(project, store, Clock.fixed(END + timedelta(hours=1)))
    runs = store.runs()
    assert runs[0]["id"] == report.run_id and runs[0]["status"] == "success"
    assert all(r["status"] != "running" for r in runs)


def test_store_cut_mid_run_gives_one_paragraph_fails_the_run_and_frees_leases(setup, tmp_path):
    """The store refuses connections from the middle of a `tidegauge run` for ~2 s: the
    command prints one paragraph (no traceback), exits 1, the run is recorded ``failed``
    once the store is back, and none of its leases stay held."""
    import threading
    import time

    from typer.testing import CliRunner

    from tidegauge.cli.main import app

    project, store, db = setup
    run(project, store, Clock.fixed(END))  # history exists; the next run has work to cut
    con = admin()
    cut = threading.Event()
    stop = threading.Event()

    def cutter() -> None:
        probe = Store.open(project.store_url(), migrate_schema=False)
        try:
            while not stop.is_set():
                with probe.engine.connect() as c:
                    n = c.exec_driver_sql(
                        "SELECT count(*) FROM run_tables rt JOIN runs r ON r.id = rt.run_id "
                        "WHERE r.status = 'running'"
                    ).scalar()
                if n:
                    break
                time.sleep(0.01)
        finally:
            probe.close()
        if stop.is_set():
            return
        con.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        kill_store(db)
        cut.set()
        time.sleep(2.0)
        con.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')

    t = threading.Thread(target=cutter, daemon=True)
    t.start()
    try:
        result = CliRunner().invoke(
            app,
            ["--config", str(tmp_path / "tidegauge.yml"), "run", "--now", "2026-03-10T13:00Z"],
        )
    finally:
        stop.set()
        t.join(15)
        con.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        con.close()
    assert cut.is_set(), "the run finished before the store could be cut"
    assert result.exit_code == 1, result.output
    text = result.output.strip()
    assert "Traceback" not in text and "\n\n" not in text
    assert len(text) < 800, text
    assert "the metadata store" in text and "recorded as failed" in text
    last = store.runs()[0]
    assert last["status"] == "failed" and last["error"], last
    with store.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM leases").scalar() == 0
    # and the next run just works
    report = run(project, store, Clock.fixed(END + timedelta(hours=2)))
    assert store.runs()[0]["id"] == report.run_id and store.runs()[0]["status"] == "success"
