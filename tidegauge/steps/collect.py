"""Collect: for each table, metrics pushed down to the warehouse and a schema snapshot.

Tables go in chunks of :data:`CHUNK`. One statement leases the whole chunk, a handful
read what it needs from the store (who already collected it, its last bucket, its latest
schema), and the warehouse is queried table by table. A table's points, ledger, snapshot
and ``run_tables`` row commit together, as soon as the tables collected since the last
commit took :data:`COMMIT_AFTER_SECONDS` (else at the end of the chunk), so a killed run
loses at most one table's work or half a second of small tables'; the writes are
idempotent, so the next run stores exactly what an uninterrupted run would. A table that
fails is recorded as failed and the others go on; if the store refuses a commit's rows,
its tables are written one by one so that a bad row costs only its own table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.exc import DataError, IntegrityError

from tidegauge.config import Project, TableSettings
from tidegauge.core.detectors.schema import diff_schemas
from tidegauge.core.model import MetricPoint, TableInfo
from tidegauge.steps.collect_gc import fewer_collections
from tidegauge.steps.counts import CountAhead, Counted, KnownCount, countable
from tidegauge.store.bulk import (
    EXACT_ROUND_TRIP,
    Replaced,
    Snapshot,
    TableWrite,
    acquire_leases,
    chunked,
    last_buckets,
    latest_snapshots,
    previous_runs_as_of,
    release_leases,
    round_trips,
    tables_collected,
    tables_with_points,
    write_collected,
)
from tidegauge.store.store import schema_fingerprint
from tidegauge.warehouses.base import ConnectionFailed, QueryResult, Warehouse, WarehouseError

if TYPE_CHECKING:
    from tidegauge.collector import CollectionResult
    from tidegauge.steps.context import DiscoverResult, RunContext

log = logging.getLogger("tidegauge.collect")

#: how long a process may hold a table before others may take it over (a crash leaves it)
TABLE_LEASE = timedelta(minutes=30)
#: tables per chunk: one lease statement, three history reads and one write transaction
CHUNK = 200
#: collected tables are committed as soon as their collection took this long together, so
#: a killed run loses at most one table's work, or this much of small tables' (one commit
#: per table would cost a metadata-only pass over 10,000 tables more than its queries)
COMMIT_AFTER_SECONDS = 0.5
#: a chunk still collecting after this long renews the leases of the tables it has left
RENEW_AFTER = TABLE_LEASE / 3
#: points a run keeps in memory for detection (see :attr:`CollectedTable.fresh_points`):
#: a few hundred MB at most; the tables past it are read back from the store, one at a time
HANDOFF_POINTS = 1_000_000


class _RetryOnConnectionLoss:
    """A warehouse whose queries are re-run once after a lost connection (a killed backend,
    a restarted server): sessions are read-only, so re-running a query is safe. A second
    loss raises, and the collector records the failure for that table only."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._wh = warehouse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wh, name)

    def execute(self, query: Any, *, comment: str | None = None, copy: bool = True) -> QueryResult:
        try:
            return self._wh.execute(query, comment=comment, copy=copy)
        except ConnectionFailed as e:
            log.warning("%s; reconnecting and retrying once", e)
            self._wh.close()
            return self._wh.execute(query, comment=comment, copy=copy)


@dataclass
class CollectedTable:
    table_id: int
    info: TableInfo
    settings: TableSettings
    schema_changes: list[Any] = field(default_factory=list)
    points: int = 0
    first_run: bool = False
    #: start of the newest volume bucket stored before this run (None: none): buckets after
    #: it were still empty then, so this run tests them even when older than its window
    resumed_after: datetime | None = None
    error: str | None = None
    #: this run's points of a table that had none stored before, kept after their commit so
    #: that detection need not read them back (``store.history.points_as_stored`` gives what
    #: the read would); None: detection reads the store (remote workers never send them)
    fresh_points: list[MetricPoint] | None = field(default=None, repr=False, compare=False)


