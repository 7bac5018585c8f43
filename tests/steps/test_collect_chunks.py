"""Collection in chunks on real engines: small tables without a freshness column are counted
together in one statement, exactly; a table dropped after discovery fails alone; rows the
store refuses cost only their own table; store statements per chunk do not grow with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.engines import open_engine
from tests.run_context import run_context
from tests.servers import MYSQL_URL, POSTGRES_URL
from tidegauge.config import load_project
from tidegauge.core.model import MetricPoint
from tidegauge.runner import discover
from tidegauge.steps.collect import collect_tables
from tidegauge.store.bulk import TableWrite
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SIZES = {"a": 0, "b": 3, "c": 17, "Order Items": 5}

ENGINES = [
    pytest.param("postgres", POSTGRES_URL, marks=pytest.mark.postgres, id="postgres"),
    pytest.param("mysql", MYSQL_URL, marks=pytest.mark.mysql, id="mysql"),
]


def _project(tmp_path: Path, kind: str, url: str, schema: str):
    (tmp_path / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: {kind}, name: w, url: "{url}", include: ["{schema}.*"]}}]
store: {{url: "sqlite:///state.db"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
"""
    )
    return load_project(tmp_path / "tidegauge.yml")


def _seed(engine) -> None:
    for name, n in SIZES.items():
        engine.seed(name, {"id": "int", "name": "text"}, [(i, f"x{i}") for i in range(n)])
    engine.seed(
        "events",
        {"id": "int", "created_at": "timestamp"},
        [(i, datetime(2026, 2, 28, i)) for i in range(4)],
    )


def _collect(project, store):
    found = discover(project, store, NOW)
    ctx = run_context(project, store, NOW)
    collected = collect_tables(ctx, found)
    return found, ctx, collected


def _row_counts(store, collected):
    return {
        e.info.ref.name: [p.value for p in store.points(e.table_id, metric="row_count")]
        for e in collected
    }


@pytest.mark.parametrize(("kind", "url"), ENGINES)
def test_small_tables_are_counted_together_and_exactly(kind, url, tmp_path):
    with open_engine(kind, tmp_path) as engine:
        _seed(engine)
        project = _project(tmp_path, kind, url, engine.schema)
        store = Store.open(project.store_url())
        _, ctx, collected = _collect(project, store)
        run_id, report = ctx.run_id, ctx.report
        assert report.failed_tables == {}
        counts = _row_counts(store, collected)
        assert counts == {**{n: [float(v)] for n, v in SIZES.items()}, "events": [4.0]}
        ledger = [e for e in store.ledger(run_id) if e["monitor"] == "freshness"]
        assert sorted(e["table_id"] for e in ledger) == sorted(e.table_id for e in collected)
        shared = [e for e in ledger if e["sql"] and " tables */" in e["sql"]]
        # one statement counts the small tables; on PostgreSQL `events` reads MAX(created_at)
        # along with its count, MySQL has its update time in the catalog
        together = len(SIZES) if kind == "postgres" else len(SIZES) + 1
        assert [e["sql"].count("COUNT(*)") for e in shared] == [together]
        own = [e for e in ledger if e["sql"] and e not in shared]
        assert len(own) == len(SIZES) + 1 - together
        assert all("created_at" in e["sql"] for e in own)


@pytest.mark.parametrize(("kind", "url"), ENGINES)
def test_a_table_dropped_after_discovery_fails_alone(kind, url, tmp_path):
    with open_engine(kind, tmp_path) as engine:
        _seed(engine)
        project = _project(tmp_path, kind, url, engine.schema)
        store = Store.open(project.store_url())
        found = discover(project, store, NOW)
        engine.drop("b")  # the shared count statement now fails
        ctx = run_context(project, store, NOW)
        collected = collect_tables(ctx, found)
        assert list(ctx.report.failed_tables) == [f"{engine.schema}.b"]
        counts = _row_counts(store, collected)
        assert counts.pop("b") == []
        assert counts == {**{n: [float(v)] for n, v in SIZES.items() if n != "b"}, "events": [4.0]}
        dropped = found.table_ids[f"w:{engine.schema}.b"]
        errors = {r["table_id"]: r["error"] for r in store.run_tables(ctx.run_id)}
        assert "dropped" in errors.pop(dropped)  # recorded, so the next run retries it
        assert list(errors.values()) == [None] * len(SIZES)


def _duckdb_project(tmp_path: Path, tables: int):
    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA s")
    for i in range(tables):
        con.execute(f"CREATE TABLE s.t{i} AS SELECT range AS id FROM range({i % 3})")
    con.close()
    (tmp_path / "tidegauge.yml").write_text(
        """
warehouses: [{type: duckdb, path: w.duckdb}]
store: {url: "sqlite:///state.db"}
tables: [{match: "*", field_health: false, categorical: false}]
"""
    )
    return load_project(tmp_path / "tidegauge.yml")


def _recorder(seen: list[str]):
    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    return record


def test_store_statements_do_not_grow_with_the_tables_of_a_chunk(tmp_path):
    counts = []
    for n in (3, 60):
        root = tmp_path / str(n)
        root.mkdir()
        project = _duckdb_project(root, n)
        store = Store.open(project.store_url())
        found = discover(project, store, NOW)
        ctx = run_context(project, store, NOW)  # starts the run before statements are counted
        seen: list[str] = []
        event.listen(store.engine, "before_cursor_execute", _recorder(seen))
        collected = collect_tables(ctx, found)
        assert len(collected) == n and ctx.report.failed_tables == {}
        counts.append(len(seen))
        store.close()
    assert counts[0] == counts[1], counts


def test_rows_the_store_refuses_cost_only_their_table(tmp_path):
    from tidegauge.steps import collect

    project = _duckdb_project(tmp_path, 3)
    store = Store.open(project.store_url())
    found, ctx, collected = _collect(project, store)
    good, bad = collected[0], collected[1]
    ref = good.info.ref
    run = collect._Pass(ctx, found, 2, "test", {})
    writes = [
        TableWrite(good.table_id, "ok", points=[MetricPoint(ref, "custom:x", NOW, 1.0)]),
        # a point without a bucket: NOT NULL refuses it
        TableWrite(
            bad.table_id,
            "ok",
            points=[MetricPoint(ref, "custom:x", None, 2.0)],  # type: ignore[arg-type]  # on purpose
        ),
    ]
    collect._store_chunk(run, [good, bad], writes)
    assert [p.value for p in store.points(good.table_id, metric="custom:x")] == [1.0]
    assert store.points(bad.table_id, metric="custom:x") == []
    assert bad.error and "refused" in bad.error and good.error is None
    assert list(ctx.report.failed_tables) == [bad.info.ref.fqn]
    rows = {r["table_id"]: r for r in store.run_tables(ctx.run_id)}
    assert rows[bad.table_id]["status"] == "failed"
    assert rows[good.table_id]["status"] == "ok"
