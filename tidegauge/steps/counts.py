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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from tidegauge.config import TableSettings
from tidegauge.core.model import TableInfo, TableKind, TableRef
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
        query = count_statement(wh, [info.ref for info in part])
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


#: the name a template's tables carry until each statement's names are rendered into it
_MARK = "tidegauge_count_template_mark"


class Rendered(exp.Expression):
    """A statement sqlglot has already rendered for one dialect; :meth:`sql` hands it back
    (and refuses any other dialect)."""

    def __init__(self, text: str, dialect: str) -> None:
        super().__init__()
        self.text_ = text
        self.dialect = dialect

    def sql(self, dialect: Any = None, copy: bool = True, **opts: Any) -> str:
        if dialect != self.dialect or opts:
            raise ValueError(f"rendered for {self.dialect}, asked for {dialect} {opts}")
        return self.text_


@lru_cache(maxsize=64)
def _template(dialect: str, n: int, catalogs: bool) -> tuple[str, ...] | None:
    """:func:`count_query` of ``n`` tables rendered once, cut where its identifiers go: the
    statements of a run differ only in their table names. None if the cut does not come out
    as one piece more than there are identifiers (then each statement is rendered whole)."""
    mark = exp.Identifier(this=_MARK, quoted=True)
    tables = [
        exp.Table(this=mark.copy(), db=mark.copy(), catalog=mark.copy() if catalogs else None)
        for _ in range(n)
    ]
    rendered_mark = Dialect.get_or_raise(dialect).generator().sql(mark)
    parts = tuple(count_query(tables).sql(dialect=dialect).split(rendered_mark))
    return parts if len(parts) == n * (3 if catalogs else 2) + 1 else None


def count_statement(wh: Warehouse, refs: Sequence[TableRef]) -> exp.Expression:
    """:func:`count_query` of ``refs`` in ``wh``'s dialect, every piece of it rendered by
    sqlglot: the statement's template once per run and table count, and each identifier
    into its place (rendering the whole tree per statement cost ~50 µs a table)."""
    dialect = wh.DIALECT
    catalogs = {ref.database is not None for ref in refs}
    template = (
        _template(dialect, len(refs), catalogs == {True})
        # one kind of reference, and the tables are the ones Warehouse.table_expression makes
        if len(catalogs) == 1
        and getattr(wh.table_expression, "__func__", None) is Warehouse.table_expression
        else None
    )
    if template is None:
        return count_query([wh.table_expression(ref) for ref in refs])
    gen = Dialect.get_or_raise(dialect).generator()
    names: dict[str, str] = {}  # schemas and catalogs repeat

    def ident(name: str) -> str:
        text = names.get(name)
        if text is None:
            text = names[name] = gen.sql(exp.Identifier(this=name, quoted=True))
        return text

    pieces = [template[0]]
    it = iter(template[1:])
    for ref in refs:
        if ref.database is not None:
            pieces += (ident(ref.database), next(it))
        pieces += (
            ident(ref.schema),
            next(it),
            gen.sql(exp.Identifier(this=ref.name, quoted=True)),
            next(it),
        )
    return Rendered("".join(pieces), dialect)


class CountAhead:
    """Counts the next chunk's small tables on a second connection while the collector works
    through the current chunk: the server's counting (~1 s at 10,000 tables, most of it
    opening each table for the first time in the session) then overlaps the collector's own
    work instead of adding to it.

    ``chunks`` are the collector's chunks in order; ``small`` says which tables are counted
    together at all (:func:`countable`) and ``due_anyway`` which of those to count before
    their chunk comes (due whatever the store says); ``open_second`` opens another adapter
    on the same warehouse, on the counting thread when the first chunk is counted.
    :meth:`counts` gives a chunk's counts: what was counted ahead, and the rest counted on
    ``wh`` (all of it if the second connection could not be had). A table whose statement
    failed ahead is left to the collector, as in :func:`count_rows`. The thread only runs
    statements; it never touches the store.
    """

    def __init__(
        self,
        wh: Warehouse,
        chunks: Sequence[Sequence[TableInfo]],
        small: Callable[[TableInfo], bool],
        due_anyway: Callable[[TableInfo], bool],
        open_second: Callable[[], Warehouse],
    ) -> None:
        self._wh, self._chunks, self._open = wh, chunks, open_second
        self._small, self._due_anyway = small, due_anyway
        self._second: Warehouse | None = None
        self._failed = False  # the second connection could not be had: count no more ahead
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tidegauge-count")
        self._futures: dict[int, Future[dict[str, Counted]]] = {}
        self._countable: dict[int, set[str]] = {}  # keys of each chunk's small tables
        self._sent: dict[int, set[str]] = {}  # and of those counted ahead

    def _submit(self, i: int) -> None:
        if i >= len(self._chunks) or i in self._sent:
            return
        small = [info for info in self._chunks[i] if self._small(info)]
        ahead = [info for info in small if self._due_anyway(info)]
        self._countable[i] = {info.ref.key for info in small}
        self._sent[i] = {info.ref.key for info in ahead}
        if ahead and not self._failed:
            self._futures[i] = self._pool.submit(self._count, ahead)
        else:
            self._sent[i] = set()

    def _count(self, infos: list[TableInfo]) -> dict[str, Counted]:  # on the thread
        if self._second is None:
            if self._failed:  # a chunk submitted before the first try failed
                raise WarehouseError("no second connection")
            try:
                self._second = self._open()
            except Exception:
                self._failed = True
                raise
        return count_rows(self._second, infos)

    def counts(self, i: int, infos: Sequence[TableInfo]) -> dict[str, Counted]:
        """Counts of chunk ``i``'s small tables among ``infos`` (its tables due and not
        collected elsewhere), by ``TableRef.key``."""
        self._submit(i)
        self._submit(i + 1)  # runs while chunk i is collected
        future, sent, small = self._futures.pop(i, None), self._sent[i], self._countable[i]
        got: dict[str, Counted] = {}
        if future is not None:
            try:
                got = future.result()
            except Exception as e:  # the second connection: count on the first instead
                log.info("counting ahead failed (%s); counting with the collector", e)
                sent = set()
        out = {info.ref.key: got[info.ref.key] for info in infos if info.ref.key in got}
        rest = [info for info in infos if info.ref.key in small and info.ref.key not in sent]
        return out | count_rows(self._wh, rest) if rest else out

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._pool.shutdown(wait=True)
        if self._second is not None:
            self._second.close()

    def __enter__(self) -> CountAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class KnownCount:
    """The warehouse as the collector sees it for a table already counted: the count is
    known like a catalog count, so the collector queries nothing for it."""

    METADATA_ROW_COUNT = True

    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wh, name)
