"""Discovery: list every warehouse's tables and record them in the store."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tidegauge.config import Project
from tidegauge.steps.context import DiscoverResult
from tidegauge.store.store import Store
from tidegauge.warehouses.base import Warehouse, WarehouseError
from tidegauge.warehouses.registry import driver_hint, open_warehouse

log = logging.getLogger("tidegauge.run")


def connect(config: Any) -> Warehouse:
    """Open a warehouse with a clear message when its driver is missing."""
    wh = open_warehouse(config)
    try:
        wh.connect()
    except ImportError as e:
        hint = driver_hint(config.type)
        raise WarehouseError(
            f"warehouse '{config.name}': driver for {config.type} is not installed "
            f"({e.name}); {hint}"
        ) from None
    return wh


def discover(project: Project, store: Store, now: datetime) -> DiscoverResult:
    """List every warehouse's tables and record them; one failing warehouse never stops others."""
    result = DiscoverResult()
    for cfg in project.warehouses:
        try:
            wh = connect(cfg)
            try:
                infos = wh.list_tables()
            finally:
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
