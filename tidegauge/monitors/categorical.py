"""Categorical: new, vanished and shifting values of low-cardinality columns."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tidegauge.core.model import AlertKind
from tidegauge.monitors.base import MonitorBase


class CategoricalMonitor(MonitorBase):
    """New, vanished and shifting values of low-cardinality columns."""

    ALERT_KINDS: ClassVar[tuple[AlertKind, ...]] = (
        AlertKind.CATEGORY_NEW_VALUE,
        AlertKind.CATEGORY_VANISHED,
        AlertKind.CATEGORY_SHIFT,
    )

    type: Literal["categorical"] = "categorical"
    columns: list[str] = Field(..., min_length=1)

    def own_settings(self) -> dict[str, Any]:
        return {"categorical": True, "categorical_columns": list(self.columns)}
