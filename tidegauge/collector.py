"""Collect one table's metrics: the I/O side of :mod:`tidegauge.core.metrics`.

One call to :func:`collect_table` per table per run. In order, cheapest first:

1. **schema** — the snapshot discovery already made (no query);
2. **freshness and volume** — from engine metadata where it exists, else one
   ``SELECT COUNT(*), MAX(ts)``;
3. **field health** — every field metric of every bucket in one scan (a volume-only
   ``COUNT(*) GROUP BY bucket`` when field health is off);
4. **categorical values** — one more query for low-cardinality columns;
5. **segments** and **custom SQL** metrics, one query each.

Every query carries a comment naming the monitor and lands in the ledger. Nothing raises
past the table: failures are recorded in ``errors``, and a failed query never yields a
zero row count. A column dropped mid-run triggers one re-discovery and one retry; a table
dropped mid-run stops the table.

Naive timestamps are wall times of the warehouse's ``timezone:`` (UTC by default): buckets,
windows and min/max are converted in the pushed-down SQL, ``MAX(ts)`` for freshness in
Python with the same offsets (:mod:`tidegauge.core.clock`). Custom SQL metrics are the
user's SQL: a ``bucket`` they return is read as UTC.

Metric names are :class:`tidegauge.core.metrics.Metric` values plus ``custom:<name>``.
Segmented points carry ``segment="col=value"`` or ``"a=x|b=y"`` (or ``__other__``);
categorical ``value_count`` points carry the value (or ``__other__``) as the segment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlglot import exp

from tidegauge.config import CustomMetric, Defaults, TableSettings
from tidegauge.core.clock import wall_to_utc
from tidegauge.core.metrics import (
    CUSTOM_PREFIX,
    BucketSpec,
    Capabilities,
    CustomSQLError,
    Metric,
    ProfilePlan,
    Window,
    aggregates_for,
    bucket_starts,
    build_bucket_count_query,
    build_categorical_plan,
    build_max_query,
    build_profile_plan,
    build_segment_plan,
    floor_time,
    naive_timestamp,
    parse_custom_sql,
    to_utc,
)
from tidegauge.core.metrics.keys import build_orphan_query, read_orphans
from tidegauge.core.model import ColumnInfo, MetricPoint, TableInfo, TableRef, TypeFamily
from tidegauge.core.timestamps import TimestampChoice, choose_timestamps
from tidegauge.warehouses.base import (
    ObjectMissing,
    QueryResult,
    Warehouse,
    WarehouseError,
    type_family,
)

__all__ = ["CollectionResult", "LedgerEntry", "capabilities_of", "collect_table"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What one monitor cost on one table: a query (or a metadata read)."""

    table: str
    monitor: str
    kind: str  # "query" or "metadata"
    sql: str | None
    seconds: float
    rows: int
    bytes_scanned: int | None = None
    error: str | None = None


@dataclass(slots=True)
class CollectionResult:
    table: TableRef
    points: list[MetricPoint] = field(default_factory=list)
    schema: list[ColumnInfo] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: start of the newest complete bucket collected; pass it back as ``last_bucket``
    last_bucket: datetime | None = None
    timestamps: TimestampChoice | None = None
    #: (family, since, until): windows whose ``value_count`` or segmented points this
    #: collection recomputed in full; stored points of that family there not produced
    #: again are stale (a shorter window ranks the top-k values differently)
    replaced: list[tuple[str, datetime, datetime]] = field(default_factory=list)


class _TableGone(Exception):
    pass


def capabilities_of(warehouse: Warehouse) -> Capabilities:
    return warehouse.capabilities()


