"""One monitoring run: discover → collect → store → detect → group → notify.

Per-table work is independent and idempotent: a table that fails is recorded and the
run goes on; re-running the same ``--now`` recomputes the same buckets and stores no
duplicate points, alerts or incidents.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.core.model import TableInfo
from tidegauge.store.store import Store
from tidegauge.warehouses.base import Warehouse, WarehouseError
from tidegauge.warehouses.registry import driver_hint, open_warehouse

log = logging.getLogger("tidegauge.run")

Progress = Callable[[str, int, int], None]


@dataclass
class DiscoverResult:
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
        }


def connect(config: Any) -> Warehouse:
    """Open a warehouse with a clear message when its driver is missing."""
    wh = open_warehouse(config)
    try:
        wh.connect()
    except ImportError as e:
        hint = driver_hint(config.type)
        raise WarehouseError(
            f"warehouse '{config.name}': driver for {config.type} is not installed "
            f"({e.name}); {hint}"
        ) from None
    return wh


def discover(
    project: Project, store: Store, now: datetime, *, keep_open: bool = False
) -> DiscoverResult:
    """List every warehouse's tables and record them; one failing warehouse never stops others.

    With ``keep_open`` each warehouse stays connected in ``connections`` for the run's
    collection; the caller closes what is left (:meth:`DiscoverResult.close`).
    """
    result = DiscoverResult()
    for cfg in project.warehouses:
        try:
            wh = connect(cfg)
            kept = False
            try:
                infos = wh.list_tables()
                if keep_open:
                    result.connections[cfg.name] = wh
                    kept = True
            finally:
                if not kept:
                    wh.close()
        except WarehouseError as e:
            result.errors[cfg.name] = str(e)
            log.error("%s", e)
            continue
        result.tables[cfg.name] = infos
        ids = store.upsert_tables(infos, now)
        seen = set(ids)
        for info, tid in zip(infos, ids, strict=True):
            result.table_ids[info.ref.key] = tid
        store.mark_dropped(cfg.name, seen, now)
    return result


GROUP_WAIT = 300.0


@contextmanager
def exclusive(store: Store, name: str, *, timeout: float) -> Iterator[None]:
    """Hold a store lease for the block, waiting up to ``timeout`` seconds for it."""
    holder = holder_name()
    deadline = time.monotonic() + timeout
    ttl = timedelta(seconds=max(timeout, 60.0))
    while not store.acquire_lease(name, holder, ttl, datetime.now(UTC)):
        if time.monotonic() > deadline:
            raise WarehouseError(f"another tidegauge process holds '{name}' for too long")
        time.sleep(0.2)
    try:
        yield
    finally:
        store.release_lease(name, holder)


def holder_name() -> str:
    """Who holds a lease: host, process and thread (the web scheduler runs in a thread)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run(
    project: Project,
    store: Store,
    clock: Clock,
    *,
    only: list[str] | None = None,
    progress: Progress | None = None,
    notify: bool = True,
) -> RunReport:
    """One run as of ``clock.now()``; see the module docstring."""
    from tidegauge.steps.emit import emit_run
    from tidegauge.steps.group import group_alerts
    from tidegauge.steps.lineage import refresh_lineage
    from tidegauge.steps.notify import enqueue_incident, notify_incidents
    from tidegauge.steps.recover import orphan_alerts, reclaim, unqueued_incidents
    from tidegauge.store.outbox import OutboxRepo

    started = time.perf_counter()
    now = clock.now()
    failed_runs = reclaim(store, now, holder_name())  # finish what killed runs left
    run_id = store.start_run(as_of=now, now=now, holder=holder_name())
    report = RunReport(run_id=run_id, as_of=now)
    status, error = "success", None
    found = DiscoverResult()
    try:
        # collection in this process takes the warehouses discovery opened
        found = discover(project, store, now, keep_open=project.execution.type == "local")
        report.warehouse_errors = dict(found.errors)
        external: list[tuple[int, Any]] = []  # dbt test failures, as rule alerts
        graph = refresh_lineage(project, store, found, now, external)
        collected, alerts = per_table(
            project, store, found, now, run_id, report, only, progress, external
        )
        report.alerts = alerts
        # grouping reads open incidents and writes new ones: one process at a time
        with exclusive(store, "group", timeout=GROUP_WAIT):
            seen = {a["id"] for a in alerts}
            leftovers = [a for a in orphan_alerts(store, failed_runs) if a["id"] not in seen]
            group_alerts(project, store, graph, alerts + leftovers, now, report)
        emit_run(project, store, collected, alerts, now, report)
        if notify:
            outbox = OutboxRepo(store)
            for iid in unqueued_incidents(store, failed_runs):
                enqueue_incident(project, store, outbox, iid, now)
            notify_incidents(project, store, now, report)
        if report.failed_tables or report.warehouse_errors:
            status = "partial"
    except Exception as e:  # the run is recorded as failed, then the error propagates
        status, error = "failed", f"{type(e).__name__}: {e}"
        raise
    finally:
        found.close()
        report.seconds = time.perf_counter() - started
        stats = json.loads(json.dumps(report.as_dict(), default=str))
        store.finish_run(run_id, status, stats, clock.now(), error)
    return report


def per_table(
    project: Project,
    store: Store,
    found: DiscoverResult,
    now: datetime,
    run_id: int,
    report: RunReport,
    only: list[str] | None,
    progress: Progress | None,
    external: list[tuple[int, Any]],
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Collect and detect every table: here, or as tasks on ``execution.type``'s engine.

    With ``execution.detect: coordinator`` (the default) workers only collect, and
    detection runs here over all collected tables at once, so the run tests the same
    family of points (false discovery rate) as a single process does.
    """
    from tidegauge.steps.collect import collect_tables
    from tidegauge.steps.detect import detect_tables

    if project.execution.type == "local":
        collected = collect_tables(project, store, found, now, run_id, report, only, progress)
        return collected, detect_tables(project, store, collected, now, run_id, report, external)
    from tidegauge.fanout.chunks import alerts_by_id

    if project.execution.type == "dagster":
        from tidegauge.fanout.dagster_engine import fan_out
    else:
        from tidegauge.fanout.celery_engine import fan_out

    collected, alert_ids, report.fanout = fan_out(
        project, store, found, now, run_id, report, only, progress
    )
    if project.execution.detect == "workers":
        stored = alerts_by_id(store, alert_ids)
        # dbt test failures and other external alerts are the coordinator's own
        return collected, stored + detect_tables(project, store, [], now, run_id, report, external)
    return collected, detect_tables(project, store, collected, now, run_id, report, external)


def lookback(project: Project) -> timedelta:
    return timedelta(days=project.defaults.history_days)
