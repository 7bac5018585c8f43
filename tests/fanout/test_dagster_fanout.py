"""Fan-out as Dagster ops (``execution.type: dagster``): the chunks run as mapped ops of one
Dagster job in its multiprocess executor, with PostgreSQL as the store, and the store ends
up holding what one process stores. Also: a broken chunk costs only its own tables."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fanout.fleet import END, build_warehouse, diff, fingerprint, write_project
from tests.hardening.pg import scratch_database
from tests.servers import require_server
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import RunReport, run
from tidegauge.store.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TABLES = 24


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dagster-wh") / "w.duckdb"
    build_warehouse(path, TABLES)
    return path


@pytest.fixture
def stores() -> Iterator[tuple[str, str]]:
    require_server("postgres")
    with scratch_database() as single, scratch_database() as fanned:
        yield single, fanned


def project(root: Path, name: str, warehouse: Path, url: str, execution: str | None) -> Path:
    folder = root / name
    folder.mkdir()
    shutil.copy(warehouse, folder / "w.duckdb")
    return write_project(folder, url, execution=execution)


def run_at(config: Path) -> tuple[RunReport, Store]:
    p = load_project(config)
    store = Store.open(p.store_url())
    return run(p, store, Clock.fixed(END), notify=False), store


def test_dagster_ops_store_what_one_process_stores(
    tmp_path: Path, warehouse: Path, stores: tuple[str, str], monkeypatch: Any
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    single = project(tmp_path, "single", warehouse, stores[0], None)
    fanned = project(
        tmp_path,
        "fanned",
        warehouse,
        stores[1],
        "{type: dagster, chunk_size: 5, max_concurrent: 2}",
    )
    ref, ref_store = run_at(single)
    report, store = run_at(fanned)

    assert report.failed_tables == {}
    assert report.tables == ref.tables == TABLES + 1
    assert report.fanout["engine"] == "dagster" and report.fanout["chunks"] == 5
    assert report.fanout["failed"] == 0
    # the chunks ran in Dagster's own processes, not in this one
    import os

    assert report.fanout["workers"] and all(
        not w.endswith(f":{os.getpid()}") for w in report.fanout["workers"]
    )
    got = fingerprint(store)
    assert diff(fingerprint(ref_store), got) == {}
    volume = [i for i in got["incidents"] if i[0] == "volume"]
    assert [i[1] for i in volume] == ["raw.t_0000"]


def test_chunks_that_fail_leave_their_tables_failed_not_lost(
    tmp_path: Path, warehouse: Path, stores: tuple[str, str], monkeypatch: Any
) -> None:
    """Ops that cannot work (here: their process cannot read the project file the
    coordinator loaded) are retried by Dagster, then answer with the error: the run ends,
    its tables are failed in it with that error, and the next run collects them."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    config = project(
        tmp_path,
        "fanned",
        warehouse,
        stores[1],
        "{type: dagster, chunk_size: 10, max_concurrent: 2, retries: 1}",
    )
    p = load_project(config)
    store = Store.open(p.store_url())
    moved = config.with_name("elsewhere.yml")
    config.rename(moved)
    report = run(p, store, Clock.fixed(END), notify=False)
    assert report.fanout["failed"] == report.fanout["chunks"] == 3
    assert len(report.failed_tables) == TABLES + 1
    assert all("project file not found" in why for why in report.failed_tables.values())
    moved.rename(config)
    again = run(load_project(config), store, Clock.fixed(END), notify=False)
    assert again.failed_tables == {} and again.tables == TABLES + 1
