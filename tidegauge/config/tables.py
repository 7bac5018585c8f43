"""What is collected from a table: ``tables:`` entries (matched by ``schema.table`` glob),
the ``defaults:`` they override, and ``metrics:`` (custom SQL metrics, also written by
monitors with a query of their own)."""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator

from tidegauge.config.base import Bucket, Duration, Strict
from tidegauge.config.calendar import CalendarConfig
from tidegauge.core.units import parse_duration
from tidegauge.monitors import MonitorBase


class CustomMetric(Strict):
    """A SELECT returning one number, or one per bucket (``bucket`` column) or segment."""

    name: str
    sql: str
    table: str | None = Field(None, description="schema.table the metric belongs to")
    warehouse: str | None = None
    min: float | None = None
    max: float | None = None

    #: a monitor's query as a sqlglot tree, rendered by the warehouse that runs it (``sql``
    #: is then only its generic rendering, for display)
    _query: Any = PrivateAttr(default=None)

    @property
    def query(self) -> Any:
        """The sqlglot tree to run instead of parsing ``sql``; None for the user's SQL."""
        return self._query

    def set_query(self, tree: Any) -> None:
        self._query = tree

    @classmethod
    def of_monitor(cls, m: MonitorBase) -> CustomMetric | None:
        """The custom metric (with bounds) a monitor's own query writes, if it has one. A
        sqlglot tree rides along unrendered: the collector has the table's own warehouse
        render it (``sql`` is then its generic rendering, for display)."""
        own = m.own_query()
        if own is None:
            return None
        text = own.sql if own.sql is not None else own.tree.sql() if own.tree is not None else ""
        metric = cls(
            name=m.name, sql=text, table=m.fqn, warehouse=m.warehouse, min=own.min, max=own.max
        )
        metric.set_query(own.tree)
        return metric


class TableSettings(Strict):
    """Per-table settings; ``match`` is a ``schema.table`` glob. Later entries win."""

    match: str = "*"
    timestamp_column: str | None = None
    bucket: Bucket | None = None
    history_days: int | None = Field(None, ge=1, le=3650)
    field_health: bool | None = None
    categorical: bool | None = None
    categorical_columns: list[str] | None = None
    exclude_columns: list[str] = Field(default_factory=list)
    metrics: list[str] | None = Field(
        None, description="field-health metrics to compute (default: all for each type)"
    )
    pii_columns: list[str] = Field(default_factory=list, description="values never stored")
    references: dict[str, str] = Field(
        default_factory=dict,
        description="column: its parent as schema.table.column; the share of non-null "
        "values with no parent row (orphan_rate) is tracked per bucket",
    )
    keys: dict[str, bool] = Field(
        default_factory=dict,
        description="column: true makes it a key (duplicates counted per bucket and "
        "alerted on); false says it is no longer one, on purpose (declared keys and dbt "
        "unique tests included). Entries of matching tables: merge, later ones win.",
    )
    segments: list[list[str]] = Field(default_factory=list, description="up to 2 columns each")
    max_segments: int | None = None
    sample_percent: float | None = Field(None, gt=0, le=100)
    freshness_sla: Duration | None = None
    row_count_min: int | None = None
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    sensitivity: Literal["low", "medium", "high"] | None = None
    calendar: CalendarConfig | None = Field(
        None, description="keys replace the project calendar's; false: no special days"
    )

    @field_validator("calendar", mode="before")
    @classmethod
    def _calendar_off(cls, v: Any) -> Any:
        return {"enabled": False} if v is False else v

    @field_validator("freshness_sla", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: list[str] | None) -> list[str] | None:
        from tidegauge.core.metrics import FIELD_METRICS

        for name in v or []:
            if name not in FIELD_METRICS:
                close = difflib.get_close_matches(name, FIELD_METRICS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ValueError(f"unknown metric '{name}'{hint}")
        return v

    @field_validator("segments")
    @classmethod
    def _two_columns(cls, v: list[list[str]]) -> list[list[str]]:
        for seg in v:
            if not 1 <= len(seg) <= 2:
                raise ValueError("a segment groups by one or two columns")
        return v


class Defaults(Strict):
    """Settings that apply to every table unless a ``tables:`` entry overrides them."""

    bucket: Bucket = Bucket.HOUR
    history_days: int = Field(30, ge=1, le=3650, description="backfill on a table's first run")
    recheck_buckets: int = Field(3, ge=0, description="recent buckets re-collected for late rows")
    field_health_max_rows: int = Field(
        50_000_000, description="field health and categorical metrics only below this size"
    )
    categorical_max_distinct: int = Field(100, ge=1, le=10_000)
    categorical_top_k: int = Field(50, ge=1, le=1000)
    max_segments: int = Field(50, ge=1)
    sensitivity: Literal["low", "medium", "high"] = "medium"
    time_budget_seconds: float | None = Field(None, description="per-table collection budget")
    calendar: CalendarConfig | None = Field(None, description="holidays and other special days")
