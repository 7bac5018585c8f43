"""Fan-out engines by name: ``execution.type`` → the module that runs a run's per-table work.

Every engine module has the same two names (the :class:`FanOutEngine` protocol):

- ``fan_out(ctx, found)`` collects every table discovery found (those ``ctx.only`` names)
  (and, for remote engines with ``execution.detect: workers``, detects too) and returns
  ``(collected tables, ids of alerts it stored, fan-out figures)``; a remote engine sends its
  workers plain JSON, never the run's context, and each worker rebuilds its own;
- ``REMOTE``: whether the work runs outside this process, so ``detect: workers`` applies.

To add an engine: write ``tidegauge/fanout/<name>_engine.py`` and add one line to
``ENGINES``. Modules load only when a run asks for them, so Celery and Dagster stay optional.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from tidegauge.steps.collect import CollectedTable
    from tidegauge.steps.context import DiscoverResult, RunContext

#: engine name → module; the name is the config's ``execution.type``
ENGINES: dict[str, str] = {
    "local": "tidegauge.fanout.local_engine",
    "celery": "tidegauge.fanout.celery_engine",
    "dagster": "tidegauge.fanout.dagster_engine",
}


class FanOutEngine(Protocol):
    REMOTE: bool

    def fan_out(
        self, ctx: RunContext, found: DiscoverResult
    ) -> tuple[list[CollectedTable], list[int], dict[str, Any]]: ...


def engine(name: str) -> FanOutEngine:
    """The engine registered as ``name``.

    >>> engine("local").REMOTE
    False
    """
    try:
        module = ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise ValueError(f"execution.type {name!r} is not a fan-out engine ({known})") from None
    return cast("FanOutEngine", importlib.import_module(module))
