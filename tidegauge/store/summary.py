"""The few counts ``status`` prints, one query each, read straight from the store's tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from tidegauge.store import schema as s
from tidegauge.store.incidents import OPEN_STATUSES
from tidegauge.store.outbox import FAILED


def status_counts(engine: Any, now: datetime) -> dict[str, int]:
    """Tables monitored (not dropped), incidents still open, alerts detected in the 24 hours
    before ``now``, and deliveries tidegauge gave up on."""
    since = now - timedelta(hours=24)
    queries = {
        "tables": select(func.count()).where(s.tables.c.dropped_at.is_(None)),
        "open_incidents": select(func.count()).where(s.incidents.c.status.in_(OPEN_STATUSES)),
        "alerts_last_24h": select(func.count()).where(s.alerts.c.detected_at >= since),
        "undelivered_notifications": select(func.count()).where(s.outbox.c.status == FAILED),
    }
    with engine.connect() as c:
        return {key: int(c.execute(q).scalar_one()) for key, q in queries.items()}
