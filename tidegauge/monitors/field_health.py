"""Field health: per-column null rates, distinct counts and distributions, learned."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from tidegauge.core.catalogue import Scope, all_specs
from tidegauge.core.metrics import Metric
from tidegauge.core.model import AlertKind
from tidegauge.monitors.backtests import learned
from tidegauge.monitors.base import MonitorBase, Series

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store, StoredTable

#: what a field-health monitor may name: the scored column metrics of the catalogue, and the
#: range (min, max) that rules and charts read
FIELD_HEALTH_METRICS: tuple[str, ...] = tuple(
    sorted(
        {
            str(m.name)
            for m in all_specs()
            if m.scope is Scope.COLUMN and m.kind is not None and m.scored
        }
        | {Metric.MIN.value, Metric.MAX.value}
    )
)
#: what a field-health monitor replays when it names no metrics
REPLAYED = (Metric.NULL_RATE, Metric.DISTINCT_COUNT, Metric.MEAN, Metric.P50)
#: series replayed at most per monitor (a wide table would take minutes)
MAX_REPLAYED = 50


class FieldHealthMonitor(MonitorBase):
    """Per-column null rates, distinct counts and distributions, learned from history."""

    ALERT_KINDS: ClassVar[tuple[AlertKind, ...]] = (
        AlertKind.NULL_RATE,
        AlertKind.DISTINCT,
        AlertKind.DISTRIBUTION,
        AlertKind.DUPLICATES,
    )

    type: Literal["field_health"] = "field_health"
    columns: list[str] = Field(default_factory=list, description="empty: every column")
    metrics: list[str] = Field(
        default_factory=list,
        description="empty: all",
        json_schema_extra={"items": {"enum": list(FIELD_HEALTH_METRICS)}},
    )

    @field_validator("metrics")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in FIELD_HEALTH_METRICS:
                close = difflib.get_close_matches(name, FIELD_HEALTH_METRICS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ValueError(f"unknown field-health metric '{name}'{hint}")
        return v

    def own_settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field_health": True}
        if self.metrics:  # compute only what is watched
            wanted: set[str] = {str(x) for x in self.metrics}
            if Metric.DUPLICATE_RATE in wanted:
                # key columns count duplicates exactly; others are judged from distinct counts
                wanted.add(Metric.DISTINCT_COUNT)
            out["metrics"] = sorted(wanted)
        return out

    def owns(self, metric: str, column: str | None) -> bool:
        if column is None:
            return False
        columns = [c.lower() for c in self.columns]
        metrics = [str(x) for x in self.metrics]
        return (not columns or column.lower() in columns) and (not metrics or metric in metrics)

    def watched_columns(self) -> set[str] | None:
        """The columns this monitor watches (lower case); empty: every column."""
        return {c.lower() for c in self.columns}

    def backtest(
        self, project: Project, store: Store, table: StoredTable, series: Series, days: float
    ) -> dict[str, Any] | None:
        wanted: set[str] = {str(x) for x in self.metrics} or {str(m) for m in REPLAYED}
        cols = {c.lower() for c in self.columns}
        chosen = {
            k: v
            for k, v in series.items()
            if k[0] in wanted and k[1] and k[2] is None and (not cols or k[1].lower() in cols)
        }
        first = dict(sorted(chosen.items(), key=lambda kv: str(kv[0]))[:MAX_REPLAYED])
        return learned(project, table, self, first, days)
