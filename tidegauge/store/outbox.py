"""The persisted outbox: a message is written before it is sent, and marked after.

Each row's ``dedup_key`` is unique, so enqueuing the same notification twice (a re-run,
a second process) stores it once. Rows are claimed with a time-limited lease so two
senders never deliver the same row at once; a sender that dies leaves the claim to
expire and the row is retried. The receiving side sees a stable idempotency key (the
row's ``dedup_key``), which closes the window between a send and its acknowledgement.

A row that keeps failing is retried until its channel's ``retry_for`` has passed since it
was first tried (``first_try_at``: a row held through quiet hours keeps its whole budget),
then it is ``failed``: the sender records that on the incident, and
:meth:`OutboxRepo.requeue` (``tidegauge outbox --retry``) puts it back with a fresh budget.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update

from tidegauge.store import schema as s
from tidegauge.store.engine import upsert, utc

if TYPE_CHECKING:
    from tidegauge.store.store import Store

PENDING, SENT, FAILED, HELD = "pending", "sent", "failed", "held"


class OutboxRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def enqueue(
        self,
        *,
        dedup_key: str,
        channel: str,
        incident_id: int | None,
        action: str,
        payload: dict[str, Any],
        now: datetime,
        not_before: datetime | None = None,
    ) -> bool:
        """Add a message; False when one with the same key exists already."""
        row = {
            "dedup_key": dedup_key,
            "channel": channel,
            "incident_id": incident_id,
            "action": action,
            "payload": payload,
            "status": PENDING,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": not_before or now,
        }
        stmt = upsert(self.store.dialect, s.outbox, [row], ["dedup_key"], None)
        with self.store.engine.begin() as c:
            return c.execute(stmt.returning(s.outbox.c.id)).scalar() is not None

    def claim(
        self, holder: str, now: datetime, lease: timedelta, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` due rows for ``holder``; rows another holder has are skipped."""
        o = s.outbox
        with self.store.engine.begin() as c:
            ids = [
                r.id
                for r in c.execute(
                    select(o.c.id)
                    .where(
                        o.c.status == PENDING,
                        o.c.next_attempt_at <= now,
                        or_(o.c.claimed_until.is_(None), o.c.claimed_until < now),
                    )
                    .order_by(o.c.id)
                    .limit(limit)
                )
            ]
            claimed = []
            for rid in ids:
                # compare-and-set: only one holder wins a row
                res = c.execute(
                    update(o)
                    .where(
                        o.c.id == rid,
                        o.c.status == PENDING,
                        or_(o.c.claimed_until.is_(None), o.c.claimed_until < now),
                    )
                    .values(claimed_by=holder, claimed_until=now + lease)
                )
                if res.rowcount:
                    claimed.append(rid)
            if not claimed:
                return []
            rows = c.execute(select(o).where(o.c.id.in_(claimed)).order_by(o.c.id)).all()
        return [dict(r._mapping) for r in rows]

    def mark_sent(self, row_id: int, now: datetime) -> None:
        self._set(
            row_id,
            status=SENT,
            sent_at=now,
            claimed_until=None,
            last_error=None,
            attempts=s.outbox.c.attempts + 1,
        )

    def mark_retry(self, row_id: int, error: str, next_at: datetime, first_try: datetime) -> None:
        """Try again at ``next_at``; ``first_try`` is recorded once, on the first failure."""
        self._set(
            row_id,
            first_try_at=func.coalesce(s.outbox.c.first_try_at, first_try),
            next_attempt_at=next_at,
            claimed_until=None,
            last_error=error,
            attempts=s.outbox.c.attempts + 1,
        )

    def mark_failed(self, row_id: int, error: str) -> None:
        self._set(
            row_id,
            status=FAILED,
            claimed_until=None,
            last_error=error,
            attempts=s.outbox.c.attempts + 1,
        )

    def requeue(self, ids: list[int] | None, now: datetime) -> list[int]:
        """Put failed rows (``ids``, or every failed row when None) back in the queue with
        a fresh retry budget; returns the ids requeued (pending or sent rows are left)."""
        o = s.outbox
        cond = [o.c.status == FAILED]
        if ids is not None:
            cond.append(o.c.id.in_(ids))
        with self.store.engine.begin() as c:
            found = [r.id for r in c.execute(select(o.c.id).where(*cond).order_by(o.c.id))]
            if found:
                c.execute(
                    update(o)
                    .where(o.c.id.in_(found), o.c.status == FAILED)
                    .values(
                        status=PENDING,
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now,
                        first_try_at=None,
                        claimed_by=None,
                        claimed_until=None,
                    )
                )
        return found

    def count(self, status: str) -> int:
        with self.store.engine.connect() as c:
            return int(
                c.execute(select(func.count()).where(s.outbox.c.status == status)).scalar_one()
            )

    def _set(self, row_id: int, **values: Any) -> None:
        with self.store.engine.begin() as c:
            c.execute(update(s.outbox).where(s.outbox.c.id == row_id).values(**values))

    def sent_since(self, channel: str, since: datetime) -> int:
        """Messages a channel got since ``since``, counting those queued and not yet sent
        (the budget must hold within one run, before anything is delivered)."""
        o = s.outbox
        with self.store.engine.connect() as c:
            return int(
                c.execute(
                    select(func.count()).where(
                        o.c.channel == channel,
                        or_(
                            and_(o.c.status == SENT, o.c.sent_at >= since),
                            and_(o.c.status == PENDING, o.c.created_at >= since),
                        ),
                    )
                ).scalar_one()
            )

    def rows(
        self,
        *,
        incident_id: int | None = None,
        status: str | None = None,
        ids: list[int] | None = None,
    ) -> list[dict[str, Any]]:
        q = select(s.outbox).order_by(s.outbox.c.id)
        if incident_id is not None:
            q = q.where(s.outbox.c.incident_id == incident_id)
        if status is not None:
            q = q.where(s.outbox.c.status == status)
        if ids is not None:
            q = q.where(s.outbox.c.id.in_(ids))
        with self.store.engine.connect() as c:
            out = []
            for r in c.execute(q):
                d = dict(r._mapping)
                for k in (
                    "created_at",
                    "next_attempt_at",
                    "sent_at",
                    "claimed_until",
                    "first_try_at",
                ):
                    d[k] = utc(d[k])
                out.append(d)
        return out


def failed_deliveries(engine: Any) -> tuple[int, list[int], list[str]] | None:
    """Deliveries that gave up: their count, the incidents they were for (oldest first) and
    the channels that failed; None when there are none (one cheap count on every page)."""
    o = s.outbox
    with engine.connect() as c:
        deliveries = int(c.execute(select(func.count()).where(o.c.status == FAILED)).scalar_one())
        if not deliveries:
            return None
        incidents = [
            int(i)
            for i in c.execute(
                select(o.c.incident_id)
                .where(o.c.status == FAILED, o.c.incident_id.is_not(None))
                .group_by(o.c.incident_id)
                .order_by(o.c.incident_id)
            ).scalars()
        ]
        failed_channels = select(o.c.channel).where(o.c.status == FAILED).distinct()
        channels = sorted(str(ch) for ch in c.execute(failed_channels).scalars())
    return deliveries, incidents, channels
