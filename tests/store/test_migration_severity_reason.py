"""Revision 0004_severity_reason adds ``incidents.severity_reason`` to a store built at 0003
without it, keeps its incidents (their reason empty until they are next assessed), and
downgrades again. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, insert, inspect, select

from tests.store.test_migration_history_index import alembic, empty_url  # noqa: F401
from tidegauge.store import schema as s
from tidegauge.store.engine import make_engine, migrate

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def schema_at_0003() -> MetaData:
    old = MetaData(naming_convention=s.metadata.naming_convention)
    for table in s.metadata.sorted_tables:
        table.to_metadata(old)
    incidents = old.tables["incidents"]
    # Table has no public way to drop a column; the store at 0003 simply lacked it
    incidents._columns.remove(incidents.c.severity_reason)
    return old


def has_reason(engine: Engine) -> bool:
    return any(c["name"] == "severity_reason" for c in inspect(engine).get_columns("incidents"))


def test_a_0003_store_gains_the_severity_reason_with_its_incidents(empty_url):  # noqa: F811
    engine = make_engine(empty_url)
    schema_at_0003().create_all(engine)
    alembic(engine, "stamp", "0003")
    table = {"id": 1, "warehouse": "main", "database": "", "schema": "shop", "name": "orders"}
    incident = {
        "id": 1,
        "status": "open",
        "severity": "high",
        "kind": "volume",
        "table_id": 1,
        "title": "volume drop",
        "data_time": NOW,
        "detected_at": NOW,
        "updated_at": NOW,
        "impact": {},
        "root_cause": [],
    }
    with engine.begin() as c:
        c.execute(insert(s.tables), [{**table, "first_seen": NOW, "last_seen": NOW, "tags": []}])
        old_incidents = schema_at_0003().tables["incidents"]
        c.execute(insert(old_incidents), [incident])
    assert not has_reason(engine)

    migrate(engine)

    assert has_reason(engine)
    with engine.connect() as c:
        row = c.execute(select(s.incidents.c.title, s.incidents.c.severity_reason)).one()
        assert (row.title, row.severity_reason) == ("volume drop", None)
        if engine.dialect.name != "mysql":  # MariaDB's reflected types differ from declared
            assert compare_metadata(MigrationContext.configure(c), s.metadata) == []
    migrate(engine)  # a second upgrade is a no-op
    alembic(engine, "downgrade", "0003")
    assert not has_reason(engine)
    migrate(engine)
    assert has_reason(engine)
    engine.dispose()