def _matches_only(info: TableInfo, only: list[str] | None) -> bool:
    if not only:
        return True
    names = {info.ref.fqn.lower(), info.ref.name.lower(), info.ref.key.lower()}
    return any(o.lower() in names for o in only)


@dataclass
class _Pass:
    """What every chunk of one ``collect_tables`` call shares."""

    ctx: RunContext
    found: DiscoverResult
    total: int
    holder: str
    schedules: dict[str, list[Any]]  # table fqn (lower case) → its enabled declared monitors
    done: int = 0
    #: tables with no point stored before this run, whose points go to detection in memory
    unstored: set[int] = field(default_factory=set)
    #: points still allowed in memory (:data:`HANDOFF_POINTS`)
    handoff_left: int = HANDOFF_POINTS
    #: merged settings by the ``tables:`` entries that match (see :func:`_settings_for`)
    merged: dict[tuple[int, ...], TableSettings] = field(default_factory=dict)


def _settings_for(run: _Pass, fqn: str) -> TableSettings:
    """``Project.settings_for``, merged once per set of matching ``tables:`` entries: at
    10,000 tables the per-table pydantic merge cost more than their metadata queries."""
    low = fqn.lower()
    key = tuple(
        i for i, e in enumerate(run.ctx.project.tables) if fnmatchcase(low, e.match.lower())
    )
    base = run.merged.get(key)
    if base is None:
        base = run.merged[key] = run.ctx.project.settings_for(fqn)
    return base if base.match == fqn else base.model_copy(update={"match": fqn})


def collect_tables(ctx: RunContext, found: DiscoverResult) -> list[CollectedTable]:
    """Collect the tables discovery found (those ``ctx.only`` names, if it names any); a
    warehouse that cannot connect is in the report's ``warehouse_errors``."""
    from tidegauge.steps.discover import connect
    from tidegauge.steps.leases import holder_name

    project, report = ctx.project, ctx.report
    todo = [
        (name, info)
        for name, infos in found.tables.items()
        for info in infos
        if _matches_only(info, ctx.only)
    ]
    by_warehouse: dict[str, list[TableInfo]] = {}
    for name, info in todo:
        by_warehouse.setdefault(name, []).append(info)
    run = _Pass(ctx, found, len(todo), holder_name(), _monitors_by_table(project))
    out: list[CollectedTable] = []
    with fewer_collections():
        for name, infos in by_warehouse.items():
            try:
                # the connection discovery made, if it left one
                wh = found.connections.pop(name, None) or connect(project.warehouse(name))
            except WarehouseError as e:
                report.warehouse_errors[name] = str(e)
                continue
            try:
                retrying = cast(Warehouse, _RetryOnConnectionLoss(wh))
                chunks = list(chunked(infos, CHUNK))
                with _count_ahead(run, retrying, name, chunks) as ahead:
                    for i, chunk in enumerate(chunks):
                        out.extend(
                            _collect_chunk(run, retrying, name, chunk, partial(ahead.counts, i))
                        )
            finally:
                wh.close()
    report.tables = len(out)
    return out


def _count_ahead(
    run: _Pass, wh: Warehouse, warehouse: str, chunks: list[list[TableInfo]]
) -> CountAhead:
    """Small tables' counts for each chunk, the next chunk's on a second connection while
    this one is collected (see :class:`~tidegauge.steps.counts.CountAhead`)."""
    from tidegauge.steps.discover import connect

    def second() -> Warehouse:
        return cast(
            Warehouse, _RetryOnConnectionLoss(connect(run.ctx.project.warehouse(warehouse)))
        )

    def small(info: TableInfo) -> bool:  # settings only where rows are counted at all
        return not wh.METADATA_ROW_COUNT and countable(wh, info, _settings_for(run, info.ref.fqn))

    return CountAhead(wh, chunks, small, lambda info: _due_anyway(run, info), second)


