"""Store reads and writes over many tables at once: one statement per chunk of tables.

A run over 10,000 tables cannot afford a store round trip per table per step: leases,
history reads, points, snapshots and run rows each cost a transaction, and ten of them
per table dominated a metadata-only run. The collect and detect steps work in chunks;
the functions here serve a whole chunk in one statement each, and
:func:`write_collected` commits everything a chunk collected in one transaction.

Every write stays an upsert or is guarded by a unique constraint, so re-running a chunk
stores nothing twice; a chunk's points and its ``run_tables`` rows commit together, so a
killed run leaves either both or neither.

The chunk's history reads are in :mod:`tidegauge.store.history`, its writes in
:mod:`tidegauge.store.writes`, and the statement sizes and the driver-level
``executemany`` they share in :mod:`tidegauge.store.batches`; this module keeps the leases
and run bookkeeping of a chunk and names them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.sql import Insert

from tidegauge.store import schema as s
from tidegauge.store.batches import (
    IDS_PER_STATEMENT,
    WRITE_BATCH,
    as_tuples,
    chunked,
    executemany_raw,
    id_lists,
)
from tidegauge.store.engine import upsert, utc
from tidegauge.store.history import (
    EXACT_ROUND_TRIP,
    PointFilter,
    Snapshot,
    categorical_columns,
    last_buckets,
    latest_snapshots,
    points_as_stored,
    round_trips,
    stream_points,
    tables_with_points,
)
from tidegauge.store.store import Store
from tidegauge.store.writes import (
    LEDGER_COLUMNS,
    POINT_COLUMNS,
    POINT_KEY,
    RUN_TABLE_COLUMNS,
    Replaced,
    TableWrite,
    point_rows,
    write_collected,
)

__all__ = [
    "EXACT_ROUND_TRIP",
    "IDS_PER_STATEMENT",
    "LEDGER_COLUMNS",
    "POINT_COLUMNS",
    "POINT_KEY",
    "RUN_TABLE_COLUMNS",
    "WRITE_BATCH",
    "PointFilter",
    "Replaced",
    "Snapshot",
    "TableWrite",
    "acquire_leases",
    "categorical_columns",
    "chunked",
    "executemany_raw",
    "last_buckets",
    "latest_snapshots",
    "point_rows",
    "points_as_stored",
    "previous_runs_as_of",
    "release_leases",
    "round_trips",
    "stream_points",
    "tables_collected",
    "tables_with_points",
    "write_collected",
]


# --- leases ----------------------------------------------------------------------------


def acquire_leases(
    store: Store, names: Iterable[str], holder: str, ttl: timedelta, now: datetime
) -> set[str]:
    """Take (or renew) every free lease among ``names`` in one transaction; the ones held.

    A lease is free when nobody holds it, ``holder`` already does, or it has expired.
    Names are locked and inserted in sorted order, so two processes asking for
    overlapping sets on PostgreSQL never wait on each other in a cycle.
    """
    wanted = sorted(set(names))
    if not wanted:
        return set()
    expires = now + ttl
    t = s.leases
    held: set[str] = set()
    with store.engine.begin() as c:
        for part in chunked(wanted, IDS_PER_STATEMENT):
            if store.dialect == "postgresql":
                # lock the existing rows in name order before changing any of them
                c.execute(
                    select(t.c.name).where(t.c.name.in_(part)).order_by(t.c.name).with_for_update()
                )
            # on SQLite the first write takes the database lock: the UPDATE comes first
            c.execute(
                update(t)
                .where(t.c.name.in_(part), or_(t.c.holder == holder, t.c.expires_at < now))
                .values(holder=holder, expires_at=expires)
            )
            executemany_raw(
                c,
                _lease_insert(store.dialect),
                t,
                ("name", "holder", "expires_at"),
                [(n, holder, expires) for n in part],
            )
            held.update(
                r[0]
                for r in c.execute(select(t.c.name).where(t.c.name.in_(part), t.c.holder == holder))
            )
    return held


@cache
def _lease_insert(dialect: str) -> Insert:
    """Insert a lease unless its name is taken, built once per dialect so that its compiled
    form is reused (:func:`~tidegauge.store.batches.executemany_raw`)."""
    return upsert(dialect, s.leases, None, ["name"], None)


def release_leases(store: Store, names: Iterable[str], holder: str) -> None:
    """Give back the leases among ``names`` that ``holder`` holds (one transaction)."""
    wanted = sorted(set(names))
    if not wanted:
        return
    with store.engine.begin() as c:
        for part in chunked(wanted, IDS_PER_STATEMENT):
            c.execute(
                delete(s.leases).where(s.leases.c.name.in_(part), s.leases.c.holder == holder)
            )


# --- runs ------------------------------------------------------------------------------


def tables_collected(
    store: Store, table_ids: Iterable[int], as_of: datetime, *, other_than: int
) -> set[int]:
    """Tables another run as of the same moment already collected (``ok``).

    A failed run does not count: a run killed after committing some tables never detected
    anything on them, so the run that completes it collects them again (the writes are
    idempotent: the store ends as one uninterrupted run leaves it) and detects on all.
    """
    rt, runs = s.run_tables, s.runs
    out: set[int] = set()
    with store.engine.connect() as c:
        for part in id_lists(table_ids):
            out.update(
                r[0]
                for r in c.execute(
                    select(rt.c.table_id)
                    .distinct()
                    .select_from(rt.join(runs, runs.c.id == rt.c.run_id))
                    .where(
                        rt.c.table_id.in_(part),
                        rt.c.status == "ok",
                        runs.c.as_of == as_of,
                        runs.c.id != other_than,
                        runs.c.status != "failed",
                    )
                )
            )
    return out


def previous_runs_as_of(
    store: Store, table_ids: Iterable[int], now: datetime
) -> dict[int, datetime]:
    """Per table, ``as_of`` of the latest earlier run that collected it (absent: none)."""
    rt, runs = s.run_tables, s.runs
    out: dict[int, datetime] = {}
    with store.engine.connect() as c:
        for part in id_lists(table_ids):
            rows = c.execute(
                select(rt.c.table_id, func.max(runs.c.as_of))
                .select_from(runs.join(rt, rt.c.run_id == runs.c.id))
                .where(
                    rt.c.table_id.in_(part),
                    runs.c.as_of < now,
                    runs.c.status.in_(["success", "partial"]),
                )
                .group_by(rt.c.table_id)
            )
            for tid, when in as_tuples(rows):
                if when is not None:
                    out[int(tid)] = utc(when)  # type: ignore[assignment]
    return out
