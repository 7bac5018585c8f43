"""Recording a discovery of more tables than one statement takes (the stored facts are then read
for whole warehouses at once): the store ends as recording the tables one by one leaves it."""

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from tests.store.test_store import NOW, store  # noqa: F401  (the sqlite/postgres fixture)
from tidegauge.core.model import ColumnInfo, TableInfo, TableRef, TypeFamily
from tidegauge.store import schema as s
from tidegauge.store.inventory import TABLES_PER_STATEMENT


def _info(warehouse: str, i: int, rows: int = 10) -> TableInfo:
    return TableInfo(
        TableRef(warehouse, "sch", f"t{i:05d}"),
        columns=(
            ColumnInfo("id", "INTEGER", TypeFamily.INTEGER, ordinal=0),
            ColumnInfo("name", "TEXT", TypeFamily.STRING, ordinal=1),
        ),
        row_count=rows,
    )


def _state(store):  # noqa: F811
    t, col = s.tables, s.columns
    with store.engine.connect() as c:
        tables = {
            (r.warehouse, r.name): (r.id, r.row_count, r.first_seen, r.last_seen, r.dropped_at)
            for r in c.execute(select(t))
        }
        columns = sorted(tuple(r) for r in c.execute(select(col.c.table_id, col.c.name)))
    return tables, columns


def test_many_tables_match_one_by_one(store):  # noqa: F811
    n = TABLES_PER_STATEMENT + 150
    first = [_info("big", i) for i in range(n)] + [_info("other", i) for i in range(3)]
    ids = store.upsert_tables(first, NOW)
    assert len(set(ids)) == len(first)

    # an hour later: some tables changed, one was dropped in between and is back, one lost
    # a column, and one is new
    store.mark_dropped("big", set(ids) - {ids[7]}, NOW + timedelta(minutes=30))
    later = NOW + timedelta(hours=1)
    second = [_info("big", i, rows=99 if i % 100 == 0 else 10) for i in range(n)] + [
        _info("big", n + 1),
    ]
    second[5] = replace(second[5], columns=second[5].columns[:1])
    again = store.upsert_tables(second, later)
    assert again[:n] == ids[:n]  # the same tables keep their ids

    # the same two calls, one table at a time, on a second warehouse name space
    one_by_one = [
        store.upsert_table(replace(i, ref=replace(i.ref, warehouse="x" + i.ref.warehouse)), NOW)
        for i in first
    ]
    store.mark_dropped("xbig", set(one_by_one) - {one_by_one[7]}, NOW + timedelta(minutes=30))
    for i in second:
        store.upsert_table(replace(i, ref=replace(i.ref, warehouse="x" + i.ref.warehouse)), later)

    tables, columns = _state(store)
    by_id = {v[0]: k for k, v in tables.items()}
    for (warehouse, name), (tid, rows, first_seen, last_seen, dropped) in tables.items():
        if warehouse.startswith("x"):
            continue
        twin = tables[("x" + warehouse, name)]
        assert (rows, first_seen, last_seen, dropped) == twin[1:], name
        mine = [c for t, c in columns if t == tid]
        theirs = [c for t, c in columns if t == twin[0]]
        assert mine == theirs, name
    assert tables[("big", "t00100")][1] == 99 and ("big", f"t{n + 1:05d}") in tables
    assert tables[("big", "t00007")][4] is None  # dropped, seen again
    assert [c for t, c in columns if by_id[t] == ("big", "t00005")] == ["id"]