def _collect_chunk(
    run: _Pass,
    wh: Warehouse,
    warehouse: str,
    chunk: list[TableInfo],
    count: Callable[[list[TableInfo]], dict[str, Counted]],
) -> list[CollectedTable]:
    store = run.ctx.store
    # (table, its key, its store id): a key is formatted once per table, not per lookup
    keyed = [(info, key, run.found.table_ids[key]) for info in chunk for key in (info.ref.key,)]
    lease = {tid: f"collect:{tid}" for _, _, tid in keyed}
    held = acquire_leases(store, lease.values(), run.holder, TABLE_LEASE, datetime.now(UTC))
    leased_at = time.monotonic()
    entries: list[CollectedTable] = []
    pending: list[tuple[CollectedTable, TableWrite]] = []  # collected, not yet committed
    try:
        mine = []
        for item in keyed:
            if lease[item[2]] in held:
                mine.append(item)
            else:  # another process is collecting this table right now: never twice
                log.info("%s: collected by another process, skipped", item[0].ref.fqn)
        tids = [tid for _, _, tid in mine]
        due = _due_tables(run, [(info, tid) for info, _, tid in mine])
        elsewhere = tables_collected(store, tids, run.ctx.now, other_than=run.ctx.run_id)
        lasts = last_buckets(store, tids)
        # a schema unchanged since its snapshot is not read back (nor diffed) at all
        current = {tid: schema_fingerprint(list(info.columns)) for info, _, tid in mine}
        snapshots = latest_snapshots(store, tids, unless=current)
        if store.dialect in EXACT_ROUND_TRIP:
            # a first run's points are detection's whole history when nothing else is stored;
            # a table with buckets or a schema snapshot was collected before (no query for it)
            new = [tid for tid in tids if tid not in lasts and tid not in snapshots]
            if new:
                run.unstored.update(set(new) - tables_with_points(store, new))
        settings = {key: _settings_for(run, info.ref.fqn) for info, key, _ in mine}
        counts = count([info for info, _, tid in mine if tid in due and tid not in elsewhere])
        pending_seconds = 0.0
        try:
            for i, (info, key, tid) in enumerate(mine):
                if time.monotonic() - leased_at > RENEW_AFTER.total_seconds():
                    rest = [lease[t] for _, _, t in mine[i:]]
                    held = acquire_leases(store, rest, run.holder, TABLE_LEASE, datetime.now(UTC))
                    leased_at = time.monotonic()
                if lease[tid] not in held:
                    log.info("%s: lease lost to another process, skipped", info.ref.fqn)
                    continue
                if tid not in due:
                    log.info("%s: no declared monitor is due yet", info.ref.fqn)
                    continue
                if tid in elsewhere:
                    log.info("%s: already collected as of %s", info.ref.fqn, run.ctx.now)
                    continue
                entry, write = _collect_one(
                    run,
                    wh,
                    warehouse,
                    info,
                    settings[key],
                    tid,
                    lasts.get(tid),
                    snapshots.get(tid),
                    counts.get(key),
                    current[tid],
                )
                entries.append(entry)
                pending.append((entry, write))
                pending_seconds += write.seconds or 0.0  # a running sum: chunks are 200 long
                if pending_seconds >= COMMIT_AFTER_SECONDS:
                    _store_pending(run, pending)
                    pending_seconds = 0.0
                run.ctx.report.points += entry.points
                if entry.error:
                    run.ctx.report.failed_tables[info.ref.fqn] = entry.error
                    log.warning("%s: %s", info.ref.fqn, entry.error)
                run.done += 1
                if run.ctx.progress:
                    run.ctx.progress(info.ref.fqn, run.done, run.total)
        finally:
            # what was collected is stored even when the caller stops the chunk early
            _store_pending(run, pending)
    finally:
        release_leases(store, held, run.holder)
    return entries


