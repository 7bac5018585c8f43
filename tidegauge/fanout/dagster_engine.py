"""Fan-out over Dagster: one op per chunk of tables, run by Dagster's multiprocess executor.

The coordinating run plans the chunks as for Celery and launches a Dagster job whose first
op emits one dynamic output per chunk; ``collect_chunk`` is mapped over them (each chunk in
its own process, at most ``execution.max_concurrent`` at once) and ``gather`` returns their
answers to the coordinator, which merges them, detects and groups as it does for Celery.
The job is Dagster's own: its runs, steps, logs and retries show in the Dagster instance
``DAGSTER_HOME`` names (else a temporary one that lives for the run).

A chunk whose op fails is retried by Dagster up to ``execution.retries`` times; one that
still fails leaves its tables failed in this run (the next run collects them); the job never
stops at a failed chunk, since each chunk's failure is answered, not raised, on its last try.
"""

import logging
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tidegauge.fanout.chunks import (
    Gathered,
    PlannedTable,
    payload,
    plan,
    record_failed,
    require_shared_store,
    run_chunk,
)
from tidegauge.yamlsource import ConfigError

#: chunks run in other processes, so ``execution.detect: workers`` applies
REMOTE = True

if TYPE_CHECKING:
    from tidegauge.steps.collect import CollectedTable
    from tidegauge.steps.context import DiscoverResult, RunContext

log = logging.getLogger("tidegauge.fanout")

try:
    import dagster as dg
except ImportError:  # pragma: no cover - the dagster extra is not installed
    dg = None  # type: ignore[assignment]


#: what every op needs, imported once by the executor's fork server
PRELOAD = (
    "tidegauge.fanout.dagster_engine",
    "tidegauge.fanout.chunks",
    "tidegauge.collector",
    "tidegauge.steps.collect",
    "tidegauge.steps.detect",
)


def _require_dagster() -> None:
    if dg is None:
        raise ConfigError(
            "execution.type is dagster but Dagster is not installed: "
            "pip install 'tidegauge[dagster]'"
        )


if dg is not None:

    @dg.op(config_schema={"tasks": dg.Field(list)}, out=dg.DynamicOut(dict))
    def emit_chunks(context: dg.OpExecutionContext) -> Iterator[dg.DynamicOutput[dict[str, Any]]]:
        """One dynamic output per chunk task (plain JSON, as Celery sends it)."""
        for i, task in enumerate(context.op_config["tasks"]):
            yield dg.DynamicOutput(task, mapping_key=f"chunk_{i}")

    @dg.op(config_schema={"retries": dg.Field(int, default_value=1)})
    def collect_chunk(context: dg.OpExecutionContext, task: dict[str, Any]) -> dict[str, Any]:
        """Collect (and with ``detect: workers``, detect) one chunk of tables."""
        try:
            return {"index": task["index"], **run_chunk(task)}
        except Exception as e:
            if context.retry_number < context.op_config["retries"]:
                raise dg.RetryRequested(max_retries=context.op_config["retries"]) from e
            # the last try answers instead of raising: the other chunks' answers still count
            context.log.error(f"chunk {task['index'] + 1} failed: {type(e).__name__}: {e}")
            return {"index": task["index"], "error": f"{type(e).__name__}: {e}"}

    @dg.op
    def gather(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(results, key=lambda r: int(r["index"]))

    @dg.job(
        executor_def=dg.multiprocess_executor,
        description="tidegauge: collect one run's tables, a chunk per op",
    )
    def chunk_fanout_job() -> None:
        gather(emit_chunks().map(collect_chunk).collect())


def _instance(temp: "tempfile.TemporaryDirectory[str] | None") -> Any:
    """DAGSTER_HOME's instance when there is one, else one in ``temp`` for this run."""
    if temp is None:
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.local_temp(temp.name)


def fan_out(
    ctx: "RunContext", found: "DiscoverResult"
) -> "tuple[list[CollectedTable], list[int], dict[str, Any]]":
    """Collect (and maybe detect) every table as ops of one Dagster job; see the module."""
    _require_dagster()
    require_shared_store(ctx.project)
    ex = ctx.project.execution
    chunks: list[list[PlannedTable]] = plan(found, ctx.only, ex.chunk_size)
    stats: dict[str, Any] = {"engine": "dagster", "chunks": len(chunks), "failed": 0, "workers": []}
    if not chunks:
        return [], [], stats
    deadline = datetime.now(UTC) + ex.timeout
    tasks = [
        {**payload(ctx, c, deadline, ex.detect == "workers"), "index": i}
        for i, c in enumerate(chunks)
    ]
    run_config = {
        "ops": {
            "emit_chunks": {"config": {"tasks": tasks}},
            "collect_chunk": {"config": {"retries": ex.retries}},
        },
        "execution": {
            "config": {
                "max_concurrent": ex.max_concurrent or os.cpu_count() or 1,
                # each op is a process: forked from a server that has imported tidegauge once,
                # it starts in a fraction of a second instead of importing everything again
                "start_method": {"forkserver": {"preload_modules": list(PRELOAD)}},
            }
        },
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    log.info(
        "run %d: %d tables in %d chunks as Dagster ops",
        ctx.run_id,
        sum(map(len, chunks)),
        len(chunks),
    )
    temp = (
        None
        if os.environ.get("DAGSTER_HOME")
        else tempfile.TemporaryDirectory(prefix="tidegauge-dagster-")
    )
    answers: dict[int, dict[str, Any]] = {}
    error = "the Dagster job ended before this chunk answered"
    try:
        with (
            _instance(temp) as instance,
            dg.execute_job(
                dg.reconstructable(chunk_fanout_job),
                instance=instance,
                run_config=run_config,
                raise_on_error=False,
            ) as result,
        ):
            stats["dagster_run_id"] = result.run_id
            if result.success:
                answers = {int(r["index"]): r for r in result.output_for_node("gather")}
            else:
                failures = [e.message for e in result.all_events if e.is_failure]
                error = f"the Dagster job failed: {failures[0] if failures else 'unknown'}"
    finally:
        if temp is not None:
            temp.cleanup()
    got = Gathered(total=sum(map(len, chunks)))
    for i, chunk in enumerate(chunks):
        answer = answers.get(i)
        if answer is None or "error" in answer:
            stats["failed"] += 1
            why = answer["error"] if answer else error
            record_failed(ctx, chunk, f"chunk {i + 1}/{len(chunks)}: {why}")
            continue
        got.add(ctx, chunk, answer)
    ctx.report.tables = len(got.collected)
    stats["workers"] = sorted(got.workers)
    return got.collected, got.alert_ids, stats
