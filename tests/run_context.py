"""A run's context for calling one step in a test, as ``runner.run`` builds it."""

from __future__ import annotations

from datetime import datetime

from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.steps.context import Progress, RunContext
from tidegauge.store.store import Store


def run_context(
    project: Project,
    store: Store,
    now: datetime,
    *,
    run_id: int | None = None,
    only: list[str] | None = None,
    progress: Progress | None = None,
    wall: Clock | None = None,
) -> RunContext:
    """The context of run ``run_id`` as of ``now``; without ``run_id``, of a run started in
    ``store`` for the test (what ``run_tables``, the ledger and alerts refer to)."""
    if run_id is None:
        run_id = store.start_run(as_of=now, now=now, holder="test")
    return RunContext.create(project, store, now, run_id, only=only, progress=progress, wall=wall)
