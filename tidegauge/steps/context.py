"""What a run's steps share: the report they fill, what discovery found, progress.

Steps import these from here, never from :mod:`tidegauge.runner`, so the pipeline's layers
point one way: ``core`` ← ``store``/``warehouses`` ← ``steps``/``fanout`` ← ``runner`` ←
``cli``/``web`` (checked by ``tests/test_layering.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidegauge.core.model import TableInfo

__all__ = ["DiscoverResult", "Progress", "RunReport"]

#: ``progress(step, done, total)``: what the CLI's progress bar is told
Progress = Callable[[str, int, int], None]


@dataclass
class DiscoverResult:
    """Every warehouse's tables, their store ids, and the warehouses that failed."""

    tables: dict[str, list[TableInfo]] = field(default_factory=dict)
    table_ids: dict[str, int] = field(default_factory=dict)  # TableRef.key → store id
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class RunReport:
    """What one run did; steps add to it, the runner stores it with the run."""

    run_id: int
    as_of: datetime
    tables: int = 0
    failed_tables: dict[str, str] = field(default_factory=dict)
    warehouse_errors: dict[str, str] = field(default_factory=dict)
    points: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    incidents_opened: list[int] = field(default_factory=list)
    incidents_updated: list[int] = field(default_factory=list)
    notifications: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    fanout: dict[str, Any] = field(default_factory=dict)  # chunks, retries, workers
    #: what went wrong without stopping the run (an unreadable dbt manifest, ...)
    problems: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """Some of the work failed (tables, warehouses, deliveries, the manifest) while the
        rest completed: the run is ``partial`` and ``tidegauge run`` exits with 3."""
        return bool(
            self.failed_tables
            or self.warehouse_errors
            or self.problems
            or self.notifications.get("failed")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of,
            "tables": self.tables,
            "failed_tables": self.failed_tables,
            "warehouse_errors": self.warehouse_errors,
            "points": self.points,
            "alerts": len(self.alerts),
            "incidents_opened": self.incidents_opened,
            "incidents_updated": self.incidents_updated,
            "notifications": self.notifications,
            "seconds": round(self.seconds, 3),
            **({"fanout": self.fanout} if self.fanout else {}),
            **({"problems": self.problems} if self.problems else {}),
        }
