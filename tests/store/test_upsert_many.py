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


def test_rediscovered_columns_follow_every_change_and_keep_their_tags(store):  # noqa: F811
    """Only the columns of changed tables are rewritten, and every stored fact of a column
    (type, family, nullability, position) follows the warehouse; an unchanged column keeps
    the tags a user gave it."""
    from sqlalchemy import update

    def cols(*spec):
        return tuple(ColumnInfo(n, t, f, nullable, i) for i, (n, t, f, nullable) in enumerate(spec))

    base = cols(
        ("id", "INTEGER", TypeFamily.INTEGER, False),
        ("name", "TEXT", TypeFamily.STRING, True),
        ("amount", "INTEGER", TypeFamily.INTEGER, True),
        ("note", "TEXT", TypeFamily.STRING, True),
    )
    infos = [replace(_info("w", i), columns=base) for i in range(TABLES_PER_STATEMENT + 5)]
    ids = store.upsert_tables(infos, NOW)
    with store.engine.begin() as c:
        c.execute(update(s.columns).where(s.columns.c.table_id == ids[1]).values(tags=["pii"]))
    changed = cols(
        ("id", "INTEGER", TypeFamily.INTEGER, True),  # nullability
        ("amount", "DOUBLE", TypeFamily.FLOAT, True),  # type and family, and position
        ("name", "TEXT", TypeFamily.STRING, True),  # position
        ("added", "DATE", TypeFamily.DATE, True),  # new; ``note`` is gone
    )
    later = [replace(info, columns=changed) if i == 0 else info for i, info in enumerate(infos)]
    store.upsert_tables(later, NOW + timedelta(hours=1))
    col = s.columns
    with store.engine.connect() as c:
        rows = c.execute(
            select(col.c.table_id, col.c.name, col.c.data_type, col.c.family, col.c.nullable)
            .add_columns(col.c.ordinal, col.c.tags)
            .where(col.c.table_id.in_([ids[0], ids[1]]))
        ).all()
    stored = {
        (r.table_id, r.name): (r.data_type, r.family, bool(r.nullable), r.ordinal, r.tags)
        for r in rows
    }
    assert {k[1]: v[:4] for k, v in stored.items() if k[0] == ids[0]} == {
        c.name: (c.data_type, c.family.value, c.nullable, c.ordinal) for c in changed
    }
    assert {k[1]: v for k, v in stored.items() if k[0] == ids[1]} == {
        c.name: (c.data_type, c.family.value, c.nullable, c.ordinal, ["pii"]) for c in base
    }
