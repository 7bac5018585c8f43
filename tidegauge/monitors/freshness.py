"""Freshness: data must keep arriving, on a learned cadence or within a hard ``sla``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from tidegauge.core.model import AlertKind
from tidegauge.monitors.backtests import rate
from tidegauge.monitors.base import MonitorBase, Series, duration

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store, StoredTable


class FreshnessMonitor(MonitorBase):
    """Data must keep arriving: a learned update cadence, or a hard ``sla``.

    >>> FreshnessMonitor(name="f", table="raw.orders", sla="6h").sla
    datetime.timedelta(seconds=21600)
    """

    ALERT_KINDS: ClassVar[tuple[AlertKind, ...]] = (AlertKind.FRESHNESS,)

    type: Literal["freshness"] = "freshness"
    sla: Annotated[timedelta | None, Field(json_schema_extra={"examples": ["30m", "6h", "2d"]})] = (
        Field(None, description="alert when older than this; unset: learned cadence")
    )
    timestamp_column: str | None = None

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, v: Any) -> Any:
        return duration(v)

    def own_settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sla is not None:
            out["freshness_sla"] = self.sla
        if self.timestamp_column:
            out["timestamp_column"] = self.timestamp_column
        return out

    def backtest(
        self, project: Project, store: Store, table: StoredTable, series: Series, days: float
    ) -> dict[str, Any] | None:
        if self.sla is None:
            return {"alerts_per_week": None, "note": "learned cadence: not replayed"}
        from tidegauge.sdk import latest_data_time
        from tidegauge.steps.detect_other import update_times

        last = latest_data_time(store, table.id) or datetime.now(UTC)
        times = update_times(store, table.id, last)
        late = [b for a, b in pairwise(times) if b - a > self.sla]
        return rate(len(late), times, days, "update gaps over the SLA")
