"""The warehouse (PostgreSQL) goes away mid-run: tidegauge's backend is terminated with
``pg_terminate_backend``. The run reconnects and finishes the other tables, records the
failure per table, the next run retries what failed, and a failed query never becomes a
zero row count."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.hardening.pg import admin, terminate, terminator
from tests.servers import POSTGRES_URL, require_server
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

NOW = datetime(2026, 3, 4, 0, 30, tzinfo=UTC)
TABLES = ("t1", "t2", "t3", "t4")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    require_server("postgres")
    schema = f"tgfault_{uuid.uuid4().hex[:8]}"
    con = admin()
    con.execute(f'CREATE SCHEMA "{schema}"')
    for t in (*TABLES, "base"):
        con.execute(
            f'CREATE TABLE "{schema}"."{t}" AS SELECT g AS id, '
            f"TIMESTAMP '2026-03-01 00:00:00' + (g % 72) * INTERVAL '1 hour' AS created_at "
            f"FROM generate_series(1, 720) g"
        )
    # a view whose every query takes half a second: long enough to be killed mid-query
    con.execute(
        f'CREATE VIEW "{schema}"."slow_view" AS SELECT b.* FROM "{schema}"."base" b '
        f"CROSS JOIN pg_sleep(0.5)"
    )
    try:
        yield schema
    finally:
        con.execute(f'DROP SCHEMA "{schema}" CASCADE')
        con.close()


def project_for(tmp_path: Path, schema: str):
    (tmp_path / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: postgres, name: pg, url: "{POSTGRES_URL}", include: [{schema}]}}]
store: {{url: "sqlite:///state.db"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
"""
    )
    return load_project(tmp_path / "tidegauge.yml")


def zero_counts(store: Store, table: str) -> list[float]:
    t = store.find_table(table)
    assert t is not None
    return [
        p.value
        for p in store.points(t.id)
        if p.metric in ("row_count", "bucket_row_count") and p.value == 0
    ]


def test_backend_killed_between_tables_reconnects_and_finishes(tmp_path, pg_schema):
    project = project_for(tmp_path, pg_schema)
    store = Store.open(project.store_url())
    killed: list[int] = []

    def progress(name: str, done: int, total: int) -> None:
        if done == 1:  # after the first table: kill our (idle) warehouse session
            con = admin()
            try:
                killed.extend(terminate(con, datname="test"))
            finally:
                con.close()

    report = run(project, store, Clock.fixed(NOW), progress=progress, notify=False)
    assert killed, "no tidegauge backend was found to terminate"
    # every table collected: the lost connection was re-opened and the query re-run
    assert report.failed_tables == {}, report.failed_tables
    assert report.tables == len(TABLES) + 2
    for t in (*TABLES, "base", "slow_view"):
        stored = store.find_table(f"{pg_schema}.{t}")
        assert stored is not None
        assert {p.metric for p in store.points(stored.id)} >= {"row_count", "bucket_row_count"}
        assert zero_counts(store, f"{pg_schema}.{t}") == []


def test_table_whose_queries_keep_dying_fails_alone_and_is_retried(tmp_path, pg_schema):
    project = project_for(tmp_path, pg_schema)
    store = Store.open(project.store_url())
    slow = f"{pg_schema}.slow_view"

    with terminator("slow_view") as killed:
        first = run(project, store, Clock.fixed(NOW), notify=False)
    assert killed, "the slow view's queries were never caught running"
    # the run finished, with the failure recorded for that table only
    assert list(first.failed_tables) == [slow], first.failed_tables
    assert "connection lost" in first.failed_tables[slow]
    status = {t["table_id"]: t for t in store.run_tables(first.run_id)}
    slow_id = store.find_table(slow).id  # type: ignore[union-attr]
    assert status[slow_id]["status"] == "failed" and status[slow_id]["points"] == 0
    others = [store.find_table(f"{pg_schema}.{t}") for t in (*TABLES, "base")]
    assert all(status[t.id]["status"] == "ok" for t in others)  # type: ignore[union-attr]
    assert store.runs()[0]["status"] == "partial"
    # a failed query stores nothing: no zero row count, no volume alert
    assert list(store.points(slow_id)) == []
    assert not [a for a in store.alerts.list(limit=1000) if a["table"] == slow]

    # the next run as of the same moment collects only what failed, and succeeds
    second = run(project, store, Clock.fixed(NOW), notify=False)
    assert second.failed_tables == {}
    assert [t["table_id"] for t in store.run_tables(second.run_id)] == [slow_id]
    counts = [p for p in store.points(slow_id) if p.metric == "bucket_row_count"]
    assert counts and all(p.value == 10 for p in counts)
    assert not [
        a for a in store.alerts.list(limit=1000) if a["table"] == slow and a["kind"] == "volume"
    ]


def test_a_partial_run_exits_3_and_names_what_failed(tmp_path, pg_schema):
    from typer.testing import CliRunner

    from tidegauge.cli.main import app

    project_for(tmp_path, pg_schema)
    args = ["--config", str(tmp_path / "tidegauge.yml"), "run", "--now", NOW.isoformat()]
    with terminator("slow_view") as killed:
        result = CliRunner().invoke(app, args)
    assert killed, "the slow view's queries were never caught running"
    assert result.exit_code == 3, result.output
    assert f"{pg_schema}.slow_view" in result.output and "Traceback" not in result.output
    # the rest completed: a clean re-run exits 0
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
