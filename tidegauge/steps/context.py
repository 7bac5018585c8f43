"""What a run's steps share: the :class:`RunContext` they take, the report they fill, what
discovery found, progress.

Steps import these from here, never from :mod:`tidegauge.runner`, so the pipeline's layers
point one way: ``core`` ← ``store``/``warehouses`` ← ``steps``/``fanout`` ← ``runner`` ←
``cli``/``web`` (checked by ``tests/test_layering.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tidegauge.core.model import TableInfo

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.core.clock import Clock
    from tidegauge.core.model import Alert
    from tidegauge.store.store import Store
    from tidegauge.warehouses.base import Warehouse

__all__ = ["DiscoverResult", "Progress", "RunContext", "RunReport"]

#: ``progress(step, done, total)``: what the CLI's progress bar is told
Progress = Callable[[str, int, int], None]


@dataclass
class DiscoverResult:
    """Every warehouse's tables, their store ids, and the warehouses that failed."""

    tables: dict[str, list[TableInfo]] = field(default_factory=dict)
    table_ids: dict[str, int] = field(default_factory=dict)  # TableRef.key → store id
    errors: dict[str, str] = field(default_factory=dict)
    #: warehouses discovery left connected for collection to take (``keep_open``): opening
    #: a DuckDB file of 10,000 tables reads its whole catalog, about a second each time
    connections: dict[str, Warehouse] = field(default_factory=dict)

    def close(self) -> None:
        """Close the connections nobody took."""
        while self.connections:
            _, wh = self.connections.popitem()
            wh.close()


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


@dataclass
class RunContext:
    """What every step of one run shares: the project, the store, the run's moment and id,
    the report the steps fill, and how the run was asked for.

    A step takes the context first, then what an earlier step handed it (what discovery
    found, the collected tables, the alerts, the lineage graph).

    A context holds a live store and callbacks, so it never leaves its process: a fan-out
    engine sends a chunk's plain-JSON task (``fanout.chunks.payload``) and the worker builds
    its own context from it (``fanout.chunks.worker_context``).
    """

    project: Project
    store: Store
    #: the moment the run is as of (``--now``); every bucket and alert is computed for it
    now: datetime
    run_id: int
    report: RunReport
    #: ``tidegauge run --table``: the tables to run (``schema.table``, the bare name or
    #: ``warehouse:schema.table``, any case); ``None`` runs every table
    only: list[str] | None = None
    progress: Progress | None = None
    #: the real clock for delivery retry budgets (``None``: the system clock); tests inject
    #: one to move time instead of sleeping
    wall: Clock | None = None
    #: alerts that come from outside the run's own detection (dbt test failures, as rule
    #: alerts): ``refresh_lineage`` adds them, ``detect_tables`` stores them with its own
    external: list[tuple[int, Alert]] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        project: Project,
        store: Store,
        now: datetime,
        run_id: int,
        *,
        only: list[str] | None = None,
        progress: Progress | None = None,
        wall: Clock | None = None,
    ) -> RunContext:
        """The context of run ``run_id`` as of ``now``, with an empty report."""
        report = RunReport(run_id=run_id, as_of=now)
        return cls(project, store, now, run_id, report, only, progress, wall)

    def __getstate__(self) -> Any:
        raise TypeError(
            "a RunContext holds a live store and is never pickled: send a chunk's JSON task "
            "(fanout.chunks.payload) and rebuild the context on the worker "
            "(fanout.chunks.worker_context)"
        )
