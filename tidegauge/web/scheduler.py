"""Runs monitors on a schedule inside ``tidegauge serve`` and flushes the notification outbox.

A daemon thread: one :func:`tidegauge.runner.run` per interval (the project's default time
bucket, e.g. hourly), a streams-only pass at the streams' own ``poll_interval`` between runs,
and an outbox delivery pass every ``deliver_every`` seconds so retries go out between runs. A
failing run is logged and retried at the next tick; it never stops the server.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.store.store import Store

log = logging.getLogger("tidegauge.scheduler")


class Scheduler:
    def __init__(
        self,
        project: Project,
        store: Store,
        *,
        interval: float | None = None,
        deliver_every: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.project = project
        self.store = store
        self.interval = interval or float(project.defaults.bucket.seconds)
        self.deliver_every = deliver_every
        self.clock = clock or Clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.stream_passes = 0
        #: streams are polled at the shortest of their poll intervals, between table runs
        self.stream_every = min(
            (s.poll_interval.total_seconds() for s in project.streams), default=None
        )

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="tidegauge-scheduler", daemon=True)
        self._thread.start()
        log.info("scheduler: a run every %.0fs", self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        next_run = time.monotonic()
        next_deliver = time.monotonic() + self.deliver_every
        every = self.stream_every
        next_streams = math.inf
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_run:
                self.run_once()  # a run polls the streams too
                next_run = time.monotonic() + self.interval
                next_streams = time.monotonic() + every if every else math.inf
            elif now >= next_streams and every:
                self.streams_once()
                next_streams = time.monotonic() + every
            elif now >= next_deliver:
                self.deliver_once()
                next_deliver = time.monotonic() + self.deliver_every
            wake = min(next_run, next_deliver, next_streams)
            self._stop.wait(max(0.05, wake - time.monotonic()))

    def streams_once(self) -> None:
        from tidegauge.streams.watch import stream_run

        try:
            stream_run(self.project, self.store, self.clock)
            self.stream_passes += 1
        except Exception:  # logged; the next tick tries again
            log.exception("scheduled stream poll failed")

    def run_once(self) -> None:
        from tidegauge.runner import run

        try:
            report = run(self.project, self.store, self.clock)
            self.runs += 1
            log.info(
                "scheduled run %s: %s tables, %s alerts",
                report.run_id,
                report.tables,
                len(report.alerts),
            )
        except Exception:  # logged; the next tick tries again
            log.exception("scheduled run failed")

    def deliver_once(self) -> None:
        if not self.project.channels:
            return
        from tidegauge.steps.leases import holder_name
        from tidegauge.steps.notify import deliver

        try:
            deliver(self.project, self.store, holder=holder_name(), max_inline_wait=0.0, rounds=1)
        except Exception:  # logged; rows stay in the outbox for the next pass
            log.exception("outbox delivery failed")