def _collect_one(
    run: _Pass,
    wh: Warehouse,
    warehouse: str,
    info: TableInfo,
    settings: TableSettings,
    tid: int,
    last: datetime | None,
    snapshot: Snapshot | None,
    counted: Counted | None,
    fingerprint: str,
) -> tuple[CollectedTable, TableWrite]:
    """Collect one table; ``fingerprint`` is that of the columns discovery saw."""
    from tidegauge.collector import collect_table

    project = run.ctx.project
    entry = CollectedTable(tid, info, settings, first_run=last is None, resumed_after=last)
    write = TableWrite(tid, "ok")
    started = time.perf_counter()
    if counted is not None:  # counted with its chunk: the collector takes the count as known
        wh = cast(Warehouse, KnownCount(wh))
        write.ledger.append(_ledger(run, tid, "freshness", counted.seconds, 1, counted.sql))
    try:
        result = collect_table(
            wh,
            replace(info, row_count=counted.rows) if counted is not None else info,
            settings,
            project.defaults,
            now=run.ctx.now,
            last_bucket=last,
            custom_metrics=[
                m
                for m in project.metrics
                if m.table
                and m.table.lower() == info.ref.fqn.lower()
                and (m.warehouse in (None, warehouse))
            ],
        )
    except WarehouseError as e:  # the collector records most errors itself
        result, entry.error = None, str(e)
    except Exception as e:  # one table's data tripping a bug never stops the others
        log.exception("collection failed for %s", info.ref.fqn)
        result, entry.error = None, f"collection failed: {type(e).__name__}: {e}"
    if result is not None:
        write.points = _tracked_values_only(run, tid, result)
        write.replaced = [Replaced(*r) for r in result.replaced]
        entry.points = len(write.points)
        write.ledger += [
            _ledger(
                run,
                tid,
                getattr(le, "monitor", "collect"),
                float(getattr(le, "seconds", 0.0)),
                getattr(le, "rows", None),
                getattr(le, "sql", None),
                getattr(le, "bytes_scanned", None),
            )
            for le in result.ledger
            # a count from the chunk's statement is in the ledger already, not as metadata
            if counted is None or (le.monitor, le.kind) != ("freshness", "metadata")
        ]
        if result.errors:
            entry.error = "; ".join(result.errors)
        write.schema = list(result.schema) or list(info.columns)
        # the chunk fingerprinted discovery's columns already: again only if they changed
        same = write.schema == list(info.columns)
        write.fingerprint = fingerprint if same else schema_fingerprint(write.schema)
        if snapshot is not None:  # no changes on first sight
            write.previous_fingerprint = snapshot.fingerprint
            if write.fingerprint != snapshot.fingerprint:
                before = snapshot.columns
                if snapshot.unread:  # the schema changed during the run: read the snapshot
                    before = latest_snapshots(run.ctx.store, [tid])[tid].columns
                entry.schema_changes = diff_schemas(before, write.schema)
                write.schema_events = schema_events(entry.schema_changes)
    write.status = "failed" if entry.error and not entry.points else "ok"
    write.error = entry.error
    write.seconds = time.perf_counter() - started
    return entry, write


def _tracked_values_only(run: _Pass, tid: int, result: CollectionResult) -> list[MetricPoint]:
    """The collected points, less the value counts of undecided columns the store does not
    track yet (:attr:`~tidegauge.collector.CollectionResult.undecided`): eight new rows of
    a UUID or e-mail column are eight distinct values, not eight categories, and must not
    become tracked values (stored raw, with their distinct count no longer scored)."""
    points = list(result.points)
    if not result.undecided:
        return points
    untracked = result.undecided - run.ctx.store.categorical_columns(tid, among=result.undecided)
    if not untracked:
        return points
    return [p for p in points if p.metric != "value_count" or p.column not in untracked]


def _ledger(
    run: _Pass,
    tid: int,
    monitor: str,
    seconds: float,
    rows: int | None,
    sql: str | None,
    scanned: int | None = None,
) -> dict[str, Any]:
    return {
        "run_id": run.ctx.run_id,
        "table_id": tid,
        "monitor": monitor,
        "at": run.ctx.now,
        "seconds": seconds,
        "rows": rows,
        "bytes": scanned,
        "sql": sql,
    }


def _store_pending(run: _Pass, pending: list[tuple[CollectedTable, TableWrite]]) -> None:
    """Commit what was collected since the last commit, and forget it."""
    if pending:
        _store_chunk(run, [e for e, _ in pending], [w for _, w in pending])
        pending.clear()


