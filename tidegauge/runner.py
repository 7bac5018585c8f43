"""One monitoring run: discover → collect → store → detect → group → notify.

Per-table work is independent and idempotent: a table that fails is recorded and the
run goes on; re-running the same ``--now`` recomputes the same buckets and stores no
duplicate points, alerts or incidents.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.steps.collect_gc import fewer_collections
from tidegauge.steps.context import DiscoverResult, Progress, RunContext, RunReport
from tidegauge.steps.discover import connect, discover
from tidegauge.steps.leases import exclusive, holder_name
from tidegauge.store.store import Store

__all__ = [
    "DiscoverResult",
    "Progress",
    "RunContext",
    "RunReport",
    "connect",
    "discover",
    "exclusive",
    "holder_name",
    "per_table",
    "run",
]

log = logging.getLogger("tidegauge.run")

GROUP_WAIT = 300.0


def run(
    project: Project,
    store: Store,
    clock: Clock,
    *,
    only: list[str] | None = None,
    progress: Progress | None = None,
    notify: bool = True,
    wall: Clock | None = None,
) -> RunReport:
    """One run as of ``clock.now()``; see the module docstring.

    ``wall`` is the real clock for delivery retry budgets (default: the system clock);
    tests inject one to move time instead of sleeping.
    """
    from tidegauge.steps.emit import emit_run
    from tidegauge.steps.group import group_alerts
    from tidegauge.steps.lineage import refresh_lineage
    from tidegauge.steps.notify import enqueue_incident, notify_incidents
    from tidegauge.steps.recover import orphan_alerts, reclaim, unqueued_incidents
    from tidegauge.store.outbox import OutboxRepo
    from tidegauge.streams.segment import recognise as recognise_segment

    started = time.perf_counter()
    now = clock.now()
    failed_runs = reclaim(store, now, holder_name())  # finish what killed runs left
    run_id = store.start_run(as_of=now, now=now, holder=holder_name())
    ctx = RunContext.create(project, store, now, run_id, only=only, progress=progress, wall=wall)
    report = ctx.report
    # monitors or lineage from an unreadable dbt manifest are missing from this run
    report.problems = list(project.monitor_warnings)
    status, error = "success", None
    found = DiscoverResult()
    # the cycle collector walks what the whole run keeps alive less often (steps/collect_gc)
    with fewer_collections():
        try:
            # collection in this process takes the warehouses discovery opened
            found = discover(project, store, now, keep_open=project.execution.type == "local")
            recognise_segment(project, found.tables)  # Segment's layout: events as segments
            report.warehouse_errors = dict(found.errors)
            graph = refresh_lineage(ctx, found)  # dbt test failures go to ctx.external
            collected, alerts = per_table(ctx, found)
            if project.streams:  # their modules load only for a project that has streams
                from tidegauge.streams.run import poll_streams

                alerts += poll_streams(
                    project, store, now, run_id, graph=graph, errors=report.warehouse_errors
                )[1]
            report.alerts = alerts
            # grouping reads open incidents and writes new ones: one process at a time
            with exclusive(store, "group", timeout=GROUP_WAIT):
                seen = {a["id"] for a in alerts}
                leftovers = [a for a in orphan_alerts(store, failed_runs) if a["id"] not in seen]
                group_alerts(ctx, graph, alerts + leftovers)
            emit_run(ctx, collected, alerts)
            if notify:
                outbox = OutboxRepo(store)
                for iid in unqueued_incidents(store, failed_runs):
                    enqueue_incident(project, store, outbox, iid, now, clock=wall)
                notify_incidents(ctx)
            if report.partial:
                status = "partial"
        except BaseException as e:  # the run is recorded as failed, then the error propagates
            status, error = "failed", f"{type(e).__name__}: {e}"
            report.seconds = time.perf_counter() - started
            _finish_failed(store, run_id, report, clock, error)
            raise
        finally:
            found.close()
    report.seconds = time.perf_counter() - started
    stats = json.loads(json.dumps(report.as_dict(), default=str))
    store.finish_run(run_id, status, stats, clock.now(), error)
    return report


#: how long a failed run tries to record its failure while the store is unreachable
FINISH_RETRY = (0.5, 1.0, 2.0)


def _finish_failed(store: Store, run_id: int, report: RunReport, clock: Clock, error: str) -> None:
    """Record the run as failed and release what it holds, trying again for a few seconds
    when the store is what failed; if it stays away, the next run reclaims both (the
    process that held them is gone by then)."""
    from sqlalchemy.exc import DBAPIError

    from tidegauge.steps.recover import release_held

    stats = json.loads(json.dumps(report.as_dict(), default=str))
    for wait in (0.0, *FINISH_RETRY):
        time.sleep(wait)
        try:
            store.finish_run(run_id, "failed", stats, clock.now(), error[:2000])
            release_held(store, holder_name())
            return
        except DBAPIError as e:
            log.warning("recording run %s as failed: store unavailable (%s)", run_id, e.orig)
    log.error("run %s could not be recorded as failed: the store stays unavailable", run_id)


def per_table(ctx: RunContext, found: DiscoverResult) -> tuple[list[Any], list[dict[str, Any]]]:
    """Collect and detect every table: here, or as tasks on ``execution.type``'s engine.

    With ``execution.detect: coordinator`` (the default) workers only collect, and
    detection runs here over all collected tables at once, so the run tests the same
    family of points (false discovery rate) as a single process does.
    """
    from tidegauge.fanout.chunks import alerts_by_id
    from tidegauge.fanout.registry import engine
    from tidegauge.steps.detect import detect_tables

    execution = ctx.project.execution
    fan = engine(execution.type)
    collected, alert_ids, ctx.report.fanout = fan.fan_out(ctx, found)
    if fan.REMOTE and execution.detect == "workers":
        stored = alerts_by_id(ctx.store, alert_ids)
        # dbt test failures and other external alerts (ctx.external) are the coordinator's own
        return collected, stored + detect_tables(ctx, [])
    return collected, detect_tables(ctx, collected)
