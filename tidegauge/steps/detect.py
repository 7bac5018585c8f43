"""Detect: test the new buckets of every stored series against its learned baseline.

Each series is tested only on complete buckets collected since the table's previous
run (plus the re-check window); on a table's first run the most recent day is tested,
so a backfilled table can alert on day one. Points already alerted on leave training
unless a user said they were expected or a false positive.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DataError, IntegrityError

from tidegauge.config import Project, TableSettings
from tidegauge.core.catalogue import Scope, Unit, all_specs, rate_metrics
from tidegauge.core.detectors.base import Detection, DetectorSettings, Direction
from tidegauge.core.detectors.fdr import RUN_Q, control_run
from tidegauge.core.detectors.freshness import late_by_looks, usual_staleness
from tidegauge.core.detectors.highfreq import high_frequency_detections
from tidegauge.core.detectors.proportion import RatePoint, evaluate_rates
from tidegauge.core.detectors.seasonal import SeasonalDetector
from tidegauge.core.metrics import Metric
from tidegauge.core.metrics.names import identifier_like, own_key_like
from tidegauge.core.model import Alert, AlertKind, MetricPoint, Severity, TableRef, TypeFamily
from tidegauge.monitors.keys import describe_duplicates
from tidegauge.monitors.tuning import (
    SERIES_KINDS,
    detector_settings,
)
from tidegauge.steps.collect_gc import fewer_collections
from tidegauge.steps.detect_other import (
    categorical_alerts,
    freshness_alert,
    history_reads,
    rule_alerts,
    schema_alerts,
)
from tidegauge.steps.history import TableHistory, histories
from tidegauge.store.alerts import series_key
from tidegauge.store.bulk import PointFilter

if TYPE_CHECKING:
    from tidegauge.steps.collect import CollectedTable
    from tidegauge.steps.context import RunContext

log = logging.getLogger("tidegauge.detect")

#: statistics of a bucket's values, meaningless on a few rows
SAMPLE_STATISTICS = frozenset(
    str(m.name)
    for m in all_specs()
    if m.kind is not None and m.scope is Scope.COLUMN and m.unit in (Unit.NUMBER, Unit.CHARACTERS)
)
MIN_ROWS_FOR_STATISTIC = 30
#: rates of rows, tested as binomial proportions of the bucket's rows
RATE_METRICS = rate_metrics()
#: statistics of a column's values that mean nothing for timestamps and identifiers (the
#: distinct count of ``placed_at`` is the number of distinct seconds orders were placed in)
VALUE_STATISTICS = frozenset({"distinct_count", "mean", "p50", "zero_rate", "negative_rate"})
#: tables whose history is read together (a few queries per chunk, points streamed)
CHUNK = 500


@dataclass
class Candidate:
    table_id: int
    ref: TableRef
    metric: str
    column: str | None
    segment: str | None
    kind: AlertKind
    detection: Detection
    bucket_seconds: int


def declared_monitor(project: Project, fqn: str, metric: str, column: str | None) -> Any:
    """The declared monitor (YAML, Python or dbt meta) that owns this series, if any."""
    from tidegauge.monitors import monitor_for_series

    return monitor_for_series(project, fqn, metric, column)


def series_detector(
    project: Project,
    settings: TableSettings,
    metric: str,
    column: str | None,
    first: datetime,
    now: datetime,
) -> SeasonalDetector:
    """The seasonal detector live detection runs on a series: its settings, its name and the
    table's special days from ``first`` to ``now``. Chart bands (web/bands.py) use the same one,
    so that a chart shows the band an alert was judged against."""
    return SeasonalDetector(
        detector_settings(metric, settings, project, column=column),
        metric=metric,
        calendar=project.special_days(settings, first, now),  # holidays: core/detectors/special
    )


def detect_tables(ctx: RunContext, collected: Sequence[CollectedTable]) -> list[dict[str, Any]]:
    """Run every detector over the collected tables; store and return the new alerts, with
    the run's external ones (``ctx.external``)."""
    project, now = ctx.project, ctx.now
    # per collected table, in its order: series candidates and alerts that need no FDR step
    found: list[tuple[list[Candidate], list[tuple[int, Alert]]]] = [([], []) for _ in collected]
    with one_blas_thread(), fewer_collections():
        _detect_chunks(ctx, collected, found)

    survivors = _fdr([c for cands, _ in found for c in cands])
    to_store = [(_to_alert(c, now), c.table_id) for c in survivors]
    # duplicate keys: which keys repeat, asked of the warehouse only now that they alert
    describe_duplicates(
        project, [a for a, _ in to_store], {e.info.ref.key: e.info for e in collected}
    )
    # a duplicate rate read off an approximate distinct count can fall a few percent short
    # of the truth: when the warehouse finds no key repeated in that bucket, no key is
    to_store = [(a, t) for a, t in to_store if not _disproved(a)]
    direct = [*ctx.external, *(d for _, per_table in found for d in per_table)]
    to_store += [(alert, tid) for tid, alert in direct]
    return [
        _summary(alert, tid)
        for (alert, tid), aid in zip(to_store, _add_alerts(ctx, to_store), strict=True)
        if aid is not None
    ]


