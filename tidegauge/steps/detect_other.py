"""Detectors that are not plain metric series: schema, categories, freshness and rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from tidegauge.config import Project
from tidegauge.core.detectors.base import Detection, DetectorSettings, Sensitivity
from tidegauge.core.detectors.categorical import CategoricalDetector
from tidegauge.core.detectors.freshness import (
    MIN_UPDATES,
    FreshnessDetector,
    landings,
    late_by_looks,
    times_of_updates,
)
from tidegauge.core.detectors.rules import RuleInput, RuleSpec, RuleType, evaluate_rules
from tidegauge.core.model import Alert, AlertKind, Severity
from tidegauge.store.bulk import PointFilter

if TYPE_CHECKING:
    from tidegauge.steps.collect import CollectedTable
    from tidegauge.steps.history import TableHistory

HISTORY = timedelta(days=29)
#: rules test the latest value of each metric: the last two days hold it
RULES_LOOKBACK = timedelta(days=2)


def categories_read(now: datetime) -> PointFilter:
    return PointFilter(now - HISTORY, frozenset({"value_count"}))


def updates_read(now: datetime) -> list[PointFilter]:
    return [
        PointFilter(now - HISTORY, frozenset({"bucket_row_count"}), unsegmented=True),
        PointFilter(now - HISTORY, frozenset({"last_modified", "freshness_lag_seconds"})),
    ]


def rules_read(now: datetime) -> PointFilter:
    return PointFilter(now - RULES_LOOKBACK, unsegmented=True)


def history_reads(
    project: Project, entries: Sequence[CollectedTable], now: datetime
) -> list[PointFilter]:
    """The points the detectors of this module read for ``entries``."""
    reads = [categories_read(now), *updates_read(now)]
    if any(rule_specs(project, e) for e in entries):
        reads.append(rules_read(now))
    return reads


#: share-shift alerts need at least this many rows in the tested buckets
MIN_SHIFT_ROWS = 100


def schema_alerts(entry: CollectedTable, now: datetime) -> list[Alert]:
    out = []
    for ch in entry.schema_changes:
        change = str(ch.change)
        out.append(
            Alert(
                kind=AlertKind.SCHEMA_CHANGE,
                table=entry.info.ref,
                metric="schema",
                column=ch.column,
                segment=change,
                data_time=now,
                detected_at=now,
                severity=Severity.HIGH if ch.breaking else Severity.LOW,
                title=f"column `{ch.column}` {change.replace('_', ' ')} in {entry.info.ref.fqn}",
                explanation={
                    "text": ch.reason,
                    "change": change,
                    "old_type": ch.old.data_type if ch.old else None,
                    "new_type": ch.new.data_type if ch.new else None,
                    "new_name": ch.new.name if ch.new else None,
                },
            )
        )
    return out


def _bucket(project: Project, entry: CollectedTable) -> int:
    return (entry.settings.bucket or project.defaults.bucket).seconds


def categorical_alerts(
    project: Project, history: TableHistory, entry: CollectedTable, now: datetime
) -> list[Alert]:
    read = categories_read(now)
    if not history.holds(read):
        return []
    bucket = _bucket(project, entry)
    start = history.test_from(
        now, bucket, project.defaults.recheck_buckets, entry.first_run, entry.resumed_after
    )
    points = history.select(read)
    by_col: dict[str, dict[datetime, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for p in points:
        if p.column is None or p.segment is None or p.value is None:
            continue
        if p.bucket_start + timedelta(seconds=p.bucket_seconds or bucket) > now:
            continue  # incomplete bucket
        by_col[p.column][p.bucket_start][p.segment] = int(p.value)
    out: list[Alert] = []
    sens = Sensitivity(entry.settings.sensitivity or project.defaults.sensitivity)
    limit = project.defaults.categorical_max_distinct
    for column, buckets in sorted(by_col.items()):
        hist = [(t, c) for t, c in sorted(buckets.items()) if t < start]
        cur = [(t, c) for t, c in sorted(buckets.items()) if t >= start]
        if not cur or not _stable_value_set(hist, limit):
            continue
        det = CategoricalDetector(DetectorSettings(sensitivity=sens), column=column)
        rows_now = sum(sum(c.values()) for _, c in cur)
        for d in det.evaluate(hist, cur):
            if d.details.get("kind") == "category_shift" and rows_now < MIN_SHIFT_ROWS:
                continue  # a share of a handful of rows moves by chance
            if d.is_anomaly:
                out.append(_categorical_alert(entry, column, d, now))
    return out


def _stable_value_set(hist: list[tuple[datetime, dict[str, int]]], limit: int) -> bool:
    """Whether a column's history has a small, recurring set of values worth watching.

    A short window can make a code or identifier column look low-cardinality; over the
    whole history such a column shows many values that each appear in one bucket only.
    """
    seen: dict[str, int] = {}
    for _, counts in hist:
        for value in counts:
            if value not in ("__other__", "__null__"):
                seen[value] = seen.get(value, 0) + 1
    if not seen:
        return True
    if len(seen) > limit:
        return False
    once = sum(1 for n in seen.values() if n == 1)
    return once <= max(2, len(seen) // 2)


def _categorical_alert(entry: CollectedTable, column: str, d: Detection, now: datetime) -> Alert:
    kind = AlertKind(str(d.details.get("kind", "category_shift")))
    value = d.details.get("value")
    title = {
        AlertKind.CATEGORY_NEW_VALUE: f"new value `{value}` in {entry.info.ref.fqn}.{column}",
        AlertKind.CATEGORY_VANISHED: f"value `{value}` vanished from {entry.info.ref.fqn}.{column}",
    }.get(kind, f"value shares shifted in {entry.info.ref.fqn}.{column}")
    return Alert(
        kind=kind,
        table=entry.info.ref,
        metric="value_share",
        column=column,
        segment=None if value is None else str(value),
        data_time=d.timestamp,
        detected_at=now,
        observed=d.observed,
        expected=d.expected,
        lower=d.lower,
        upper=d.upper,
        severity=Severity.HIGH if kind is AlertKind.CATEGORY_NEW_VALUE else Severity.MEDIUM,
        title=title,
        explanation={
            "text": d.reason,
            "training_points": d.training_points,
            "p_value": d.p_value,
            **_plain(d.details),
        },
    )


def _plain(details: dict[str, object]) -> dict[str, object]:
    return {
        k: v
        for k, v in details.items()
        if isinstance(v, str | int | float | bool | type(None) | list | dict)
    }


def freshness_alert(
    project: Project, history: TableHistory, entry: CollectedTable, now: datetime
) -> Alert | None:
    reads = updates_read(now)
    if not history.holds(*reads):
        return None
    points = history.select(*reads)
    # what runs saw of the newest row: (run time, seconds since it)
    looks = [
        (p.bucket_start, p.value)
        for p in points
        if p.metric == "freshness_lag_seconds" and p.value is not None
    ]
    now_look = [v for t, v in looks if t == now]
    times = times_of_updates(points, now)
    newest = times[-1] if times else None  # of the rows, as the title says
    landed = sorted({datetime.fromtimestamp(t, UTC) for t, _ in landings(looks, now)})
    if len(times) < MIN_UPDATES <= len(landed):
        # a table rebuilt in full keeps its rows' times in one bucket, the newest: the rows
        # tell no cadence, the landings runs saw do
        times = landed
        newest = now - timedelta(seconds=now_look[-1]) if now_look else times[-1]
    if not times or newest is None:
        return None
    sla = entry.settings.freshness_sla
    d = FreshnessDetector(table=entry.info.ref.fqn).evaluate(times, now, sla)
    if not d.is_anomaly:
        return None
    last = times[-1]
    if sla is None and len(times) > 2:
        # a sparse table skips buckets now and then; a silence no longer than the longest
        # it has had in its history is not news
        gaps = sorted((b - a).total_seconds() for a, b in pairwise(times))
        if (now - last).total_seconds() <= gaps[-1]:
            return None
    if sla is None:
        # rows say when the data happened, not when it landed: what earlier runs saw of the
        # newest row tells the table's load schedule from a late load
        staleness = now_look[-1] if now_look else (now - last).total_seconds()
        if not late_by_looks(staleness, looks, now, d.upper):
            return None
    return Alert(
        kind=AlertKind.FRESHNESS,
        table=entry.info.ref,
        metric="freshness",
        # one alert per missed load: the data time is the last update seen
        data_time=last,
        detected_at=now,
        observed=d.observed,
        expected=d.expected,
        lower=d.lower,
        upper=d.upper,
        severity=Severity.HIGH,
        title=f"{entry.info.ref.fqn} is late: no new data since {newest:%Y-%m-%d %H:%M} UTC",
        explanation={"text": d.reason, "training_points": d.training_points, **_plain(d.details)},
    )


def rule_specs(project: Project, entry: CollectedTable) -> list[RuleSpec]:
    st = entry.settings
    specs = []
    if st.row_count_min is not None:
        specs.append(
            RuleSpec(RuleType.ROW_COUNT_MIN, min=float(st.row_count_min), name="row_count_min")
        )
    for m in project.metrics:
        if (
            m.table
            and m.table.lower() == entry.info.ref.fqn.lower()
            and (m.min is not None or m.max is not None)
        ):
            specs.append(
                RuleSpec(
                    RuleType.RANGE, column=f"custom:{m.name}", min=m.min, max=m.max, name=m.name
                )
            )
    return specs


def rule_alerts(
    project: Project, history: TableHistory, entry: CollectedTable, now: datetime
) -> list[Alert]:
    specs = rule_specs(project, entry)
    if not specs:
        return []
    latest: dict[tuple[str | None, str], float | None] = {}
    for p in history.select(rules_read(now)):
        latest[(p.column, p.metric)] = p.value
    out = []
    for spec in specs:
        if spec.column and spec.column.startswith("custom:"):
            v = latest.get((None, spec.column))
            metrics = {"min": v, "max": v}
        else:
            metrics = {m: v for (c, m), v in latest.items() if c == spec.column}
        for d in evaluate_rules([spec], RuleInput(at=now, metrics=metrics)):
            if not d.is_anomaly:
                continue
            name = spec.name or spec.type.value
            out.append(
                Alert(
                    kind=AlertKind.RULE,
                    table=entry.info.ref,
                    metric=f"rule:{name}",
                    column=spec.column if spec.column and ":" not in spec.column else None,
                    data_time=now,
                    detected_at=now,
                    observed=d.observed,
                    expected=d.expected,
                    lower=d.lower,
                    upper=d.upper,
                    severity=Severity.HIGH,
                    title=f"rule {name} failed on {entry.info.ref.fqn}",
                    explanation={"text": d.reason, **_plain(d.details)},
                )
            )
    return out
