"""The store's generation: a cheap value that changes whenever anyone commits a write.

The API's response cache (:mod:`tidegauge.web.cache`) keys its entries on it, so a response
is never served after a write that could change it, whichever process wrote: this server, a
second worker, the scheduler or a ``tidegauge run`` on the command line.

* SQLite: ``PRAGMA data_version`` on a connection of our own that never writes. SQLite
  changes it whenever another connection (any process) commits to the database file; reading
  it costs microseconds and touches no table.
* PostgreSQL: the current transaction snapshot (``pg_current_snapshot()``). Its ``xmax``
  moves when any transaction is given an id (that is, writes) and its list of running ids
  shrinks when one commits, so two equal snapshots mean nothing was committed in between.
  It is cluster-wide, so writes to other databases only cost a cache miss, never staleness.
* Anything else, or an in-memory SQLite store (no second connection can see it): ``None``,
  which turns caching off.

Order matters to callers: read the generation *before* reading the data it keys, so what is
cached under a generation is at least as new as it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Hashable
from typing import Protocol

from sqlalchemy import Engine, text

log = logging.getLogger("tidegauge.web")


class Generation(Protocol):
    blocking: bool  # True when reading it waits on the network (run it off the event loop)

    def read(self) -> Hashable | None: ...

    def close(self) -> None: ...


class SqliteGeneration:
    """``PRAGMA data_version`` of a private read-only connection to the same file."""

    blocking = False

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30
        )

    def read(self) -> Hashable | None:
        with self._lock:
            if self._conn is None:
                return None
            try:
                row = self._conn.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error as e:  # the file went away or is locked: do not cache
                log.warning("store generation unavailable: %s", e)
                return None
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class PostgresGeneration:
    """The text of ``pg_current_snapshot()``, read on a pooled connection."""

    blocking = True

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def read(self) -> Hashable | None:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._engine.connect() as c:
                return str(c.execute(text("SELECT pg_current_snapshot()::text")).scalar_one())
        except SQLAlchemyError as e:  # the store is down: the request itself will say so
            log.warning("store generation unavailable: %s", type(e).__name__)
            return None

    def close(self) -> None:
        pass


def for_engine(engine: Engine) -> Generation | None:
    """The generation source for a store's engine, or ``None`` when caching cannot be exact."""
    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        db = url.database
        if not db or db == ":memory:" or db.startswith("file:") or url.query.get("mode"):
            return None
        return SqliteGeneration(db)
    if backend == "postgresql":
        gen = PostgresGeneration(engine)
        return gen if gen.read() is not None else None
    return None
