"""Rules: thresholds users set, checked against observed metric values.

A rule is deterministic: it fires whenever the observed metric breaks it, with no learning.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from tidegauge.core.detectors.base import Detection, Direction, fmt_number
from tidegauge.core.metrics.names import Metric


class RuleType(StrEnum):
    """The rules checked against stored metric values. Rule monitors (``not_null``,
    ``unique``, ``accepted_values``, ``relationships``…) are exact queries instead: each is
    a custom metric with bounds (see ``tidegauge/monitors/rule.py``), checked as ``RANGE``."""

    RANGE = "range"
    ROW_COUNT_MIN = "row_count_min"
    FRESHNESS_SLA = "freshness_sla"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule on a table or column.

    Metric values the rule reads (``observed``): ``min`` / ``max`` (range), ``row_count``
    (row_count_min), ``last_update`` (freshness_sla).
    """

    type: RuleType
    column: str | None = None
    min: float | None = None
    max: float | None = None
    sla: timedelta | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class RuleInput:
    """Observed metric values for a rule at one time."""

    at: datetime
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    last_update: datetime | None = None


def _target(rule: RuleSpec) -> str:
    return f"`{rule.column}`" if rule.column else "table"


def _det(
    bad: bool,
    rule: RuleSpec,
    at: datetime,
    observed: float | None,
    reason: str,
    lower: float | None = None,
    upper: float | None = None,
    **details: object,
) -> Detection:
    return Detection(
        bad,
        at,
        observed=observed,
        lower=lower,
        upper=upper,
        expected=upper if upper is not None else lower,
        score=1.0 if bad else 0.0,
        p_value=0.0 if bad else 1.0,
        reason=reason,
        direction=Direction.UP if upper is not None else Direction.DOWN,
        details={"kind": "rule", "rule": rule.type.value, "rule_name": rule.name, **details},
    )


def evaluate_rule(rule: RuleSpec, obs: RuleInput) -> list[Detection]:
    """Check one rule; returns one Detection (anomalous if the rule is broken)."""
    t, m = obs.at, obs.metrics
    col = _target(rule)
    if rule.type is RuleType.RANGE:
        out: list[Detection] = []
        lo, hi = m.get(Metric.MIN), m.get(Metric.MAX)
        if rule.min is not None and lo is not None:
            bad = lo < rule.min
            out.append(
                _det(
                    bad,
                    rule,
                    t,
                    lo,
                    f"{col} minimum {fmt_number(lo)} is "
                    f"{'below' if bad else 'within'} the bound {fmt_number(rule.min)}",
                    lower=rule.min,
                    bound="min",
                )
            )
        if rule.max is not None and hi is not None:
            bad = hi > rule.max
            out.append(
                _det(
                    bad,
                    rule,
                    t,
                    hi,
                    f"{col} maximum {fmt_number(hi)} is "
                    f"{'above' if bad else 'within'} the bound {fmt_number(rule.max)}",
                    upper=rule.max,
                    bound="max",
                )
            )
        return out
    if rule.type is RuleType.ROW_COUNT_MIN:
        v = m.get(Metric.ROW_COUNT)
        floor = rule.min or 0.0
        bad = v is not None and v < floor
        return [
            _det(
                bad,
                rule,
                t,
                v,
                f"row count {fmt_number(v or 0)} is "
                f"{'below' if bad else 'at or above'} the minimum {fmt_number(floor)}",
                lower=floor,
            )
        ]
    # freshness SLA
    if rule.sla is None:
        raise ValueError("freshness_sla rule needs an sla")
    limit = rule.sla.total_seconds()
    if obs.last_update is None:
        return [
            _det(
                True,
                rule,
                t,
                None,
                "no update has ever been seen; rule: freshness SLA",
                upper=limit,
            )
        ]
    age = (t - obs.last_update).total_seconds()
    bad = age > limit
    return [
        _det(
            bad,
            rule,
            t,
            age,
            f"last update {age / 3600:.1f} h ago, "
            f"{'beyond' if bad else 'within'} the SLA of {limit / 3600:.1f} h",
            upper=limit,
        )
    ]


def evaluate_rules(rules: Collection[RuleSpec], obs: RuleInput) -> list[Detection]:
    """Check several rules against the same observations."""
    return [d for r in rules for d in evaluate_rule(r, obs)]
