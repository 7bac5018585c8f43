"""Lineage found in the warehouse: view definitions on every engine, and statements from
query history (CTAS / INSERT…SELECT / MERGE) where the engine keeps it."""

from tests.engines import Engine, seed_standard
from tidegauge.core.lineage import EdgeKind, Origin
from tidegauge.core.model import ColumnInfo, TableInfo, TableRef, TypeFamily
from tidegauge.steps.lineage import warehouse_graph


def info(schema: str, name: str, *cols: str) -> TableInfo:
    return TableInfo(
        TableRef("main", schema, name),
        columns=tuple(
            ColumnInfo(c, "INTEGER", TypeFamily.INTEGER, True, i) for i, c in enumerate(cols, 1)
        ),
    )


def test_query_history_statements_become_edges():
    tables = {
        "main": [
            info("raw", "orders", "id", "amount", "status"),
            info("mart", "revenue", "status", "total"),
        ]
    }
    history = {
        "main": [
            "INSERT INTO mart.revenue SELECT status, sum(amount) AS total FROM raw.orders "
            "WHERE id > $1 GROUP BY status",
        ]
    }
    g = warehouse_graph(tables, {}, {"main": "postgres"}, history)
    up = g.upstream("mart.revenue", "total")
    edges = {(e.source_column, e.kind) for e in up.column_edges}
    assert ("amount", EdgeKind.DIRECT) in edges and ("id", EdgeKind.INDIRECT) in edges
    origins = {o for _, t, os in g.edges if t.endswith("revenue") for o in os}
    assert origins == {Origin.QUERY_HISTORY}


def test_view_lineage_on_every_engine(engine: Engine):
    refs = seed_standard(engine)
    wh = engine.warehouse
    tables = wh.list_tables()
    views = {ref.fqn: sql for ref, sql in wh.view_definitions().items()}
    g = warehouse_graph(
        {wh.name: tables}, {wh.name: views}, {wh.name: wh.DIALECT}, {wh.name: wh.query_history()}
    )
    view = next(t for t in tables if t.kind.value == "view")
    up = {h.node.display.lower() for h in g.upstream(view.ref.fqn).nodes}
    assert refs["orders"].fqn.lower() in up


def test_refresh_reuses_the_connection_discovery_kept(tmp_path, monkeypatch):
    """A local run's lineage refresh reads views on the warehouse connection discovery kept
    open: no second connection (on DuckDB, a second open of the file per run)."""
    from datetime import UTC, datetime

    import duckdb

    import tidegauge.steps.discover as discover_step
    from tests.run_context import run_context
    from tidegauge.config import load_project
    from tidegauge.steps.lineage import refresh_lineage
    from tidegauge.store.store import Store

    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders AS SELECT range AS id, range * 2 AS amount FROM range(5)")
    con.execute("CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 4")
    con.close()
    (tmp_path / "tidegauge.yml").write_text(
        f'warehouses: [{{type: duckdb, name: w, path: "{db}"}}]\n'
        'store: {url: "sqlite:///state.db"}\n'
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    opened: list[str] = []
    real = discover_step.connect

    def counting(cfg):
        opened.append(cfg.name)
        return real(cfg)

    monkeypatch.setattr(discover_step, "connect", counting)
    for keep_open, connects in ((True, 1), (False, 2)):
        opened.clear()
        found = discover_step.discover(project, store, now, keep_open=keep_open)
        try:
            graph = refresh_lineage(run_context(project, store, now), found)
        finally:
            found.close()
        assert opened == ["w"] * connects
        up = {h.node.display.lower() for h in graph.upstream("main.big_orders").nodes}
        assert any(u.endswith("orders") and "big" not in u for u in up)


def test_an_unchanged_graph_is_not_rewritten_and_a_changed_one_is(tmp_path, monkeypatch):
    """A refresh that finds the graph it saved last time writes nothing; a changed view, a
    new table or a changed owner is saved; the OpenLineage part survives either way."""
    from datetime import UTC, datetime, timedelta

    import duckdb

    import tidegauge.store.lineage as stored_lineage
    from tests.run_context import run_context
    from tidegauge.config import load_project
    from tidegauge.core.lineage import LineageGraph, Node, NodeKind
    from tidegauge.steps.discover import discover
    from tidegauge.steps.lineage import load_graph, refresh_lineage, save_graph
    from tidegauge.store.store import Store

    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders AS SELECT range AS id, range * 2 AS amount FROM range(5)")
    con.execute("CREATE VIEW big_orders AS SELECT id FROM orders")
    con.close()
    config = tmp_path / "tidegauge.yml"

    def write_config(owner: str) -> None:
        config.write_text(
            f'warehouses: [{{type: duckdb, name: w, path: "{db}"}}]\n'
            'store: {url: "sqlite:///state.db"}\n'
            f'tables: [{{match: "main.*", owner: {owner}}}]\n'
        )

    write_config("ana")
    store = Store.open(load_project(config).store_url())
    ol = LineageGraph()
    ol.add_node(Node(id="job:etl", kind=NodeKind.JOB, name="etl", origins=(Origin.OPENLINEAGE,)))
    save_graph(store, ol, datetime(2026, 3, 1, tzinfo=UTC))
    saves: list[bool] = []
    real = stored_lineage.save_graph

    def counting(*a, **k):
        saves.append(real(*a, **k))
        return saves[-1]

    monkeypatch.setattr("tidegauge.steps.lineage.save_graph", counting)

    def refresh(hour: int) -> LineageGraph:
        project = load_project(config)
        now = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=hour)
        found = discover(project, store, now)
        refresh_lineage(run_context(project, store, now), found)
        graph = load_graph(store)
        assert graph is not None and "job:etl" in graph  # the OpenLineage part is kept
        return graph

    refresh(1)
    refresh(2)
    assert saves == [True, False]
    con = duckdb.connect(str(db))
    con.execute("CREATE OR REPLACE VIEW big_orders AS SELECT id, amount FROM orders")
    con.close()
    graph = refresh(3)
    assert saves[-1] is True
    assert {c.name for c in graph.resolve("main.big_orders").columns} == {"id", "amount"}
    write_config("bo")
    graph = refresh(4)
    assert saves[-1] is True and graph.resolve("main.orders").owners == ("bo",)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE refunds (id INTEGER)")
    con.close()
    assert refresh(5).resolve("main.refunds") and saves[-1] is True
    refresh(6)
    assert saves[-1] is False