def _disproved(alert: Alert) -> bool:
    """A duplicates alert whose bucket the warehouse holds no repeated key in."""
    found = alert.explanation.get("duplicates")
    return (
        alert.metric == Metric.DUPLICATE_RATE and isinstance(found, dict) and found.get("keys") == 0
    )


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Detection's linear algebra on one BLAS thread.

    A series' design matrix is a few hundred rows by a few dozen terms: a multithreaded
    OpenBLAS spends longer waking and synchronising its threads than multiplying, and on a
    busy 2-core machine each small product took ~15 ms instead of ~0.06 ms (detection over
    a 30-day hourly backfill: 6x slower). The previous limit is restored afterwards.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _detect_chunks(
    ctx: RunContext,
    collected: Sequence[CollectedTable],
    found: list[tuple[list[Candidate], list[tuple[int, Alert]]]],
) -> None:
    """Series candidates and direct alerts of every collected table, into ``found``."""
    project, store, now = ctx.project, ctx.store, ctx.now
    for lo in range(0, len(collected), CHUNK):
        chunk = collected[lo : lo + CHUNK]
        reads = [series_read(project, now), *history_reads(project, chunk, now)]
        for i, history in histories(store, chunk, now, reads):
            entry = chunk[i]
            candidates, direct = found[lo + i]
            try:
                candidates.extend(_series_candidates(project, history, entry, now, reads[0]))
                for alert in schema_alerts(entry, now):
                    direct.append((entry.table_id, alert))
                for alert in categorical_alerts(project, history, entry, now):
                    direct.append((entry.table_id, alert))
                fresh = freshness_alert(project, history, entry, now)
                if fresh is not None:
                    direct.append((entry.table_id, fresh))
                for alert in rule_alerts(project, history, entry, now):
                    direct.append((entry.table_id, alert))
            except Exception as e:  # one table's detection failing never stops the others
                log.exception("detection failed for %s", entry.info.ref.fqn)
                ctx.report.failed_tables[entry.info.ref.fqn] = f"detection failed: {e}"


def _add_alerts(ctx: RunContext, items: list[tuple[Alert, int]]) -> list[int | None]:
    """Store alerts in one transaction; if the store refuses one, one by one, so that a bad
    alert costs only itself (logged, and its table recorded as failed)."""
    store, run_id = ctx.store, ctx.run_id
    try:
        return store.alerts.add_many(items, run_id)
    except (DataError, IntegrityError) as e:
        log.warning(
            "storing %d alerts at once failed (%s); storing them one by one",
            len(items),
            e.orig or e,
        )
    ids: list[int | None] = []
    for alert, tid in items:
        try:
            ids.append(store.alerts.add(alert, tid, run_id))
        except (DataError, IntegrityError) as e:
            log.error("%s: alert %s not stored: %s", alert.table.fqn, alert.title, e.orig or e)
            ctx.report.failed_tables[alert.table.fqn] = f"alert not stored: {e.orig or e}"
            ids.append(None)
    return ids


def series_read(project: Project, now: datetime) -> PointFilter:
    """The points series detection reads: unsegmented series since the training window."""
    since = now - timedelta(days=max(project.defaults.history_days, 42) + 1)
    return PointFilter(since, frozenset(SERIES_KINDS), custom=True, unsegmented=True)


def _summary(alert: Alert, table_id: int) -> dict[str, Any]:
    return {
        "id": alert.id,
        "table_id": table_id,
        "table": alert.table,
        "kind": alert.kind,
        "column": alert.column,
        "data_time": alert.data_time,
        "severity": alert.severity,
        "alert": alert,
    }


