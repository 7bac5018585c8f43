"""Volume: rows per time bucket against a learned, seasonal baseline; an optional floor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field
from sqlglot import exp

from tidegauge.core.metrics import Metric
from tidegauge.core.model import AlertKind
from tidegauge.monitors.backtests import add_bound, learned
from tidegauge.monitors.base import MonitorBase, OwnQuery, Series, table_tree

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store, StoredTable


class VolumeMonitor(MonitorBase):
    """Rows per time bucket against a learned, seasonal baseline; optional hard floor.

    >>> m = VolumeMonitor(name="orders_volume", table="raw.orders", min_rows=10)
    >>> m.type, m.severity, m.own_query().tree.sql()
    ('volume', 'medium', 'SELECT COUNT(*) FROM raw.orders')
    """

    ALERT_KINDS: ClassVar[tuple[AlertKind, ...]] = (AlertKind.VOLUME, AlertKind.RULE)

    type: Literal["volume"] = "volume"
    min_rows: int | None = Field(None, ge=0, description="also a rule: fewer rows fail")
    timestamp_column: str | None = None
    bucket: Literal["hour", "day"] | None = None

    def own_settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.timestamp_column:
            out["timestamp_column"] = self.timestamp_column
        if self.bucket:
            out["bucket"] = self.bucket
        return out

    def own_query(self) -> OwnQuery | None:
        if self.min_rows is None:
            return None
        tree = exp.select(exp.Count(this=exp.Star())).from_(table_tree(self.table))
        return OwnQuery(tree=tree, min=float(self.min_rows))

    def owns(self, metric: str, column: str | None) -> bool:
        return metric in (Metric.BUCKET_ROW_COUNT, Metric.ROW_COUNT) or super().owns(metric, column)

    def backtest(
        self, project: Project, store: Store, table: StoredTable, series: Series, days: float
    ) -> dict[str, Any] | None:
        key: tuple[str, str | None, str | None] = (Metric.BUCKET_ROW_COUNT, None, None)
        if key not in series:
            key = (Metric.ROW_COUNT, None, None)
        out = learned(project, table, self, {key: series.get(key, [])}, days)
        if out is not None and self.min_rows is not None:
            add_bound(out, series.get(key, []), self.min_rows, None, days)
        return out
