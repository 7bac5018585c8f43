"""Fan-out over Celery: one task per chunk of tables, on workers that ``tidegauge worker``
(or ``celery -A tidegauge.fanout.celery_app worker``) starts against a Redis or RabbitMQ
broker.

The coordinating run sends every chunk at once and polls their results until all are in or
``execution.timeout`` is up. A chunk whose task failed (an error, a killed worker process)
is sent again up to ``execution.retries`` times; one that still fails, or has not answered
by the deadline, is revoked (its worker process killed) and its tables are recorded as
failed in this run, so the next run collects them: never lost, never waited on forever.
Tasks carry their deadline (``expires``, a hard time limit, and a check between tables),
so a task that outlives its run does no more work for it.

Messages are JSON only; the task loads the project from the worker's own
``--config`` file (else the coordinator's path) and opens the shared store.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tidegauge.config import ExecutionConfig, Project
from tidegauge.fanout.chunks import (
    Gathered,
    PlannedTable,
    payload,
    plan,
    record_failed,
    release_dead_leases,
    require_shared_store,
    run_chunk,
)
from tidegauge.yamlsource import ConfigError

#: chunks run in other processes, so ``execution.detect: workers`` applies
REMOTE = True

if TYPE_CHECKING:
    from celery import Celery

    from tidegauge.steps.collect import CollectedTable
    from tidegauge.steps.context import DiscoverResult, RunContext

log = logging.getLogger("tidegauge.fanout")

TASK = "tidegauge.collect_chunk"
#: how often the coordinator looks for finished chunks
POLL_SECONDS = 0.1
#: how long connecting to the broker may take before the run says it is unreachable
CONNECT_SECONDS = 5.0


def result_backend(ex: ExecutionConfig) -> str:
    """Where results go: as configured, else the Redis broker itself, else ``rpc://``
    (results come back to the coordinator as AMQP messages)."""
    if ex.result_backend:
        return ex.result_backend
    if ex.broker.startswith(("redis://", "rediss://")):
        return ex.broker
    return "rpc://"


def make_app(ex: ExecutionConfig) -> Celery:
    """A Celery app for this project's broker, with the chunk task registered."""
    try:
        from celery import Celery
    except ImportError:
        raise ConfigError(
            "execution.type is celery but Celery is not installed: pip install 'tidegauge[celery]'"
        ) from None
    app = Celery("tidegauge", broker=ex.broker, backend=result_backend(ex), set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_default_queue=ex.queue,
        task_acks_late=False,  # a lost task is re-sent by the coordinator, not redelivered
        worker_prefetch_multiplier=1,  # a worker holds only the chunk it works on
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=CONNECT_SECONDS,
        redis_socket_connect_timeout=CONNECT_SECONDS,
        result_expires=86400,
        task_track_started=True,
        worker_hijack_root_logger=False,
    )
    app.task(name=TASK)(collect_chunk)
    return app


def collect_chunk(task: dict[str, Any]) -> dict[str, Any]:
    """The Celery task: one chunk of one run (see :func:`chunks.run_chunk`)."""
    return run_chunk(task)


def check_broker(app: Celery, ex: ExecutionConfig) -> None:
    """Fail at once, with the URL (password hidden), when the broker or a Redis result
    backend cannot be reached, instead of retrying for minutes and ending in a traceback."""
    from kombu.utils.url import maybe_sanitize_url

    what, url = "execution.broker", ex.broker
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=CONNECT_SECONDS)
        backend = result_backend(ex)
        if backend.startswith(("redis://", "rediss://")):
            what, url = "execution.result_backend", backend
            app.backend.client.ping()
    except Exception as e:  # kombu and redis raise many kinds; all mean the same here
        first = (str(e).strip().splitlines() or [""])[0]
        raise ConfigError(
            f"{what} {maybe_sanitize_url(url)} is unreachable: {type(e).__name__}: {first}"
        ) from None


def _describe(result: Any) -> str:
    if isinstance(result, BaseException):
        text = str(result) or type(result).__name__
        return f"{type(result).__name__}: {text}" if type(result).__name__ not in text else text
    return str(result)


