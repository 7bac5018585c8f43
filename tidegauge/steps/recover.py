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

from sqlalchemy import and_, delete, exists, select, update

from tidegauge.store import schema as s
from tidegauge.store.engine import utc
from tidegauge.store.incidents import OPEN_STATUSES
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
    with store.engine.begin() as c:
        running = c.execute(
            select(s.runs.c.id, s.runs.c.holder, s.runs.c.started_at).where(
                s.runs.c.status == "running"
            )
        ).all()
        dead = []
        for r in running:
            alive = False if r.holder == current else holder_alive(r.holder)
            started = utc(r.started_at)
            if alive is False or (
                alive is None and started is not None and wall - started > RUN_STALE
            ):
                dead.append(r.id)
        if dead:
            log.warning(
                "runs %s were interrupted (their process is gone): marked failed",
                ", ".join(map(str, dead)),
            )
            c.execute(
                update(s.runs)
                .where(s.runs.c.id.in_(dead), s.runs.c.status == "running")
                .values(
                    status="failed",
                    finished_at=now,
                    error="interrupted: the process running it died",
                )
            )
            c.execute(
                update(s.run_tables)
                .where(s.run_tables.c.run_id.in_(dead), s.run_tables.c.status == "ok")
                .values(status="interrupted")
            )
        holders = {str(h) for (h,) in c.execute(select(s.leases.c.holder).distinct())}
        holders |= {
            str(h)
            for (h,) in c.execute(
                select(s.outbox.c.claimed_by)
                .distinct()
                .where(s.outbox.c.status == "pending", s.outbox.c.claimed_by.is_not(None))
            )
        }
        gone = sorted(h for h in holders if holder_alive(h) is False)
        if gone:
            c.execute(delete(s.leases).where(s.leases.c.holder.in_(gone)))
            c.execute(
                update(s.outbox)
                .where(s.outbox.c.status == "pending", s.outbox.c.claimed_by.in_(gone))
                .values(claimed_by=None, claimed_until=None)
            )
        recent = select(s.runs.c.id).order_by(s.runs.c.id.desc()).limit(RECENT_RUNS).subquery()
        failed = c.execute(
            select(s.runs.c.id).where(
                s.runs.c.id.in_(select(recent.c.id)), s.runs.c.status == "failed"
            )
        ).all()
    return [r.id for r in failed]


def orphan_alerts(store: Store, failed_runs: list[int]) -> list[dict[str, Any]]:
    """Alerts stored by failed runs that never joined an incident, as detection returns them.

    Call it under the grouping lease: a concurrent run may be grouping them.
    """
    if not failed_runs:
        return []
    out = store.alerts.for_grouping(
        s.alerts.c.incident_id.is_(None), s.alerts.c.run_id.in_(failed_runs)
    )
    if out:
        log.warning("%d alert(s) of interrupted runs are grouped now", len(out))
    return out


def unqueued_incidents(store: Store, failed_runs: list[int]) -> list[int]:
    """Open incidents whose root alert came from a failed run and that have no outbox row."""
    if not failed_runs:
        return []
    i, a, o = s.incidents, s.alerts, s.outbox
    with store.engine.connect() as c:
        rows = c.execute(
            select(i.c.id)
            .join(a, a.c.id == i.c.root_alert_id)
            .where(
                a.c.run_id.in_(failed_runs),
                i.c.status.in_(OPEN_STATUSES),
                ~exists().where(and_(o.c.incident_id == i.c.id)),
            )
            .order_by(i.c.id)
        ).all()
    return [r.id for r in rows]


def release_held(store: Store, holder: str) -> None:
    """Free every lease and outbox claim ``holder`` has (a run that failed)."""
    with store.engine.begin() as c:
        c.execute(delete(s.leases).where(s.leases.c.holder == holder))
        c.execute(
            update(s.outbox)
            .where(s.outbox.c.status == "pending", s.outbox.c.claimed_by == holder)
            .values(claimed_by=None, claimed_until=None)
        )
