"""The metrics the collector emits and the query plans that compute them, as sqlglot trees.

Pure: no I/O, no clock, no engine names. The collector renders and runs what is built here
with the warehouse that owns the table, then hands the rows back to
:meth:`ProfilePlan.read` / :meth:`CategoricalPlan.read`, which turn them into
``(bucket, column, metric, value)`` tuples. What an engine can do (quantile style, limits,
``COUNT_IF``, grouping sets, zoned types) arrives as :class:`Capabilities`, declared by each
adapter in ``tidegauge/warehouses/<engine>.py``.

Where each idea lives:

* :mod:`~tidegauge.core.metrics.names`: the ``Metric`` names (titles and units are in
  :mod:`tidegauge.core.catalogue`);
* :mod:`~tidegauge.core.metrics.capabilities`: what an engine can do;
* :mod:`~tidegauge.core.metrics.timeframe`: UTC buckets, windows, zone conversion;
* :mod:`~tidegauge.core.metrics.profile`: the one-scan profile of every field metric;
* :mod:`~tidegauge.core.metrics.categorical`: top-k value counts of low-cardinality columns;
* :mod:`~tidegauge.core.metrics.segments`: row counts, null rates and means per segment;
* :mod:`~tidegauge.core.metrics.custom_sql`: the read-only check of a user's SELECT.

>>> from tidegauge.core.model import ColumnInfo, TypeFamily
>>> from sqlglot import exp
>>> caps = Capabilities("duckdb", approx_distinct=True, quantiles=True)
>>> cols = [ColumnInfo("amount", "DOUBLE", TypeFamily.FLOAT)]
>>> plan = build_profile_plan(exp.to_table("orders"), cols, caps)
>>> print(plan.queries[0].query.sql("duckdb"))  # doctest: +ELLIPSIS
SELECT COUNT(*) AS row_count, COUNT("amount") AS c0_nonnull, ... FROM orders
"""

from tidegauge.core.metrics.capabilities import Capabilities, QuantileStyle
from tidegauge.core.metrics.categorical import CategoricalPlan, build_categorical_plan, fold_top_k
from tidegauge.core.metrics.custom_sql import CustomSQLError, parse_custom_sql
from tidegauge.core.metrics.names import (
    CUSTOM_PREFIX,
    NULL_VALUE,
    OTHER,
    QUANTILE_METRICS,
    Metric,
)
from tidegauge.core.metrics.profile import (
    FIELD_METRICS,
    Agg,
    FieldValue,
    OutputColumn,
    ProfilePlan,
    ProfileQuery,
    ProfileRow,
    aggregates_for,
    build_bucket_count_query,
    build_profile_plan,
    metrics_for,
    profile_columns,
)
from tidegauge.core.metrics.segments import SEGMENT_AGGS, build_segment_plan, segment_key
from tidegauge.core.metrics.timeframe import (
    BucketSpec,
    Window,
    bucket_starts,
    build_max_query,
    floor_time,
    naive_timestamp,
    to_utc,
)

__all__ = [
    "CUSTOM_PREFIX",
    "FIELD_METRICS",
    "NULL_VALUE",
    "OTHER",
    "QUANTILE_METRICS",
    "SEGMENT_AGGS",
    "Agg",
    "BucketSpec",
    "Capabilities",
    "CategoricalPlan",
    "CustomSQLError",
    "FieldValue",
    "Metric",
    "OutputColumn",
    "ProfilePlan",
    "ProfileQuery",
    "ProfileRow",
    "QuantileStyle",
    "Window",
    "aggregates_for",
    "bucket_starts",
    "build_bucket_count_query",
    "build_categorical_plan",
    "build_max_query",
    "build_profile_plan",
    "build_segment_plan",
    "floor_time",
    "fold_top_k",
    "metrics_for",
    "naive_timestamp",
    "parse_custom_sql",
    "profile_columns",
    "segment_key",
    "to_utc",
]