def _series_candidates(
    project: Project,
    history: TableHistory,
    entry: CollectedTable,
    now: datetime,
    read: PointFilter | None = None,
) -> list[Candidate]:
    """``read``: :func:`series_read` as of ``now``, made once for many tables."""
    tid = entry.table_id
    settings = entry.settings
    bucket = (settings.bucket or project.defaults.bucket).seconds
    start = history.test_from(
        now, bucket, project.defaults.recheck_buckets, entry.first_run, entry.resumed_after
    )
    points = history.select(read or series_read(project, now))
    by_series: dict[tuple[str, str | None, str | None], list[MetricPoint]] = {}
    for p in points:
        if p.metric not in SERIES_KINDS and not p.metric.startswith("custom:"):
            continue
        by_series.setdefault((p.metric, p.column, p.segment), []).append(p)
    has_buckets = any(k[0] == "bucket_row_count" for k in by_series)
    rows_by_bucket = {
        p.bucket_start: p.value or 0.0 for p in by_series.get(("bucket_row_count", None, None), [])
    }
    categorical = history.categorical
    watched = _watched_columns(project, entry.info.ref.fqn)
    when_columns = _time_columns(entry)
    measures = {c.name for c in entry.info.columns if c.family in MEASURES}
    flagged = history.flagged
    feedback = history.feedback
    # bucket seconds → latest start of a complete bucket
    ends: dict[int, datetime] = _filling(history, by_series, now)
    out: list[Candidate] = []
    for (metric, column, segment), series in sorted(
        by_series.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2] or "")
    ):
        if metric == "row_count" and has_buckets:
            continue
        complete = _complete(series, now, ends)
        if metric in SAMPLE_STATISTICS and column is not None and identifier_like(column):
            continue  # the mean of seller ids says nothing about sellers
        if metric in SAMPLE_STATISTICS and rows_by_bucket:
            # a mean or median of a handful of rows jumps by chance: neither train nor test
            # on buckets too small for the statistic to mean anything
            complete = [
                p
                for p in complete
                if rows_by_bucket.get(p.bucket_start, 0.0) >= MIN_ROWS_FOR_STATISTIC
            ]
        if not any(p.bucket_start >= start for p in complete):
            continue
        key = series_key(tid, metric, column, segment)
        dsettings = detector_settings(metric, settings, project, column=column)
        if watched is not None and column is not None and column.lower() not in watched:
            continue  # field-health monitors on this table name the columns to watch
        if metric == "distinct_count" and column in categorical:
            continue  # its values are tracked one by one: new and vanished values say more
        if metric == "distinct_count" and settings.keys.get((column or "").lower()) is False:
            continue  # no longer a key, on purpose: repeats are expected, its count echoes volume
        if metric in VALUE_STATISTICS and column in when_columns:
            continue  # the distinct count of a timestamp only echoes volume and load timing
        if (
            metric in VALUE_STATISTICS
            and column is not None
            and identifier_like(column)
            and not (metric == "distinct_count" and _near_unique(complete, rows_by_bucket))
        ):
            continue  # the distinct count of seller ids echoes volume; keys get duplicates below
        if metric == "distinct_count" and (Metric.DUPLICATE_RATE, column, None) in by_series:
            continue  # a declared key: its exact duplicate rate is stored and scored itself
        if metric == "distinct_count" and _near_unique(complete, rows_by_bucket):
            if column in measures or not own_key_like(column or "", entry.info.ref.name):
                # amounts, counts and other tables' ids repeat by chance or by design (a
                # bidder bids twice in an hour): only the table's own key has duplicates
                continue
            # the table's own key: its distinct count only echoes volume; what matters is
            # whether values start repeating, i.e. duplicates, among its non-null values
            # (nulls are the null rate's to report, not repeats)
            nulls = {
                p.bucket_start: p.value or 0.0
                for p in by_series.get(("null_rate", column, None), [])
            }
            nonnull = {
                b: n * (1.0 - min(nulls.get(b, 0.0), 1.0)) for b, n in rows_by_bucket.items()
            }
            dup = [
                MetricPoint(
                    p.table,
                    "duplicate_rate",
                    p.bucket_start,
                    max(0.0, 1.0 - (p.value or 0.0) / nonnull[p.bucket_start]),
                    column,
                    None,
                    p.bucket_seconds,
                )
                for p in complete
                if nonnull.get(p.bucket_start)
            ]
            for d in _rate_detections(
                "duplicate_rate",
                column,
                dup,
                nonnull,
                {},
                start,
                flagged.get(key, set()),
                # the rate's own settings: the distinct count's floor of one (a count) would
                # ask a rate to move by 100% before alerting
                detector_settings("duplicate_rate", settings, project, column=column).with_(
                    direction=Direction.UP
                ),
                bucket,
            ):
                out.append(
                    Candidate(
                        tid,
                        entry.info.ref,
                        "duplicate_rate",
                        column,
                        segment,
                        AlertKind.DUPLICATES,
                        d,
                        bucket,
                    )
                )
            continue
        if metric in RATE_METRICS:
            detections = _rate_detections(
                metric,
                column,
                complete,
                rows_by_bucket,
                {p.bucket_start: p.value for p in by_series.get(("null_rate", column, None), [])},
                start,
                flagged.get(key, set()),
                dsettings,
                bucket,
            )
            for d in detections:
                out.append(
                    Candidate(
                        tid,
                        entry.info.ref,
                        metric,
                        column,
                        segment,
                        SERIES_KINDS[metric][0],
                        d,
                        bucket,
                    )
                )
            continue
        if len(complete) - 1 < dsettings.min_history:
            # every tested point trains on fewer points than ``min_history``: the model would
            # only say "learning" for each, and learning points are no tests (see _fdr). The
            # 10,000 two-point row-count series of a new warehouse skip building it.
            continue
        det = series_detector(project, settings, metric, column, complete[0].bucket_start, now)
        try:
            stamps = [p.bucket_start for p in complete]
            values = [float(p.value) for p in complete]  # type: ignore[arg-type]
            detections = det.evaluate(
                stamps,
                values,
                test_from=start,
                exclude=sorted(flagged.get(key, ())),
                feedback=feedback.get(key, ()),
            )
            # 15-minute buckets or finer: the verdicts and p-values are the high-frequency
            # ensemble's (the detector bench/nab.py scores), the band the seasonal one's
            detections = high_frequency_detections(
                detections, stamps, values, det.settings, metric, feedback.get(key, ())
            )
        except ValueError as e:
            log.warning("%s %s: %s", entry.info.ref.fqn, metric, e)
            continue
        kind = SERIES_KINDS.get(metric, (AlertKind.CUSTOM, Direction.BOTH))[0]
        bseconds = complete[-1].bucket_seconds if complete else bucket
        for d in detections:  # every tested point: FDR needs all p-values, not just the hits
            out.append(Candidate(tid, entry.info.ref, metric, column, segment, kind, d, bseconds))
    return out


