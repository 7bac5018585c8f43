"""Discovery: list every warehouse's tables and record them in the store."""

from __future__ import annotations

import logging
from datetime import datetime

from tidegauge.config import Project
from tidegauge.steps.context import DiscoverResult
from tidegauge.store.store import Store
from tidegauge.warehouses.base import WarehouseError

# here for the steps and the runner; it lives with the adapters, so that ``tidegauge init``
# can test a connection without loading the store (SQLAlchemy)
from tidegauge.warehouses.registry import connect

__all__ = ["connect", "discover"]

log = logging.getLogger("tidegauge.run")


def discover(
    project: Project, store: Store, now: datetime, *, keep_open: bool = False
) -> DiscoverResult:
    """List every warehouse's tables and record them; one failing warehouse never stops others.

    With ``keep_open`` each warehouse stays connected in ``connections`` for the run's
    collection; the caller closes what is left (:meth:`DiscoverResult.close`).
    """
    result = DiscoverResult()
    for cfg in project.warehouses:
        try:
            wh = connect(cfg)
            kept = False
            try:
                infos = wh.list_tables()
                if keep_open:
                    result.connections[cfg.name] = wh
                    kept = True
            finally:
                if not kept:
                    wh.close()
        except WarehouseError as e:
            result.errors[cfg.name] = str(e)
            log.error("%s", e)
            continue
        result.tables[cfg.name] = infos
        ids = store.upsert_tables(infos, now)
        seen = set(ids)
        for info, tid in zip(infos, ids, strict=True):
            result.table_ids[info.ref.key] = tid
        store.mark_dropped(cfg.name, seen, now)
    return result
