"""Opening the metadata store and migrating it to the current schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
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
    """Bring the store to the newest schema revision (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


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
