"""How many rows and ids go into one statement, and running a statement over many rows
through the driver's own ``executemany``.

Reads over a chunk of tables bind at most :data:`IDS_PER_STATEMENT` ids per ``IN (…)``;
writes hand the driver :data:`WRITE_BATCH` rows at a time. :func:`executemany_raw` compiles a
statement once per dialect (a small cache keyed by the statement) and converts only the
values whose type needs it, which is what makes a chunk's commit cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Table
from sqlalchemy.sql import Insert

#: ids bound in one ``IN (…)``: well under SQLite's 32,766 variables and PostgreSQL's 65,535
IDS_PER_STATEMENT = 500
#: rows handed to the driver per ``executemany`` (bounds the driver's own buffers)
WRITE_BATCH = 20_000

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size``."""
    for i in range(0, len(items), max(1, size)):
        yield list(items[i : i + size])


def as_tuples(rows: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """Result rows as plain tuples (typed loosely: the store's columns are generic)."""
    for r in rows:
        yield tuple(r)


def id_lists(ids: Iterable[int]) -> Iterator[list[int]]:
    """The distinct ``ids`` in order, in lists of at most :data:`IDS_PER_STATEMENT`."""
    yield from chunked(sorted(set(ids)), IDS_PER_STATEMENT)


#: compiled statements by the statement object's identity (the statement is kept, so its id
#: stays its own); bounded, since callers that build a statement per call only churn it
_PREPARED: dict[tuple[Any, ...], tuple[Any, Any, list[Any]]] = {}
_PREPARED_MAX = 64


def _prepared(
    stmt: Any, dialect: Any, table: Table, columns: tuple[str, ...]
) -> tuple[Any, list[tuple[int, Any, bool]]]:
    """``stmt`` compiled for ``dialect`` and the bind processors its columns need, once per
    statement: compiling an upsert costs about a millisecond, which per-table commits of many
    small tables would pay three times each."""
    # the server's version is in the key: MySQL and MariaDB spell an upsert differently
    key = (
        id(stmt),
        dialect.name,
        dialect.driver,
        dialect.paramstyle,
        getattr(dialect, "server_version_info", None),
        columns,
    )
    hit = _PREPARED.get(key)
    if hit is not None and hit[0] is stmt:
        return hit[1], hit[2]
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
    procs = [
        (i, proc, isinstance(table.c[name].type, DateTime))
        for i, name in enumerate(columns)
        if (proc := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.clear()
    _PREPARED[key] = (stmt, compiled, procs)
    return compiled, procs


def executemany_raw(
    c: Connection, stmt: Insert, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Run ``stmt`` once per row of ``rows`` (tuples in ``columns`` order) through the driver's
    own ``executemany``.

    SQLAlchemy's executemany turns every row into a dict and processes every value on its
    way to the driver: for the 200,000 points of a first run over a wide table that took
    longer than the warehouse scan. Here the statement is compiled once, only the values
    whose type needs it (timestamps on SQLite) are converted, and the driver batches the rest
    (psycopg pipelines, sqlite3 loops in C). The SQL is the one SQLAlchemy would send.
    """
    dialect = c.dialect
    compiled, procs = _prepared(stmt, dialect, table, tuple(columns))
    if procs:
        # a chunk's rows share a few hundred bucket starts and one collection time: each
        # distinct timestamp is converted once
        memo: dict[Any, Any] = {}
        converted = []
        for row in rows:
            values = list(row)
            for i, proc, repeats in procs:
                if repeats:
                    done = memo.get(values[i], memo)
                    if done is memo:
                        done = memo[values[i]] = proc(values[i])
                    values[i] = done
                else:
                    values[i] = proc(values[i])
            converted.append(tuple(values))
        rows = converted
    params: Any
    if compiled.positiontup is not None:  # qmark / format: values in the statement's order
        order = [columns.index(name) for name in compiled.positiontup]
        params = (
            rows
            if order == list(range(len(columns)))
            else [tuple(row[i] for i in order) for row in rows]
        )
    else:  # named / pyformat
        params = [dict(zip(columns, row, strict=True)) for row in rows]
    for part in chunked(params, WRITE_BATCH):
        c.exec_driver_sql(str(compiled), part)