class _Chunks:
    """The run's chunks in flight: sent, answered, re-sent or given up on."""

    def __init__(self, app: Celery, ctx: RunContext, chunks: list[list[Any]], detect: bool) -> None:
        self.app, self.ctx, self.chunks, self.detect = app, ctx, chunks, detect
        ex = ctx.project.execution
        self.ex = ex
        self.deadline = datetime.now(UTC) + ex.timeout
        self.mono_deadline = time.monotonic() + ex.timeout.total_seconds()
        self.pending: dict[int, tuple[Any, int]] = {}  # chunk index → (AsyncResult, attempt)
        self.gathered = Gathered(total=sum(map(len, chunks)))
        self.stats: dict[str, Any] = {
            "engine": "celery",
            "queue": ex.queue,
            "chunks": len(chunks),
            "retried": 0,
            "failed": 0,
            "timed_out": 0,
            "workers": [],
        }

    def send(self, i: int, attempt: int) -> None:
        remaining = max(1.0, self.mono_deadline - time.monotonic())
        res = self.app.send_task(
            TASK,
            args=[payload(self.ctx, self.chunks[i], self.deadline, self.detect)],
            queue=self.ex.queue,
            expires=self.deadline,  # a task still queued at the deadline is dropped
            time_limit=remaining + 5.0,  # the worker kills a task running past it
        )
        self.pending[i] = (res, attempt)

    def fail(self, i: int, error: str) -> None:
        n = len(self.chunks)
        record_failed(self.ctx, self.chunks[i], f"chunk {i + 1}/{n}: {error}")
        self.stats["failed"] += 1
        log.error("chunk %d/%d (%d tables) failed: %s", i + 1, n, len(self.chunks[i]), error)

    def answered(self, i: int, res: Any, attempt: int) -> None:
        if res.successful():
            self.gathered.add(self.ctx, self.chunks[i], res.result)
            return
        error = _describe(res.result)
        if attempt < self.ex.retries and time.monotonic() < self.mono_deadline:
            freed = release_dead_leases(self.ctx.store, self.chunks[i])
            log.warning(
                "chunk %d/%d failed (%s); sending it again%s",
                i + 1,
                len(self.chunks),
                error,
                f" ({freed} leases of dead processes freed)" if freed else "",
            )
            self.stats["retried"] += 1
            self.send(i, attempt + 1)
            return
        self.fail(i, error)

    def wait(self) -> None:
        while self.pending and time.monotonic() < self.mono_deadline:
            ready = [(i, r, a) for i, (r, a) in self.pending.items() if r.ready()]
            if not ready:
                time.sleep(POLL_SECONDS)
                continue
            for i, res, attempt in ready:
                del self.pending[i]
                self.answered(i, res, attempt)
                res.forget()
        if self.pending:
            ids = [r.id for r, _ in self.pending.values()]
            # kill whatever still runs: it must not write to this run after we give up
            self.app.control.revoke(ids, terminate=True, signal="SIGKILL")
            for i in sorted(self.pending):
                self.stats["timed_out"] += 1
                self.fail(
                    i,
                    f"no answer within {self.ex.timeout} (execution.timeout); "
                    "is a worker listening on queue "
                    f"'{self.ex.queue}'? Its tables are collected by the next run",
                )
            self.pending.clear()


def fan_out(
    ctx: RunContext, found: DiscoverResult
) -> tuple[list[CollectedTable], list[int], dict[str, Any]]:
    """Collect (and with ``detect: workers``, detect) every table as Celery tasks.

    Returns the collected tables, the ids of alerts workers stored, and fan-out figures.
    """
    require_shared_store(ctx.project)
    ex = ctx.project.execution
    chunks: list[list[PlannedTable]] = plan(found, ctx.only, ex.chunk_size)
    app = make_app(ex)
    try:
        check_broker(app, ex)  # a wrong broker shows on every run, even one with no tables
        if not chunks:
            return [], [], {"engine": "celery", "chunks": 0}
        flight = _Chunks(app, ctx, chunks, detect=ex.detect == "workers")
        log.info(
            "run %d: %d tables in %d chunks on queue '%s'",
            ctx.run_id,
            sum(map(len, chunks)),
            len(chunks),
            ex.queue,
        )
        for i in range(len(chunks)):
            flight.send(i, 0)
        flight.wait()
    finally:
        app.close()
    got = flight.gathered
    ctx.report.tables = len(got.collected)
    flight.stats["workers"] = sorted(got.workers)
    return got.collected, got.alert_ids, flight.stats


def worker_argv(
    project: Project, *, concurrency: int, loglevel: str, hostname: str | None
) -> list[str]:
    """``celery worker`` arguments for this project's queue."""
    argv = [
        "worker",
        "--queues",
        project.execution.queue,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        loglevel,
        "--prefetch-multiplier",
        "1",
        "-O",
        "fair",
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv += ["--hostname", hostname]
    return argv
