"""One real demo store per test session, shared by the web tests that need one (the crawl,
Schemathesis): ``run_demo``'s warehouse, injected problems and replayed runs, made shorter
for the suite: 30 days of data instead of 60 (the first run's backfill reads the last 30
either way) and the quick replay (four runs instead of six, ``QUICK_REPLAY_HOURS``), which
finds every injected problem. Built once, on first use, in the session's temporary folder.

The data end at a fixed hour (:data:`END`), not at the last hour before now: the store, and so
every page the crawl fetches, is the same on every run. With the end following the clock, one
CI run at an hour no local run had met a chart whose band overflowed (a 500). How detection
fares at every end hour is measured by ``make bench-demo-hours``, not left to when CI runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

#: the data's days; the first run reads the last 30 of them (the project's history_days)
DAYS = 30
#: the last hour of the data
END = datetime(2026, 12, 7, 5, tzinfo=UTC)

_built: dict[str, Path] = {}


def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the session's demo (``tidegauge.yml``, ``warehouse.duckdb``,
    ``state.db``), built on the first call."""
    if "demo" not in _built:
        from tidegauge.cli.demo import QUICK_REPLAY_HOURS, run_demo

        folder = tmp_path_factory.mktemp("demo-site")
        summary = run_demo(folder, quiet=True, days=DAYS, end=END, replay_hours=QUICK_REPLAY_HOURS)
        missed = [f["injected"] for f in summary["injected"] if f["incident"] is None]
        assert not missed, f"the demo missed injected problems: {missed}"
        _built["demo"] = folder
    return _built["demo"]


def demo_app(folder: Path) -> tuple[Any, Any]:
    """The web app over the demo's store, its clock just after the demo's last run, and the
    store (the caller closes it)."""
    from tidegauge.config import load_project
    from tidegauge.core.clock import Clock
    from tidegauge.store.store import Store
    from tidegauge.web.server import create_app

    project = load_project(folder / "tidegauge.yml")
    store = Store.open(project.store_url())
    end = max(r["as_of"] for r in store.runs(limit=1))
    return create_app(project, store, clock=Clock.fixed(end + timedelta(minutes=5))), store
