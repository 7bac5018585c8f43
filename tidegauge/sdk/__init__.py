"""The Python SDK: open a project and its store, run monitors, read alerts and incidents,
plan and apply declared monitors, and stop a pipeline with a circuit breaker.

>>> import tidegauge
>>> with tidegauge.Tidegauge(tidegauge.Project(store={"url": "sqlite://"})) as tg:
...     tg.add_monitor(tidegauge.VolumeMonitor(name="orders_volume", table="raw.orders"))
...     [m.name for m in tg.monitors()]
['orders_volume']

Breaker levels: ``warn`` trips on an open alert of severity ``medium`` or above, ``block``
on ``high`` or above. An alert is open when it belongs to an open incident (open,
acknowledged, investigating) and no one marked it ``expected`` or ``false_positive``. A
declared monitor's ``severity`` replaces the detector's for the alerts it owns.

The breakers are in :mod:`.breakers`, planning and applying declared monitors in :mod:`.plan`;
everything is importable from here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tidegauge.sdk.breakers import (
    BreakerCheck,
    BreakerLevel,
    BreakerResult,
    BreakerTripped,
    check_breaker,
)
from tidegauge.sdk.plan import Plan, PlannedChange, apply_plan, compute_plan

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.monitors import _MonitorBase
    from tidegauge.steps.context import RunReport
    from tidegauge.store.store import Store

log = logging.getLogger("tidegauge.sdk")

__all__ = [
    "BreakerCheck",
    "BreakerLevel",
    "BreakerResult",
    "BreakerTripped",
    "Plan",
    "PlannedChange",
    "Tidegauge",
    "apply_plan",
    "check_breaker",
    "compute_plan",
]

#: sources of monitors that ``apply`` owns in the store (others are left alone)


# --------------------------------------------------------------------------- the client


class Tidegauge:
    """A project and its store: run monitors, read findings, manage monitors, guard pipelines.

    Args:
        project: a :class:`~tidegauge.config.Project`, or the path of a project file
            (default ``./tidegauge.yml``).
        store: an open store (default: the project's ``store.url``, opened lazily).

    >>> import tidegauge
    >>> tg = tidegauge.Tidegauge(tidegauge.Project(store={"url": "sqlite://"}))
    >>> tg.alerts()
    []
    >>> tg.close()
    """

    def __init__(
        self, project: Project | str | Path | None = None, *, store: Store | None = None
    ) -> None:
        from tidegauge.config import Project, load_project

        self.project: Project = project if isinstance(project, Project) else load_project(project)
        self._store = store
        self._store_error: str | None = None

    @classmethod
    def open(cls, path: str | Path | None = None) -> Tidegauge:
        """Open the project file at ``path`` (a file or its folder)."""
        return cls(path)

    def __enter__(self) -> Tidegauge:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> Store:
        """The metadata store (opened, and migrated, on first use)."""
        from tidegauge.store.store import Store

        if self._store is None:
            self._store = Store.open(self.project.store_url())
        return self._store

    # -- running and reading

    def run(
        self,
        now: datetime | None = None,
        tables: Sequence[str] | None = None,
        *,
        notify: bool = True,
    ) -> RunReport:
        """One monitoring run as of ``now`` (default: now) over ``tables`` (default: all)."""
        from tidegauge.core.clock import Clock
        from tidegauge.runner import run

        clock = Clock.fixed(now) if now is not None else Clock()
        return run(
            self.project, self.store, clock, only=list(tables) if tables else None, notify=notify
        )

    def alerts(
        self,
        *,
        table: str | None = None,
        since: datetime | None = None,
        kind: str | None = None,
        open_only: bool = False,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Alerts, newest data first; ``open_only`` keeps those a breaker would see."""
        table_id = self._table_id(table)
        if table is not None and table_id is None:
            return []
        rows = self.store.alerts.list(since=since, table_id=table_id, kind=kind, limit=limit)
        if open_only:
            from tidegauge.store.incidents import OPEN_STATUSES

            open_ids = {
                i["id"] for i in self.store.incidents.list(status=OPEN_STATUSES, limit=100_000)
            }
            rows = [
                a
                for a in rows
                if a["incident_id"] in open_ids
                and a["feedback"] not in ("expected", "false_positive")
            ]
        return rows

    def incidents(
        self,
        *,
        status: str | Sequence[str] | None = None,
        table: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Incidents, newest first; ``status="open"`` means every open status."""
        from tidegauge.store.incidents import OPEN_STATUSES

        wanted = (
            OPEN_STATUSES
            if status == "open"
            else [status]
            if isinstance(status, str)
            else list(status)
            if status
            else None
        )
        table_id = self._table_id(table)
        if table is not None and table_id is None:
            return []
        return self.store.incidents.list(status=wanted, table_id=table_id, limit=limit)

    def _table_id(self, table: str | None) -> int | None:
        if table is None:
            return None
        t = self.store.find_table(table)
        return t.id if t else None

    # -- monitors as code

    def monitors(self) -> list[_MonitorBase]:
        """Every declared monitor: project file, ``monitors/*.yml``, Python and dbt."""
        from tidegauge.monitors import declared_monitors

        return declared_monitors(self.project)

    def add_monitor(self, *monitors: Any) -> None:
        """Declare monitors in Python; the next :meth:`run`, :meth:`plan` and :meth:`apply`
        include them. Raises ``ValueError`` for a name already declared."""
        from tidegauge.monitors import check_unique, install

        errors = check_unique([*self.monitors(), *monitors])
        if errors:
            raise ValueError("\n".join(errors))
        self.project.monitors = [*self.project.monitors, *monitors]
        install(self.project)

    def plan(self, *, backtest_days: float = 90) -> Plan:
        """What :meth:`apply` would change in the store, with backtested alert rates."""
        return compute_plan(self.project, self.store, backtest_days=backtest_days)

    def apply(self) -> Plan:
        """Write the declared monitors to the store (idempotent); returns what changed."""
        return apply_plan(self.project, self.store)

    # -- circuit breakers

    def breaker(
        self,
        tables: str | Iterable[str],
        *,
        level: BreakerLevel | str = "block",
        max_age: timedelta | str | None = None,
        fail_open: bool | None = None,
        now: datetime | None = None,
    ) -> BreakerResult:
        """Raise :class:`BreakerTripped` when the tables' data must not be used.

        Trips on an open alert at or above ``level`` (``warn``: medium+, ``block``: high+)
        from any monitor — learned ones included — or data older than ``max_age``. When
        tidegauge cannot answer (store unreachable, unknown table), ``fail_open`` decides;
        by default ``block`` fails closed and ``warn`` fails open.
        """
        names = [tables] if isinstance(tables, str) else list(tables)
        store: Store | None
        try:
            store = self.store
            error = None
        except Exception as e:  # an unreachable store is an answer the caller configures
            store, error = None, f"store unavailable: {type(e).__name__}: {e}"
        result = check_breaker(
            store,
            names,
            level=level,
            max_age=max_age,
            fail_open=fail_open,
            now=now,
            monitors=self.monitors(),
            store_error=error,
        )
        for c in result.unanswered:
            log.warning("breaker: cannot judge %s: %s", c.table, c.error)
        if result.tripped:
            raise BreakerTripped(result)
        return result
