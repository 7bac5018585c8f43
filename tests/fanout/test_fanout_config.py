"""The ``execution:`` block, what travels to workers, and how a run is cut into chunks.
No servers needed."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.core.detectors.schema import diff_schemas
from tidegauge.core.model import ColumnInfo, TableInfo, TableKind, TableRef, TypeFamily
from tidegauge.fanout.chunks import CONFIG_ENV, ChunkAbandoned, payload, plan, worker_context
from tidegauge.fanout.wire import change_from_wire, change_to_wire, table_from_wire, table_to_wire
from tidegauge.runner import DiscoverResult, RunContext, run
from tidegauge.store.store import Store
from tidegauge.yamlsource import ConfigError

REPO = Path(__file__).resolve().parents[2]


def project_file(folder: Path, execution: str, store: str = "sqlite:///state.db") -> Path:
    import duckdb

    duckdb.connect(str(folder / "w.duckdb")).close()
    path = folder / "tidegauge.yml"
    path.write_text(f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "{store}"}}
execution:
{execution}
""")
    return path


def test_defaults_are_local_and_celery_options_parse(tmp_path: Path) -> None:
    p = load_project(project_file(tmp_path, "  type: local"))
    assert p.execution.type == "local" and p.execution.detect == "coordinator"
    assert p.source == (tmp_path / "tidegauge.yml").resolve()
    p = load_project(
        project_file(
            tmp_path,
            """  type: celery
  broker: amqp://guest:guest@127.0.0.1:5672//
  chunk_size: 50
  timeout: 10m
  retries: 0
  detect: workers""",
        )
    )
    ex = p.execution
    assert (ex.type, ex.chunk_size, ex.timeout, ex.retries) == (
        "celery",
        50,
        timedelta(minutes=10),
        0,
    )
    from tidegauge.fanout.celery_engine import result_backend

    assert result_backend(ex) == "rpc://"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            "  type: celery\n  chunk_sise: 5",
            "tidegauge.yml:6: execution.chunk_sise: unknown key "
            "'chunk_sise'; did you mean 'chunk_size'?",
        ),
        ("  type: dask", "tidegauge.yml:5: execution.type"),
        ("  type: celery\n  broker: localhost", "tidegauge.yml:6: execution.broker"),
        ("  type: celery\n  chunk_size: 0", "tidegauge.yml:6: execution.chunk_size"),
    ],
)
def test_config_errors_name_the_line(tmp_path: Path, block: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_project(project_file(tmp_path, block))
    assert message in str(e.value)


def test_celery_with_a_sqlite_store_is_a_clear_error(tmp_path: Path) -> None:
    path = project_file(tmp_path, "  type: celery")
    project = load_project(path)
    store = Store.open(project.store_url())
    with pytest.raises(ConfigError, match=r"store\.url is a SQLite file") as e:
        run(project, store, Clock.fixed(datetime(2026, 3, 1, tzinfo=UTC)), notify=False)
    assert str(path.resolve()) in str(e.value)
    assert store.runs()[0]["status"] == "failed"  # recorded, not left running


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("  type: celery", "store.url is a SQLite file"),
        ("  type: local", "execution.type is local"),
    ],
)
def test_worker_command_refuses_what_cannot_work(tmp_path: Path, block: str, message: str) -> None:
    path = project_file(tmp_path, block)
    proc = subprocess.run(
        [sys.executable, "-m", "tidegauge.cli.main", "--config", str(path), "worker"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_tables_and_schema_changes_cross_the_wire_unchanged() -> None:
    import json

    cols = (
        ColumnInfo("id", "BIGINT", TypeFamily.INTEGER, nullable=False, ordinal=1),
        ColumnInfo("at", "TIMESTAMP WITH TIME ZONE", TypeFamily.TIMESTAMP, ordinal=2),
    )
    info = TableInfo(
        TableRef("main", "raw", "orders", "db"),
        TableKind.VIEW,
        12,
        3400,
        datetime(2026, 3, 1, 12, tzinfo=UTC),
        cols,
        "a comment",
    )
    assert table_from_wire(json.loads(json.dumps(table_to_wire(info)))) == info
    changed = (
        ColumnInfo("id", "VARCHAR", TypeFamily.STRING, ordinal=1),
        ColumnInfo("new", "INT", TypeFamily.INTEGER, ordinal=3),
    )
    changes = diff_schemas(list(cols), list(changed))
    assert len(changes) >= 2
    wired = json.loads(json.dumps([change_to_wire(c) for c in changes]))
    assert [change_from_wire(c) for c in wired] == changes


def test_plan_cuts_the_selected_tables_into_chunks() -> None:
    found = DiscoverResult()
    for i in range(7):
        info = TableInfo(TableRef("main", "raw", f"t{i}"))
        found.tables.setdefault("main", []).append(info)
        found.table_ids[info.ref.key] = 100 + i
    chunks = plan(found, None, 3)
    assert [[t.table_id for t in c] for c in chunks] == [[100, 101, 102], [103, 104, 105], [106]]
    only = plan(found, ["raw.T1", "t4", "main:raw.t6", "nope"], 2)
    assert [[t.info.ref.name for t in c] for c in only] == [["t1", "t4"], ["t6"]]


def test_a_worker_rebuilds_the_run_context_from_its_json_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The context never travels: its chunk task is plain JSON, and the worker builds its
    own context from it (its own project load and store connection, the same run)."""
    import json

    monkeypatch.delenv(CONFIG_ENV, raising=False)
    project = load_project(project_file(tmp_path, "  type: local"))
    store = Store.open(project.store_url())
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    ctx = RunContext.create(project, store, now, store.start_run(now, now, "test"), only=["t"])
    later = datetime.now(UTC) + timedelta(hours=1)
    task = json.loads(json.dumps(payload(ctx, [], later, detect=False)))
    worker = worker_context(task)
    assert (worker.run_id, worker.now, worker.project.source) == (ctx.run_id, now, project.source)
    assert worker.store is not store and worker.report is not ctx.report
    assert worker.only is None and worker.external == [] and worker.progress is not None
    assert worker.report.as_dict()["tables"] == 0
    # past the coordinator's deadline, or once the run is over, the worker does nothing
    past = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(ChunkAbandoned, match="wait ended"):
        worker_context({**task, "deadline": past.isoformat()})
    store.finish_run(ctx.run_id, "failed", {}, now)
    with pytest.raises(ChunkAbandoned, match="already failed"):
        worker_context(task)


@pytest.mark.postgres
def test_unreachable_broker_is_one_clear_line_without_the_password(tmp_path: Path) -> None:
    from tests.hardening.pg import scratch_database
    from tests.servers import require_server

    require_server("postgres")
    with scratch_database() as url:
        path = project_file(
            tmp_path, "  type: celery\n  broker: redis://:s3cret@127.0.0.1:1/0", store=url
        )
        proc = subprocess.run(
            [sys.executable, "-m", "tidegauge.cli.main", "--config", str(path), "run"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert "execution.broker redis://:**@127.0.0.1:1/0 is unreachable" in proc.stderr
        assert "s3cret" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
        store = Store.open(url)
        assert store.runs()[0]["status"] == "failed"
        store.close()
