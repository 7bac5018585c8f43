"""Monitor types by name: the one list of them. Config, loaders, the detect step, ``plan``
and the SDK look a type up here; none of them names the types.

To add a type: write ``monitors/<type>.py`` with a :class:`~tidegauge.monitors.base.
MonitorBase` subclass (``type: Literal["<type>"]``) and add it below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field, TypeAdapter

from tidegauge.monitors.base import MonitorBase
from tidegauge.monitors.categorical import CategoricalMonitor
from tidegauge.monitors.custom_sql import CustomSQLMonitor
from tidegauge.monitors.field_health import FieldHealthMonitor
from tidegauge.monitors.freshness import FreshnessMonitor
from tidegauge.monitors.keys import KeysMonitor
from tidegauge.monitors.rule import RuleMonitor
from tidegauge.monitors.volume import VolumeMonitor

__all__ = ["MONITORS", "MONITOR_TYPES", "Monitor", "parse_monitor"]

#: ``type:`` → the class that owns it
MONITORS: dict[str, type[MonitorBase]] = {
    "freshness": FreshnessMonitor,
    "volume": VolumeMonitor,
    "field_health": FieldHealthMonitor,
    "categorical": CategoricalMonitor,
    "custom_sql": CustomSQLMonitor,
    "rule": RuleMonitor,
    "keys": KeysMonitor,
}
MONITOR_TYPES = tuple(MONITORS)

if TYPE_CHECKING:
    Monitor = MonitorBase
else:
    Monitor = Annotated[Union[tuple(MONITORS.values())], Field(discriminator="type")]  # noqa: UP007

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Monitor)


def parse_monitor(data: Any) -> MonitorBase:
    """Validate one monitor from plain data (raises pydantic's ``ValidationError``).

    >>> parse_monitor({"type": "freshness", "name": "f", "table": "raw.orders"}).type
    'freshness'
    """
    return _ADAPTER.validate_python(data)  # type: ignore[no-any-return]
