"""Stream alerts: the learned detector on minute buckets, and explicit rules.

* messages per bucket: the seasonal detector (daily shape learned from the backfill), on
  the buckets completed since the previous poll;
* consumer status (see :mod:`tidegauge.streams.status`): an alert when a group enters a
  problem status;
* payload schema: a field added, removed or changing type;
* a new categorical value, in the first poll that samples it.

Alerts are ordinary :class:`~tidegauge.core.model.Alert` objects on the topic's table, so
incidents, severity, notifications, the UI and the API treat them like any table's.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tidegauge.core.catalogue import spec
from tidegauge.core.clock import floor_time
from tidegauge.core.detectors.base import DetectorSettings, Direction, Sensitivity
from tidegauge.core.detectors.categorical import MIN_HISTORY_BUCKETS, CategoricalDetector
from tidegauge.core.detectors.fdr import fdr_reject
from tidegauge.core.detectors.seasonal import SeasonalDetector
from tidegauge.core.model import Alert, AlertKind, Severity
from tidegauge.store.alerts import series_key
from tidegauge.streams.metrics import LAG_SECONDS, MESSAGES
from tidegauge.streams.poll import TopicReport
from tidegauge.streams.status import ConsumerStatus

if TYPE_CHECKING:
    from tidegauge.store.store import Store
    from tidegauge.streams.config import KafkaStreamConfig

log = logging.getLogger("tidegauge.streams")

#: minute series train on the last few days (weekly seasonality needs weeks of minutes)
TRAINING_DAYS = 3
#: a field is removed when a sample this unlikely lacks it: (1 - presence)^n below this
REMOVED_P = 1e-3
MIN_SAMPLE_FOR_REMOVAL = 10
#: values are only "new" once the path's values have been watched over a few polls
MIN_POLLS_FOR_NEW_VALUES = 3


def _kind_label(typ: str) -> str:
    return "number" if typ in ("integer", "float", "number") else typ


def topic_alerts(
    cfg: KafkaStreamConfig, store: Store, tr: TopicReport, now: datetime, sensitivity: str
) -> list[Alert]:
    out: list[Alert] = []
    try:
        out += _volume(cfg, store, tr, now, sensitivity)
    except ValueError as e:
        log.warning("%s: volume detection: %s", tr.ref.fqn, e)
    try:
        out += _lag_baselines(cfg, store, tr, now, sensitivity)
    except ValueError as e:
        log.warning("%s: lag detection: %s", tr.ref.fqn, e)
    out += _consumers(tr, now)
    out += _schema(tr, now)
    out += _new_values(cfg, tr, now)
    out += _vanished_values(cfg, tr, now, sensitivity)
    return out


def _volume(
    cfg: KafkaStreamConfig, store: Store, tr: TopicReport, now: datetime, sensitivity: str
) -> list[Alert]:
    if tr.first_poll:
        return []
    return _learned(cfg, store, tr, now, sensitivity, MESSAGES, None)


def _lag_baselines(
    cfg: KafkaStreamConfig, store: Store, tr: TopicReport, now: datetime, sensitivity: str
) -> list[Alert]:
    """Lag in seconds against its own learned baseline (a consumer that is usually a few
    seconds behind and is now minutes behind, before any status rule trips)."""
    out: list[Alert] = []
    for g in tr.groups:
        out += _learned(cfg, store, tr, now, sensitivity, LAG_SECONDS, g)
    return out


def _learned(
    cfg: KafkaStreamConfig,
    store: Store,
    tr: TopicReport,
    now: datetime,
    sensitivity: str,
    metric: str,
    column: str | None,
) -> list[Alert]:
    """The seasonal detector on one minute series, testing the buckets since the last poll;
    its alert kind, direction and title are the metric catalogue's."""
    m = spec(metric)
    assert m.kind is not None, f"{metric} has no alert kind in the catalogue"
    kind, direction = m.kind, m.direction
    bucket = cfg.bucket_seconds
    points = store.points(
        tr.table_id,
        metric=metric,
        since=now - timedelta(days=TRAINING_DAYS),
        unsegmented=True,
    )
    complete = [
        p
        for p in points
        if p.value is not None
        and p.column == column
        and p.bucket_start + timedelta(seconds=bucket) <= now
    ]
    if len(complete) < 60:
        return []
    # the buckets completed since the previous poll (and the one before, for late growth)
    test_from = floor_time(now, bucket) - timedelta(seconds=2 * bucket)
    key = series_key(tr.table_id, metric, column, None)
    flagged = store.alerts.flagged_times(tr.table_id).get(key, set())
    det = SeasonalDetector(
        DetectorSettings(
            sensitivity=Sensitivity(sensitivity),
            direction=direction,
            min_abs_change=1.0,
            min_rel_change=0.1,
            max_training_days=TRAINING_DAYS,
        ),
        metric=metric,
    )
    detections = det.evaluate(
        [p.bucket_start for p in complete],
        [float(p.value or 0.0) for p in complete],
        test_from=test_from,
        exclude=sorted(flagged),
    )
    if not detections:
        return []
    keep = fdr_reject([d.p_value for d in detections], q=0.05)
    title = m.title.lower()
    what = (
        f"{title} on topic {tr.topic}"
        if column is None
        else f"{title} of {column} on topic {tr.topic}"
    )
    out = []
    for d, k in zip(detections, keep, strict=True):
        if not (k and d.is_anomaly):
            continue
        rel = abs((d.observed or 0) - (d.expected or 0)) / max(abs(d.expected or 0), 1e-9)
        out.append(
            Alert(
                kind=kind,
                table=tr.ref,
                metric=metric,
                column=column,
                data_time=d.timestamp,
                detected_at=now,
                observed=d.observed,
                expected=d.expected,
                lower=d.lower,
                upper=d.upper,
                severity=Severity.HIGH if rel >= 0.5 else Severity.MEDIUM,
                title=f"anomaly in {what}",
                explanation={
                    "text": f"{what} ({cfg.name}): {d.reason}",
                    "metric": metric,
                    "observed": d.observed,
                    "expected": d.expected,
                    "band": [d.lower, d.upper],
                    "p_value": d.p_value,
                    "bucket_seconds": bucket,
                },
            )
        )
    return out


