"""Metric names: the closed set the collector emits, and the reserved segment values.

Titles, units, alert kinds and roll-ups of each name live in :mod:`tidegauge.core.catalogue`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CUSTOM_PREFIX",
    "NULL_VALUE",
    "OTHER",
    "QUANTILE_METRICS",
    "Metric",
    "identifier_like",
]

#: the segment that collects every value outside the top-k (categorical) or top segments
OTHER = "__other__"
#: how a NULL value is spelled in categorical values and segment keys
NULL_VALUE = "__null__"
#: prefix of custom SQL metric names: ``custom:<name>``
CUSTOM_PREFIX = "custom:"


class Metric(StrEnum):
    """The closed set of metric names the collector emits (plus ``custom:<name>``)."""

    # table level
    ROW_COUNT = "row_count"  # metadata or count(*) over the whole table
    LAST_MODIFIED = "last_modified"  # epoch seconds, from engine metadata
    MAX_TIMESTAMP = "max_timestamp"  # epoch seconds, max of the timestamp column
    FRESHNESS_LAG_SECONDS = "freshness_lag_seconds"  # now - (last_modified or max_timestamp)
    BUCKET_ROW_COUNT = "bucket_row_count"  # count(*) per time bucket (and per segment)
    # per column
    NULL_COUNT = "null_count"
    NULL_RATE = "null_rate"
    DISTINCT_COUNT = "distinct_count"
    MIN = "min"  # numbers; timestamps and dates as epoch seconds
    MAX = "max"
    MEAN = "mean"
    STDDEV = "stddev"  # sample standard deviation
    P01 = "p01"
    P25 = "p25"
    P50 = "p50"
    P75 = "p75"
    P99 = "p99"
    LEN_MIN = "len_min"
    LEN_MAX = "len_max"
    LEN_MEAN = "len_mean"
    EMPTY_RATE = "empty_rate"
    ZERO_RATE = "zero_rate"
    NEGATIVE_RATE = "negative_rate"
    TRUE_RATE = "true_rate"
    FUTURE_RATE = "future_rate"
    # key columns (declared keys, dbt unique tests, or columns whose history is all distinct)
    DUPLICATE_COUNT = "duplicate_count"  # non-null keys minus distinct keys, exact
    DUPLICATE_RATE = "duplicate_rate"  # duplicate_count / non-null keys (1 - uniqueness)
    ORPHAN_RATE = "orphan_rate"  # share of non-null keys with no parent row (relationships)
    # categorical: segment = the value, or __other__
    VALUE_COUNT = "value_count"


QUANTILE_METRICS: tuple[tuple[Metric, float], ...] = (
    (Metric.P01, 0.01),
    (Metric.P25, 0.25),
    (Metric.P50, 0.50),
    (Metric.P75, 0.75),
    (Metric.P99, 0.99),
)


def identifier_like(column: str) -> bool:
    """``id``, ``order_id``, ``user_key``, ``uuid``: numbers that name things, not amounts.

    Their mean, spread and quantiles describe nothing: detection never scores them, and the
    profile does not compute them (an exact quantile is a sort per bucket)."""
    low = column.lower()
    return low in ("id", "uuid", "key", "pk") or low.endswith(("_id", "_key", "_uuid", "_pk"))


#: prefixes of layered models (dbt staging, facts, dimensions): ``fct_orders`` holds orders
_LAYER_PREFIXES = ("stg_", "fct_", "fact_", "dim_", "int_", "raw_", "src_", "base_")


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def own_key_like(column: str, table: str) -> bool:
    """Whether ``column`` is named as the table's own key: ``id``, ``uuid``, or the table's
    entity with ``_id``, ``_key``, ``_uuid`` or ``_pk`` (``bid_id`` in ``bids``,
    ``order_key`` in ``fct_orders``). ``bidder_id`` in ``bids`` names another table's rows:
    its values repeat by design."""
    low = column.lower()
    if low in ("id", "uuid", "pk", "key"):
        return True
    name = table.lower()
    for prefix in _LAYER_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix) :]
            break
    entities = {name, _singular(name)}
    return any(low in (f"{e}_id", f"{e}id", f"{e}_key", f"{e}_uuid", f"{e}_pk") for e in entities)
