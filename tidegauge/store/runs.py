"""Runs and what they hold: a run's state, and what a killed run leaves behind.

The store decides nothing about which process is dead: callers pass that judgement in
(``steps/recover.py`` asks the operating system about processes on this host), and the store
applies it in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import and_, delete, exists, select, update

from tidegauge.store import schema as s
from tidegauge.store.engine import utc
from tidegauge.store.incidents import OPEN_STATUSES
from tidegauge.store.store import Store

#: (holder, started_at) → whether the run it holds is over
RunIsDead = Callable[[str | None, datetime | None], bool]
#: holder → whether the process behind it is gone
HolderIsGone = Callable[[str | None], bool]


def run_state(store: Store, run_id: int) -> tuple[str, datetime | None] | None:
    """(status, as of) of a run, or None when the store has no such run."""
    with store.engine.connect() as c:
        row = c.execute(
            select(s.runs.c.status, s.runs.c.as_of).where(s.runs.c.id == run_id)
        ).first()
    return None if row is None else (str(row.status), utc(row.as_of))


def reclaim(
    store: Store,
    now: datetime,
    run_is_dead: RunIsDead,
    holder_is_gone: HolderIsGone,
    recent: int,
) -> tuple[list[int], list[int]]:
    """Fail the running runs ``run_is_dead`` judges over (their ``ok`` tables become
    ``interrupted``), free the leases and outbox claims of holders that are gone; returns
    (the runs failed now, the failed runs among the ``recent`` latest)."""
    with store.engine.begin() as c:
        running = c.execute(
            select(s.runs.c.id, s.runs.c.holder, s.runs.c.started_at).where(
                s.runs.c.status == "running"
            )
        ).all()
        dead = [r.id for r in running if run_is_dead(r.holder, utc(r.started_at))]
        if dead:
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
        gone = sorted(h for h in holders if holder_is_gone(h))
        if gone:
            c.execute(delete(s.leases).where(s.leases.c.holder.in_(gone)))
            c.execute(
                update(s.outbox)
                .where(s.outbox.c.status == "pending", s.outbox.c.claimed_by.in_(gone))
                .values(claimed_by=None, claimed_until=None)
            )
        latest = select(s.runs.c.id).order_by(s.runs.c.id.desc()).limit(recent).subquery()
        failed = c.execute(
            select(s.runs.c.id).where(
                s.runs.c.id.in_(select(latest.c.id)), s.runs.c.status == "failed"
            )
        ).all()
    return [int(i) for i in dead], [int(r.id) for r in failed]


def unqueued_incidents(store: Store, failed_runs: Sequence[int]) -> list[int]:
    """Open incidents whose root alert came from a failed run and that have no outbox row."""
    if not failed_runs:
        return []
    i, a, o = s.incidents, s.alerts, s.outbox
    with store.engine.connect() as c:
        rows = c.execute(
            select(i.c.id)
            .join(a, a.c.id == i.c.root_alert_id)
            .where(
                a.c.run_id.in_(list(failed_runs)),
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


def release_leases_of_gone(store: Store, names: Sequence[str], holder_is_gone: HolderIsGone) -> int:
    """Delete the leases among ``names`` whose holder is gone; returns how many."""
    with store.engine.begin() as c:
        held = c.execute(
            select(s.leases.c.name, s.leases.c.holder).where(s.leases.c.name.in_(list(names)))
        ).all()
        dead = [r.name for r in held if holder_is_gone(r.holder)]
        if dead:
            c.execute(delete(s.leases).where(s.leases.c.name.in_(dead)))
    return len(dead)
