"""The run's steps take one :class:`RunContext`, not the argument lists they used to thread
through the runner and the fan-out engines; and a context never leaves its process."""

from __future__ import annotations

import importlib
import inspect
import pickle
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.run_context import run_context
from tidegauge.config import Project
from tidegauge.fanout.registry import ENGINES
from tidegauge.store.store import Store

#: the pipeline's steps: each takes the context, then at most what earlier steps handed it
ENTRY_POINTS = [
    ("tidegauge.steps.collect", "collect_tables"),
    ("tidegauge.steps.detect", "detect_tables"),
    ("tidegauge.steps.lineage", "refresh_lineage"),
    ("tidegauge.steps.group", "group_alerts"),
    ("tidegauge.steps.emit", "emit_run"),
    ("tidegauge.steps.notify", "notify_incidents"),
    ("tidegauge.runner", "per_table"),
    *((module, "fan_out") for module in ENGINES.values()),
]


@pytest.mark.parametrize(("module", "name"), ENTRY_POINTS)
def test_each_step_takes_the_run_context_first(module: str, name: str) -> None:
    fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    params = list(inspect.signature(fn).parameters.values())
    assert params[0].annotation == "RunContext", f"{module}.{name} takes {params[0]}"
    # what the run shares is in the context; only earlier steps' results are passed
    shared = {"project", "store", "now", "run_id", "report", "only", "progress", "external"}
    assert not shared & {p.name for p in params[1:]}, f"{module}.{name}{inspect.signature(fn)}"
    assert len(params) <= 3, f"{module}.{name}{inspect.signature(fn)}"


def test_a_context_is_never_pickled(tmp_path: Any) -> None:
    """Fan-out engines send plain JSON and rebuild the context on the worker; a context
    pickled with its live store would reach a worker holding someone else's connection."""
    (tmp_path / "tidegauge.yml").write_text('store: {url: "sqlite:///state.db"}\n')
    from tidegauge.config import load_project

    project: Project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    ctx = run_context(project, store, datetime(2026, 3, 1, tzinfo=UTC))
    with pytest.raises(TypeError, match=r"never pickled.*worker_context"):
        pickle.dumps(ctx)
    store.close()
