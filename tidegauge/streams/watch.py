"""``tidegauge watch``: poll streams every interval, and run tables when they are due.

A stream-only pass is a recorded run like any other (so detection knows the previous poll
and the UI lists it) through the run's own steps: grouping along the saved lineage graph,
under the same ``group`` lease, then notifications through the outbox. A table run
(:func:`tidegauge.runner.run`, which polls streams as well) happens every project bucket.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tidegauge.core.clock import Clock, floor_time
from tidegauge.core.lineage import LineageGraph

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.runner import RunReport
    from tidegauge.store.store import Store

log = logging.getLogger("tidegauge.watch")


def stream_run(project: Project, store: Store, clock: Clock, *, notify: bool = True) -> RunReport:
    """One recorded pass over the streams only: poll, detect, group, notify."""
    from tidegauge.runner import GROUP_WAIT, RunContext, exclusive, holder_name
    from tidegauge.steps.group import group_alerts
    from tidegauge.steps.lineage import load_graph
    from tidegauge.steps.notify import notify_incidents
    from tidegauge.streams.run import poll_streams

    started = time.perf_counter()
    now = clock.now()
    run_id = store.start_run(as_of=now, now=now, holder=holder_name())
    ctx = RunContext.create(project, store, now, run_id)
    report = ctx.report
    status, error = "success", None
    try:
        graph = load_graph(store) or LineageGraph()
        reports, alerts = poll_streams(
            project, store, now, run_id, graph=graph, errors=report.warehouse_errors
        )
        report.points = sum(r.points for r in reports)
        report.alerts = alerts
        with exclusive(store, "group", timeout=GROUP_WAIT):
            group_alerts(ctx, graph, alerts)
        if notify:
            notify_incidents(ctx)
        if report.warehouse_errors:
            status = "partial"
    except Exception as e:  # recorded as failed, then raised
        status, error = "failed", f"{type(e).__name__}: {e}"
        raise
    finally:
        report.seconds = time.perf_counter() - started
        stats = json.loads(json.dumps({**report.as_dict(), "streams_only": True}, default=str))
        store.finish_run(run_id, status, stats, clock.now(), error)
    return report


def watch(
    project: Project,
    store: Store,
    *,
    interval: timedelta,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
    on_report: Callable[[str, Any], None] | None = None,
    notify: bool = True,
    max_passes: int | None = None,
) -> int:
    """Poll until ``stop`` is set (or ``max_passes``); tables run once per project bucket.

    Returns the number of passes. A failing pass is logged and the next one runs.
    """
    from tidegauge.runner import run

    clock = clock or Clock()
    stop = stop or threading.Event()
    table_every = project.defaults.bucket.seconds
    next_tables: datetime | None = clock.now() if project.warehouses else None
    passes = 0
    while not stop.is_set() and (max_passes is None or passes < max_passes):
        now = clock.now()
        try:
            if next_tables is not None and now >= next_tables:
                rep = run(project, store, clock, notify=notify)
                next_tables = floor_time(now, table_every) + timedelta(seconds=table_every)
                kind = "tables"
            else:
                rep = stream_run(project, store, clock, notify=notify)
                kind = "streams"
            if on_report is not None:
                on_report(kind, rep)
        except Exception:  # the next pass tries again
            log.exception("watch pass failed")
        passes += 1
        if max_passes is not None and passes >= max_passes:
            break
        stop.wait(interval.total_seconds())
    return passes
