"""Rules: deterministic checks, each one exact whole-table query per run (``max: 0``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator
from sqlglot import exp

from tidegauge.core.metrics import OTHER, Metric
from tidegauge.core.model import AlertKind
from tidegauge.monitors.backtests import add_bound, rate
from tidegauge.monitors.base import MonitorBase, OwnQuery, Series, table_tree

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store, StoredTable

RuleName = Literal[
    "not_null", "unique", "accepted_values", "range", "row_count_min", "relationships"
]
_NEEDS_COLUMN = ("not_null", "unique", "accepted_values", "range", "relationships")


class RuleMonitor(MonitorBase):
    """A deterministic rule, checked as one exact whole-table query per run.

    ``not_null``/``unique``/``accepted_values``/``range`` need ``column``; ``accepted_values``
    needs ``values``; ``range`` needs ``min`` and/or ``max``; ``row_count_min`` needs
    ``min``; ``relationships`` needs ``to`` (``schema.table``) and ``field``. A ``unique``
    column is also a key: its duplicates are learned per bucket (``tables: keys:``).

    >>> r = RuleMonitor(name="status_ok", table="raw.orders", rule="accepted_values",
    ...                 column="status", values=["paid", "placed"])
    >>> r.rule
    'accepted_values'
    >>> q = RuleMonitor(name="r", table="raw.orders", rule="not_null", column="id").own_query()
    >>> q.tree.sql("duckdb"), q.max
    ('SELECT COUNT(*) FROM raw.orders WHERE id IS NULL', 0.0)
    """

    ALERT_KINDS: ClassVar[tuple[AlertKind, ...]] = (AlertKind.RULE,)

    type: Literal["rule"] = "rule"
    rule: RuleName
    column: str | None = None
    values: list[str | int | float | bool] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    to: str | None = Field(None, description="relationships: the parent schema.table")
    field: str | None = Field(None, description="relationships: the parent's key column")
    severity: Literal["low", "medium", "high", "critical"] = "high"

    @model_validator(mode="after")
    def _needs(self) -> RuleMonitor:
        r = self.rule
        if r in _NEEDS_COLUMN and not self.column:
            raise ValueError(f"rule {r} needs 'column'")
        if r == "accepted_values" and not self.values:
            raise ValueError("rule accepted_values needs 'values'")
        if r == "range" and self.min is None and self.max is None:
            raise ValueError("rule range needs 'min' and/or 'max'")
        if r == "row_count_min" and self.min is None:
            raise ValueError("rule row_count_min needs 'min'")
        if r == "relationships" and not (self.to and self.field):
            raise ValueError("rule relationships needs 'to' (schema.table) and 'field'")
        return self

    def own_settings(self) -> dict[str, Any]:
        """A ``unique`` column is a key; a ``relationships`` column gets its orphan rate."""
        if self.rule == "unique" and self.column:
            return {"keys": {self.column: True}}
        if self.rule == "relationships" and self.column and self.to and self.field:
            return {"references": {self.column: f"{self.to.split(':', 1)[-1]}.{self.field}"}}
        return {}

    def own_query(self) -> OwnQuery:
        """The violation count (or row count) as a sqlglot tree, and its bounds."""
        count = exp.Count(this=exp.Star())
        q = exp.select(count).from_(table_tree(self.table))
        c = exp.column(self.column or "")
        if self.rule == "row_count_min":
            return OwnQuery(tree=q, min=self.min)
        if self.rule == "not_null":
            q = q.where(exp.Is(this=c, expression=exp.Null()))
        elif self.rule == "unique":
            dupes = exp.Sub(
                this=exp.Count(this=c.copy()),
                expression=exp.Count(this=exp.Distinct(expressions=[c.copy()])),
            )
            q = exp.select(dupes).from_(table_tree(self.table))
        elif self.rule == "accepted_values":
            values = [exp.Literal.string(str(v)) for v in self.values]
            text = exp.Cast(this=c.copy(), to=exp.DataType.build("text"))
            q = q.where(exp.Not(this=exp.In(this=text, expressions=values))).where(
                exp.Not(this=exp.Is(this=c.copy(), expression=exp.Null()))
            )
        elif self.rule == "range":
            conds: list[exp.Expression] = []
            if self.min is not None:
                conds.append(exp.LT(this=c.copy(), expression=exp.Literal.number(self.min)))
            if self.max is not None:
                conds.append(exp.GT(this=c.copy(), expression=exp.Literal.number(self.max)))
            q = q.where(exp.or_(*conds))
        elif self.rule == "relationships":
            child = exp.column(self.column or "", "c")
            parent = (
                exp.select(exp.Literal.number(1))
                .from_(table_tree(self.to or "", "p"))
                .where(exp.EQ(this=exp.column(self.field or "", "p"), expression=child.copy()))
            )
            q = (
                exp.select(count)
                .from_(table_tree(self.table, "c"))
                .where(exp.Not(this=exp.Is(this=child, expression=exp.Null())))
                .where(exp.Not(this=exp.Exists(this=parent)))
            )
        return OwnQuery(tree=q, max=0.0)

    def claims_alert(self, kind: str) -> bool:
        return False  # its alerts name it: custom:<name>

    def backtest(
        self, project: Project, store: Store, table: StoredTable, series: Series, days: float
    ) -> dict[str, Any] | None:
        """Replay the rule over the stored per-bucket metrics that answer it."""
        col = (self.column or "").lower()

        def of(metric: str) -> list[Any]:
            return [
                p
                for (mt, c, s), pts in series.items()
                for p in pts
                if mt == metric and (c or "").lower() == col and s is None
            ]

        if self.rule == "not_null":
            pts = of(Metric.NULL_COUNT)
            nulls = sum(1 for p in pts if p.value > 0)
            return rate(nulls, [p.bucket_start for p in pts], days, "buckets with nulls")
        if self.rule == "unique" and of(Metric.DUPLICATE_COUNT):
            pts = of(Metric.DUPLICATE_COUNT)
            dupes = sum(1 for p in pts if p.value > 0)
            return rate(dupes, [p.bucket_start for p in pts], days, "buckets with duplicates")
        if self.rule == "row_count_min":
            pts = of(Metric.BUCKET_ROW_COUNT) or of(Metric.ROW_COUNT)
            return add_bound({"alerts_per_week": None}, pts, self.min, None, days)
        if self.rule == "range":
            lows, highs = of(Metric.MIN), of(Metric.MAX)
            out = {p.bucket_start for p in lows if self.min is not None and p.value < self.min}
            out |= {p.bucket_start for p in highs if self.max is not None and p.value > self.max}
            return rate(len(out), [p.bucket_start for p in lows or highs], days, "out of range")
        if self.rule == "accepted_values":
            allowed = {str(v) for v in self.values}
            counts = [
                (s, p)
                for (mt, c, s), pts in series.items()
                for p in pts
                if mt == Metric.VALUE_COUNT and (c or "").lower() == col
            ]
            buckets = {p.bucket_start for _, p in counts}
            others = {
                p.bucket_start for s, p in counts if s not in allowed and s != OTHER and p.value > 0
            }
            return rate(len(others), sorted(buckets), days, "buckets with other values")
        return {"alerts_per_week": None, "note": f"{self.rule}: no stored history to replay"}
