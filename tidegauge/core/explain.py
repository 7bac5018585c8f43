"""One plain sentence per alert, for a person who reads it once: what happened, when, in
units, and what is usual. The CLI, the web UI, Slack, Teams and e-mail all show this
sentence, so they all say the same; metric ids stay in ``--json`` and behind the web UI's
details toggle.

Titles, units and nouns come from the metric catalogue (:func:`~tidegauge.core.catalogue.spec`);
numbers and durations from :mod:`tidegauge.core.units`.

>>> from datetime import UTC, datetime
>>> a = {"kind": "volume", "metric": "bucket_row_count", "table": "raw.orders",
...      "observed": 0, "lower": 25, "upper": 60.4, "column": None, "segment": None,
...      "data_time": datetime(2026, 3, 2, 16, tzinfo=UTC),
...      "explanation": {"bucket_seconds": 3600}}
>>> print(explain(a))
raw.orders received 0 rows from 16:00 to 17:00 UTC on Mon 2 Mar (usually 25–60 an hour at that time)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tidegauge.core.catalogue import Unit, spec
from tidegauge.core.units import duration, number, percent, plural, value

__all__ = ["explain", "headline"]

_CATEGORY_KINDS = {"category_new_value", "category_vanished", "category_shift"}


def _get(alert: Any, key: str) -> Any:
    if isinstance(alert, Mapping):
        return alert.get(key)
    got = getattr(alert, key, None)
    if key == "table" and got is not None and not isinstance(got, str):
        return got.fqn
    if key == "kind" and got is not None and not isinstance(got, str):
        return got.value
    return got


def _clock(t: datetime | None) -> str:
    return "" if t is None else f"{t:%H:%M}"


def _day(t: datetime) -> str:
    return f"{t:%a} {t.day} {t:%b}"


def _spec_or_none(metric: str) -> Any:
    try:
        return spec(metric)
    except KeyError:
        return None


def headline(alert: Any) -> str:
    """A short title: the metric's plain title and the column (``Null rate · email``); for a
    category alert, what changed about the column's values (never "Mean length · status").

    >>> headline({"kind": "category_new_value", "metric": "value_count", "column": "status"})
    'New value in status'
    >>> headline({"kind": "null_rate", "metric": "null_rate", "column": "email"})
    'Null rate · email'
    """
    kind = str(_get(alert, "kind") or "")
    column = _get(alert, "column")
    if kind == "category_new_value":
        return f"New value in {column}"
    if kind == "category_vanished":
        return f"A value disappeared from {column}"
    if kind == "category_shift":
        return f"Mix of values changed in {column}"
    if kind == "schema_change":
        return f"Schema change · {column}" if column else "Schema change"
    if kind == "freshness":
        return "Late data"
    metric = str(_get(alert, "metric") or "")
    if metric.startswith("rule:"):
        return f"Rule {metric[5:]} failed"
    s = _spec_or_none(metric)
    title = s.title if s is not None else metric.replace("_", " ").capitalize()
    return f"{title} · {column}" if column else title


def _usual(lower: float | None, upper: float | None, fmt: Any) -> str:
    if lower is not None and upper is not None:
        lo, hi = fmt(max(lower, 0.0) if lower < 0 <= upper else lower), fmt(upper)
        # the unit once: "6.5–7.9 characters", "0–1%", not "6.5 characters–7.9 characters"
        if lo.endswith("%") and hi.endswith("%"):
            lo = lo[:-1]
        elif " " in lo and " " in hi:
            unit = lo.split(" ", 1)[1]
            if unit == hi.split(" ", 1)[1] and not any(c.isdigit() for c in unit):
                lo = lo.split(" ", 1)[0]
        return f"{lo}–{hi}"
    if upper is not None:
        return f"at most {fmt(upper)}"
    if lower is not None:
        return f"at least {fmt(lower)}"
    return ""


def _whole(x: float) -> str:
    return f"{round(x):,}"


def _per(bucket: float | None) -> str:
    if bucket == 3600:
        return "an hour"
    if bucket == 86400:
        return "a day"
    return f"per {duration(bucket)}" if bucket else ""


def explain(alert: Any) -> str:
    """The alert as one sentence; ``alert`` is a stored alert (dict) or an
    :class:`~tidegauge.core.model.Alert`.

    >>> from datetime import UTC, datetime
    >>> explain({"kind": "freshness", "metric": "freshness", "table": "raw.orders",
    ...          "observed": 28_800, "expected": 3_600, "upper": 5_400,
    ...          "data_time": datetime(2026, 3, 2, 13, tzinfo=UTC),
    ...          "explanation": {"kind": "cadence", "cadence": "hourly"}})
    'raw.orders: last row 8 h ago; it usually lands hourly (overdue after 1 h 30 min)'
    """
    kind = str(_get(alert, "kind") or "")
    metric = str(_get(alert, "metric") or "")
    table = _get(alert, "table") or "the table"
    column = _get(alert, "column")
    segment = _get(alert, "segment")
    observed, expected = _get(alert, "observed"), _get(alert, "expected")
    lower, upper = _get(alert, "lower"), _get(alert, "upper")
    at: datetime | None = _get(alert, "data_time")
    why: dict[str, Any] = dict(_get(alert, "explanation") or {})
    fallback = str(why.get("text") or _get(alert, "title") or headline(alert))

    if kind == "freshness":
        return _freshness(table, observed, expected, upper, why) or fallback
    if kind in _CATEGORY_KINDS:
        return _category(kind, column, segment, observed, expected, at, why) or fallback
    if kind in ("schema_change", "rule") or observed is None:
        return fallback
    s = _spec_or_none(metric)
    # a detector that judges behaviour, not one value (the minute-series ensemble), says what
    # changed: the value itself may sit inside its usual range
    change = f": {why['change']}" if isinstance(why.get("change"), str) else ""
    if s is None:  # custom metrics and anything the catalogue does not know
        usual = _usual(lower, upper, number)
        name = metric.split(":", 1)[-1]
        return (
            f"{table}: {name} is {number(observed)}"
            + (f" (usually {usual})" if usual else "")
            + change
        )
    if metric == "bucket_row_count" and at is not None:
        bucket = why.get("bucket_seconds")
        end = at + timedelta(seconds=float(bucket)) if bucket else None
        span = f"from {_clock(at)} to {_clock(end)} UTC" if end else f"at {_clock(at)} UTC"
        usual = _usual(lower, upper, _whole)
        per = _per(bucket)
        tail = f" (usually {usual} {per} at that time)" if usual else ""
        return f"{table} received {plural(observed, 'rows')} {span} on {_day(at)}{tail}"

    def fmt(x: float) -> str:
        return value(x, s.unit.value, s.noun)

    usual = _usual(lower, upper, fmt)
    tail = f" (usually {usual})" if usual else ""
    when = f" at {_clock(at)} UTC on {_day(at)}" if at is not None else ""
    subject = f"{table}.{column}" if column else str(table)
    if s.unit is Unit.RATIO:
        return f"{subject}: {s.title.lower()} {percent(observed)}{when}{tail}{change}"
    return f"{subject}: {s.title.lower()} {fmt(observed)}{when}{tail}{change}"


def _freshness(
    table: str,
    observed: float | None,
    expected: float | None,
    upper: float | None,
    why: dict[str, Any],
) -> str | None:
    if observed is None:
        return None
    age = f"{table}: last row {duration(observed)} ago"
    mode = why.get("kind")
    if mode == "sla" and upper is not None:
        return f"{age}, past its limit of {duration(upper)}"
    cadence = why.get("cadence")
    if cadence:
        limit = f" (overdue after {duration(upper)})" if upper is not None else ""
        return f"{age}; it usually lands {cadence}{limit}"
    if expected is not None:
        return f"{age}; it usually lands every {duration(expected)}"
    return None


def _category(
    kind: str,
    column: str | None,
    segment: str | None,
    observed: float | None,
    expected: float | None,
    at: datetime | None,
    why: dict[str, Any],
) -> str | None:
    v = why.get("value", segment)
    if kind == "category_new_value" and v is not None and at is not None:
        # the first bucket the value appeared in, when the detector found it (else the
        # tested window's start) and the counts on each side of it
        first = why.get("first_seen")
        since = datetime.fromisoformat(first) if isinstance(first, str) else at
        count, share = why.get("count"), why.get("share", observed)
        total = why.get("total")
        if total is None and count is not None and share:
            total = round(count / share)
        counts = ""
        if count is not None and total:
            counts = f": {number(count)} of {plural(total, 'rows')} ({percent(count / total)})"
        elif share is not None:
            counts = f": {percent(share)} of rows"
        before = why.get("rows_before")
        if before:
            prior = f"; in the {plural(before, 'rows')} before {_clock(since)} it never appeared"
        else:
            prior = f"; before {_clock(since)} it never appeared"
        return f"{column} has a new value '{v}' since {_clock(since)} UTC{counts}{prior}"
    if kind == "category_vanished" and v is not None:
        usual = f" (usually {percent(expected)} of rows)" if expected is not None else ""
        return f"{column} no longer has the value '{v}'{usual}"
    return None
