"""Collect one table's metrics: the I/O side of :mod:`tidegauge.core.metrics`.

One call to :func:`collect_table` per table per run. In order, cheapest first:

1. **schema** — the snapshot discovery already made (no query);
2. **freshness and volume** — from engine metadata where it exists, else one
   ``SELECT COUNT(*), MAX(ts)``;
3. **field health** — every field metric of every bucket in one scan (a volume-only
   ``COUNT(*) GROUP BY bucket`` when field health is off);
4. **categorical values** — one more query for low-cardinality columns (boolean ones are
   read off the field-health scan where the engine names its booleans' text);
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
from functools import cached_property, partial

from sqlglot import exp

from tidegauge.collector_columns import (
    categorical,
    custom,
    lower_keys,
    orphans,
    profile,
    segments,
)
from tidegauge.config import CustomMetric, Defaults, TableSettings
from tidegauge.core.clock import wall_to_utc
from tidegauge.core.metrics import (
    CUSTOM_PREFIX,
    BucketSpec,
    Capabilities,
    Metric,
    Window,
    build_max_query,
    floor_time,
    naive_timestamp,
    to_utc,
)
from tidegauge.core.model import ColumnInfo, MetricPoint, TableInfo, TableRef, new_point
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
    #: columns whose ``value_count`` points are here although this window could not tell
    #: their values are categories (:func:`~tidegauge.core.metrics.categorical.undecided`):
    #: the caller stores them only for a column whose values the store tracks already
    undecided: set[str] = field(default_factory=set)


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
        self.result = CollectionResult(table.ref, schema=list(table.columns))
        self.started = time.perf_counter()
        budget = getattr(settings, "time_budget_seconds", None)
        self.budget: float | None = budget if budget is not None else defaults.time_budget_seconds

    # --- plumbing ------------------------------------------------------------------------
    @cached_property
    def source(self) -> exp.Table:
        """The table as sqlglot sees it; built on first use (a table read from metadata
        alone never needs it, and 10,000 of them paid for building it)."""
        return self.wh.table_expression(self.table.ref)

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
            new_point(
                self.table.ref,
                metric if type(metric) is str else str(metric),
                bucket or self.now,
                float(value),
                column,
                segment,
                seconds if bucket else 0,
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
        rows = lower_keys(res.dicts())
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
        booleans: dict[str, dict[datetime | None, dict[str, int]]] = {}
        fh = _field_health_on(r)
        if spec is not None and window is None:
            res.skipped.append(("*", "no complete bucket since the last run"))
        else:
            step = "field_health" if fh else "volume"
            r.guarded(step, partial(profile, r, spec, window, fh, last_bucket, distincts, booleans))
        if _categorical_on(r, fh) and not (spec is not None and window is None):
            r.guarded("categorical", partial(categorical, r, spec, window, distincts, booleans))
        errors = len(res.errors)
        for by in settings.segments:
            if spec is not None and window is None:
                break  # nothing new to bucket (recorded above)
            r.guarded(f"segments:{','.join(by)}", partial(segments, r, by, spec, window))
        if settings.segments and window is not None and len(res.errors) == errors:
            # every segmentation recomputed the window: the stored one is replaced (a failed
            # one keeps what was stored)
            assert window.since is not None and window.until is not None  # _window sets both
            res.replaced.append(("segments", window.since, window.until))
        for column, parent in settings.references.items():
            if spec is not None and window is None:
                break  # nothing new to bucket (recorded above)
            r.guarded(f"orphans:{column}", partial(orphans, r, column, parent, spec, window))
        for m in custom_metrics:
            r.guarded(CUSTOM_PREFIX + m.name, partial(custom, r, m))
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
    if ts is None and row_count is not None:
        return  # metadata said it all: no query (and no table expression) to build

    def step() -> None:
        # Re-plan from the current schema (the timestamp column may have been dropped).
        col = ts if ts is None or any(c.name == ts.name for c in r.columns) else None
        query = build_max_query(r.source, col, count=row_count is None, now=r.now, caps=r.caps)
        if query is None:
            return
        out = lower_keys(r.run("freshness", query).dicts())[0]
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
