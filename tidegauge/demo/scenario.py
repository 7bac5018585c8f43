"""What the demo warehouse contains on purpose: its time range and the incidents injected into it.

A :class:`Scenario` is the answer key of the demo. It is plain data that round-trips through JSON
(:meth:`Scenario.to_dict` / :meth:`Scenario.from_dict`), so that the demo can print it next to what
tidegauge found, and tests can check that each injected incident was caught by the right kind of
alert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidegauge.core.clock import ensure_utc
from tidegauge.core.model import AlertKind

#: ``InjectedIncident.applied_by`` for incidents already in the data when the build returns.
APPLIED_BY_BUILD = "build_demo_warehouse"
#: ``InjectedIncident.applied_by`` for the schema change applied later, between monitoring runs.
APPLIED_BY_SCHEMA_CHANGE = "apply_schema_change"


@dataclass(frozen=True, slots=True)
class InjectedIncident:
    """One problem put into the demo data on purpose.

    ``table`` is ``schema.table``; ``column`` is ``None`` for table-level incidents.
    ``starts_at`` is the first affected data time (UTC) and ``ends_at`` the end of the affected
    window (exclusive), or ``None`` when the incident lasts until the end of the data.
    ``applied_by`` says which step puts it into the warehouse: the build itself, or
    :func:`tidegauge.demo.warehouse.apply_schema_change`, which the demo calls between runs.
    ``details`` holds the numbers behind it (ratios, shares, rates) for explanations and tests.
    """

    kind: str
    table: str
    column: str | None
    starts_at: datetime
    description: str
    expected_alert_kind: AlertKind
    ends_at: datetime | None = None
    applied_by: str = APPLIED_BY_BUILD
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "column": self.column,
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at) if self.ends_at is not None else None,
            "description": self.description,
            "expected_alert_kind": self.expected_alert_kind.value,
            "applied_by": self.applied_by,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InjectedIncident:
        ends_at = data.get("ends_at")
        return cls(
            kind=str(data["kind"]),
            table=str(data["table"]),
            column=data.get("column"),
            starts_at=_parse(data["starts_at"]),
            ends_at=_parse(ends_at) if ends_at else None,
            description=str(data["description"]),
            expected_alert_kind=AlertKind(data["expected_alert_kind"]),
            applied_by=str(data.get("applied_by", APPLIED_BY_BUILD)),
            details=dict(data.get("details") or {}),
        )


@dataclass(frozen=True, slots=True)
class Scenario:
    """The demo warehouse's time range, seed, row counts and injected incidents.

    Data covers ``[start, end)`` (UTC; ``raw.users`` also holds the sign-ups of the year before
    ``start``). Every incident starts after ``end - 30h``, so a first monitoring run as of
    ``end - 30h`` (or earlier) backfills clean history from the timestamp columns and later runs
    see the incidents arrive. The dropped column
    (``applied_by == "apply_schema_change"``) is *not* in the warehouse when the build returns:
    a schema change is only visible between two snapshots, so the demo runs once, calls
    ``apply_schema_change(path)``, and runs again.
    """

    start: datetime
    end: datetime
    seed: int
    days: int
    incidents: list[InjectedIncident] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    clean_tables: list[str] = field(default_factory=list)

    def incident(self, kind: str) -> InjectedIncident:
        """The injected incident of this ``kind`` (``KeyError`` if there is none)."""
        for item in self.incidents:
            if item.kind == kind:
                return item
        raise KeyError(kind)

    def incidents_applied_by(self, step: str) -> list[InjectedIncident]:
        return [item for item in self.incidents if item.applied_by == step]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "seed": self.seed,
            "days": self.days,
            "incidents": [item.to_dict() for item in self.incidents],
            "row_counts": dict(self.row_counts),
            "clean_tables": list(self.clean_tables),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        return cls(
            start=_parse(data["start"]),
            end=_parse(data["end"]),
            seed=int(data["seed"]),
            days=int(data["days"]),
            incidents=[InjectedIncident.from_dict(item) for item in data.get("incidents", [])],
            row_counts={str(k): int(v) for k, v in (data.get("row_counts") or {}).items()},
            clean_tables=[str(t) for t in data.get("clean_tables") or []],
        )


def _iso(value: datetime) -> str:
    return ensure_utc(value).isoformat()


def _parse(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return ensure_utc(value)
    return ensure_utc(datetime.fromisoformat(value))
