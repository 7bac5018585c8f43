"""Monitors as code, as the store records them: what ``tidegauge apply`` wrote last."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, insert, select, update

from tidegauge.store import schema as s
from tidegauge.store.store import Store

#: (monitor name, what to do, its stored columns other than the name; None to delete)
Change = tuple[str, Literal["create", "update", "delete"], dict[str, Any] | None]


def rows(store: Store, table_id: int | None = None) -> list[dict[str, Any]]:
    """Monitors recorded in the store, by name; empty until ``apply`` writes some."""
    m = s.monitors
    q = select(m).order_by(m.c.name)
    if table_id is not None:
        q = q.where(m.c.table_id == table_id)
    with store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(q)]


def by_name(store: Store) -> dict[str, dict[str, Any]]:
    """Every recorded monitor under its name."""
    return {r["name"]: r for r in rows(store)}


def apply(store: Store, changes: Sequence[Change], at: datetime) -> None:
    """Create, update and delete recorded monitors, in order, in one transaction."""
    m = s.monitors
    with store.engine.begin() as c:
        for name, action, values in changes:
            if action == "delete" or values is None:
                c.execute(delete(m).where(m.c.name == name))
            elif action == "create":
                c.execute(insert(m).values(name=name, created_at=at, **values))
            else:
                c.execute(update(m).where(m.c.name == name).values(**values))