def _store_chunk(run: _Pass, entries: list[CollectedTable], writes: list[TableWrite]) -> None:
    """One transaction for the chunk; if the store refuses a row, table by table."""
    try:
        write_collected(run.ctx.store, run.ctx.run_id, run.ctx.now, writes)
        _hand_off(run, entries, writes)
        return
    except (DataError, IntegrityError) as e:
        refused = e
    if len(writes) > 1:
        log.warning(
            "storing %d tables at once failed (%s); storing them one by one",
            len(writes),
            _first_line(refused),
        )
    for entry, write in zip(entries, writes, strict=True):
        if len(writes) > 1:
            try:
                write_collected(run.ctx.store, run.ctx.run_id, run.ctx.now, [write])
                _hand_off(run, [entry], [write])
                continue
            except (DataError, IntegrityError) as e:
                refused = e
        # this table's results cannot be stored: it fails, and the next run retries it
        msg = f"the store refused its results: {_first_line(refused)}"
        log.error("%s: %s", entry.info.ref.fqn, msg)
        run.ctx.report.points -= entry.points
        entry.points, entry.error, entry.schema_changes = 0, msg, []
        run.ctx.report.failed_tables[entry.info.ref.fqn] = msg
        write_collected(
            run.ctx.store,
            run.ctx.run_id,
            run.ctx.now,
            [TableWrite(write.table_id, "failed", msg, write.seconds)],
        )


def _hand_off(run: _Pass, entries: list[CollectedTable], writes: list[TableWrite]) -> None:
    """Keep the committed points of tables that had none stored before for detection, while
    they fit in :data:`HANDOFF_POINTS` and read back as written."""
    for entry, write in zip(entries, writes, strict=True):
        if (
            entry.table_id in run.unstored
            and write.points
            and len(write.points) <= run.handoff_left
            and round_trips(write.points)
        ):
            entry.fresh_points = write.points
            run.handoff_left -= len(write.points)


def _first_line(e: Exception) -> str:
    orig = getattr(e, "orig", None) or e
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _monitors_by_table(project: Project) -> dict[str, list[Any]]:
    from tidegauge.monitors import declared_monitors

    out: dict[str, list[Any]] = {}
    for m in declared_monitors(project):
        if m.enabled:
            out.setdefault(m.table.split(":")[-1].lower(), []).append(m)
    return out


def _due_tables(run: _Pass, tables: list[tuple[TableInfo, int]]) -> set[int]:
    """Tables whose declared monitors all have schedules run only when one of them is due."""
    from tidegauge.core.schedule import is_due

    due: set[int] = set()
    scheduled: dict[int, list[Any]] = {}
    for info, tid in tables:
        if _due_anyway(run, info):
            due.add(tid)
        else:
            scheduled[tid] = run.schedules[info.ref.fqn.lower()]
    if scheduled:
        last = previous_runs_as_of(run.ctx.store, scheduled, run.ctx.now)
        due.update(
            tid
            for tid, mine in scheduled.items()
            if any(is_due(m.schedule, last.get(tid), run.ctx.now) for m in mine)
        )
    return due


def _due_anyway(run: _Pass, info: TableInfo) -> bool:
    """Due whatever the store says: no declared monitor, or one without a schedule."""
    mine = run.schedules.get(info.ref.fqn.lower(), [])
    return not mine or any(m.schedule is None for m in mine)


def schema_events(changes: list[Any]) -> list[dict[str, Any]]:
    """The ``schema_events`` rows of a table's schema changes."""
    return [
        {
            "change": str(getattr(ch, "change", getattr(ch, "kind", "changed"))),
            "column_name": getattr(ch, "column", None),
            "old_value": _text(getattr(ch, "old", None)),
            "new_value": _text(getattr(ch, "new", None)),
            "details": {"description": str(getattr(ch, "description", ch))},
        }
        for ch in changes
    ]


def _text(v: Any) -> str | None:
    if v is None:
        return None
    return str(getattr(v, "data_type", v))