class _Run:
    """State of one table's collection (kept off the public API)."""

    def __init__(
        self,
        warehouse: Warehouse,
        table: TableInfo,
        settings: TableSettings,
        defaults: Defaults,
        now: datetime,
    ) -> None:
        self.wh = warehouse
        self.table = table
        self.settings = settings
        self.defaults = defaults
        self.now = to_utc(now)
        self.caps = capabilities_of(warehouse)
        self.source = warehouse.table_expression(table.ref)
        self.result = CollectionResult(table.ref, schema=list(table.columns))
        self.started = time.perf_counter()
        budget = getattr(settings, "time_budget_seconds", None)
        self.budget: float | None = budget if budget is not None else defaults.time_budget_seconds

    # --- plumbing ------------------------------------------------------------------------
    @property
    def columns(self) -> list[ColumnInfo]:
        return self.result.schema

    def point(
        self,
        metric: Metric | str,
        value: float,
        *,
        bucket: datetime | None = None,
        seconds: int = 0,
        column: str | None = None,
        segment: str | None = None,
    ) -> None:
        self.result.points.append(
            MetricPoint(
                table=self.table.ref,
                metric=str(metric),
                bucket_start=bucket or self.now,
                value=float(value),
                column=column,
                segment=segment,
                bucket_seconds=seconds if bucket else 0,
            )
        )

    def run(self, monitor: str, query: exp.Expression) -> QueryResult:
        comment = f"{monitor} {self.table.ref.fqn}"
        try:
            res = self.wh.execute(query, comment=comment)
        except WarehouseError as e:
            try:
                sql = self.wh.render(query, comment=comment)
            except Exception:  # rendering failed: the ledger still records the attempt
                sql = None
            self.result.ledger.append(
                LedgerEntry(self.table.ref.key, monitor, "query", sql, 0.0, 0, None, str(e))
            )
            raise
        self.result.ledger.append(
            LedgerEntry(
                self.table.ref.key,
                monitor,
                "query",
                res.sql,
                res.seconds,
                len(res.rows),
                res.bytes_scanned,
            )
        )
        return res

    def over_budget(self, step: str) -> bool:
        if self.budget is None:
            return False
        elapsed = time.perf_counter() - self.started
        if elapsed < self.budget:
            return False
        self.result.skipped.append(
            ("*", f"{step}: not collected, time budget {self.budget:g}s used ({elapsed:.1f}s)")
        )
        return True

    def rediscover(self) -> bool:
        """Re-read the table's columns; True when they changed. Raises _TableGone."""
        ref = self.table.ref
        q = self.wh.information_schema_columns([ref.schema]).where(
            exp.column("table_name").eq(exp.Literal.string(ref.name))
        )
        res = self.run("schema", q)
        rows = _lower(res.dicts())
        if not rows:
            raise _TableGone(f"{ref.fqn}: table dropped during the run")
        fresh = [
            ColumnInfo(
                name=str(r["column_name"]),
                data_type=str(r["data_type"]),
                family=type_family(str(r["data_type"]), self.wh.DIALECT),
                nullable=str(r.get("is_nullable", "YES")).upper() in ("YES", "TRUE", "1"),
                ordinal=int(r.get("ordinal_position") or 0),
            )
            for r in rows
        ]
        old = {(c.name, c.data_type) for c in self.columns}
        new = {(c.name, c.data_type) for c in fresh}
        if old == new:
            return False
        gone = sorted({n for n, _ in old} - {n for n, _ in new})
        self.result.errors.append(
            f"{ref.fqn}: columns changed during the run"
            + (f" (dropped: {', '.join(gone)})" if gone else "")
            + "; re-planned and retried"
        )
        self.result.schema = sorted(fresh, key=lambda c: c.ordinal)
        return True

    def guarded(self, step: str, fn: Callable[[], None]) -> None:
        """Run a step; on failure re-discover once and retry, else record the error."""
        if self.over_budget(step):
            return
        try:
            fn()
            return
        except ObjectMissing as e:
            first: WarehouseError = e
        except WarehouseError as e:
            first = e
        try:
            changed = self.rediscover()
        except WarehouseError as e:
            self.result.errors.append(f"{self.table.ref.fqn}: {step}: {first}; {e}")
            raise _TableGone(str(first)) from None
        if not changed:
            self.result.errors.append(f"{self.table.ref.fqn}: {step}: {first}")
            return
        try:
            fn()
        except WarehouseError as e:
            self.result.errors.append(f"{self.table.ref.fqn}: {step} (retried): {e}")


