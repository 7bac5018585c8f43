"""Name → adapter lookup, the one place engines are registered; loaded lazily so that
``import tidegauge`` stays fast.

Built-in engines are one line each in :data:`WAREHOUSES`; third-party packages register an
adapter class under the entry-point group ``tidegauge.warehouses`` (entry-point name = config
``type:``). Config validation, the runner and the CLI all ask here, so an adapter added
through an entry point is accepted wherever a built-in one is.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import urlparse

from tidegauge.warehouses.base import Warehouse, WarehouseConfigBase, WarehouseError

__all__ = [
    "ENTRY_POINT_GROUP",
    "EXTRAS",
    "WAREHOUSES",
    "adapter_class",
    "builtin_config_classes",
    "config_class",
    "driver_hint",
    "driver_module",
    "entry_from_url",
    "known_types",
    "open_warehouse",
]

#: config ``type:`` → "module:Class" (module name = type = entry-point name)
WAREHOUSES: dict[str, str] = {
    "duckdb": "tidegauge.warehouses.duckdb:DuckDBWarehouse",
    "postgres": "tidegauge.warehouses.postgres:PostgresWarehouse",
    "mysql": "tidegauge.warehouses.mysql:MySQLWarehouse",
    "snowflake": "tidegauge.warehouses.snowflake:SnowflakeWarehouse",
}

#: the optional extra that brings each engine's driver
EXTRAS: dict[str, str] = {"postgres": "postgres", "mysql": "mysql", "snowflake": "snowflake"}

ENTRY_POINT_GROUP = "tidegauge.warehouses"


def _checked(cls: Any, where: str) -> type[Warehouse]:
    if not (isinstance(cls, type) and issubclass(cls, Warehouse)):
        raise WarehouseError(f"{where} is not a Warehouse subclass")
    config = getattr(cls, "CONFIG", None)
    if not (isinstance(config, type) and issubclass(config, WarehouseConfigBase)):
        raise WarehouseError(f"{where} has no CONFIG (a WarehouseConfigBase subclass)")
    return cls


def adapter_class(kind: str) -> type[Warehouse]:
    """The adapter class of warehouse type ``kind`` (built-in, else an entry point).

    Raises:
        WarehouseError: no such type (the message lists the known ones), or the target is
            not a ``Warehouse`` with a ``CONFIG`` model.
    """
    target = WAREHOUSES.get(kind)
    if target is not None:
        module, _, attr = target.partition(":")
        return _checked(getattr(importlib.import_module(module), attr), target)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            return _checked(ep.load(), f"entry point '{kind}' ({ep.value})")
    known = ", ".join(known_types())
    raise WarehouseError(f"unknown warehouse type '{kind}' (known: {known})")


def config_class(kind: str) -> type[WarehouseConfigBase]:
    """The pydantic model of a ``warehouses:`` entry of type ``kind``."""
    return adapter_class(kind).CONFIG


def builtin_config_classes() -> dict[str, type[WarehouseConfigBase]]:
    """The config model of every built-in engine, in registration order."""
    return {kind: config_class(kind) for kind in WAREHOUSES}


def known_types() -> list[str]:
    """Built-in types, then those registered through entry points (sorted)."""
    plugged = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} - set(WAREHOUSES))
    return [*WAREHOUSES, *plugged]


def entry_from_url(url: str) -> dict[str, object]:
    """A ``warehouses:`` entry from a URL, by the adapter that claims its scheme.

    >>> entry_from_url("mysql://root@127.0.0.1:3306/test")["type"]
    'mysql'

    Raises:
        ValueError: no adapter claims the scheme (the message lists the known ones).
    """
    scheme = urlparse(url).scheme.split("+")[0].lower()
    schemes: dict[str, type[Warehouse]] = {}
    for kind in known_types():
        cls = adapter_class(kind)
        schemes.update(dict.fromkeys(cls.URL_SCHEMES, cls))
    if scheme not in schemes:
        known = ", ".join(f"{s}://" for s in schemes)
        raise ValueError(f"unsupported warehouse URL scheme '{scheme}' (use {known})")
    return schemes[scheme].entry_from_url(url)


def open_warehouse(config: Any) -> Warehouse:
    """Build (not yet connect) the adapter for a warehouse config."""
    cls = adapter_class(config.type)
    return cls(config)


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


def driver_module(kind: str) -> str | None:
    """The driver module of warehouse type ``kind`` (None: unknown type or no driver)."""
    try:
        return adapter_class(kind).DRIVER_MODULE
    except WarehouseError:
        return None


def driver_hint(kind: str) -> str:
    """What to install when an engine's driver is missing."""
    extra = EXTRAS.get(kind)
    return f"pip install 'tidegauge[{extra}]'" if extra else ""