def _complete(
    series: list[MetricPoint], now: datetime, ends: dict[int, datetime]
) -> list[MetricPoint]:
    """The points of ``series`` with a value whose bucket has ended by ``now`` (snapshots,
    of zero seconds, always have): one comparison per point, not a sum of times."""
    out = []
    for p in series:
        if p.value is None:
            continue
        if p.bucket_seconds:
            last = ends.get(p.bucket_seconds)
            if last is None:
                last = ends[p.bucket_seconds] = now - timedelta(seconds=p.bucket_seconds)
            if p.bucket_start > last:
                continue
        out.append(p)
    return out


#: how far back detection reads the runs' looks at a table's staleness (freshness's reach)
LOOKS = timedelta(days=29)


def _filling(
    history: TableHistory,
    by_series: dict[tuple[str, str | None, str | None], list[MetricPoint]],
    now: datetime,
) -> dict[int, datetime]:
    """The newest bucket with rows, when this run saw no row past its end, as
    :func:`_complete`'s bound: the bucket before it is the newest complete one.

    A load may still be adding to it: a nightly batch of yesterday's payments holds the
    first minutes after midnight of only some of them, the rest come with the next batch.
    Tested now, such a bucket alerts as a drop. It is tested by the run after the next
    load (:func:`~tidegauge.steps.window.first_tested` goes back to it), or, on a table
    with rows after it, by this one."""
    volume = by_series.get((Metric.BUCKET_ROW_COUNT.value, None, None))
    if not volume:
        return {}
    with_rows = [p for p in volume if p.value and p.bucket_seconds]
    if not with_rows:
        return {}
    newest = max(with_rows, key=lambda p: p.bucket_start)
    step = timedelta(seconds=newest.bucket_seconds)
    looks = [
        (p.bucket_start, p.value)
        for p in history.select(PointFilter(now - LOOKS, frozenset({"freshness_lag_seconds"})))
        if p.value is not None
    ]
    staleness = [v for t, v in looks if t == now]
    # at the first looks nothing says a load is on its way: the bucket is tested as it is
    # (a complete last day looked at after midnight); later, it waits unless what runs saw
    # land calls the table late (no load is coming, the bucket is what it will be)
    if not staleness or usual_staleness(looks, now) is None:
        return {}
    if now - timedelta(seconds=staleness[-1]) >= newest.bucket_start + step:
        return {}
    if late_by_looks(staleness[-1], looks, now):
        return {}
    return {newest.bucket_seconds: newest.bucket_start - step}


