"""The default engine: every table's work in this process, one after another."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.steps.collect import CollectedTable
    from tidegauge.steps.context import DiscoverResult, Progress, RunReport
    from tidegauge.store.store import Store

#: detection always runs in the coordinator: there are no workers
REMOTE = False


def fan_out(
    project: Project,
    store: Store,
    found: DiscoverResult,
    now: datetime,
    run_id: int,
    report: RunReport,
    only: list[str] | None,
    progress: Progress | None,
) -> tuple[list[CollectedTable], list[int], dict[str, Any]]:
    """Collect every table here; no alerts are stored yet, and there are no fan-out figures."""
    from tidegauge.steps.collect import collect_tables

    collected = collect_tables(project, store, found, now, run_id, report, only, progress)
    return collected, [], {}
