"""The one-scan profile: every field metric of a table, per time bucket, in one query.

``SELECT bucket, COUNT(*), <aggregates> FROM t WHERE ts >= since AND ts < until GROUP BY
bucket``. Each output column has an alias (``c<i>_<agg>``) that maps back to the table column
and the raw aggregate. A plan is split into a few scans only when an engine limit forces it
(the adapter's :class:`Capabilities`: most select items, most approximate distinct counts).

Rates are ``null_rate`` over all rows; ``empty_rate``, ``zero_rate``, ``negative_rate``,
``true_rate`` and ``future_rate`` over the non-null values, so a spike of nulls does not move
them. A metric with no defined value (the mean of an all-null column) is omitted, never zero.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlglot import exp

from tidegauge.core.clock import wall_to_utc
from tidegauge.core.metrics.capabilities import Capabilities, QuantileStyle
from tidegauge.core.metrics.expressions import _as_text, _col, _count_if, _source
from tidegauge.core.metrics.names import NULL_VALUE, QUANTILE_METRICS, Metric, identifier_like
from tidegauge.core.metrics.timeframe import (
    BucketSpec,
    Window,
    _bucket_expr,
    _now_literal,
    _window_filter,
    _zone_of,
    to_utc,
)
from tidegauge.core.model import ColumnInfo, TypeFamily

__all__ = [
    "FIELD_METRICS",
    "Agg",
    "FieldValue",
    "OutputColumn",
    "ProfilePlan",
    "ProfileQuery",
    "ProfileRow",
    "aggregates_for",
    "build_bucket_count_query",
    "build_profile_plan",
    "metrics_for",
    "profile_columns",
]


class Agg(StrEnum):
    """A raw aggregate in a profile query; :meth:`ProfilePlan.read` derives metrics from it."""

    NONNULL = "nonnull"
    DISTINCT = "distinct"
    MIN = "min"
    MAX = "max"
    MEAN = "mean"
    STDDEV = "stddev"
    QUANTILES = "q"  # one list-valued aggregate (DuckDB, PostgreSQL)
    P01 = "p01"
    P25 = "p25"
    P50 = "p50"
    P75 = "p75"
    P99 = "p99"
    LEN_MIN = "len_min"
    LEN_MAX = "len_max"
    LEN_MEAN = "len_mean"
    EMPTY = "empty"
    ZERO = "zero"
    NEGATIVE = "negative"
    TRUE = "true"
    FUTURE = "future"
    KEY_DISTINCT = "key_distinct"  # exact COUNT(DISTINCT key): duplicates must not be estimates


_NUMERIC_AGGS = (
    Agg.NONNULL,
    Agg.DISTINCT,
    Agg.MIN,
    Agg.MAX,
    Agg.MEAN,
    Agg.STDDEV,
    Agg.QUANTILES,
    Agg.ZERO,
    Agg.NEGATIVE,
)
_AGGS_BY_FAMILY: dict[TypeFamily, tuple[Agg, ...]] = {
    TypeFamily.INTEGER: _NUMERIC_AGGS,
    TypeFamily.FLOAT: _NUMERIC_AGGS,
    TypeFamily.DECIMAL: _NUMERIC_AGGS,
    TypeFamily.STRING: (
        Agg.NONNULL,
        Agg.DISTINCT,
        Agg.LEN_MIN,
        Agg.LEN_MAX,
        Agg.LEN_MEAN,
        Agg.EMPTY,
    ),
    TypeFamily.BOOLEAN: (Agg.NONNULL, Agg.TRUE),
    # No distinct count of a timestamp or a date: within a bucket it only echoes how many
    # rows arrived (and alerted on nothing but volume, e.g. ``placed_at``).
    TypeFamily.TIMESTAMP: (Agg.NONNULL, Agg.MIN, Agg.MAX, Agg.FUTURE),
    TypeFamily.DATE: (Agg.NONNULL, Agg.MIN, Agg.MAX, Agg.FUTURE),
    TypeFamily.TIME: (Agg.NONNULL, Agg.DISTINCT),
}

# Which metrics each raw aggregate yields (rates need the row or non-null count beside them).
_METRICS_OF_AGG: dict[Agg, tuple[Metric, ...]] = {
    Agg.NONNULL: (Metric.NULL_COUNT, Metric.NULL_RATE),
    Agg.DISTINCT: (Metric.DISTINCT_COUNT,),
    Agg.MIN: (Metric.MIN,),
    Agg.MAX: (Metric.MAX,),
    Agg.MEAN: (Metric.MEAN,),
    Agg.STDDEV: (Metric.STDDEV,),
    Agg.QUANTILES: tuple(m for m, _ in QUANTILE_METRICS),
    Agg.LEN_MIN: (Metric.LEN_MIN,),
    Agg.LEN_MAX: (Metric.LEN_MAX,),
    Agg.LEN_MEAN: (Metric.LEN_MEAN,),
    Agg.EMPTY: (Metric.EMPTY_RATE,),
    Agg.ZERO: (Metric.ZERO_RATE,),
    Agg.NEGATIVE: (Metric.NEGATIVE_RATE,),
    Agg.TRUE: (Metric.TRUE_RATE,),
    Agg.FUTURE: (Metric.FUTURE_RATE,),
    Agg.KEY_DISTINCT: (Metric.DUPLICATE_COUNT, Metric.DUPLICATE_RATE),
}
#: what a key column keeps: null counts, its range, and its exact distinct count; its mean,
#: quantiles or zero rate describe nothing (ids name things, they do not measure them)
_KEY_AGGS = frozenset({Agg.NONNULL, Agg.MIN, Agg.MAX, Agg.LEN_MIN, Agg.LEN_MAX})
for _m, _ in QUANTILE_METRICS:
    _METRICS_OF_AGG[Agg(_m.value)] = (_m,)
#: what an identifier-like column (``order_id``, :func:`identifier_like`) goes without unless
#: the table's ``metrics`` ask for it: the distribution of names, which detection never
#: scores; its range, zeros, negatives and approximate distinct count stay
_DISTRIBUTION_AGGS = frozenset(
    {Agg.MEAN, Agg.STDDEV, Agg.QUANTILES, *(Agg(m.value) for m, _ in QUANTILE_METRICS)}
)


def aggregates_for(metrics: Collection[str]) -> frozenset[Agg]:
    """The raw aggregates that yield ``metrics`` (the non-null count always: rates need it).

    >>> sorted(a.value for a in aggregates_for(["mean", "null_rate"]))
    ['mean', 'nonnull']
    """
    wanted = {str(m) for m in metrics}
    out = {Agg.NONNULL}
    for agg, produced in _METRICS_OF_AGG.items():
        if any(m.value in wanted for m in produced):
            out.add(agg)
    return frozenset(out)


FIELD_METRICS: tuple[str, ...] = tuple(
    sorted({m.value for ms in _METRICS_OF_AGG.values() for m in ms})
)

_UNPROFILABLE_REASON = {
    TypeFamily.JSON: "JSON values have no scalar profile",
    TypeFamily.ARRAY: "arrays have no scalar profile",
    TypeFamily.STRUCT: "structs and maps have no scalar profile",
    TypeFamily.INTERVAL: "intervals are not profiled",
    TypeFamily.GEOMETRY: "geometry is not profiled",
    TypeFamily.BINARY: "binary values are not profiled",
    TypeFamily.OTHER: "unrecognised type",
}


def metrics_for(family: TypeFamily, caps: Capabilities) -> tuple[Metric, ...]:
    """The field metrics computed for a column of ``family`` on an engine with ``caps``.

    >>> metrics_for(TypeFamily.BOOLEAN, Capabilities("duckdb"))
    (<Metric.NULL_COUNT: 'null_count'>, <Metric.NULL_RATE: 'null_rate'>, <Metric.TRUE_RATE: 'true_rate'>)
    """  # noqa: E501
    out: list[Metric] = []
    for agg in _aggs_for(family, caps, None):
        out.extend(_METRICS_OF_AGG[agg])
    return tuple(out)


@dataclass(frozen=True, slots=True)
class OutputColumn:
    """One aliased aggregate of a profile query: which table column, which raw aggregate."""

    name: str
    column: str
    agg: Agg
    family: TypeFamily


@dataclass(frozen=True, slots=True)
class ProfileQuery:
    query: exp.Select
    outputs: tuple[OutputColumn, ...]


@dataclass(frozen=True, slots=True)
class FieldValue:
    column: str | None
    metric: Metric
    value: float


#: the slot setters of :class:`FieldValue`, in field order (see :func:`_field_value`)
_VALUE_SLOTS = tuple(FieldValue.__dict__[f.name].__set__ for f in fields(FieldValue))


def _field_value(column: str | None, metric: Metric, value: float) -> FieldValue:
    """``FieldValue(column, metric, value)`` without the frozen dataclass's per-field
    ``object.__setattr__`` calls: a profile makes one per column, metric and bucket (130,000
    for a month of hours of a 20-column table). The value is the same (equal, frozen)."""
    fv = object.__new__(FieldValue)
    c, m, v = _VALUE_SLOTS
    c(fv, column)
    m(fv, metric)
    v(fv, value)
    return fv


@dataclass(slots=True)
class ProfileRow:
    """Everything one bucket (and segment) produced."""

    bucket: datetime | None
    segment: str | None
    row_count: int
    values: list[FieldValue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProfilePlan:
    """The one-scan profile (split only when the select-list limit forces it)."""

    queries: tuple[ProfileQuery, ...]
    bucket: BucketSpec | None
    skipped: tuple[tuple[str, str], ...] = ()
    sampled: bool = False
    #: naive timestamp columns whose min/max are wall times of :attr:`zone`
    wall_columns: frozenset[str] = frozenset()
    zone: str = "UTC"

    @property
    def bucket_seconds(self) -> int:
        return self.bucket.seconds if self.bucket else 0

    def read(
        self, results: Sequence[tuple[Sequence[str], Sequence[Sequence[Any]]]]
    ) -> list[ProfileRow]:
        """Turn each query's ``(column names, rows)`` into per-bucket metric values.

        Results must be given in the order of :attr:`queries`. When sampled, counts
        (``null_count``, ``distinct_count``) are left out: they would describe the sample.
        """
        merged: dict[tuple[datetime | None, str | None], ProfileRow] = {}
        raw: dict[tuple[datetime | None, str | None], dict[str, dict[Agg, Any]]] = {}
        for pq, (names, rows) in zip(self.queries, results, strict=True):
            index = {n.lower(): i for i, n in enumerate(names)}
            # each output's place in the row, looked up once per query (not once per row)
            places = [(o.column, o.agg, index[o.name.lower()]) for o in pq.outputs]
            at_bucket, at_segment = index.get("bucket"), index.get("segment")
            at_count = index["row_count"]
            times: dict[Any, datetime] = {}  # each bucket's driver value converted once
            for row in rows:
                bucket = None
                if at_bucket is not None:
                    value = row[at_bucket]
                    bucket = times.get(value)
                    if bucket is None:
                        bucket = times[value] = to_utc(value)
                segment = str(row[at_segment]) if at_segment is not None else None
                key = (bucket, segment)
                if key not in merged:
                    merged[key] = ProfileRow(bucket, segment, int(row[at_count] or 0))
                by_column = raw.get(key)
                if by_column is None:
                    by_column = raw[key] = {}
                for column, agg, i in places:
                    aggs = by_column.get(column)
                    if aggs is None:
                        aggs = by_column[column] = {}
                    aggs[agg] = row[i]
        # Derive after merging: a split plan may put a rate's count and its non-null
        # denominator in different queries.
        for key, out in merged.items():
            for column, aggs in raw[key].items():
                zone = self.zone if column in self.wall_columns else None
                out.values.extend(_derive(column, aggs, out.row_count, self.sampled, zone))
        return sorted(
            merged.values(),
            key=lambda r: (r.bucket or datetime.min.replace(tzinfo=UTC), r.segment or ""),
        )

    def boolean_value_counts(
        self,
        results: Sequence[tuple[Sequence[str], Sequence[Sequence[Any]]]],
        texts: tuple[str, str],
    ) -> dict[str, dict[datetime | None, dict[str, int]]]:
        """The rows of each boolean column per bucket and value, read off the counts the
        scan already made: ``true`` is the true count, ``false`` the non-null count less it,
        the null value the row count less the non-null count. ``texts`` are the engine's
        text of true and false (:attr:`Capabilities.boolean_text`); a value no row holds is
        left out, as a ``GROUP BY`` would. Only columns with both counts, and nothing from a
        sample or a segmented plan (those counts describe something else)."""
        if self.sampled:
            return {}
        located: dict[str, dict[Agg, int]] = {}  # column -> agg -> query index
        for qi, pq in enumerate(self.queries):
            for o in pq.outputs:
                if o.family is TypeFamily.BOOLEAN and o.agg in (Agg.NONNULL, Agg.TRUE):
                    located.setdefault(o.column, {})[o.agg] = qi
        wanted = [c for c, at in located.items() if len(at) == 2]
        if not wanted:
            return {}
        true_text, false_text = texts
        rows_by_key: dict[datetime | None, dict[tuple[str, Agg], Any]] = {}
        totals: dict[datetime | None, int] = {}
        for pq, (names, rows) in zip(self.queries, results, strict=True):
            index = {n.lower(): i for i, n in enumerate(names)}
            if "segment" in index:
                return {}
            at_bucket, at_count = index.get("bucket"), index["row_count"]
            places = [
                (o.column, o.agg, index[o.name.lower()])
                for o in pq.outputs
                if o.column in wanted and o.agg in (Agg.NONNULL, Agg.TRUE)
            ]
            for row in rows:
                bucket = to_utc(row[at_bucket]) if at_bucket is not None else None
                totals[bucket] = int(row[at_count] or 0)
                got = rows_by_key.setdefault(bucket, {})
                for column, agg, i in places:
                    got[(column, agg)] = row[i]
        out: dict[str, dict[datetime | None, dict[str, int]]] = {c: {} for c in wanted}
        unread: set[str] = set()
        for bucket, got in rows_by_key.items():
            n = totals[bucket]
            for column in wanted:
                nonnull = _int(got.get((column, Agg.NONNULL)))
                true = _int(got.get((column, Agg.TRUE)))
                if true is None and nonnull == 0:
                    true = 0  # COUNT_IF of nothing but NULLs is NULL on DuckDB
                if nonnull is None or true is None or not 0 <= true <= nonnull <= n:
                    unread.add(column)  # counts that do not add up: the query groups it
                    continue
                counts = {true_text: true, false_text: nonnull - true, NULL_VALUE: n - nonnull}
                kept = {v: k for v, k in counts.items() if k > 0}
                if kept:
                    out[column][bucket] = kept
        return {c: v for c, v in out.items() if c not in unread}


def _derive(
    column: str, aggs: Mapping[Agg, Any], n: int, sampled: bool, zone: str | None = None
) -> list[FieldValue]:
    """Metrics of one column in one bucket; ``zone``: min/max are naive wall times there."""
    out: list[FieldValue] = []

    def put(metric: Metric, value: Any) -> None:
        v = _number(value)
        if v is not None:
            out.append(_field_value(column, metric, v))

    nonnull = _int(aggs.get(Agg.NONNULL))
    for agg, value in aggs.items():
        if agg is Agg.NONNULL:
            if nonnull is None:
                continue
            if not sampled:
                put(Metric.NULL_COUNT, n - nonnull)
            if n > 0:
                put(Metric.NULL_RATE, (n - nonnull) / n)
        elif agg is Agg.DISTINCT:
            if not sampled:
                put(Metric.DISTINCT_COUNT, value)
        elif agg is Agg.KEY_DISTINCT:
            distinct = _int(value)
            if not sampled and distinct is not None and nonnull is not None:
                # rows whose key repeats an earlier row's key in the bucket (NULLs are not
                # keys: they count in the null rate); the rate is over all the bucket's rows
                duplicates = max(nonnull - distinct, 0)
                put(Metric.DUPLICATE_COUNT, duplicates)
                if n > 0:
                    put(Metric.DUPLICATE_RATE, duplicates / n)
        elif agg is Agg.QUANTILES:
            if isinstance(value, list | tuple):
                for (metric, _), q in zip(QUANTILE_METRICS, value, strict=False):
                    put(metric, q)
        elif agg in (Agg.EMPTY, Agg.ZERO, Agg.NEGATIVE, Agg.TRUE, Agg.FUTURE):
            count = _int(value)
            if count is not None and nonnull:
                put(_METRICS_OF_AGG[agg][0], count / nonnull)
        elif zone is not None and agg in (Agg.MIN, Agg.MAX) and value is not None:
            wall = datetime.fromisoformat(value) if isinstance(value, str) else value
            if isinstance(wall, datetime):
                put(_METRICS_OF_AGG[agg][0], wall_to_utc(wall, zone).timestamp())
            else:
                put(_METRICS_OF_AGG[agg][0], value)
        else:
            put(_METRICS_OF_AGG[agg][0], value)
    return out


def _int(v: Any) -> int | None:
    if v is None:
        return None
    return int(v)


def _number(v: Any) -> float | None:
    """Driver values to float: Decimal, int, bool, datetime/date (epoch seconds). NaN is None."""
    if v is None:
        return None
    if type(v) is float:  # most of a profile's values: no isinstance chain
        return None if math.isnan(v) else v
    if isinstance(v, datetime | date):
        return to_utc(v).timestamp()
    if isinstance(v, str):
        try:
            return to_utc(v).timestamp()
        except ValueError:
            return None
    if isinstance(v, Decimal | int | float | bool):
        f = float(v)
        return None if math.isnan(f) else f
    return None


def _aggs_for(
    family: TypeFamily, caps: Capabilities, only: Collection[Agg] | None
) -> tuple[Agg, ...]:
    aggs = _AGGS_BY_FAMILY.get(family, ())
    out: list[Agg] = []
    for a in aggs:
        if a is Agg.QUANTILES:
            if not caps.quantiles:
                continue
            if caps.quantile_style is QuantileStyle.EACH:
                quantile_aggs = [Agg(m.value) for m, _ in QUANTILE_METRICS]
                out.extend(q for q in quantile_aggs if only is None or q in only)
                continue
        if only is None or a in only:
            out.append(a)
    return tuple(out)


def _aggregate(
    agg: Agg, column: ColumnInfo, caps: Capabilities, now: datetime | None
) -> exp.Expr | None:
    c = _col(column.name)
    if agg is Agg.NONNULL:
        return exp.Count(this=c)
    if agg is Agg.KEY_DISTINCT:
        return exp.Count(this=exp.Distinct(expressions=[c]))
    if agg is Agg.DISTINCT:
        if caps.approx_distinct:
            return exp.ApproxDistinct(this=c)
        return exp.Count(this=exp.Distinct(expressions=[c]))
    if agg is Agg.MIN:
        return exp.Min(this=c)
    if agg is Agg.MAX:
        return exp.Max(this=c)
    if agg is Agg.MEAN:
        return exp.Avg(this=c)
    if agg is Agg.STDDEV:
        return exp.StddevSamp(this=c)
    if agg is Agg.QUANTILES:
        qs = exp.Array(expressions=[exp.Literal.number(q) for _, q in QUANTILE_METRICS])
        if caps.quantile_style is QuantileStyle.LIST:
            # DuckDB's QUANTILE_CONT interpolates DECIMAL quantiles in the column's scale;
            # PERCENTILE_CONT interpolates in double precision. Cast so every engine agrees.
            arg = (
                exp.cast(c, exp.DataType.Type.DOUBLE) if column.family is TypeFamily.DECIMAL else c
            )
            return exp.Anonymous(this="QUANTILE_CONT", expressions=[arg, qs])
        return exp.WithinGroup(
            this=exp.PercentileCont(this=qs),
            expression=exp.Order(expressions=[exp.Ordered(this=c)]),
        )
    if agg in (Agg.P01, Agg.P25, Agg.P50, Agg.P75, Agg.P99):
        q = dict(QUANTILE_METRICS)[Metric(agg.value)]
        return exp.WithinGroup(
            this=exp.PercentileCont(this=exp.Literal.number(q)),
            expression=exp.Order(expressions=[exp.Ordered(this=c)]),
        )
    if agg in (Agg.LEN_MIN, Agg.LEN_MAX, Agg.LEN_MEAN):
        length = exp.Length(this=_as_text(column, c))
        fn = {Agg.LEN_MIN: exp.Min, Agg.LEN_MAX: exp.Max, Agg.LEN_MEAN: exp.Avg}[agg]
        return fn(this=length)
    if agg is Agg.EMPTY:
        return _count_if(_as_text(column, c).eq(exp.Literal.string("")), caps)
    if agg is Agg.ZERO:
        return _count_if(c.eq(exp.Literal.number(0)), caps)
    if agg is Agg.NEGATIVE:
        return _count_if(exp.LT(this=c, expression=exp.Literal.number(0)), caps)
    if agg is Agg.TRUE:
        return _count_if(c, caps)
    if agg is Agg.FUTURE:
        if now is None:
            return None
        return _count_if(exp.GT(this=c, expression=_now_literal(now, column, caps)), caps)
    raise AssertionError(agg)


def profile_columns(
    columns: Sequence[ColumnInfo], exclude: Collection[str] = ()
) -> tuple[list[ColumnInfo], list[tuple[str, str]]]:
    """Split columns into the profilable ones and ``(column, reason)`` for the rest."""
    keep: list[ColumnInfo] = []
    skipped: list[tuple[str, str]] = []
    excluded = {e.lower() for e in exclude}
    for c in columns:
        if c.name.lower() in excluded:
            skipped.append((c.name, "excluded by configuration"))
        elif not c.family.profilable or c.family not in _AGGS_BY_FAMILY:
            reason = _UNPROFILABLE_REASON.get(c.family, f"type {c.data_type} is not profiled")
            skipped.append((c.name, f"{reason} ({c.data_type})"))
        else:
            keep.append(c)
    return keep, skipped


def build_profile_plan(
    table: exp.Table,
    columns: Sequence[ColumnInfo],
    caps: Capabilities,
    *,
    bucket: BucketSpec | None = None,
    window: Window | None = None,
    now: datetime | None = None,
    sample_percent: float | None = None,
    exclude: Collection[str] = (),
    only: Collection[Agg] | None = None,
    segment: exp.Expr | None = None,
    keys: Collection[str] = (),
) -> ProfilePlan:
    """All field metrics of ``columns`` per bucket in one ``SELECT ... GROUP BY bucket``.

    Args:
        table: the quoted table expression (``Warehouse.table_expression``).
        columns: the table's columns; unprofilable ones are skipped with a reason.
        caps: the engine's capabilities.
        bucket: group by this timestamp column truncated to hour or day; ``None`` profiles
            the whole table as one row.
        window: restrict the bucket column to ``[since, until)``.
        now: the run's clock, for ``future_rate`` (left out when ``None``).
        sample_percent: ``TABLESAMPLE SYSTEM`` percentage where the engine supports it.
        exclude: column names never profiled.
        only: compute only these raw aggregates (segmented metrics use a cheap subset).
        segment: an expression to group by beside the bucket (the segment plan sets it).
        keys: columns that behave as keys: their exact duplicates per bucket are counted
            (``duplicate_count``, ``duplicate_rate``) in the same scan, and they get no
            distribution statistics. Not on a sample: duplicates of a sample mean nothing.
            Identifier-like columns get no mean, spread or quantiles either, unless ``only``
            names them.
    """
    spec = bucket.effective() if bucket else None
    keep, skipped = profile_columns(columns, exclude)
    sampled = bool(sample_percent is not None and sample_percent < 100 and caps.tablesample)
    if sample_percent is not None and sample_percent < 100 and not caps.tablesample:
        skipped.append(("*", f"{caps.dialect} has no TABLESAMPLE: profiled without sampling"))
    aggregates: list[tuple[OutputColumn, exp.Expr]] = []
    key_names = {k.lower() for k in keys}
    for i, c in enumerate(keep):
        aggs = _aggs_for(c.family, caps, only)
        if c.name.lower() in key_names:
            aggs = (*(a for a in aggs if a in _KEY_AGGS), *(() if sampled else (Agg.KEY_DISTINCT,)))
        elif only is None and identifier_like(c.name):
            aggs = tuple(a for a in aggs if a not in _DISTRIBUTION_AGGS)
        for agg in aggs:
            e = _aggregate(agg, c, caps, now)
            if e is not None:
                aggregates.append((OutputColumn(f"c{i}_{agg.value}", c.name, agg, c.family), e))

    head: list[exp.Expr] = []
    group: list[exp.Expr] = []
    if spec is not None:
        b = _bucket_expr(spec, caps, window)
        head.append(exp.alias_(b, "bucket"))
        group.append(b.copy())
    if segment is not None:
        head.append(exp.alias_(segment, "segment"))
        group.append(segment.copy())
    head.append(exp.alias_(exp.Count(this=exp.Star()), "row_count"))

    chunks = _chunk(aggregates, max(caps.select_limit - len(head), 1), caps)
    where = _window_filter(spec, window, caps)
    queries: list[ProfileQuery] = []
    for chunk in chunks:
        q = exp.select(*[h.copy() for h in head]).from_(
            _source(table, caps, sample_percent if sampled else None)
        )
        q = q.select(*[exp.alias_(e, o.name) for o, e in chunk])
        if where is not None:
            q = q.where(where.copy())
        if group:
            q = q.group_by(*[g.copy() for g in group])
        queries.append(ProfileQuery(q, tuple(o for o, _ in chunk)))
    wall = frozenset(c.name for c in keep if _zone_of(c, caps) is not None)
    return ProfilePlan(tuple(queries), spec, tuple(skipped), sampled, wall, caps.zone)


def _chunk(
    aggregates: list[tuple[OutputColumn, exp.Expr]], per_query: int, caps: Capabilities
) -> list[list[tuple[OutputColumn, exp.Expr]]]:
    """Split aggregates into queries that respect the engine's limits (usually one query)."""
    hll_limit = caps.max_approx_distinct if caps.approx_distinct else None
    chunks: list[list[tuple[OutputColumn, exp.Expr]]] = [[]]
    hll = 0
    for item in aggregates:
        is_hll = item[0].agg is Agg.DISTINCT
        if len(chunks[-1]) >= per_query or (is_hll and hll_limit and hll >= hll_limit):
            chunks.append([])
            hll = 0
        chunks[-1].append(item)
        hll += is_hll
    return chunks


def build_bucket_count_query(
    table: exp.Table,
    caps: Capabilities,
    bucket: BucketSpec,
    window: Window | None,
) -> exp.Select:
    """Volume alone: ``SELECT bucket, COUNT(*) ... GROUP BY bucket`` (no sampling, ever)."""
    plan = build_profile_plan(table, [], caps, bucket=bucket, window=window)
    return plan.queries[0].query
