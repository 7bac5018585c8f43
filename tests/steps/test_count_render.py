"""The counting statement of many small tables (steps/counts.py) is rendered in place, without
sqlglot's copy: the SQL is the one a copying render gives, on every dialect, and rendering it
again (the retry after a lost connection) gives it again."""

from typing import Any

import pytest

from tidegauge.core.model import TableInfo, TableRef
from tidegauge.steps.counts import Rendered, count_query, count_statement
from tidegauge.warehouses.base import Warehouse


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "duckdb", "snowflake"])
def test_count_query_renders_the_same_in_place(dialect: str) -> None:
    refs = [TableRef("wh", "Sales", f"t {i}", "db") for i in range(3)] + [
        TableRef("wh", "s", 'we"ird')
    ]

    def build():  # the nodes table_expression makes, without a connection
        return count_query([Warehouse.table_expression(None, r) for r in refs])  # type: ignore[arg-type]

    copied = build().sql(dialect=dialect)
    query = build()
    assert query.sql(dialect=dialect, copy=False) == copied
    assert query.sql(dialect=dialect, copy=False) == copied  # a retry renders it again
    assert copied.count("COUNT(*)") == len(refs) and " AS c3" in copied


NAMES = ["plain", 'we"ird', "back`tick", "dot.ted", "new\nline", "Größe", "MixedCase", "t 1"]


def _refs(database: str | None) -> list[TableRef]:
    schemas = ["Sales", 's"q', "tidegauge_count_template_mark"]
    return [
        TableRef("wh", schemas[i % len(schemas)], name, database)
        for i, name in enumerate([*NAMES, "tidegauge_count_template_mark"])
    ]


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "duckdb", "snowflake"])
@pytest.mark.parametrize("database", [None, "db", 'd"b'])
def test_count_statement_is_the_count_query_sqlglot_renders(
    dialect: str, database: str | None
) -> None:
    """Each statement is filled into a template rendered once (not rendered whole); what is
    sent is exactly what sqlglot renders for the whole tree, quotes in names and all."""
    wh = _stub(dialect)
    refs = _refs(database)
    statement = count_statement(wh, refs)
    assert isinstance(statement, Rendered)  # the template, not the whole tree
    whole = count_query([wh.table_expression(r) for r in refs]).sql(dialect=dialect)
    assert wh.render(statement, copy=False) == whole
    assert wh.render(statement, copy=False) == whole  # a retry sends it again
    assert wh.render(count_statement(wh, refs[:1]), copy=False) == count_query(
        [wh.table_expression(refs[0])]
    ).sql(dialect=dialect)
    with pytest.raises(ValueError, match="rendered for"):
        statement.sql(dialect="bigquery" if dialect != "bigquery" else "postgres")


def test_mixed_references_are_rendered_whole() -> None:
    wh = _stub("postgres")
    refs = [TableRef("wh", "s", "a", "db"), TableRef("wh", "s", "b")]
    statement = count_statement(wh, refs)
    assert not isinstance(statement, Rendered)
    assert statement.sql(dialect="postgres") == (
        'SELECT (SELECT COUNT(*) FROM "db"."s"."a") AS c0, (SELECT COUNT(*) FROM "s"."b") AS c1'
    )


def _stub(dialect: str) -> Warehouse:
    class Stub(Warehouse):
        DIALECT = dialect

        def connect(self) -> None: ...

        def close(self) -> None: ...

        def _execute_sql(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]], int | None]:
            raise AssertionError("no warehouse here")

        def list_tables(self) -> list[TableInfo]:
            return []

    return Stub.__new__(Stub)
