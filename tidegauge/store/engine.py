"""Opening the metadata store and migrating it to the current schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.sql import Insert

from tidegauge.yamlsource import ConfigError

MIGRATIONS = str(Path(__file__).parent / "migrations")

_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(?:\"([^\"]*)\"|None)", re.M)


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
            # a first run upserts ~170,000 points of a wide table in one transaction: with
            # the default 2 MiB page cache their two indexes' pages are evicted and re-read
            # all along (~20% of the write's CPU on bench/collect.py's table). 8 MiB took
            # that back (0.97 -> 0.80 s); 16 and 32 MiB gained nothing more and added to
            # the run's peak memory (the cache grows to its size while a transaction uses it)
            cur.execute("PRAGMA cache_size=-8192")
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


@cache
def head_revision() -> str | None:
    """The newest migration's revision id, read from the revision files themselves.

    Importing alembic and walking its script directory costs a command a large part of its
    start-up; the files say ``revision = "…"`` and ``down_revision = "…"`` on lines of their
    own, and the head is the one revision no other names as its parent
    (tests/store/test_migration_outbox_first_try.py checks it against alembic). None when
    the files do not name exactly one head: alembic then decides, and says what is wrong.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for f in (Path(MIGRATIONS) / "versions").glob("*.py"):
        for key, value in _REVISION.findall(f.read_text(encoding="utf-8")):
            if value:
                (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def is_current(engine: Engine) -> bool:
    """Whether the store is at :func:`head_revision` already: one small query, no alembic."""
    try:
        with engine.connect() as c:
            found: list[object] = list(
                c.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
    except DBAPIError:  # no such table yet: a new store
        return False
    head = head_revision()
    return head is not None and [str(v) for v in found] == [head]


def migrate(engine: Engine, *, replay: bool = False) -> None:
    """Bring the store to the newest schema revision (idempotent).

    A store at the head already is left alone after one query (:func:`is_current`), without
    loading alembic: every command opens the store, and most find it current. A new store
    (none of tidegauge's tables exist yet) is created from the declared schema in one go
    and stamped at the head, instead of replaying every migration: the first run of a
    new project pays for one ``CREATE`` per table, not for alembic and five revisions.
    ``replay=True`` replays the migrations even then (the tests compare both ways).

    Processes that start at once (two first runs, ``serve`` and a cron run) take turns:
    the first migrates, the others wait for it and then find the schema current. The lock
    is a file lock beside a SQLite store, ``pg_advisory_lock`` on PostgreSQL and
    ``GET_LOCK`` on MySQL/MariaDB.
    """
    if is_current(engine):
        return
    head = head_revision()
    with _migration_lock(engine):
        if not replay and head is not None and _create_if_new(engine, head):
            return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", MIGRATIONS)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


def _create_if_new(engine: Engine, head: str) -> bool:
    """Create the declared schema stamped at ``head`` when none of its tables exist yet
    (checked under the migration lock); False when there is something to migrate."""
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect

    from tidegauge.store.schema import metadata

    with engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        if existing & ({"alembic_version"} | set(metadata.tables)):
            return False
        metadata.create_all(conn)
        # the table alembic keeps its revision in, as alembic itself creates it
        version = Table(
            "alembic_version",
            MetaData(),
            Column("version_num", String(32), nullable=False),
            PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
        )
        version.create(conn)
        conn.execute(version.insert().values(version_num=head))
    return True


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
    # dialects load on first use: a read-only command never pays for them
    from sqlalchemy.dialects import mysql, postgresql, sqlite

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
