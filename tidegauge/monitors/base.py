"""What every monitor is: a name, a table, who is told, how it is scheduled; and what every
monitor type must say about itself (its settings, its query, its series, its backtest).

A monitor type is one subclass of :class:`MonitorBase` in its own module, listed once in
:data:`tidegauge.monitors.registry.MONITORS`; nothing else names the types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from sqlglot import exp

from tidegauge.core.model import AlertKind
from tidegauge.core.schedule import check_schedule as _check_schedule
from tidegauge.core.units import parse_duration

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store, StoredTable

__all__ = [
    "MonitorBase",
    "OwnQuery",
    "Series",
    "check_schedule",
    "duration",
    "table_tree",
]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")

#: a stored series: (metric, column, segment)
SeriesKey = tuple[str, str | None, str | None]
Series = Mapping[SeriesKey, Sequence[Any]]


def duration(value: Any) -> Any:
    """``30m``, ``6h``, ``2d`` as a ``timedelta`` (``None`` stays ``None``), by the one
    duration parser (:mod:`tidegauge.core.units`)."""
    return None if value is None else parse_duration(value)


def check_schedule(value: str) -> str:
    """A schedule is an interval (``30m``, ``6h``, ``1d``) or a five-field cron expression,
    read by :mod:`tidegauge.core.schedule`, the same code that decides when a run is due.

    >>> check_schedule("0 6 * * 1-5"), check_schedule("6h")
    ('0 6 * * 1-5', '6h')
    """
    return _check_schedule(value)


def table_tree(name: str, alias: str | None = None) -> exp.Table:
    """``[warehouse:]schema.table`` as a sqlglot table (the warehouse prefix dropped)."""
    parts = name.split(":", 1)[-1].split(".")
    t = exp.Table(
        this=exp.to_identifier(parts[-1]),
        db=exp.to_identifier(parts[-2]),
        catalog=exp.to_identifier(parts[-3]) if len(parts) > 2 else None,
    )
    return t.as_(alias) if alias else t  # type: ignore[return-value]


@dataclass(frozen=True)
class OwnQuery:
    """A monitor's own query: a sqlglot tree (rendered by the warehouse that runs it) or the
    user's SQL text (custom SQL), with the bounds its result must keep."""

    tree: exp.Select | None = None
    sql: str | None = None
    min: float | None = None
    max: float | None = None


class MonitorBase(BaseModel):
    """What every monitor has. ``table`` is ``schema.table`` or ``warehouse:schema.table``.

    A subclass sets ``type`` (its registry key) and ``ALERT_KINDS``, and overrides what it
    owns: :meth:`own_settings`, :meth:`own_query`, :meth:`owns`, :meth:`backtest`.
    """

    model_config = ConfigDict(extra="forbid")

    #: the alert kinds this monitor's findings carry (breakers and routes match on them)
    ALERT_KINDS: ClassVar[tuple[AlertKind, ...]] = ()

    name: str = Field(..., description="unique across the project; letters, digits, _ . -")
    table: str = Field(..., description="schema.table (or warehouse:schema.table)")
    description: str | None = None
    schedule: str | None = Field(
        None,
        description="interval (30m, 6h, 1d) or five-field cron",
        json_schema_extra={"examples": ["1h", "0 6 * * *"]},
    )
    owner: str | None = Field(None, description="who is told; routes match on it")
    severity: Literal["low", "medium", "high", "critical"] = Field(
        "medium", description="the severity of this monitor's alerts for breakers"
    )
    sensitivity: Literal["low", "medium", "high"] | None = Field(
        None, description="how readily a learned detector alerts"
    )
    direction: Literal["up", "down", "both"] | None = Field(
        None, description="which deviations count (default: the metric's usual bad side)"
    )
    channels: list[str] = Field(default_factory=list, description="channels to notify")
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True

    _origin: str | None = PrivateAttr(default=None)
    _source: str = PrivateAttr(default="python")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"'{v}' is not a monitor name (letters, digits, _ . - only)")
        return v

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        bare = v.split(":", 1)[-1]
        if bare.count(".") < 1 or any(not p for p in bare.split(".")):
            raise ValueError(f"'{v}' is not schema.table (or warehouse:schema.table)")
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        return None if v is None else check_schedule(v)

    @property
    def kind(self) -> str:
        """The monitor's type (``volume``, ``rule``…), as stored and shown."""
        return str(getattr(self, "type"))  # noqa: B009 -- each subclass declares it

    @property
    def origin(self) -> str | None:
        """Where the monitor was declared: ``file:line``, or a dbt node; None in Python."""
        return self._origin

    @property
    def source(self) -> str:
        """``yaml``, ``dbt`` or ``python``: recorded in the store's ``monitors.source``."""
        return self._source

    @property
    def fqn(self) -> str:
        """The table as ``schema.table`` (no warehouse prefix), lower case."""
        return self.table.split(":", 1)[-1].lower()

    @property
    def warehouse(self) -> str | None:
        return self.table.split(":", 1)[0] if ":" in self.table else None

    def located(self, origin: str | None, source: str) -> MonitorBase:
        """Set where this monitor came from (loaders call it); returns self."""
        self._origin = origin
        self._source = source
        return self

    def stored_config(self) -> dict[str, Any]:
        """The JSON stored in the ``monitors`` table and compared by ``plan``."""
        return self.model_dump(mode="json", exclude={"name", "enabled"}, exclude_defaults=True)

    # --- what each type owns -------------------------------------------------------------

    def table_settings(self) -> dict[str, Any]:
        """The ``tables:`` entry (minus ``match``) this monitor implies for its table."""
        out: dict[str, Any] = {}
        if self.owner:
            out["owner"] = self.owner
        if self.tags:
            out["tags"] = list(self.tags)
        if self.sensitivity:
            out["sensitivity"] = self.sensitivity
        out.update(self.own_settings())
        return out

    def own_settings(self) -> dict[str, Any]:
        """The settings only this type sets (a freshness SLA, watched columns…)."""
        return {}

    def own_query(self) -> OwnQuery | None:
        """The query this monitor runs itself, written as ``custom:<name>``; None: none."""
        return None

    def metric_name(self) -> str | None:
        """The ``custom:<name>`` series this monitor's own query writes, if it has one."""
        return f"custom:{self.name}" if self.own_query() is not None else None

    def owns(self, metric: str, column: str | None) -> bool:
        """Whether the learned series ``metric`` (of ``column``) belongs to this monitor."""
        return metric == self.metric_name()

    def watched_columns(self) -> set[str] | None:
        """The columns whose field health this monitor watches (empty: every column); None
        for monitors that do not watch field health."""
        return None

    def claims_alert(self, kind: str) -> bool:
        """Whether an alert of ``kind`` on this table is this monitor's, by kind alone."""
        return kind in {k.value for k in self.ALERT_KINDS}

    def backtest(
        self, project: Project, store: Store, table: StoredTable, series: Series, days: float
    ) -> dict[str, Any] | None:
        """Predicted alerts per week over the stored history (``plan`` shows it)."""
        return {"alerts_per_week": None, "note": f"{self.kind}: not replayed"}
