"""When collected tables reach the store: each table's points and run row commit together,
as soon as the tables collected since the last commit took ``COMMIT_AFTER_SECONDS``, so a
killed run keeps what it finished (tests/hardening/test_sigkill.py kills real runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import func, select

from tests.run_context import run_context
from tidegauge.config import load_project
from tidegauge.runner import discover
from tidegauge.steps import collect
from tidegauge.store import schema as s
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA app")
    for name in ("a", "b", "c"):
        con.execute(
            f"CREATE TABLE app.{name} AS SELECT range AS id, "
            "TIMESTAMP '2026-03-01 00:00' + range * INTERVAL 1 HOUR AS created_at FROM range(10)"
        )
    con.close()
    (tmp_path / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: {db}}}]
store: {{url: "sqlite:///{tmp_path / "state.db"}"}}
"""
    )
    return load_project(tmp_path / "tidegauge.yml")


def _committed(store: Store) -> tuple[int, int]:
    """(run rows, points) as another connection sees them: only what was committed."""
    with store.engine.connect() as c:
        runs = c.execute(select(func.count()).select_from(s.run_tables)).scalar_one()
        points = c.execute(select(func.count()).select_from(s.metric_points)).scalar_one()
    return int(runs), int(points)


@pytest.mark.parametrize(("after", "seen"), [(0.0, [1, 2, 3]), (3600.0, [0, 0, 0])])
def test_tables_commit_as_their_collection_time_adds_up(project, monkeypatch, after, seen):
    monkeypatch.setattr(collect, "COMMIT_AFTER_SECONDS", after)
    store = Store.open(project.store_url())
    found = discover(project, store, NOW)
    committed: list[tuple[int, int]] = []

    def progress(_name: str, _done: int, _total: int) -> None:
        committed.append(_committed(store))  # called after each table

    ctx = run_context(project, store, NOW, progress=progress)
    entries = collect.collect_tables(ctx, found)
    assert len(entries) == 3 and not ctx.report.failed_tables
    assert [runs for runs, _ in committed] == seen
    if after == 0.0:  # a table's points commit with its run row, never apart
        assert all(points > 0 for _, points in committed)
        assert committed[0][1] < committed[1][1] < committed[2][1]
    assert _committed(store)[0] == 3  # and everything is stored at the end of the chunk
