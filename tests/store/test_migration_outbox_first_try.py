"""Revision 0005_outbox_first_try adds ``outbox.first_try_at`` to a store built at 0004
without it, keeps its queued deliveries (no first try recorded: their budget counts from
``created_at`` as before), and downgrades again. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, insert, inspect, select

from tests.store.test_migration_history_index import alembic, empty_url  # noqa: F401
from tidegauge.store import schema as s
from tidegauge.store.engine import make_engine, migrate

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def schema_at_0004() -> MetaData:
    old = MetaData(naming_convention=s.metadata.naming_convention)
    for table in s.metadata.sorted_tables:
        table.to_metadata(old)
    outbox = old.tables["outbox"]
    outbox._columns.remove(outbox.c.first_try_at)  # the store at 0004 simply lacked it
    return old


def has_first_try(engine: Engine) -> bool:
    return any(c["name"] == "first_try_at" for c in inspect(engine).get_columns("outbox"))


def test_a_0004_store_gains_first_try_at_with_its_deliveries(empty_url):  # noqa: F811
    engine = make_engine(empty_url)
    old = schema_at_0004()
    old.create_all(engine)
    alembic(engine, "stamp", "0004_severity_reason")
    row = {
        "dedup_key": "incident-1:hook:trigger",
        "channel": "hook",
        "action": "trigger",
        "payload": {"title": "t"},
        "status": "pending",
        "attempts": 3,
        "created_at": NOW,
        "next_attempt_at": NOW,
    }
    with engine.begin() as c:
        c.execute(insert(old.tables["outbox"]), [row])
    assert not has_first_try(engine)

    migrate(engine)

    assert has_first_try(engine)
    with engine.connect() as c:
        got = c.execute(select(s.outbox.c.attempts, s.outbox.c.first_try_at)).one()
        assert (got.attempts, got.first_try_at) == (3, None)
        if engine.dialect.name != "mysql":  # MariaDB's reflected types differ from declared
            assert compare_metadata(MigrationContext.configure(c), s.metadata) == []
    migrate(engine)  # a second upgrade is a no-op
    alembic(engine, "downgrade", "0004_severity_reason")
    assert not has_first_try(engine)
    migrate(engine)
    assert has_first_try(engine)
    engine.dispose()


def test_the_head_read_from_the_files_is_alembics_head():
    """``migrate`` skips alembic when the store is at ``head_revision()``: it must be the
    head alembic itself would upgrade to."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tidegauge.store.engine import MIGRATIONS, head_revision

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    assert [head_revision()] == ScriptDirectory.from_config(cfg).get_heads()


def test_a_current_store_opens_without_alembic(tmp_path):
    """Opening a store that is at the head runs one query and never imports alembic (a
    fresh process, so nothing else has imported it)."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'state.db'}"
    code = (
        "import sys\n"
        "from tidegauge.store.store import Store\n"
        f"Store.open({url!r})\n"
        "print('alembic' in sys.modules)\n"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    # a new store is created from the declared schema (tests/store/test_fresh_store.py)
    assert first.stdout.strip() == "False"
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "False"
