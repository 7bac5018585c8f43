"""Collect: for each table, metrics pushed down to the warehouse and a schema snapshot."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from tidegauge.config import Project, TableSettings
from tidegauge.core.detectors.schema import diff_schemas
from tidegauge.core.model import ColumnInfo, TableInfo
from tidegauge.store.store import Store
from tidegauge.warehouses.base import ConnectionFailed, QueryResult, Warehouse, WarehouseError

if TYPE_CHECKING:
    from tidegauge.runner import DiscoverResult, Progress, RunReport

log = logging.getLogger("tidegauge.collect")

#: how long a process may hold a table before others may take it over (a crash leaves it)
TABLE_LEASE = timedelta(minutes=30)


class _RetryOnConnectionLoss:
    """A warehouse whose queries are re-run once after a lost connection (a killed backend,
    a restarted server): sessions are read-only, so re-running a query is safe. A second
    loss raises, and the collector records the failure for that table only."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wh, name)

    def execute(self, query: Any, *, comment: str | None = None) -> QueryResult:
        try:
            return self._wh.execute(query, comment=comment)
        except ConnectionFailed as e:
            log.warning("%s; reconnecting and retrying once", e)
            self._wh.close()
            return self._wh.execute(query, comment=comment)


@dataclass
class CollectedTable:
    table_id: int
    info: TableInfo
    settings: TableSettings
    schema_changes: list[Any] = field(default_factory=list)
    points: int = 0
    first_run: bool = False
    error: str | None = None


def _matches_only(info: TableInfo, only: list[str] | None) -> bool:
    if not only:
        return True
    names = {info.ref.fqn.lower(), info.ref.name.lower(), info.ref.key.lower()}
    return any(o.lower() in names for o in only)


def collect_tables(
    project: Project,
    store: Store,
    found: DiscoverResult,
    now: datetime,
    run_id: int,
    report: RunReport,
    only: list[str] | None,
    progress: Progress | None,
) -> list[CollectedTable]:
    from tidegauge.collector import collect_table
    from tidegauge.runner import connect, holder_name

    todo = [
        (name, info)
        for name, infos in found.tables.items()
        for info in infos
        if _matches_only(info, only)
    ]
    out: list[CollectedTable] = []
    done = 0
    by_warehouse: dict[str, list[TableInfo]] = {}
    for name, info in todo:
        by_warehouse.setdefault(name, []).append(info)
    for name, infos in by_warehouse.items():
        try:
            wh = connect(project.warehouse(name))
        except WarehouseError as e:
            report.warehouse_errors[name] = str(e)
            continue
        try:
            for info in infos:
                tid = found.table_ids[info.ref.key]
                lease = f"collect:{tid}"
                holder = holder_name()
                if not store.acquire_lease(lease, holder, TABLE_LEASE, datetime.now(UTC)):
                    # another process is collecting this table right now: never twice
                    log.info("%s: collected by another process, skipped", info.ref.fqn)
                    continue
                try:
                    if not _due(project, store, info, tid, now):
                        log.info("%s: no declared monitor is due yet", info.ref.fqn)
                        continue
                    if store.table_collected(tid, now, other_than=run_id):
                        log.info("%s: already collected as of %s", info.ref.fqn, now)
                        continue
                    settings = project.settings_for(info.ref.fqn)
                    entry = CollectedTable(tid, info, settings)
                    started = time.perf_counter()
                    last = store.last_bucket(tid)
                    entry.first_run = last is None
                    try:
                        result = collect_table(
                            cast(Warehouse, _RetryOnConnectionLoss(wh)),
                            info,
                            settings,
                            project.defaults,
                            now=now,
                            last_bucket=last,
                            custom_metrics=[
                                m for m in project.metrics
                                if m.table and m.table.lower() == info.ref.fqn.lower()
                                and (m.warehouse in (None, name))
                            ],
                        )
                    except WarehouseError as e:  # the collector records most errors itself
                        result = None
                        entry.error = str(e)
                    if result is not None:
                        entry.points = store.upsert_points(tid, result.points, run_id=run_id,
                                                           now=now)
                        store.add_ledger(
                            [
                                {
                                    "run_id": run_id,
                                    "table_id": tid,
                                    "monitor": getattr(le, "monitor", "collect"),
                                    "at": now,
                                    "seconds": float(getattr(le, "seconds", 0.0)),
                                    "rows": getattr(le, "rows", None),
                                    "bytes": getattr(le, "bytes_scanned", None),
                                    "sql": getattr(le, "sql", None),
                                }
                                for le in result.ledger
                            ]
                        )
                        if result.errors:
                            entry.error = "; ".join(result.errors)
                        schema = list(result.schema) or list(info.columns)
                        entry.schema_changes = snapshot_schema(store, tid, schema, now)
                    report.points += entry.points
                    if entry.error:
                        report.failed_tables[info.ref.fqn] = entry.error
                        log.warning("%s: %s", info.ref.fqn, entry.error)
                    store.record_run_table(
                        run_id,
                        tid,
                        "failed" if entry.error and not entry.points else "ok",
                        error=entry.error,
                        seconds=time.perf_counter() - started,
                        points=entry.points,
                    )
                    out.append(entry)
                    done += 1
                    if progress:
                        progress(info.ref.fqn, done, len(todo))
                finally:
                    store.release_lease(lease, holder)
        finally:
            wh.close()
    report.tables = len(out)
    return out


def _due(project: Project, store: Store, info: TableInfo, table_id: int, now: datetime) -> bool:
    """Tables whose declared monitors all have schedules run only when one of them is due."""
    from tidegauge.core.schedule import is_due
    from tidegauge.monitors import declared_monitors
    from tidegauge.steps.window import previous_run_as_of

    mine = [m for m in declared_monitors(project)
            if m.enabled and m.table.split(":")[-1].lower() == info.ref.fqn.lower()]
    if not mine or any(m.schedule is None for m in mine):
        return True
    last = previous_run_as_of(store, table_id, now)
    return any(is_due(m.schedule, last, now) for m in mine if m.schedule)


def snapshot_schema(
    store: Store, table_id: int, cols: list[ColumnInfo], now: datetime
) -> list[Any]:
    """Store a snapshot when the schema changed and return the changes (none on first sight)."""
    previous = store.latest_snapshot(table_id)
    store.add_snapshot(table_id, cols, now)
    if previous is None:
        return []
    changes = diff_schemas(previous, cols)
    store.add_schema_events(
        table_id,
        [
            {
                "change": str(getattr(ch, "change", getattr(ch, "kind", "changed"))),
                "column_name": getattr(ch, "column", None),
                "old_value": _text(getattr(ch, "old", None)),
                "new_value": _text(getattr(ch, "new", None)),
                "details": {"description": str(getattr(ch, "description", ch))},
            }
            for ch in changes
        ],
        now,
    )
    return changes


def _text(v: Any) -> str | None:
    if v is None:
        return None
    return str(getattr(v, "data_type", v))
