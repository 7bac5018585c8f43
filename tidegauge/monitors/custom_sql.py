"""Custom SQL: a user's SELECT returning one number (or one per bucket or segment)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from tidegauge.core.model import AlertKind
from tidegauge.monitors.backtests import add_bound, learned
from tidegauge.monitors.base import MonitorBase, OwnQuery, Series

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store, StoredTable


class CustomSQLMonitor(MonitorBase):
    """A SELECT returning one number (or one per ``bucket``/``segment``), learned or bounded.

    The SQL is the user's, in the dialect of the warehouse that runs it.
    """

    ALERT_KINDS: ClassVar[tuple[AlertKind, ...]] = (AlertKind.CUSTOM, AlertKind.RULE)

    type: Literal["custom_sql"] = "custom_sql"
    sql: str = Field(..., min_length=1)
    min: float | None = None
    max: float | None = None

    def own_query(self) -> OwnQuery | None:
        return OwnQuery(sql=self.sql, min=self.min, max=self.max)

    def claims_alert(self, kind: str) -> bool:
        return False  # its alerts name it: custom:<name>

    def backtest(
        self, project: Project, store: Store, table: StoredTable, series: Series, days: float
    ) -> dict[str, Any] | None:
        key = (f"custom:{self.name}", None, None)
        if key not in series:
            return {"alerts_per_week": None, "note": "no history of this query yet"}
        if self.min is not None or self.max is not None:
            return add_bound({"alerts": 0, "series": 1}, series[key], self.min, self.max, days)
        return learned(project, table, self, {key: series[key]}, days)
