"""Key integrity: which keys repeat, and which keys have no parent.

Duplicates themselves are counted in the one-scan profile (``COUNT(*) - COUNT(DISTINCT
key)`` per bucket, see :mod:`~tidegauge.core.metrics.profile`). Only when that count alerts
does the detect step ask, with the query built here, *which* keys repeat: how many keys
appear more than once in the bucket, how many extra rows they make, and a few examples,
the most repeated first. A declared relationship (a dbt ``relationships`` test, a
``rule: relationships`` monitor, ``tables: references:``) gets its orphan rate per bucket
from :func:`build_orphan_query`.

>>> from tidegauge.core.model import ColumnInfo, TypeFamily
>>> key = ColumnInfo("order_id", "BIGINT", TypeFamily.INTEGER)
>>> q = build_duplicate_examples_query(exp.to_table("raw.orders"), key, Capabilities("x"))
>>> print(q.sql())  # doctest: +NORMALIZE_WHITESPACE
SELECT d.key_value, d.n, COUNT(*) OVER () AS duplicated_keys,
SUM(d.n - 1) OVER () AS extra_rows FROM (SELECT "order_id" AS key_value, COUNT(*) AS n
FROM raw.orders WHERE NOT "order_id" IS NULL GROUP BY "order_id" HAVING COUNT(*) > 1) AS d
ORDER BY d.n DESC, d.key_value LIMIT 5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlglot import exp

from tidegauge.core.metrics.capabilities import Capabilities
from tidegauge.core.metrics.expressions import _col
from tidegauge.core.metrics.timeframe import (
    BucketSpec,
    Window,
    _bucket_expr,
    _window_filter,
    to_utc,
)
from tidegauge.core.model import ColumnInfo

__all__ = [
    "DuplicateKeys",
    "build_duplicate_examples_query",
    "build_orphan_query",
    "read_duplicate_examples",
    "read_orphans",
]

#: examples shown in an alert: enough to find the load that repeated them, few enough to read
EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class DuplicateKeys:
    """Which keys repeat in one bucket: ``keys`` distinct keys seen more than once, making
    ``extra_rows`` rows beyond the first of each; ``examples`` as ``(key, times seen)``."""

    keys: int
    extra_rows: int
    examples: tuple[tuple[str, int], ...]

    def sentence(self, column: str) -> str:
        """``"37 order_id values appear more than once (40 extra rows), e.g. 1017 ×3"``."""
        if self.keys == 0:
            return f"no {column} value appears more than once any more"
        shown = ", ".join(f"{k} ×{n}" for k, n in self.examples)
        return (
            f"{self.keys} {column} value{'s' if self.keys != 1 else ''} appear"
            f"{'' if self.keys != 1 else 's'} more than once ({self.extra_rows} extra "
            f"row{'s' if self.extra_rows != 1 else ''})" + (f", e.g. {shown}" if shown else "")
        )


def build_duplicate_examples_query(
    table: exp.Table,
    key: ColumnInfo,
    caps: Capabilities,
    *,
    bucket: BucketSpec | None = None,
    window: Window | None = None,
    limit: int = EXAMPLES,
) -> exp.Select:
    """The repeated values of ``key`` within ``window`` of ``bucket``'s column (the whole
    table without a bucket), with their totals in the same rows. NULL is not a key."""
    k = _col(key.name)
    inner = (
        exp.select(exp.alias_(k.copy(), "key_value"), exp.alias_(exp.Count(this=exp.Star()), "n"))
        .from_(table.copy())
        .where(exp.Not(this=exp.Is(this=k.copy(), expression=exp.Null())))
        .group_by(k.copy())
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
    )
    where = _window_filter(bucket.effective() if bucket else None, window, caps)
    if where is not None:
        inner = inner.where(where)
    n = exp.column("n", "d")
    return (
        exp.select(
            exp.column("key_value", "d"),
            n.copy(),
            exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), "duplicated_keys"),
            exp.alias_(
                exp.Window(
                    this=exp.Sum(this=exp.Sub(this=n.copy(), expression=exp.Literal.number(1)))
                ),
                "extra_rows",
            ),
        )
        .from_(inner.subquery("d"))
        .order_by(exp.Ordered(this=n.copy(), desc=True), exp.column("key_value", "d"))
        .limit(limit)
    )


def read_duplicate_examples(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> DuplicateKeys:
    """The query's rows as :class:`DuplicateKeys` (no rows: nothing repeats)."""
    if not rows:
        return DuplicateKeys(0, 0, ())
    index = {n.lower(): i for i, n in enumerate(names)}
    first = rows[0]
    return DuplicateKeys(
        int(first[index["duplicated_keys"]]),
        int(first[index["extra_rows"]]),
        tuple((str(r[index["key_value"]]), int(r[index["n"]])) for r in rows),
    )


def build_orphan_query(
    table: exp.Table,
    column: ColumnInfo,
    parent: exp.Table,
    parent_column: str,
    caps: Capabilities,
    *,
    bucket: BucketSpec | None = None,
    window: Window | None = None,
) -> exp.Select:
    """Per bucket, the non-null keys of ``column`` and how many have no row in ``parent``:
    ``COUNT(c.key) - COUNT(p.k)`` over a join with the parent's distinct keys (a join, not
    a correlated subquery: every engine plans it well, and only ``k`` comes from the parent,
    so the child's bucket column cannot be ambiguous).

    >>> from tidegauge.core.model import ColumnInfo, TypeFamily
    >>> q = build_orphan_query(exp.to_table("raw.orders"), ColumnInfo("customer_id", "INT",
    ...     TypeFamily.INTEGER), exp.to_table("raw.customers"), "id", Capabilities("x"))
    >>> print(q.sql())  # doctest: +NORMALIZE_WHITESPACE
    SELECT COUNT(*) AS row_count, COUNT("customer_id") AS keys,
    COUNT("customer_id") - COUNT(p.k) AS orphans FROM raw.orders
    LEFT JOIN (SELECT DISTINCT "id" AS k FROM raw.customers) AS p ON "customer_id" = p.k
    """
    key = _col(column.name)
    parents = (
        exp.select(exp.alias_(_col(parent_column), "k")).distinct().from_(parent.copy())
    ).subquery("p")
    k = exp.column("k", "p")
    spec = bucket.effective() if bucket else None
    head: list[exp.Expr] = []
    if spec is not None:
        b = _bucket_expr(spec, caps, window)
        head.append(exp.alias_(b, "bucket"))
    q = exp.select(
        *head,
        exp.alias_(exp.Count(this=exp.Star()), "row_count"),
        exp.alias_(exp.Count(this=key.copy()), "keys"),
        exp.alias_(
            exp.Sub(this=exp.Count(this=key.copy()), expression=exp.Count(this=k)), "orphans"
        ),
    ).from_(table.copy())
    q = q.join(parents, on=exp.EQ(this=key.copy(), expression=k.copy()), join_type="LEFT")
    where = _window_filter(spec, window, caps)
    if where is not None:
        q = q.where(where)
    if spec is not None:
        q = q.group_by(_bucket_expr(spec, caps, window))
    return q


def read_orphans(
    names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[tuple[datetime | None, int, int]]:
    """``(bucket, non-null keys, orphans)`` per row of :func:`build_orphan_query`."""
    index = {n.lower(): i for i, n in enumerate(names)}
    out = []
    for r in rows:
        at = to_utc(r[index["bucket"]]) if "bucket" in index else None
        out.append((at, int(r[index["keys"]] or 0), int(r[index["orphans"]] or 0)))
    return out
