"""What an engine can do, as data the query builders read instead of dialect names.

Each warehouse adapter (``tidegauge/warehouses/<engine>.py``) owns its ``Capabilities``;
the builders in this package never compare ``dialect`` with an engine name. ``dialect`` is
kept only to name the engine in messages.

>>> caps = Capabilities("anything", quantiles=True, quantile_style=QuantileStyle.EACH)
>>> caps.select_limit, caps.grouping_sets
(1500, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Capabilities", "QuantileStyle"]

#: select-list entries per query when an adapter sets no limit
DEFAULT_SELECT_LIMIT = 1500


class QuantileStyle(StrEnum):
    """How exact quantiles are written as an aggregate."""

    #: ``QUANTILE_CONT(col, [0.01, ...])``: one list-valued aggregate
    LIST = "list"
    #: ``PERCENTILE_CONT(ARRAY[0.01, ...]) WITHIN GROUP (ORDER BY col)``: one array aggregate
    ARRAY_WITHIN_GROUP = "array_within_group"
    #: one ``PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY col)`` per quantile (SQL standard)
    EACH = "each"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the engine can do; each adapter declares its own (``Warehouse.CAPABILITIES``)."""

    dialect: str
    approx_distinct: bool = False
    quantiles: bool = False
    tablesample: bool = False
    #: most select-list entries per query; ``None``: :data:`DEFAULT_SELECT_LIMIT`
    max_select_items: int | None = None
    #: the zone of the warehouse's naive timestamps (``timezone:`` of its config)
    zone: str = "UTC"
    quantile_style: QuantileStyle = QuantileStyle.EACH
    #: most ``APPROX_COUNT_DISTINCT`` aggregates one grouped query may hold; ``None``: any
    max_approx_distinct: int | None = None
    #: ``COUNT_IF(cond)`` exists (else the portable ``COUNT(CASE WHEN cond THEN 1 END)``)
    count_if: bool = False
    #: ``GROUP BY GROUPING SETS`` exists (else one ``GROUP BY`` per column and ``UNION ALL``)
    grouping_sets: bool = True
    #: a zoned timestamp is truncated after ``AT TIME ZONE 'UTC'`` (so hour and day
    #: boundaries do not move with the session zone); off where truncation is UTC already
    truncate_in_utc: bool = True
    #: types may carry a zone (``TIMESTAMPTZ``, ``... WITH TIME ZONE``, ``TIMESTAMP_LTZ``)
    zoned_types: bool = True
    #: when set, only types starting with one of these hold naive wall times (MariaDB:
    #: ``DATETIME``; its ``TIMESTAMP`` is an instant read back in the UTC session zone)
    naive_type_prefixes: tuple[str, ...] = ()
    #: what ``CAST(boolean AS TEXT)`` gives for true and false; when set, the categorical
    #: value counts of a boolean column are read off the profile's true and non-null counts
    #: (same values, same counts) instead of being grouped again in the categorical query
    boolean_text: tuple[str, str] | None = None

    @property
    def select_limit(self) -> int:
        if self.max_select_items is not None:
            return max(self.max_select_items, 8)
        return DEFAULT_SELECT_LIMIT
