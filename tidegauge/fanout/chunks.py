"""Chunks of tables: how a run is cut into tasks, what a worker does with one, and how the
coordinator takes the answers back. Nothing here knows which engine carries the tasks.

A chunk runs ``collect_tables`` (and, with ``execution.detect: workers``,
``detect_tables``) on its tables as part of the coordinator's run: same run id, same
``now``, the same store. Table leases and idempotent upserts make a chunk safe to run again.

The run's :class:`~tidegauge.steps.context.RunContext` holds a live store, so it never
travels: :func:`payload` writes what a worker needs as plain JSON (the project file's path,
the run id, ``now``) and :func:`worker_context` rebuilds a context from it on the worker,
with the worker's own project file and store connection.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tidegauge.config import Project, load_project
from tidegauge.core.model import TableInfo
from tidegauge.fanout.wire import change_from_wire, entry_to_wire, table_from_wire, table_to_wire
from tidegauge.store import runs
from tidegauge.store.store import Store
from tidegauge.yamlsource import ConfigError

if TYPE_CHECKING:
    from tidegauge.steps.collect import CollectedTable
    from tidegauge.steps.context import DiscoverResult, RunContext, RunReport

log = logging.getLogger("tidegauge.fanout")

#: the environment variable naming a worker's own project file (as ``--config`` does)
CONFIG_ENV = "TIDEGAUGE_CONFIG"


class ChunkAbandoned(RuntimeError):
    """The coordinator no longer waits for this chunk (its run ended or its time is up)."""


@dataclass(frozen=True)
class PlannedTable:
    warehouse: str
    info: TableInfo
    table_id: int


def plan(found: DiscoverResult, only: list[str] | None, size: int) -> list[list[PlannedTable]]:
    """The run's tables, in discovery order, cut into chunks of ``size``.

    ``only`` is matched as ``tidegauge run --table`` matches it: ``schema.table``, the bare
    name or ``warehouse:schema.table``, any case.
    """
    wanted = {o.lower() for o in only or []}
    tables = [
        PlannedTable(name, info, found.table_ids[info.ref.key])
        for name, infos in found.tables.items()
        for info in infos
        if not wanted
        or wanted & {info.ref.fqn.lower(), info.ref.name.lower(), info.ref.key.lower()}
    ]
    return [tables[i : i + size] for i in range(0, len(tables), size)]


def payload(
    ctx: RunContext, chunk: list[PlannedTable], deadline: datetime, detect: bool
) -> dict[str, Any]:
    """One task's argument: plain JSON, from which :func:`worker_context` rebuilds the run's
    context on the worker."""
    project = ctx.project
    return {
        "project": str(project.source) if project.source else None,
        "run_id": ctx.run_id,
        "now": ctx.now.isoformat(),
        "deadline": deadline.isoformat(),
        "detect": detect,
        "tables": [
            {"warehouse": t.warehouse, "table_id": t.table_id, "info": table_to_wire(t.info)}
            for t in chunk
        ],
    }


# --- the worker's side ---------------------------------------------------------------


@lru_cache(maxsize=4)
def _project(path: str, mtime_ns: int) -> Project:
    return load_project(path)


_stores: dict[str, Store] = {}


def worker_project(sent: str | None) -> Project:
    """The worker's own project file (``tidegauge --config … worker``), else the one the
    coordinator loaded, which must then be at the same path on this host."""
    path = os.environ.get(CONFIG_ENV) or sent
    if not path:
        raise ConfigError(
            "the run's project was not loaded from a file, and this worker "
            f"has no {CONFIG_ENV}: start it with `tidegauge --config FILE worker`"
        )
    p = Path(path)
    if p.is_dir():
        p = p / "tidegauge.yml"
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise ConfigError(f"{p}: project file not found on this worker") from None
    return _project(str(p), mtime)


def preload(project: Project) -> None:
    """Import what chunks need (and read the project) in the worker's main process, before
    it forks its pool: each pool process then starts its first chunk warm. The store is
    not opened here: connections must not be shared across a fork."""
    import importlib

    import tidegauge.collector
    import tidegauge.steps.collect
    import tidegauge.steps.detect  # noqa: F401
    from tidegauge.warehouses.registry import driver_module

    for cfg in project.warehouses:
        name = driver_module(cfg.type)
        if name:
            with contextlib.suppress(ImportError):  # reported clearly when a chunk connects
                importlib.import_module(name)
    if project.source is not None:
        worker_project(str(project.source))


def worker_store(project: Project) -> Store:
    url = project.store_url()
    if url not in _stores:
        # the coordinator migrated the store before sending any task
        _stores[url] = Store.open(url, migrate_schema=False)
    return _stores[url]


def _check_run(store: Store, run_id: int, now: datetime) -> None:
    state = runs.run_state(store, run_id)
    if state is None or state[1] != now:
        raise ConfigError(
            f"run {run_id} as of {now.isoformat()} is not in this worker's "
            "store: the worker and the coordinator use different stores"
        )
    if state[0] != "running":
        raise ChunkAbandoned(f"run {run_id} is already {state[0]}")


def worker_context(task: dict[str, Any]) -> RunContext:
    """The coordinator's run as a context on this worker, from a chunk's task (see
    :func:`payload`): the worker's project file and store, the run's id and ``now``, an empty
    report of its own (the coordinator merges the answer), and a progress callback that stops
    the chunk between tables once the coordinator's wait has ended.

    Raises :class:`ChunkAbandoned` when the run is over or its deadline has passed."""
    from tidegauge.steps.context import RunContext

    project = worker_project(task["project"])
    store = worker_store(project)
    run_id = int(task["run_id"])
    now = datetime.fromisoformat(task["now"])
    deadline = datetime.fromisoformat(task["deadline"])
    _check_run(store, run_id, now)

    def guard(_name: str, _done: int, _total: int) -> None:
        # called after each table: never start another one once the coordinator gave up
        if datetime.now(UTC) >= deadline:
            raise ChunkAbandoned(f"run {run_id}: the coordinator's wait ended")

    guard("", 0, 0)
    return RunContext.create(project, store, now, run_id, progress=guard)


def run_chunk(task: dict[str, Any]) -> dict[str, Any]:
    """Collect (and maybe detect) one chunk; returns what the coordinator merges."""
    from tidegauge.steps.collect import collect_tables
    from tidegauge.steps.context import DiscoverResult
    from tidegauge.steps.detect import detect_tables

    ctx = worker_context(task)
    found = DiscoverResult()
    for t in task["tables"]:
        info = table_from_wire(t["info"])
        found.tables.setdefault(t["warehouse"], []).append(info)
        found.table_ids[info.ref.key] = int(t["table_id"])
    collected = collect_tables(ctx, found)
    alert_ids: list[int] = []
    if task.get("detect"):
        alerts = detect_tables(ctx, collected)
        alert_ids = [int(a["id"]) for a in alerts]
    report = ctx.report
    return {
        "entries": [entry_to_wire(e) for e in collected],
        "points": report.points,
        "failed_tables": report.failed_tables,
        "warehouse_errors": report.warehouse_errors,
        "alert_ids": alert_ids,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


# --- the coordinator's side ----------------------------------------------------------


def merge(
    project: Project, chunk: list[PlannedTable], result: dict[str, Any], report: RunReport
) -> list[CollectedTable]:
    """Add one chunk's answer to the run's report; returns its collected tables."""
    from tidegauge.steps.collect import CollectedTable

    infos = {t.info.ref.key: t.info for t in chunk}
    out = []
    for e in result["entries"]:
        info = infos[e["key"]]
        out.append(
            CollectedTable(
                table_id=int(e["table_id"]),
                info=info,
                settings=project.settings_for(info.ref.fqn),
                schema_changes=[change_from_wire(ch) for ch in e["schema_changes"]],
                points=int(e["points"]),
                first_run=bool(e["first_run"]),
                # absent from a worker of an older version: tests from the previous run only
                resumed_after=(
                    datetime.fromisoformat(e["resumed_after"]) if e.get("resumed_after") else None
                ),
                error=e["error"],
            )
        )
    report.points += int(result["points"])
    report.failed_tables.update(result["failed_tables"])
    for name, err in result["warehouse_errors"].items():
        report.warehouse_errors.setdefault(name, err)
    return out


@dataclass
class Gathered:
    """What the chunks of a run have answered so far, whichever engine ran them."""

    total: int  # tables in the run
    collected: list[CollectedTable] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)

    def add(self, ctx: RunContext, chunk: list[PlannedTable], answer: dict[str, Any]) -> None:
        """Merge one chunk's answer into the run's report (see :func:`merge`) and move the
        progress bar."""
        entries = merge(ctx.project, chunk, answer, ctx.report)
        self.collected.extend(entries)
        self.alert_ids.extend(int(a) for a in answer.get("alert_ids", []))
        worker = str(answer.get("worker"))
        if worker not in self.workers:
            self.workers.append(worker)
        if ctx.progress:
            for k, e in enumerate(entries, len(self.collected) - len(entries) + 1):
                ctx.progress(e.info.ref.fqn, k, self.total)


def require_shared_store(project: Project) -> None:
    """Workers in other processes and on other hosts need a store they all reach."""
    url = project.store_url()
    if url.startswith("sqlite"):
        where = project.source or project.root / "tidegauge.yml"
        raise ConfigError(
            f"{where}: execution.type is {project.execution.type}, but store.url is a "
            "SQLite file; workers in other processes and on other hosts need a store they "
            "all reach: set store.url to a PostgreSQL URL (or use execution.type: local)"
        )


def record_failed(ctx: RunContext, chunk: list[PlannedTable], error: str) -> None:
    """A chunk whose task failed or never answered: its tables are failed in this run, so
    a run as of the same moment collects them again and a later run catches them up."""
    for t in chunk:
        ctx.report.failed_tables[t.info.ref.fqn] = error
        ctx.store.record_run_table(ctx.run_id, t.table_id, "failed", error=error)


def release_dead_leases(store: Store, chunk: list[PlannedTable]) -> int:
    """Free the table leases a killed worker process on this host left, so that the chunk
    can run again at once (leases of processes on other hosts expire by themselves)."""
    from tidegauge.steps.recover import holder_alive

    names = [f"collect:{t.table_id}" for t in chunk]
    return runs.release_leases_of_gone(store, names, lambda h: holder_alive(h) is False)


def alerts_by_id(store: Store, ids: list[int]) -> list[dict[str, Any]]:
    """Alerts workers stored, shaped as ``detect_tables`` returns them (for grouping)."""
    if not ids:
        return []
    return store.alerts.for_grouping(ids=ids)