def collect_table(
    warehouse: Warehouse,
    table: TableInfo,
    settings: TableSettings,
    defaults: Defaults,
    *,
    now: datetime,
    last_bucket: datetime | None,
    custom_metrics: Sequence[CustomMetric] = (),
) -> CollectionResult:
    """Collect freshness, volume, schema, field health, categorical, segment and custom
    metrics of one table. Never raises for warehouse errors: see ``errors``.

    Args:
        warehouse: a connected warehouse.
        table: the table as discovery saw it (columns and metadata statistics).
        settings: the merged per-table settings (``Project.settings_for``).
        defaults: project defaults.
        now: the run's clock (UTC); used for freshness lag, future rates and windows.
        last_bucket: the newest bucket stored by the previous run, or ``None`` on the first
            run (which backfills ``history_days``).
        custom_metrics: custom SQL metrics that belong to this table.
    """
    r = _Run(warehouse, table, settings, defaults, now)
    res = r.result
    res.ledger.append(
        LedgerEntry(table.ref.key, "schema", "metadata", None, 0.0, len(table.columns))
    )
    choice = choose_timestamps(r.columns, settings.timestamp_column)
    res.timestamps = choice
    if settings.timestamp_column and choice.bucket is None:
        res.errors.append(f"{table.ref.fqn}: {choice.reason}")
    try:
        _freshness_and_volume(r, choice)
        window, spec = _window(r, choice, last_bucket)
        distincts: dict[str, float] = {}
        fh = _field_health_on(r)
        if spec is not None and window is None:
            res.skipped.append(("*", "no complete bucket since the last run"))
        else:
            step = "field_health" if fh else "volume"
            r.guarded(step, partial(_profile, r, spec, window, fh, last_bucket, distincts))
        if _categorical_on(r, fh) and not (spec is not None and window is None):
            r.guarded("categorical", partial(_categorical, r, spec, window, distincts))
        errors = len(res.errors)
        for by in settings.segments:
            if spec is not None and window is None:
                break  # nothing new to bucket (recorded above)
            r.guarded(f"segments:{','.join(by)}", partial(_segments, r, by, spec, window))
        if settings.segments and window is not None and len(res.errors) == errors:
            # every segmentation recomputed the window: the stored one is replaced (a failed
            # one keeps what was stored)
            assert window.since is not None and window.until is not None  # _window sets both
            res.replaced.append(("segments", window.since, window.until))
        for column, parent in settings.references.items():
            if spec is not None and window is None:
                break  # nothing new to bucket (recorded above)
            r.guarded(f"orphans:{column}", partial(_orphans, r, column, parent, spec, window))
        for m in custom_metrics:
            r.guarded(CUSTOM_PREFIX + m.name, partial(_custom, r, m))
    except _TableGone as e:
        msg = str(e)
        if not any(msg in err for err in res.errors):
            res.errors.append(msg)
    return res


# --- steps -------------------------------------------------------------------------------


def _freshness_and_volume(r: _Run, choice: TimestampChoice) -> None:
    t, wh, res = r.table, r.wh, r.result
    row_count = t.row_count if wh.METADATA_ROW_COUNT else None
    last_modified = to_utc(t.last_modified) if wh.METADATA_FRESHNESS and t.last_modified else None
    if row_count is not None or last_modified is not None:
        res.ledger.append(LedgerEntry(t.ref.key, "freshness", "metadata", None, 0.0, 1))
    if row_count is not None:
        r.point(Metric.ROW_COUNT, row_count)
    if last_modified is not None:
        r.point(Metric.LAST_MODIFIED, last_modified.timestamp())
        r.point(Metric.FRESHNESS_LAG_SECONDS, (r.now - last_modified).total_seconds())
    ts = choice.freshness if last_modified is None else None
    zone = r.caps.zone
    q = build_max_query(r.source, ts, count=row_count is None, now=r.now, caps=r.caps)
    if q is None:
        return

    def step() -> None:
        # Re-plan from the current schema (the timestamp column may have been dropped).
        col = ts if ts is None or any(c.name == ts.name for c in r.columns) else None
        query = build_max_query(r.source, col, count=row_count is None, now=r.now, caps=r.caps)
        if query is None:
            return
        out = _lower(r.run("freshness", query).dicts())[0]
        if "row_count" in out and out["row_count"] is not None:
            r.point(Metric.ROW_COUNT, int(out["row_count"]))
        if out.get("max_ts") is not None:
            latest = to_utc(out["max_ts"])
            if col is not None and naive_timestamp(col, r.caps):
                # a wall time of the warehouse zone (the identity in UTC)
                latest = wall_to_utc(latest.replace(tzinfo=None), zone)
            r.point(Metric.MAX_TIMESTAMP, latest.timestamp())
            r.point(Metric.FRESHNESS_LAG_SECONDS, (r.now - latest).total_seconds())

    r.guarded("freshness", step)


