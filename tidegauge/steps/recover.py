"""Recover: the next run finds what a killed run left behind and finishes it.

A run killed with SIGKILL (or a lost host) leaves its ``runs`` row ``running``, its leases
and outbox claims held, its committed points and alerts in place, and maybe alerts never
grouped or incidents never queued for notification. At the start of every run:

* a ``running`` run whose holder is dead becomes ``failed`` ("interrupted"). A holder on
  this host is dead when its process is gone; on another host, when the run started more
  than :data:`RUN_STALE` ago by the wall clock;
* its ``ok`` tables become ``interrupted``, so a run as of the same moment collects them
  again (upserts are idempotent) and runs detection on them;
* leases and outbox claims held by dead local processes are released at once instead of
  blocking the next run until they expire.

After detection, alerts of failed runs that never reached an incident are grouped, and
incidents whose root alert came from a failed run and that have no outbox row yet are
routed. Alerts, incidents and outbox rows have unique keys, so nothing is done twice.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from tidegauge.store import runs
from tidegauge.store.store import Store

log = logging.getLogger("tidegauge.recover")

#: a run held by another host that started this long ago (wall clock) is taken as dead
RUN_STALE = timedelta(hours=6)
#: how many recent runs are searched for leftovers of failed runs
RECENT_RUNS = 100


def holder_alive(holder: str | None) -> bool | None:
    """Whether the process in ``host:pid:thread`` lives; None when it is on another host."""
    if not holder:
        return None
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return None
    pid = int(parts[1])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def reclaim(store: Store, now: datetime, current: str) -> list[int]:
    """Fail dead runs and free what dead processes hold; returns recent failed run ids.

    ``current`` is the holder about to start a run: a run it still shows as running
    (its store went away before the run could be finished) is over.
    """
    wall = datetime.now(UTC)

    def run_is_dead(holder: str | None, started: datetime | None) -> bool:
        alive = False if holder == current else holder_alive(holder)
        return alive is False or (
            alive is None and started is not None and wall - started > RUN_STALE
        )

    dead, failed = runs.reclaim(
        store, now, run_is_dead, lambda h: holder_alive(h) is False, RECENT_RUNS
    )
    if dead:
        log.warning(
            "runs %s were interrupted (their process is gone): marked failed",
            ", ".join(map(str, dead)),
        )
    return failed


def orphan_alerts(store: Store, failed_runs: list[int]) -> list[dict[str, Any]]:
    """Alerts stored by failed runs that never joined an incident, as detection returns them.

    Call it under the grouping lease: a concurrent run may be grouping them.
    """
    if not failed_runs:
        return []
    out = store.alerts.for_grouping(orphans_of_runs=failed_runs)
    if out:
        log.warning("%d alert(s) of interrupted runs are grouped now", len(out))
    return out


def unqueued_incidents(store: Store, failed_runs: list[int]) -> list[int]:
    """Open incidents whose root alert came from a failed run and that have no outbox row."""
    return runs.unqueued_incidents(store, failed_runs)


def release_held(store: Store, holder: str) -> None:
    """Free every lease and outbox claim ``holder`` has (a run that failed)."""
    runs.release_held(store, holder)
