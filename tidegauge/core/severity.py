"""How bad an incident is: a level computed from three things a data engineer asks, each
given with its reason.

1. **How big is the change?** The root problem's largest departure from usual: minor (0),
   large (1) or severe (2) — no rows at all, a column removed, a quarter of the rows
   turned null.
2. **How long has it lasted?** From the first to the last bucket its table kept alerting:
   brief (0), hours (1), a day or more (2). A schema change stays until someone changes it
   back, so it counts as lasting.
3. **How far does it reach?** Nothing downstream (0), downstream models (1), many models or
   models of several owners (2), dashboards and other exposures (3).

The points add up to the level: 0–1 low, 2–3 medium, 4–5 high, 6 and above critical. The
reasons are short sentences kept with the incident, so every surface (web, notifications,
JSON) can say why without recomputing it.

>>> from datetime import timedelta
>>> a = assess_severity(
...     [ChangeEvidence(AlertKind.VOLUME, "bucket_row_count", 41.0, 153.0)],
...     lasted=timedelta(hours=4),
...     reach=Reach(models=6, exposures=0, owners=1),
... )
>>> a.level.value
'medium'
>>> severity_sentence(a.level, a.reasons)
'Medium: 73% fewer rows than usual (41 against about 153), a large change; it has lasted 4 hours; 6 downstream models read it, no dashboards.'
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tidegauge.core.catalogue import Unit, spec
from tidegauge.core.model import AlertKind, Severity

__all__ = [
    "ChangeEvidence",
    "Reach",
    "SeverityAssessment",
    "assess_severity",
    "severity_sentence",
]

#: a rate that moved by this many points of the rows is a large / severe change
RATE_LARGE, RATE_SEVERE = 0.05, 0.25
#: a count or measure off by this fraction of its usual value is a large / severe change
RELATIVE_LARGE, RELATIVE_SEVERE = 0.30, 0.90
#: a table this many usual update intervals overdue is a large / severe delay
OVERDUE_LARGE, OVERDUE_SEVERE = 2.0, 6.0
#: lasting at least this long is "hours" / "a day or more"
LASTING, LONG = timedelta(hours=3), timedelta(hours=24)
#: this many downstream models (or this many owners) is a wide reach
WIDE_MODELS, WIDE_OWNERS = 10, 2
#: points → level: the upper bound (inclusive) of each level below critical
LEVELS = ((1, Severity.LOW), (3, Severity.MEDIUM), (5, Severity.HIGH))

_GRADE = {0: "a minor change", 1: "a large change", 2: "a severe change"}


@dataclass(frozen=True)
class ChangeEvidence:
    """What one alert of the root problem saw (what ``Alert`` carries, detached from it)."""

    kind: AlertKind
    metric: str
    observed: float | None
    expected: float | None
    explanation: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reach:
    """Who and what reads the root table downstream."""

    models: int = 0
    exposures: int = 0
    owners: int = 0


@dataclass(frozen=True)
class SeverityAssessment:
    level: Severity
    points: int
    reasons: tuple[str, ...]

    def sentence(self) -> str:
        return severity_sentence(self.level, self.reasons)


def severity_sentence(level: Severity | str, reasons: Sequence[str]) -> str:
    """One sentence saying why an incident has its level, from its stored reasons.

    >>> severity_sentence("low", ["a minor change", "seen for 1 hour so far"])
    'Low: a minor change; seen for 1 hour so far.'
    """
    name = Severity(level).value.capitalize()
    if not reasons:
        return f"{name}."
    return f"{name}: " + "; ".join(reasons) + "."


def assess_severity(
    evidence: Sequence[ChangeEvidence],
    *,
    lasted: timedelta,
    reach: Reach,
) -> SeverityAssessment:
    """The level of an incident whose root problem showed ``evidence``, lasted ``lasted``
    (first to last bucket, inclusive) and reaches ``reach`` downstream."""
    sizes = [_size(e) for e in evidence] or [(1, "a check failed")]
    size, size_text = max(sizes, key=lambda s: s[0])
    is_schema = any(e.kind is AlertKind.SCHEMA_CHANGE for e in evidence)
    overdue = max((_overdue(e) for e in evidence), default=timedelta(0))
    duration, duration_text = _duration(max(lasted, overdue), is_schema)
    breadth, reach_text = _reach(reach)
    points = size + duration + breadth
    level = next((lvl for top, lvl in LEVELS if points <= top), Severity.CRITICAL)
    return SeverityAssessment(level, points, (size_text, duration_text, reach_text))


def _unit(metric: str) -> Unit | None:
    try:
        return spec(metric).unit
    except KeyError:
        return None


def _size(e: ChangeEvidence) -> tuple[int, str]:
    if e.kind is AlertKind.SCHEMA_CHANGE:
        change = str(e.explanation.get("change") or "")
        if change == "added":
            return 0, "a column was added, which breaks nothing that reads the table"
        verb = {"type_changed": "changed type", "renamed": "was renamed"}.get(change, "was removed")
        return 2, f"a column {verb}, which breaks what reads it, a severe change"
    if e.observed is None:
        return 1, "a check failed"
    o, x = e.observed, e.expected
    if e.kind is AlertKind.FRESHNESS and x:
        ratio = o / x
        grade = 2 if ratio >= OVERDUE_SEVERE else 1 if ratio >= OVERDUE_LARGE else 0
        return grade, (
            f"no new data for {_hours(timedelta(seconds=o))} where it usually updates every "
            f"{_hours(timedelta(seconds=x))}, {_GRADE[grade]}"
        )
    if x is None:
        return 1, "a check failed"
    if _unit(e.metric) is Unit.RATIO or e.kind is AlertKind.CATEGORY_NEW_VALUE:
        moved = abs(o - x)
        grade = 2 if moved >= RATE_SEVERE else 1 if moved >= RATE_LARGE else 0
        what = "a new value on" if e.kind is AlertKind.CATEGORY_NEW_VALUE else "a rate of"
        return grade, f"{what} {o:.0%} of rows against a usual {x:.1%}, {_GRADE[grade]}"
    noun = "rows" if _unit(e.metric) is Unit.ROWS else e.metric.replace("_", " ")
    if x == 0:
        grade = 2 if o != 0 else 0
        return grade, f"{o:,.0f} {noun} where there are usually none, {_GRADE[grade]}"
    rel = abs(o - x) / abs(x)
    grade = 2 if o == 0 or rel >= RELATIVE_SEVERE else 1 if rel >= RELATIVE_LARGE else 0
    if o == 0:
        return grade, f"no {noun} at all where about {x:,.4g} are usual, {_GRADE[grade]}"
    if noun == "rows":
        head = f"{rel:.0%} {'fewer' if o < x else 'more'} rows than usual"
    else:
        head = f"{noun} {rel:.0%} {'below' if o < x else 'above'} usual"
    return grade, f"{head} ({o:,.4g} against about {x:,.4g}), {_GRADE[grade]}"


def _overdue(e: ChangeEvidence) -> timedelta:
    """A late table has been a problem for as long as it is overdue."""
    if e.kind is AlertKind.FRESHNESS and e.observed and e.expected:
        return timedelta(seconds=max(e.observed - e.expected, 0.0))
    return timedelta(0)


def _duration(lasted: timedelta, schema: bool) -> tuple[int, str]:
    if schema:
        return 1, "it stays until the table changes back"
    if lasted >= LONG:
        return 2, f"it has lasted {_hours(lasted)}"
    if lasted >= LASTING:
        return 1, f"it has lasted {_hours(lasted)}"
    return 0, f"seen for {_hours(max(lasted, timedelta(hours=1)))} so far"


def _reach(r: Reach) -> tuple[int, str]:
    models = _plural(r.models, "downstream model")
    owners = f" of {r.owners} owners" if r.owners >= WIDE_OWNERS else ""
    if r.exposures:
        return 3, (
            f"{models}{owners} and {_plural(r.exposures, 'exposure')} (dashboards, reports) read it"
        )
    if r.models >= WIDE_MODELS or (r.models and r.owners >= WIDE_OWNERS):
        return 2, f"{models}{owners} read it, no dashboards"
    if r.models:
        return 1, f"{models} read it, no dashboards"
    return 0, "nothing downstream reads it"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _hours(d: timedelta) -> str:
    h = d.total_seconds() / 3600
    if h >= 48:
        return f"{h / 24:.0f} days"
    if round(h) == 1:
        return "1 hour"
    return f"{h:.0f} hours" if h >= 1 else f"{h * 60:.0f} minutes"
