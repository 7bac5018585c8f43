"""Revision 0003 adds the read indexes (live tables by name, incidents by table, a table's
runs) to a store built at 0002 without them, keeps its rows, and downgrades again. On SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, insert, inspect, select

from tests.store.test_migration_history_index import alembic, empty_url  # noqa: F401
from tidegauge.store import schema as s
from tidegauge.store.engine import make_engine, migrate

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
READ_INDEXES = {
    "ix_tables_live_order": ("tables", ("dropped_at", "warehouse", "schema", "name")),
    "ix_incidents_table_status": ("incidents", ("table_id", "status")),
    "ix_run_tables_table": ("run_tables", ("table_id", "run_id")),
}


def schema_at_0002() -> MetaData:
    old = MetaData(naming_convention=s.metadata.naming_convention)
    for each in s.metadata.sorted_tables:
        each.to_metadata(old)
    for name, (table, _) in READ_INDEXES.items():
        t = old.tables[table]
        for ix in list(t.indexes):
            if ix.name == name:
                t.indexes.discard(ix)
    return old


def indexes(engine: Engine) -> dict[str, tuple[str | None, ...]]:
    insp = inspect(engine)
    return {
        i["name"]: tuple(i["column_names"])
        for table in ("tables", "incidents", "run_tables")
        for i in insp.get_indexes(table)
        if i["name"]
    }


def test_a_0002_store_gains_the_read_indexes_with_its_rows(empty_url):  # noqa: F811
    engine = make_engine(empty_url)
    schema_at_0002().create_all(engine)
    alembic(engine, "stamp", "0002")
    with engine.begin() as c:
        c.execute(
            insert(s.tables),
            [
                {
                    "id": i,
                    "warehouse": "main",
                    "database": "",
                    "schema": "shop",
                    "name": f"t{i}",
                    "first_seen": NOW,
                    "last_seen": NOW,
                    "tags": [],
                }
                for i in (1, 2, 3)
            ],
        )
        c.execute(insert(s.runs), [{"id": 1, "started_at": NOW, "as_of": NOW, "status": "ok"}])
        c.execute(
            insert(s.run_tables),
            [{"run_id": 1, "table_id": i, "status": "ok", "points": 3} for i in (1, 2, 3)],
        )
    assert not set(READ_INDEXES) & set(indexes(engine))

    migrate(engine)

    got = indexes(engine)
    for name, (_, cols) in READ_INDEXES.items():
        assert got[name] == cols, name
    with engine.connect() as c:
        assert c.execute(select(s.run_tables.c.table_id)).scalars().all() == [1, 2, 3]
        if engine.dialect.name != "mysql":  # MariaDB's reflected types differ from declared
            assert compare_metadata(MigrationContext.configure(c), s.metadata) == []
    migrate(engine)  # a second upgrade is a no-op
    alembic(engine, "downgrade", "0002")
    assert not set(READ_INDEXES) & set(indexes(engine))
    migrate(engine)
    assert set(READ_INDEXES) <= set(indexes(engine))
    engine.dispose()
