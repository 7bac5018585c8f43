"""The counting statement of many small tables (steps/counts.py) is rendered in place, without
sqlglot's copy: the SQL is the one a copying render gives, on every dialect, and rendering it
again (the retry after a lost connection) gives it again."""

import pytest

from tidegauge.core.model import TableRef
from tidegauge.steps.counts import count_query
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