def _consumers(tr: TopicReport, now: datetime) -> list[Alert]:
    out = []
    for g in tr.groups.values():
        if not g.status.problem or g.status == g.previous_status:
            continue
        behind = f"{g.lag:,} messages behind"
        if g.lag_seconds is not None:
            behind += f", the oldest unread one {_age(g.lag_seconds)} old"
        kind = AlertKind.DUPLICATES if g.status is ConsumerStatus.REWOUND else AlertKind.FRESHNESS
        severity = Severity.MEDIUM if g.status is ConsumerStatus.FALLING_BEHIND else Severity.HIGH
        out.append(
            Alert(
                kind=kind,
                table=tr.ref,
                metric="consumer_status",
                column=g.group,
                segment=g.status.value,
                data_time=now,
                detected_at=now,
                observed=float(g.lag),
                expected=0.0,
                severity=severity,
                title=f"consumer group {g.group} {g.status.value.replace('_', ' ')} on {tr.topic}",
                explanation={
                    "text": f"consumer group `{g.group}` on topic `{tr.topic}` "
                    f"{g.status.sentence}; it is {behind}",
                    "status": g.status.value,
                    "lag": g.lag,
                    "lag_seconds": g.lag_seconds,
                    "members": g.members,
                },
            )
        )
    return out


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _schema(tr: TopicReport, now: datetime) -> list[Alert]:
    old, new = tr.previous_schema, tr.schema
    if not old or not new or tr.profile is None:
        return []
    parsed = tr.profile.parsed
    added = sorted(set(new) - set(old))
    removed = [
        p
        for p in sorted(set(old) - set(new))
        if parsed >= MIN_SAMPLE_FOR_REMOVAL
        and (1.0 - tr.previous_present.get(p, 1.0)) ** parsed < REMOVED_P
    ]
    changed = sorted(p for p in set(old) & set(new) if _kind_label(old[p]) != _kind_label(new[p]))
    out = []

    def alert(path: str, change: str, text: str, severity: Severity) -> None:
        out.append(
            Alert(
                kind=AlertKind.SCHEMA_CHANGE,
                table=tr.ref,
                metric="schema",
                column=path,
                segment=change,
                data_time=now,
                detected_at=now,
                severity=severity,
                title=f"payload field `{path}` {change.replace('_', ' ')} on topic {tr.topic}",
                explanation={
                    "text": text,
                    "change": change,
                    "old_type": old.get(path),
                    "new_type": new.get(path),
                },
            )
        )

    for p in added:
        hint = (
            f"; `{removed[0]}` disappeared at the same time (renamed?)"
            if len(removed) == 1 and len(added) == 1
            else ""
        )
        share = 1.0 - (tr.profile.null_rate(p) or 0.0)
        alert(
            p,
            "added",
            f"payload field `{p}` ({new[p]}) appeared on topic `{tr.topic}`, in {share:.0%} of "
            f"the {parsed} messages sampled{hint}",
            Severity.LOW if not removed else Severity.HIGH,
        )
    for p in removed:
        hint = f"; `{added[0]}` appeared at the same time (renamed?)" if len(added) == 1 else ""
        alert(
            p,
            "removed",
            f"payload field `{p}` is missing from all {parsed} messages sampled on topic "
            f"`{tr.topic}`; it was in {tr.previous_present.get(p, 1.0):.0%} of them{hint}",
            Severity.HIGH,
        )
    for p in changed:
        alert(
            p,
            "type_changed",
            f"payload field `{p}` on topic `{tr.topic}` changed type: {old[p]} → {new[p]}",
            Severity.HIGH,
        )
    return out


