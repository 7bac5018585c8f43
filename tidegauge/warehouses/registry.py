"""Name → adapter lookup, loaded lazily so that ``import tidegauge`` stays fast."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from tidegauge.warehouses.base import Warehouse, WarehouseError

#: config ``type:`` → "module:Class" (module name = type = entry-point name)
WAREHOUSES: dict[str, str] = {
    "duckdb": "tidegauge.warehouses.duckdb:DuckDBWarehouse",
    "postgres": "tidegauge.warehouses.postgres:PostgresWarehouse",
    "mysql": "tidegauge.warehouses.mysql:MySQLWarehouse",
    "snowflake": "tidegauge.warehouses.snowflake:SnowflakeWarehouse",
}

#: the optional extra that brings each engine's driver
EXTRAS: dict[str, str] = {"postgres": "postgres", "mysql": "mysql", "snowflake": "snowflake"}


def _resolve(kind: str) -> type[Warehouse]:
    target = WAREHOUSES.get(kind)
    if target is None:
        for ep in entry_points(group="tidegauge.warehouses"):
            if ep.name == kind:
                cls = ep.load()
                if not (isinstance(cls, type) and issubclass(cls, Warehouse)):
                    raise WarehouseError(f"entry point '{kind}' is not a Warehouse subclass")
                return cls
        known = ", ".join(sorted(WAREHOUSES))
        raise WarehouseError(f"unknown warehouse type '{kind}' (known: {known})")
    module, _, attr = target.partition(":")
    mod = importlib.import_module(module)
    cls = getattr(mod, attr)
    if not (isinstance(cls, type) and issubclass(cls, Warehouse)):
        raise WarehouseError(f"{target} is not a Warehouse subclass")
    return cls


def open_warehouse(config: Any) -> Warehouse:
    """Build (not yet connect) the adapter for a warehouse config."""
    cls = _resolve(config.type)
    return cls(config)


def driver_hint(kind: str) -> str:
    """What to install when an engine's driver is missing."""
    extra = EXTRAS.get(kind)
    return f"pip install 'tidegauge[{extra}]'" if extra else ""
