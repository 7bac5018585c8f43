"""Categorical values: per-bucket counts of the top-k values of low-cardinality columns, in
one more query; the rest of the values are folded into ``__other__``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlglot import exp

from tidegauge.core.metrics.capabilities import Capabilities
from tidegauge.core.metrics.expressions import _as_text, _col, _source
from tidegauge.core.metrics.names import NULL_VALUE, OTHER
from tidegauge.core.metrics.timeframe import (
    BucketSpec,
    Window,
    _bucket_expr,
    _window_filter,
    to_utc,
)
from tidegauge.core.model import ColumnInfo

__all__ = ["CategoricalPlan", "build_categorical_plan", "fold_top_k", "undecided"]


@dataclass(frozen=True, slots=True)
class CategoricalPlan:
    """Per-bucket counts of the top-k values of each column over the window, plus ``__other__``.

    Rows: ``(bucket, col, value, n, max_rank)`` where ``col`` indexes :attr:`columns`;
    the largest ``max_rank`` of a column is its number of distinct values in the window, so
    the caller can drop columns that turn out not to be low-cardinality without a probe.
    """

    query: exp.Select
    columns: tuple[str, ...]
    bucket: BucketSpec | None
    strategy: str

    def distinct_counts(
        self, names: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> dict[str, int]:
        """Distinct values of each column over the whole window (the highest rank seen)."""
        index = {n.lower(): i for i, n in enumerate(names)}
        out: dict[str, int] = {}
        for r in rows:
            col = self.columns[int(r[index["col"]])]
            out[col] = max(out.get(col, 0), int(r[index["max_rank"]]))
        return out

    def read(
        self, names: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[tuple[datetime | None, str, str, int]]:
        index = {n.lower(): i for i, n in enumerate(names)}
        at_bucket = index.get("bucket")
        at_col, at_value, at_n = index["col"], index["value"], index["n"]
        columns = self.columns
        times: dict[Any, datetime] = {}  # each bucket's driver value converted once
        out: list[tuple[datetime | None, str, str, int]] = []
        for r in rows:
            b = None
            if at_bucket is not None:
                b = times.get(r[at_bucket])
                if b is None:
                    b = times[r[at_bucket]] = to_utc(r[at_bucket])
            out.append((b, columns[int(r[at_col])], str(r[at_value]), int(r[at_n])))
        return out


def fold_top_k(
    counts: Mapping[str, Mapping[datetime | None, Mapping[str, int]]], top_k: int
) -> tuple[list[tuple[datetime | None, str, str, int]], dict[str, int]]:
    """What the categorical query makes of value counts it did not have to group itself
    (:meth:`ProfilePlan.boolean_value_counts`): each column's values ranked by their count
    over the window (ties by value), the top ``top_k`` kept by name and the rest summed
    into ``__other__`` per bucket, as :meth:`CategoricalPlan.read` rows; and each column's
    number of distinct values over the window, as :meth:`CategoricalPlan.distinct_counts`.
    """
    rows: list[tuple[datetime | None, str, str, int]] = []
    distinct: dict[str, int] = {}
    for column, by_bucket in counts.items():
        totals: dict[str, int] = {}
        for values in by_bucket.values():
            for value, n in values.items():
                totals[value] = totals.get(value, 0) + n
        if not totals:
            continue
        ranked = sorted(totals, key=lambda v: (-totals[v], v))
        kept = set(ranked[:top_k])
        distinct[column] = len(ranked)
        for bucket, values in by_bucket.items():
            folded: dict[str, int] = {}
            for value, n in values.items():
                name = value if value in kept else OTHER
                folded[name] = folded.get(name, 0) + n
            rows.extend((bucket, column, name, n) for name, n in folded.items())
    return rows, distinct


def build_categorical_plan(
    table: exp.Table,
    columns: Sequence[ColumnInfo],
    caps: Capabilities,
    *,
    top_k: int,
    bucket: BucketSpec | None = None,
    window: Window | None = None,
    sample_percent: float | None = None,
    strategy: str | None = None,
) -> CategoricalPlan:
    """Value counts of ``columns`` per bucket in one query.

    ``strategy`` picks how the long form (bucket, column, value, count) is produced:

    * ``grouping_sets`` (default where ``caps.grouping_sets``): one scan with
      ``GROUP BY GROUPING SETS ((bucket, v1), (bucket, v2), ...)``;
    * ``union`` (default elsewhere, e.g. MariaDB): one ``GROUP BY`` per column joined by
      ``UNION ALL``.

    The top ``top_k`` values per column, ranked by their count over the whole window, keep
    their name; the rest are summed into ``__other__``, so new values show up as long as they
    are among the top-k, and the result size stays bounded whatever the cardinality.
    """
    if not columns:
        raise ValueError("no categorical columns")
    strategy = strategy or ("grouping_sets" if caps.grouping_sets else "union")
    spec = bucket.effective() if bucket else None
    where = _window_filter(spec, window, caps)
    src = _source(table, caps, sample_percent)
    b = _bucket_expr(spec, caps, window) if spec else None
    values = [
        exp.Coalesce(this=_as_text(c, _col(c.name)), expressions=[exp.Literal.string(NULL_VALUE)])
        for c in columns
    ]
    n = exp.alias_(exp.Count(this=exp.Star()), "n")
    if strategy == "grouping_sets":
        wide = exp.select(*([exp.alias_(b, "bucket")] if b else []))
        wide = wide.select(*[exp.alias_(v, f"v{i}") for i, v in enumerate(values)], n)
        wide = wide.from_(src)
        if where is not None:
            wide = wide.where(where)
        sets = [exp.Tuple(expressions=[*([b.copy()] if b else []), v.copy()]) for v in values]
        wide = wide.group_by(exp.GroupingSets(expressions=sets))
        which = exp.Case(
            ifs=[
                exp.If(this=exp.column(f"v{i}").is_(exp.null()).not_(), true=exp.Literal.number(i))
                for i in range(len(values))
            ]
        )
        val = exp.Coalesce(
            this=exp.column("v0"), expressions=[exp.column(f"v{i}") for i in range(1, len(values))]
        )
        long = exp.select(
            *([exp.column("bucket")] if b else []),
            exp.alias_(which, "col"),
            exp.alias_(val, "value"),
            exp.column("n"),
        ).from_(wide.subquery("w"))
    elif strategy == "union":
        parts: list[exp.Select] = []
        for i, v in enumerate(values):
            p = exp.select(
                *([exp.alias_(b.copy(), "bucket")] if b else []),
                exp.alias_(exp.Literal.number(i), "col"),
                exp.alias_(v, "value"),
                n.copy(),
            ).from_(src.copy())
            if where is not None:
                p = p.where(where.copy())
            p = p.group_by(*([b.copy()] if b else []), v.copy())
            parts.append(p)
        union: exp.Query = parts[0]
        for p in parts[1:]:
            union = exp.union(union, p, distinct=False)
        long = exp.select("*").from_(union.subquery("u"))
    else:
        raise ValueError(f"unknown categorical strategy {strategy!r}")

    bcol = [exp.column("bucket")] if b else []
    totals = exp.select(
        *bcol,
        "col",
        "value",
        "n",
        exp.alias_(
            exp.Window(
                this=exp.Sum(this=exp.column("n")),
                partition_by=[exp.column("col"), exp.column("value")],
            ),
            "total",
        ),
    ).from_(long.subquery("l"))
    ranked = exp.select(
        *[c.copy() for c in bcol],
        "col",
        "value",
        "n",
        exp.alias_(
            exp.Window(
                this=exp.Anonymous(this="DENSE_RANK"),
                partition_by=[exp.column("col")],
                order=exp.Order(
                    expressions=[
                        exp.Ordered(this=exp.column("total"), desc=True),
                        exp.Ordered(this=exp.column("value")),
                    ]
                ),
            ),
            "r",
        ),
    ).from_(totals.subquery("t"))
    folded = exp.Case(
        ifs=[exp.If(this=exp.column("r") <= exp.Literal.number(top_k), true=exp.column("value"))],
        default=exp.Literal.string(OTHER),
    )
    final = (
        exp.select(
            *[c.copy() for c in bcol],
            "col",
            exp.alias_(folded, "value"),
            exp.alias_(exp.Sum(this=exp.column("n")), "n"),
            exp.alias_(exp.Max(this=exp.column("r")), "max_rank"),
        )
        .from_(ranked.subquery("k"))
        .group_by(*[c.copy() for c in bcol], exp.column("col"), folded.copy())
    )
    return CategoricalPlan(final, tuple(c.name for c in columns), spec, strategy)


def undecided(
    rows: Sequence[tuple[datetime | None, str, str, int]],
    distinct: Mapping[str, int],
    limit: int,
) -> dict[str, tuple[int, int]]:
    """Columns whose window cannot tell categories from identifiers: ``{column: (distinct
    non-null values, non-null rows)}``.

    A window of few rows has few distinct values whatever the column holds: eight new rows
    give eight distinct UUIDs, under any limit. What tells categories apart is that their
    values repeat: a column is judged categorical from a window only when its non-null rows
    outnumber ``limit`` or each of its values appears twice on average. An all-null window
    says nothing either. ``rows`` and ``distinct`` are a categorical query's, as read by
    :meth:`CategoricalPlan.read` and :meth:`CategoricalPlan.distinct_counts` (which counts
    ``NULL_VALUE`` as a value); columns over ``limit`` are not categorical and not listed.
    """
    total: dict[str, int] = {}
    nulls: dict[str, int] = {}
    for _bucket, column, value, n in rows:
        total[column] = total.get(column, 0) + n
        if value == NULL_VALUE:
            nulls[column] = nulls.get(column, 0) + n
    out: dict[str, tuple[int, int]] = {}
    for column, count in distinct.items():
        if count > limit:
            continue
        nonnull = total.get(column, 0) - nulls.get(column, 0)
        values = count - (1 if nulls.get(column) else 0)
        if nonnull <= 0 or (nonnull <= limit and 2 * values > nonnull):
            out[column] = (values, max(nonnull, 0))
    return out