def _new_values(cfg: KafkaStreamConfig, tr: TopicReport, now: datetime) -> list[Alert]:
    if tr.profile is None or tr.polls_seen < MIN_POLLS_FOR_NEW_VALUES:
        return []
    out = []
    for path, f in sorted(tr.profile.categorical(cfg.categorical_max_distinct).items()):
        known = tr.known_values.get(path)
        if not known:
            continue  # a path seen for the first time: its values are the baseline
        total = sum(f.values.values())
        for value, n in sorted(f.values.items()):
            if value in known:
                continue
            first = f.first_seen.get(value)
            first_at = (
                datetime.fromtimestamp(first / 1000, now.tzinfo) if first is not None else now
            )
            share = n / total if total else math.nan
            out.append(
                Alert(
                    kind=AlertKind.CATEGORY_NEW_VALUE,
                    table=tr.ref,
                    metric="value_count",
                    column=path,
                    segment=value,
                    data_time=floor_time(first_at, cfg.bucket_seconds),
                    detected_at=now,
                    observed=float(n),
                    expected=0.0,
                    severity=Severity.MEDIUM,
                    title=f"new value `{value}` in `{path}` on topic {tr.topic}",
                    explanation={
                        "text": f"new value `{value}` appeared in `{path}` on topic "
                        f"`{tr.topic}`, first seen at {first_at:%Y-%m-%d %H:%M:%S} UTC; "
                        f"{share:.0%} of the {total} messages sampled since the previous poll "
                        f"(known values: {', '.join(sorted(known)[:10])})",
                        "value": value,
                        "first_seen": first_at.isoformat(),
                        "share": share,
                    },
                )
            )
    return out


def _vanished_values(
    cfg: KafkaStreamConfig, tr: TopicReport, now: datetime, sensitivity: str
) -> list[Alert]:
    """A value seen in (almost) every sampled bucket that is missing from this poll's sample.

    The test is the table side's (:class:`CategoricalDetector`): the value's usual share of
    the sampled messages, and how unlikely it is that none of this poll's sample holds it.
    It alerts once, in the poll that first misses the value: the next poll's history ends
    in a bucket without it.
    """
    if tr.profile is None:
        return []
    bucket = cfg.bucket_seconds
    cur = floor_time(now, bucket)
    out = []
    for path, f in sorted(tr.profile.categorical(cfg.categorical_max_distinct).items()):
        hist = sorted(
            (b, {v: int(c) for v, c in counts.items()})
            for b, counts in tr.value_history.get(path, {}).items()
            if b < cur
        )
        if len(hist) < MIN_HISTORY_BUCKETS:
            continue
        det = CategoricalDetector(
            DetectorSettings(sensitivity=Sensitivity(sensitivity), direction=Direction.DOWN),
            column=path,
        )
        found = det.evaluate(hist, (cur, {v: int(n) for v, n in f.values.items()}))
        n_now = sum(f.values.values())
        for d in found:
            value = d.details.get("value")
            if d.details.get("kind") != "category_vanished" or not isinstance(value, str):
                continue
            last = max(b for b, counts in hist if counts.get(value, 0) > 0)
            if last != hist[-1][0]:
                continue  # already missing from the previous sampled bucket: alerted then
            share = float(d.details.get("expected_share") or 0.0)
            seen_until = last + timedelta(seconds=bucket)
            out.append(
                Alert(
                    kind=AlertKind.CATEGORY_VANISHED,
                    table=tr.ref,
                    metric="value_count",
                    column=path,
                    segment=value,
                    data_time=cur,
                    detected_at=now,
                    observed=0.0,
                    expected=round(share * n_now, 1),
                    severity=Severity.MEDIUM,
                    title=f"value `{value}` vanished from `{path}` on topic {tr.topic}",
                    explanation={
                        "text": f"value `{value}` of `{path}` on topic `{tr.topic}` was last "
                        f"seen in the bucket starting {last:%Y-%m-%d %H:%M} UTC; none "
                        f"of the {n_now} messages sampled since the previous poll has it, "
                        f"where it was usually {share:.0%} of them (in {len(hist)} sampled "
                        "buckets before)",
                        "value": value,
                        "last_seen": last.isoformat(),
                        "seen_until": seen_until.isoformat(),
                        "expected_share": share,
                        "sampled": n_now,
                    },
                )
            )
    return out
