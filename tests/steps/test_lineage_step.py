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
