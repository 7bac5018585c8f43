"""The column steps of :func:`tidegauge.collector.collect_table`: field health (the profile
scan), categorical values, segments, orphan keys and custom SQL metrics, each on the table's
:class:`~tidegauge.collector._Run` and each recording its own points, ledger entries, skips
and errors there."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlglot import exp

from tidegauge.config import CustomMetric
from tidegauge.core.metrics import (
    CUSTOM_PREFIX,
    BucketSpec,
    CustomSQLError,
    Metric,
    ProfilePlan,
    Window,
    aggregates_for,
    bucket_starts,
    build_bucket_count_query,
    build_categorical_plan,
    build_profile_plan,
    build_segment_plan,
    fold_top_k,
    parse_custom_sql,
    to_utc,
)
from tidegauge.core.metrics.categorical import undecided
from tidegauge.core.metrics.keys import build_orphan_query, read_orphans
from tidegauge.core.model import ColumnInfo, TableRef, TypeFamily, new_point

if TYPE_CHECKING:
    from tidegauge.collector import _Run

from tidegauge.warehouses.base import (
    WarehouseError,
)


def key_columns(r: _Run) -> frozenset[str]:
    """The table's key columns: declared primary/unique in the warehouse, or ``keys:`` true
    (monitors translate dbt ``unique`` tests to it); ``keys:`` false wins over both."""
    declared = r.wh.key_columns(r.table.ref)
    said = r.settings.keys
    present = {c.name.lower(): c.name for c in r.columns}
    chosen = {k for k in declared if said.get(k) is not False}
    chosen |= {k.lower() for k, v in said.items() if v}
    for k in sorted(chosen - set(present)):
        if k in said:  # a declared key always exists; a configured one may be a typo
            r.result.errors.append(f"{r.table.ref.fqn}: key column {k} not found")
    return frozenset(present[k] for k in chosen if k in present)


def profile(
    r: _Run,
    spec: BucketSpec | None,
    window: Window | None,
    field_health: bool,
    last_bucket: datetime | None,
    distincts: dict[str, float],
    booleans: dict[str, dict[datetime | None, dict[str, int]]] | None = None,
) -> None:
    """Field health (or the volume alone) per bucket; fills ``distincts`` with each column's
    largest per-bucket distinct count and, where the engine names its booleans' text,
    ``booleans`` with their value counts (:meth:`ProfilePlan.boolean_value_counts`), both
    for :func:`categorical`."""
    if spec is not None and spec.column.name not in {c.name for c in r.columns}:
        raise WarehouseError(f"timestamp column {spec.column.name} no longer exists")
    sample = r.settings.sample_percent
    secs = spec.seconds if spec else 0
    counts: dict[datetime, int] = {}
    if field_health:
        plan = build_profile_plan(
            r.source,
            r.columns,
            r.caps,
            bucket=spec,
            window=window,
            now=r.now,
            sample_percent=sample,
            exclude=r.settings.exclude_columns,
            only=aggregates_for(r.settings.metrics) if r.settings.metrics else None,
            keys=key_columns(r),
        )
        _add_skipped(r, plan)
        results = []
        for pq in plan.queries:
            res = r.run("field_health", pq.query)
            results.append((res.columns, res.rows))
        if booleans is not None and r.caps.boolean_text is not None:
            booleans.clear()
            booleans.update(plan.boolean_value_counts(results, r.caps.boolean_text))
        # what ``r.point`` does per value, with the table, the metric names and each bucket's
        # time taken once: a month of hours of a wide table is 130,000 values
        ref, append, names = r.table.ref, r.result.points.append, {m: str(m) for m in Metric}
        for row in plan.read(results):
            if spec is not None and row.bucket is not None and not plan.sampled:
                counts[row.bucket] = row.row_count
            when, seconds = (row.bucket, secs) if row.bucket else (r.now, 0)
            for v in row.values:
                name = names.get(v.metric) or str(v.metric)
                append(new_point(ref, name, when, float(v.value), v.column, None, seconds))
                if v.metric is Metric.DISTINCT_COUNT and v.column is not None:
                    distincts[v.column] = max(distincts.get(v.column, 0.0), v.value)
        if plan.sampled and spec is not None:
            counts = _bucket_counts(r, spec, window)
        elif spec is None and plan.sampled:
            r.result.skipped.append(("*", "sampled: counts not extrapolated"))
    elif spec is not None:
        counts = _bucket_counts(r, spec, window)
    if spec is None or window is None:
        return
    # Empty buckets between buckets with rows are real zeros (the query succeeded); on a
    # first run, start at the first bucket with data so that a table born last week gets no
    # month of zeros. Empty buckets after the newest one with rows are not known to be
    # empty: a table loaded in batches (last night's load of yesterday's events) has none
    # of the hours since its last load yet. Stored as zeros they alerted on every run and,
    # once older than the recheck window, stayed zero after the rows came. They are left
    # out: the next run's window starts at the newest bucket stored and collects them
    # again, and updates that stop coming are freshness's to report.
    since, until = window.since, window.until
    assert since is not None and until is not None  # _window always sets both
    if last_bucket is None:
        since = min(counts) if counts else until
    end = max(counts) + timedelta(seconds=secs) if counts else since
    for b in bucket_starts(since, end, secs):
        r.point(Metric.BUCKET_ROW_COUNT, counts.get(b, 0), bucket=b, seconds=secs)
    r.result.last_bucket = end - timedelta(seconds=secs) if end > since else last_bucket


def _bucket_counts(r: _Run, spec: BucketSpec, window: Window | None) -> dict[datetime, int]:
    res = r.run("volume", build_bucket_count_query(r.source, r.caps, spec, window))
    idx = {c.lower(): i for i, c in enumerate(res.columns)}
    return {to_utc(row[idx["bucket"]]): int(row[idx["row_count"]]) for row in res.rows}


def _add_skipped(r: _Run, plan: ProfilePlan) -> None:
    seen = set(r.result.skipped)
    for s in plan.skipped:
        if s not in seen:
            r.result.skipped.append(s)
    if plan.sampled:
        item = (
            "*",
            f"sampled {r.settings.sample_percent:g}%: null_count and distinct_count "
            "not reported, bucket_row_count from an unsampled count",
        )
        if item not in seen:
            r.result.skipped.append(item)
    if len(plan.queries) > 1:
        r.result.skipped.append(
            ("*", f"profile split into {len(plan.queries)} scans ({r.caps.dialect} engine limits)")
        )


def categorical(
    r: _Run,
    spec: BucketSpec | None,
    window: Window | None,
    distincts: dict[str, float],
    booleans: dict[str, dict[datetime | None, dict[str, int]]] | None = None,
) -> None:
    """Top-k value counts of the low-cardinality columns per bucket: grouped by one query,
    except the boolean columns whose counts the profile scan gave (``booleans``), which are
    ranked and folded here the way the query would (:func:`fold_top_k`)."""
    s, d = r.settings, r.defaults
    blocked = {c.lower() for c in (*s.pii_columns, *s.exclude_columns)}
    by_name = {c.name.lower(): c for c in r.columns}
    if s.categorical_columns is not None:
        wanted = []
        for name in s.categorical_columns:
            col = by_name.get(name.lower())
            if col is None:
                r.result.errors.append(f"{r.table.ref.fqn}: categorical column {name} not found")
            elif col.name.lower() in blocked:
                r.result.skipped.append((col.name, "pii or excluded: values never stored"))
            elif not col.family.profilable:
                r.result.skipped.append((col.name, f"type {col.data_type} is not categorical"))
            else:
                wanted.append(col)
    else:
        wanted = [
            c
            for c in r.columns
            if c.family in (TypeFamily.STRING, TypeFamily.BOOLEAN) and c.name.lower() not in blocked
        ]
    if spec is not None:
        wanted = [c for c in wanted if c.name != spec.column.name]
    # Per-bucket distinct counts are a lower bound of the window's: drop the columns already
    # known to be high-cardinality; the categorical query reports the window's exact count.
    limit = d.categorical_max_distinct
    low = []
    for c in wanted:
        n = distincts.get(c.name)
        if n is not None and n > limit:
            r.result.skipped.append(
                (c.name, f"categorical: {n:.0f} distinct values > {limit}: values not stored")
            )
        else:
            low.append(c)
    if not low:
        return
    # (still boolean: a column whose type changed since the profile is grouped by the query)
    counted = booleans or {}
    derived = {
        c.name: counted[c.name] for c in low if c.family is TypeFamily.BOOLEAN and c.name in counted
    }
    queried = [c for c in low if c.name not in derived]
    rows: list[tuple[datetime | None, str, str, int]] = []
    distinct: dict[str, int] = {}
    if queried:
        # Never sampled: a new value in 0.1% of the rows must not be sampled away.
        plan = build_categorical_plan(
            r.source, queried, r.caps, top_k=d.categorical_top_k, bucket=spec, window=window
        )
        res = r.run("categorical", plan.query)
        distinct.update(plan.distinct_counts(res.columns, res.rows))
        rows.extend(plan.read(res.columns, res.rows))
        if s.categorical_columns is None:  # columns named in the settings are categorical
            _mark_undecided(r, queried, rows, distinct, limit)
    if derived:
        folded, folded_distinct = fold_top_k(derived, d.categorical_top_k)
        distinct.update(folded_distinct)
        rows.extend(folded)
    secs = spec.seconds if spec else 0
    if window is not None and window.since is not None and window.until is not None:
        r.result.replaced.append(("value_count", window.since, window.until))
    high = {name: n for name, n in distinct.items() if n > limit}
    for name, n in high.items():
        r.result.skipped.append(
            (name, f"categorical: {n} distinct values > {limit}: values not stored")
        )
    # what ``r.point`` does per value, with the table and the metric name taken once
    ref, append, name = r.table.ref, r.result.points.append, str(Metric.VALUE_COUNT)
    for bucket, column, value, n in rows:
        if column not in high:
            when, seconds = (bucket, secs) if bucket else (r.now, 0)
            append(new_point(ref, name, when, float(n), column, value, seconds))


def _mark_undecided(
    r: _Run,
    queried: list[ColumnInfo],
    rows: list[tuple[datetime | None, str, str, int]],
    distinct: dict[str, int],
    limit: int,
) -> None:
    """Mark the columns whose window could not tell categories from identifiers
    (:func:`undecided`): the caller keeps their values only where the store tracks them
    already. A boolean or an enum is categorical by its type, whatever the window."""
    typed = {
        c.name
        for c in queried
        if c.family is TypeFamily.BOOLEAN or c.data_type.lower().startswith("enum")
    }
    for name, (values, nonnull) in undecided(rows, distinct, limit).items():
        if name in typed:
            continue
        r.result.undecided.add(name)
        r.result.skipped.append(
            (
                name,
                f"categorical: {values} distinct values in {nonnull} non-null rows repeat too "
                "little to tell categories from identifiers: values kept only if already "
                "tracked",
            )
        )


def segments(r: _Run, by: list[str], spec: BucketSpec | None, window: Window | None) -> None:
    s = r.settings
    by_name = {c.name.lower(): c for c in r.columns}
    pii = {c.lower() for c in s.pii_columns}
    cols = []
    for name in by:
        col = by_name.get(name.lower())
        if col is None:
            r.result.errors.append(f"{r.table.ref.fqn}: segment column {name} not found")
            return
        if col.name.lower() in pii:
            r.result.errors.append(
                f"{r.table.ref.fqn}: segment column {name} is a pii column: values never stored"
            )
            return
        cols.append(col)
    plan = build_segment_plan(
        r.source,
        r.columns,
        cols,
        r.caps,
        max_segments=s.max_segments or r.defaults.max_segments,
        bucket=spec,
        window=window,
        now=r.now,
        exclude=s.exclude_columns,
    )
    res = r.run(f"segments:{','.join(by)}", plan.queries[0].query)
    secs = spec.seconds if spec else 0
    for row in plan.read([(res.columns, res.rows)]):
        r.point(
            Metric.BUCKET_ROW_COUNT,
            row.row_count,
            bucket=row.bucket,
            seconds=secs,
            segment=row.segment,
        )
        for v in row.values:
            if v.metric is Metric.NULL_COUNT:
                continue
            r.point(
                v.metric,
                v.value,
                bucket=row.bucket,
                seconds=secs,
                column=v.column,
                segment=row.segment,
            )


def orphans(
    r: _Run, column: str, parent: str, spec: BucketSpec | None, window: Window | None
) -> None:
    """The orphan rate of ``column`` per bucket: the share of its non-null values that no
    row of ``parent`` (``schema.table.column``) holds."""
    col = next((c for c in r.columns if c.name.lower() == column.lower()), None)
    parts = parent.split(".")
    if col is None or len(parts) < 3:
        what = f"column {column} not found" if col is None else f"parent {parent!r}"
        r.result.errors.append(f"{r.table.ref.fqn}: references: {what} (schema.table.column)")
        return
    ref = TableRef(r.wh.name, parts[-3], parts[-2], parts[-4] if len(parts) > 3 else None)
    query = build_orphan_query(
        r.source,
        col,
        r.wh.table_expression(ref),
        parts[-1],
        r.caps,
        bucket=spec,
        window=window,
    )
    res = r.run(f"orphans:{column}", query)
    secs = spec.effective().seconds if spec else 0
    for bucket, keys, orphans in read_orphans(res.columns, res.rows):
        if keys > 0:
            r.point(
                Metric.ORPHAN_RATE, orphans / keys, bucket=bucket, seconds=secs, column=col.name
            )


def custom(r: _Run, m: CustomMetric) -> None:
    name = CUSTOM_PREFIX + m.name
    try:
        # a monitor's own tree is rendered by this warehouse; user SQL is parsed in its dialect
        query = m.query or parse_custom_sql(
            m.sql, r.wh.DIALECT, name=f"custom metric {m.name}", functions=r.wh.SQL_FUNCTIONS
        )
    except CustomSQLError as e:
        r.result.errors.append(str(e))
        return
    res = r.run(name, cast(exp.Expression, query))
    cols = [c.lower() for c in res.columns]
    problem = f"custom metric {m.name}: expected one number, (bucket, value) or (segment, value)"
    try:
        if len(cols) == 1 and len(res.rows) == 1:
            value = _numeric(res.rows[0][0])
            if value is not None:
                r.point(name, value)
            return
        if len(cols) != 2:
            raise ValueError(f"{problem}; got {len(cols)} columns")
        if "bucket" in cols:
            bi = cols.index("bucket")
            for row in res.rows:
                value = _numeric(row[1 - bi])
                if value is not None:
                    r.point(name, value, bucket=to_utc(row[bi]))
        else:
            si = cols.index("segment") if "segment" in cols else 0
            for row in res.rows:
                value = _numeric(row[1 - si])
                if value is not None:
                    r.point(name, value, segment=str(row[si]))
    except (ValueError, TypeError) as e:
        msg = str(e) if str(e).startswith("custom metric") else f"{problem}: {e}"
        r.result.errors.append(msg)


def _numeric(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"value {v!r} is not a number") from None


def lower_keys(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Snowflake upper-cases unquoted aliases: read result columns case-insensitively."""
    return [{k.lower(): v for k, v in row.items()} for row in rows]