def _window(
    r: _Run, choice: TimestampChoice, last_bucket: datetime | None
) -> tuple[Window | None, BucketSpec | None]:
    if choice.bucket is None:
        return None, None
    bucket = r.settings.bucket or r.defaults.bucket
    spec = BucketSpec(choice.bucket, bucket.seconds).effective()
    secs = spec.seconds
    until = floor_time(r.now, secs)
    history = r.settings.history_days or r.defaults.history_days
    earliest = floor_time(until - timedelta(days=history), secs)
    if last_bucket is None:
        since = earliest
    else:
        recheck = max(r.defaults.recheck_buckets, 0)
        since = max(
            floor_time(last_bucket, secs) + timedelta(seconds=secs * (1 - recheck)), earliest
        )
    if since >= until:
        return None, spec
    return Window(since, until), spec


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


def _field_health_on(r: _Run) -> bool:
    if r.settings.field_health is not None:
        return r.settings.field_health
    counts = [p.value for p in r.result.points if p.metric == Metric.ROW_COUNT]
    if not counts or counts[-1] is None:
        return False
    return counts[-1] <= r.defaults.field_health_max_rows


def _categorical_on(r: _Run, field_health: bool) -> bool:
    if r.settings.categorical is not None:
        return r.settings.categorical
    return field_health


def _profile(
    r: _Run,
    spec: BucketSpec | None,
    window: Window | None,
    field_health: bool,
    last_bucket: datetime | None,
    distincts: dict[str, float],
) -> None:
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
        for row in plan.read(results):
            if spec is not None and row.bucket is not None and not plan.sampled:
                counts[row.bucket] = row.row_count
            for v in row.values:
                r.point(v.metric, v.value, bucket=row.bucket, seconds=secs, column=v.column)
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
    # Empty buckets are real zeros (the query succeeded); on a first run, start at the
    # first bucket with data so that a table born last week gets no month of zeros.
    since, until = window.since, window.until
    assert since is not None and until is not None  # _window always sets both
    if last_bucket is None:
        since = min(counts) if counts else until
    for b in bucket_starts(since, until, secs):
        r.point(Metric.BUCKET_ROW_COUNT, counts.get(b, 0), bucket=b, seconds=secs)
    r.result.last_bucket = until - timedelta(seconds=secs)


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


def _categorical(
    r: _Run, spec: BucketSpec | None, window: Window | None, distincts: dict[str, float]
) -> None:
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
    # Never sampled: a new value in 0.1% of the rows must not be sampled away.
    plan = build_categorical_plan(
        r.source, low, r.caps, top_k=d.categorical_top_k, bucket=spec, window=window
    )
    res = r.run("categorical", plan.query)
    secs = spec.seconds if spec else 0
    if window is not None and window.since is not None and window.until is not None:
        r.result.replaced.append(("value_count", window.since, window.until))
    distinct = plan.distinct_counts(res.columns, res.rows)
    high = {name: n for name, n in distinct.items() if n > limit}
    for name, n in high.items():
        r.result.skipped.append(
            (name, f"categorical: {n} distinct values > {limit}: values not stored")
        )
    for bucket, column, value, n in plan.read(res.columns, res.rows):
        if column not in high:
            r.point(
                Metric.VALUE_COUNT, n, bucket=bucket, seconds=secs, column=column, segment=value
            )


def _segments(r: _Run, by: list[str], spec: BucketSpec | None, window: Window | None) -> None:
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


def _orphans(
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


def _custom(r: _Run, m: CustomMetric) -> None:
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


def _lower(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Snowflake upper-cases unquoted aliases: read result columns case-insensitively."""
    return [{k.lower(): v for k, v in row.items()} for row in rows]
