"""Opening the metadata store and migrating it to the current schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.sql import Insert

from tidegauge.yamlsource import ConfigError

MIGRATIONS = str(Path(__file__).parent / "migrations")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL so a web server can read while a run writes."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"store.url '{url}' is not a database URL") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if parsed.get_backend_name() == "postgresql":

        @event.listens_for(engine, "connect")
        def _utc_session(dbapi_conn: Any, _record: Any) -> None:
            # timestamps come back in UTC already: no per-value time-zone conversion
            with dbapi_conn.cursor() as cur:
                cur.execute("SET TIME ZONE 'UTC'")
            dbapi_conn.commit()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the store to the newest schema revision (idempotent).

    Processes that start at once (two first runs, ``serve`` and a cron run) take turns:
    the first migrates, the others wait for it and then find the schema current. The lock
    is a file lock beside a SQLite store, ``pg_advisory_lock`` on PostgreSQL and
    ``GET_LOCK`` on MySQL/MariaDB.
    """
    head = _script_head()
    if head is not None and _stored_revisions(engine) == {head}:
        return  # current: every command opens the store, and alembic alone took ~0.3 s
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with _migration_lock(engine), engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.M)


def _script_head() -> str | None:
    """The newest migration's revision, read from the scripts' ``revision`` and
    ``down_revision`` lines without importing alembic; None unless exactly one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in Path(MIGRATIONS, "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        for value in _DOWN.findall(source):
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", value))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revisions(engine: Engine) -> set[str]:
    """The revisions the store is at (empty for a new store)."""
    try:
        with engine.connect() as c:
            return {str(r[0]) for r in c.execute(text("SELECT version_num FROM alembic_version"))}
    except DBAPIError:
        return set()


#: an arbitrary constant: the PostgreSQL advisory lock key of tidegauge's migrations
_PG_LOCK_KEY = 0x7469_6465_6761_7567 >> 1
_LOCK_WAIT_SECONDS = 300


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        db = engine.url.database
        if not db or db == ":memory:":
            yield  # private to this process: nothing to race with
            return
        import fcntl

        with open(f"{db}.migrate.lock", "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file is closed
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return
    if backend == "postgresql":
        lock = f"SELECT pg_advisory_lock({_PG_LOCK_KEY})"
        unlock = f"SELECT pg_advisory_unlock({_PG_LOCK_KEY})"
    elif backend in ("mysql", "mariadb"):
        lock = f"SELECT GET_LOCK('tidegauge_migrate', {_LOCK_WAIT_SECONDS})"
        unlock = "SELECT RELEASE_LOCK('tidegauge_migrate')"
    else:
        yield
        return
    # a session-level lock on its own connection, held while another one migrates
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
        holder.exec_driver_sql(lock)
        try:
            yield
        finally:
            holder.exec_driver_sql(unlock)


def upsert(
    engine_name: str,
    table: Any,
    values: list[dict[str, Any]] | None,
    keys: list[str],
    update: list[str] | None,
) -> Insert:
    """INSERT … ON CONFLICT for SQLite and PostgreSQL, ON DUPLICATE KEY UPDATE for
    MySQL/MariaDB (``update=None`` means do nothing).

    With ``values=None`` the statement takes its rows as executemany parameters, which
    compiles once instead of once per row.
    """
    if engine_name in ("mysql", "mariadb"):
        mstmt = mysql.insert(table)
        if values is not None:
            mstmt = mstmt.values(values)
        if update is None:  # a no-op assignment: unlike INSERT IGNORE, other errors still raise
            return mstmt.on_duplicate_key_update({keys[0]: table.c[keys[0]]})
        return mstmt.on_duplicate_key_update({c: mstmt.inserted[c] for c in update})
    dialect = postgresql if engine_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    if values is not None:
        stmt = stmt.values(values)
    if update is None:
        return stmt.on_conflict_do_nothing(index_elements=keys)  # type: ignore[no-any-return]
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=keys, set_={c: stmt.excluded[c] for c in update}
    )


def utc(value: datetime | None) -> datetime | None:
    """Datetimes come back naive from SQLite; everything in the store is UTC."""
    if value is None:
        return None
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