def _watched_columns(project: Project, fqn: str) -> set[str] | None:
    """Columns named by the table's field-health monitors; None when none narrows them."""
    from tidegauge.monitors import declared_monitors

    named: set[str] = set()
    for m in declared_monitors(project):
        watched = m.watched_columns() if m.enabled and m.fqn == fqn.lower() else None
        if watched is None:
            continue
        if not watched:
            return None
        named |= watched
    return named or None


#: column families whose values measure rather than name: their repeats are no duplicates
MEASURES = frozenset({TypeFamily.FLOAT, TypeFamily.DECIMAL})


def _time_columns(entry: CollectedTable) -> set[str]:
    """Columns that hold points in time (by type, or named as the table's timestamp)."""
    when = {TypeFamily.TIMESTAMP, TypeFamily.DATE, TypeFamily.TIME}
    out = {c.name for c in entry.info.columns if c.family in when}
    if entry.settings.timestamp_column:
        out.add(entry.settings.timestamp_column)
    return out


def _near_unique(series: list[MetricPoint], rows: dict[datetime, float]) -> bool:
    """Whether a column's distinct count is (almost) its row count in most buckets."""
    ratios = sorted(
        (p.value or 0.0) / rows[p.bucket_start] for p in series if rows.get(p.bucket_start)
    )
    return len(ratios) >= 8 and ratios[len(ratios) // 2] >= 0.95


def _rate_detections(
    metric: str,
    column: str | None,
    series: list[MetricPoint],
    rows_by_bucket: dict[datetime, float],
    null_rates: dict[datetime, float | None],
    start: datetime,
    flagged: set[datetime],
    settings: DetectorSettings,
    bucket: int,
) -> list[Detection]:
    """Binomial test of a rate against its pooled history (see detectors/proportion.py)."""

    def point(p: MetricPoint) -> RatePoint:
        rows = rows_by_bucket.get(p.bucket_start, 0.0)
        if metric not in ("null_rate", "duplicate_rate"):  # other rates: of non-null values
            rows *= 1.0 - (null_rates.get(p.bucket_start) or 0.0)
        return RatePoint(p.bucket_start, float(p.value or 0.0), rows)

    history = [point(p) for p in series if p.bucket_start < start and p.bucket_start not in flagged]
    tested = [point(p) for p in series if p.bucket_start >= start]
    return evaluate_rates(history, tested, settings, metric, points_per_day=86400 / bucket)


def _fdr(cands: list[Candidate]) -> list[Candidate]:
    """Benjamini–Hochberg over every point tested in this run; survivors must also alert.

    The family is every point a detector actually tested (points still learning or missing
    are not tests). Each kept alert says where it stood in the family, in its explanation."""
    tested = [c for c in cands if c.detection.expected is not None]
    verdicts = control_run(
        [c.detection.p_value for c in tested], [c.detection.is_anomaly for c in tested], RUN_Q
    )
    out: list[Candidate] = []
    for c, v in zip(tested, verdicts, strict=True):
        if v.keep:
            d = c.detection
            c.detection = replace(d, details={**d.details, "multiple_testing": v.explanation()})
            out.append(c)
    return out


def severity_of(detection: Detection) -> Severity:
    exp_v, obs = detection.expected, detection.observed
    if exp_v is None or obs is None:
        return Severity.MEDIUM
    rel = abs(obs - exp_v) / max(abs(exp_v), 1e-9)
    if rel >= 0.5:
        return Severity.HIGH
    if rel >= 0.2:
        return Severity.MEDIUM
    return Severity.LOW


def _to_alert(c: Candidate, now: datetime) -> Alert:
    d = c.detection
    what = f"{c.column}.{c.metric}" if c.column else c.metric
    title = f"{c.kind.value.replace('_', ' ')} anomaly in {c.ref.fqn}" + (
        f".{c.column}" if c.column else ""
    )
    return Alert(
        kind=c.kind,
        table=c.ref,
        metric=c.metric,
        column=c.column,
        segment=c.segment,
        data_time=d.timestamp,
        detected_at=now,
        observed=d.observed,
        expected=d.expected,
        lower=d.lower,
        upper=d.upper,
        severity=severity_of(d),
        title=title,
        explanation={
            "text": d.reason,
            "metric": what,
            "observed": d.observed,
            "expected": d.expected,
            "band": [d.lower, d.upper],
            "seasonal": d.seasonal,
            "trend": d.trend,
            "training_points": d.training_points,
            "p_value": d.p_value,
            "score": d.score,
            "bucket_seconds": c.bucket_seconds,
            **{k: v for k, v in d.details.items() if _jsonable(v)},
        },
    )


def _jsonable(v: Any) -> bool:
    return isinstance(v, str | int | float | bool | type(None) | list | dict)
