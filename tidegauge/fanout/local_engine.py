"""The default engine: every table's work in this process, one after another."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidegauge.steps.collect import CollectedTable
    from tidegauge.steps.context import DiscoverResult, RunContext

#: detection always runs in the coordinator: there are no workers
REMOTE = False


def fan_out(
    ctx: RunContext, found: DiscoverResult
) -> tuple[list[CollectedTable], list[int], dict[str, Any]]:
    """Collect every table here; no alerts are stored yet, and there are no fan-out figures."""
    from tidegauge.steps.collect import collect_tables

    collected = collect_tables(ctx, found)
    return collected, [], {}
