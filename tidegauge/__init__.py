"""tidegauge: open-source data observability.

The public Python API. Names are imported on first use (PEP 562), so ``import tidegauge``
stays fast: the project model pulls in sqlglot and pydantic only when you touch it.

>>> import tidegauge
>>> tidegauge.VolumeMonitor(name="orders_volume", table="raw.orders").type
'volume'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidegauge.config import ConfigError, Project, TableSettings, load_project
    from tidegauge.monitors import (
        CategoricalMonitor,
        CustomSQLMonitor,
        FieldHealthMonitor,
        FreshnessMonitor,
        Monitor,
        RuleMonitor,
        VolumeMonitor,
    )
    from tidegauge.sdk import (
        BreakerLevel,
        BreakerResult,
        BreakerTripped,
        Plan,
        PlannedChange,
        Tidegauge,
    )

__all__ = [
    "BreakerLevel",
    "BreakerResult",
    "BreakerTripped",
    "CategoricalMonitor",
    "Client",
    "ConfigError",
    "CustomSQLMonitor",
    "FieldHealthMonitor",
    "FreshnessMonitor",
    "Monitor",
    "Plan",
    "PlannedChange",
    "Project",
    "RuleMonitor",
    "TableSettings",
    "Tidegauge",
    "VolumeMonitor",
    "load_project",
]

#: public name -> (module, attribute)
_EXPORTS = {
    "BreakerLevel": ("tidegauge.sdk", "BreakerLevel"),
    "BreakerResult": ("tidegauge.sdk", "BreakerResult"),
    "BreakerTripped": ("tidegauge.sdk", "BreakerTripped"),
    "CategoricalMonitor": ("tidegauge.monitors", "CategoricalMonitor"),
    "Client": ("tidegauge.sdk", "Tidegauge"),
    "ConfigError": ("tidegauge.yamlsource", "ConfigError"),
    "CustomSQLMonitor": ("tidegauge.monitors", "CustomSQLMonitor"),
    "FieldHealthMonitor": ("tidegauge.monitors", "FieldHealthMonitor"),
    "FreshnessMonitor": ("tidegauge.monitors", "FreshnessMonitor"),
    "Monitor": ("tidegauge.monitors", "Monitor"),
    "Plan": ("tidegauge.sdk", "Plan"),
    "PlannedChange": ("tidegauge.sdk", "PlannedChange"),
    "Project": ("tidegauge.config", "Project"),
    "RuleMonitor": ("tidegauge.monitors", "RuleMonitor"),
    "TableSettings": ("tidegauge.config", "TableSettings"),
    "Tidegauge": ("tidegauge.sdk", "Tidegauge"),
    "VolumeMonitor": ("tidegauge.monitors", "VolumeMonitor"),
    "load_project": ("tidegauge.config", "load_project"),
}

if TYPE_CHECKING:
    Client = Tidegauge


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'tidegauge' has no attribute {name!r}") from None
    return getattr(import_module(module), attr)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
