"""Row counts of many small tables in one query, for engines whose catalog has no exact count.

On PostgreSQL and MySQL the metadata-only path needs one ``SELECT COUNT(*)`` per table
without a timestamp column: at 10,000 tables the round trips, not the counting, cost the
time. A chunk's small tables are counted together, ``SELECT (SELECT COUNT(*) FROM a) AS
c0, (SELECT COUNT(*) FROM b) AS c1, …``, and the collector then takes each count as known.

Only tables whose count the collector would run as a query of its own are batched (no
freshness column to read a ``MAX`` of along), and only small ones: a big table's count is a
scan whose time dwarfs a round trip, and one slow table must not hold up a hundred others.
If the statement fails (a table dropped since discovery, a permission revoked), nothing is
taken from it: each table then runs its own query in the collector, which records its own
error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from tidegauge.config import TableSettings
from tidegauge.core.model import TableInfo, TableKind
from tidegauge.core.timestamps import choose_timestamps
from tidegauge.warehouses.base import Warehouse, WarehouseError

log = logging.getLogger("tidegauge.collect")

#: tables up to this size (catalog bytes, indexes included) are counted together
SMALL_TABLE_BYTES = 16 * 1024 * 1024
#: tables per counting statement
PER_QUERY = 100


@dataclass(frozen=True)
class Counted:
    """A table's row count from a shared statement, with its share of the statement."""

    rows: int
    seconds: float
    sql: str | None  # the statement, on the first table it counted (the ledger keeps it once)


def countable(wh: Warehouse, info: TableInfo, settings: TableSettings) -> bool:
    """Whether the collector would count ``info``'s rows in a query of their own (no catalog
    count, no freshness column to read along), and the table is small."""
    if wh.METADATA_ROW_COUNT or info.kind is not TableKind.TABLE:
        return False
    if info.bytes is None or info.bytes > SMALL_TABLE_BYTES:
        return False
    if wh.METADATA_FRESHNESS and info.last_modified is not None:
        return True
    return choose_timestamps(list(info.columns), settings.timestamp_column).freshness is None


def count_rows(wh: Warehouse, infos: Sequence[TableInfo]) -> dict[str, Counted]:
    """Row counts by ``TableRef.key``, :data:`PER_QUERY` tables per statement; a statement
    that fails counts none of its tables (they are counted one by one later)."""
    out: dict[str, Counted] = {}
    for lo in range(0, len(infos), PER_QUERY):
        part = infos[lo : lo + PER_QUERY]
        query = count_query([wh.table_expression(info.ref) for info in part])
        try:
            # built for this statement alone: rendered in place, not deep-copied first
            res = wh.execute(query, comment=f"freshness {len(part)} tables", copy=False)
        except WarehouseError as e:
            log.info(
                "counting %d tables at once failed (%s); counting them one by one", len(part), e
            )
            continue
        row: Sequence[Any] = res.rows[0] if res.rows else ()
        share = res.seconds / len(part)
        for i, info in enumerate(part):
            if i < len(row) and row[i] is not None:
                out[info.ref.key] = Counted(int(row[i]), share, res.sql if i == 0 else None)
    return out


def count_query(tables: Sequence[exp.Table]) -> exp.Select:
    """``SELECT (SELECT COUNT(*) FROM t0) AS c0, …``: one row, one column per table.

    Nodes are made directly (the builders copy their arguments): a run builds this for
    every small table it has.
    """
    return exp.Select(
        expressions=[
            exp.Alias(
                this=exp.Subquery(
                    this=exp.Select(
                        expressions=[exp.Count(this=exp.Star())], from_=exp.From(this=table)
                    )
                ),
                alias=exp.Identifier(this=f"c{i}", quoted=False),
            )
            for i, table in enumerate(tables)
        ]
    )


class KnownCount:
    """The warehouse as the collector sees it for a table already counted: the count is
    known like a catalog count, so the collector queries nothing for it."""

    METADATA_ROW_COUNT = True

    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wh, name)
