"""The metric catalogue: one spec per metric, read by detection, web, retention, monitors,
the SDK and notifications. Nothing else spells a metric's title, unit, alert kind, direction
or roll-up.

To add a metric: add it to :class:`~tidegauge.core.metrics.Metric` (what the collector
emits) and one :class:`MetricSpec` to ``_SPECS`` below.

>>> spec("bucket_row_count").title
'Rows per time bucket'
>>> spec("custom:paid_share").kind.value
'custom'
>>> spec("null_rate").unit.value
'ratio'
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tidegauge.core.direction import Direction
from tidegauge.core.metrics import CUSTOM_PREFIX, Metric
from tidegauge.core.model import AlertKind

__all__ = [
    "MetricSpec",
    "Rollup",
    "Scope",
    "Unit",
    "all_specs",
    "charted",
    "detected_metrics",
    "rate_metrics",
    "spec",
    "with_unit",
]


class Unit(StrEnum):
    """What a metric's value measures, so every surface formats it the same way."""

    ROWS = "rows"  # a number of rows
    VALUES = "values"  # a number of distinct values or keys
    RATIO = "ratio"  # 0..1, shown as a percentage
    SECONDS = "seconds"  # a duration
    TIMESTAMP = "timestamp"  # epoch seconds, shown as a time
    CHARACTERS = "characters"  # string length
    NUMBER = "number"  # in the column's own unit
    BYTES = "bytes"
    MESSAGES = "messages"  # a number of stream messages


class Rollup(StrEnum):
    """How fine points of a metric roll up into one day (retention, daily charts).

    Snapshots (points of no bucket: a row count or last-modified time read at each run) keep
    the day's last value whatever their roll-up says.
    """

    SUM = "sum"  # counts of a bucket's rows: the day's count
    MAX = "max"
    MIN = "min"
    MEAN = "mean"  # rates, means, quantiles: the mean of the day's buckets
    LAST = "last"  # snapshots


class Scope(StrEnum):
    """Where a metric's series lives."""

    TABLE = "table"
    COLUMN = "column"
    CATEGORY = "category"  # one series per value of a column (segment = the value)
    GROUP = "group"  # a stream topic's series per consumer group (column = the group)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """Everything the product says about one metric, in one place.

    ``kind`` is ``None`` for metrics that are stored but never scored as a learned series
    (their alerts come from another detector, or they only feed other metrics).
    ``chart`` orders the charts shown by default on a table's or column's page.
    ``scored`` is false for metrics with an alert kind whose alerts come from another
    detector than the learned series (freshness lag: the freshness detector).
    ``counts`` marks metrics that count things (Poisson noise in the seasonal detector).
    ``noun`` is what one unit of the metric is called in a sentence ("rows", "nulls").
    """

    name: str
    title: str
    unit: Unit
    rollup: Rollup
    scope: Scope
    kind: AlertKind | None = None
    direction: Direction = Direction.BOTH
    counts: bool = False
    noun: str = ""
    scored: bool = True
    #: position among the charts a table's (or a column's) page shows; 0: not by default
    chart: int = 0


_SPECS: tuple[MetricSpec, ...] = (
    # table level
    MetricSpec(
        Metric.ROW_COUNT,
        "Total rows",
        Unit.ROWS,
        Rollup.LAST,
        Scope.TABLE,
        AlertKind.VOLUME,
        Direction.BOTH,
        counts=True,
        noun="rows",
        chart=2,
    ),
    MetricSpec(
        Metric.BUCKET_ROW_COUNT,
        "Rows per time bucket",
        Unit.ROWS,
        Rollup.SUM,
        Scope.TABLE,
        AlertKind.VOLUME,
        Direction.BOTH,
        counts=True,
        noun="rows",
        chart=1,
    ),
    MetricSpec(Metric.LAST_MODIFIED, "Last modified", Unit.TIMESTAMP, Rollup.MAX, Scope.TABLE),
    MetricSpec(Metric.MAX_TIMESTAMP, "Newest row", Unit.TIMESTAMP, Rollup.MAX, Scope.TABLE),
    MetricSpec(
        Metric.FRESHNESS_LAG_SECONDS,
        "Time since last update",
        Unit.SECONDS,
        Rollup.MAX,
        Scope.TABLE,
        AlertKind.FRESHNESS,
        Direction.UP,
        scored=False,
        chart=3,
    ),
    # per column
    MetricSpec(Metric.NULL_COUNT, "Nulls", Unit.ROWS, Rollup.SUM, Scope.COLUMN, noun="nulls"),
    MetricSpec(
        Metric.NULL_RATE,
        "Null rate",
        Unit.RATIO,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.NULL_RATE,
        Direction.UP,
        chart=1,
    ),
    MetricSpec(
        Metric.DISTINCT_COUNT,
        "Distinct values",
        Unit.VALUES,
        Rollup.MAX,
        Scope.COLUMN,
        AlertKind.DISTINCT,
        Direction.BOTH,
        noun="distinct values",
        chart=2,
    ),
    MetricSpec(Metric.MIN, "Minimum", Unit.NUMBER, Rollup.MIN, Scope.COLUMN, chart=5),
    MetricSpec(Metric.MAX, "Maximum", Unit.NUMBER, Rollup.MAX, Scope.COLUMN, chart=6),
    MetricSpec(
        Metric.MEAN,
        "Mean",
        Unit.NUMBER,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.DISTRIBUTION,
        Direction.BOTH,
        chart=3,
    ),
    MetricSpec(
        Metric.STDDEV, "Standard deviation", Unit.NUMBER, Rollup.MEAN, Scope.COLUMN, chart=7
    ),
    MetricSpec(Metric.P01, "1st percentile", Unit.NUMBER, Rollup.MEAN, Scope.COLUMN),
    MetricSpec(Metric.P25, "Lower quartile", Unit.NUMBER, Rollup.MEAN, Scope.COLUMN),
    MetricSpec(
        Metric.P50,
        "Median",
        Unit.NUMBER,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.DISTRIBUTION,
        Direction.BOTH,
        chart=4,
    ),
    MetricSpec(Metric.P75, "Upper quartile", Unit.NUMBER, Rollup.MEAN, Scope.COLUMN),
    MetricSpec(Metric.P99, "99th percentile", Unit.NUMBER, Rollup.MEAN, Scope.COLUMN),
    MetricSpec(Metric.LEN_MIN, "Shortest value", Unit.CHARACTERS, Rollup.MIN, Scope.COLUMN),
    MetricSpec(Metric.LEN_MAX, "Longest value", Unit.CHARACTERS, Rollup.MAX, Scope.COLUMN),
    MetricSpec(
        Metric.LEN_MEAN,
        "Mean length",
        Unit.CHARACTERS,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.DISTRIBUTION,
        Direction.BOTH,
        chart=13,
    ),
    MetricSpec(
        Metric.EMPTY_RATE,
        "Empty strings",
        Unit.RATIO,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.NULL_RATE,
        Direction.UP,
        chart=8,
    ),
    MetricSpec(
        Metric.ZERO_RATE,
        "Zeros",
        Unit.RATIO,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.DISTRIBUTION,
        Direction.BOTH,
        chart=9,
    ),
    MetricSpec(
        Metric.NEGATIVE_RATE,
        "Negative values",
        Unit.RATIO,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.DISTRIBUTION,
        Direction.UP,
        chart=10,
    ),
    MetricSpec(
        Metric.TRUE_RATE,
        "True rate",
        Unit.RATIO,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.DISTRIBUTION,
        Direction.BOTH,
        chart=11,
    ),
    MetricSpec(
        Metric.FUTURE_RATE,
        "Timestamps in the future",
        Unit.RATIO,
        Rollup.MEAN,
        Scope.COLUMN,
        chart=12,
    ),
    # key columns
    MetricSpec(
        Metric.DUPLICATE_COUNT,
        "Duplicated keys",
        Unit.ROWS,
        Rollup.SUM,
        Scope.COLUMN,
        counts=True,
        noun="rows repeating a key",
        chart=14,
    ),
    MetricSpec(
        Metric.DUPLICATE_RATE,
        "Duplicate rate",
        Unit.RATIO,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.DUPLICATES,
        Direction.UP,
        chart=15,
    ),
    MetricSpec(
        Metric.ORPHAN_RATE,
        "Keys without a parent",
        Unit.RATIO,
        Rollup.MEAN,
        Scope.COLUMN,
        AlertKind.RULE,
        Direction.UP,
    ),
    # categorical: segment = the value
    MetricSpec(
        Metric.VALUE_COUNT,
        "Rows per value",
        Unit.ROWS,
        Rollup.SUM,
        Scope.CATEGORY,
        counts=True,
        noun="rows",
    ),
)

#: a stream topic's series (tidegauge/streams): the topic is the table, a payload field the
#: column. Their alerts come from the streams' own detection, so none is ``scored`` here.
_STREAM_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "messages",
        "Messages per bucket",
        Unit.MESSAGES,
        Rollup.SUM,
        Scope.TABLE,
        AlertKind.VOLUME,
        Direction.BOTH,
        counts=True,
        noun="messages",
        scored=False,
    ),
    MetricSpec("bytes", "Bytes per bucket", Unit.BYTES, Rollup.SUM, Scope.TABLE, noun="bytes"),
    MetricSpec("last_message_at", "Last message", Unit.TIMESTAMP, Rollup.MAX, Scope.TABLE),
    MetricSpec(
        "partition_skew",
        "Partition skew (busiest over an even share)",
        Unit.NUMBER,
        Rollup.MAX,
        Scope.TABLE,
    ),
    MetricSpec(
        "end_offset", "End offset (all partitions)", Unit.MESSAGES, Rollup.LAST, Scope.TABLE
    ),
    MetricSpec(
        "start_offset", "Earliest offset (all partitions)", Unit.MESSAGES, Rollup.LAST, Scope.TABLE
    ),
    MetricSpec("partitions", "Partitions", Unit.NUMBER, Rollup.LAST, Scope.TABLE),
    MetricSpec(
        "parse_failure_rate",
        "Messages that fail to parse",
        Unit.RATIO,
        Rollup.MEAN,
        Scope.TABLE,
    ),
    MetricSpec(
        "oversized_count",
        "Oversized messages",
        Unit.MESSAGES,
        Rollup.SUM,
        Scope.TABLE,
        noun="oversized messages",
    ),
    MetricSpec(
        "consumer_lag",
        "Lag in messages",
        Unit.MESSAGES,
        Rollup.MAX,
        Scope.GROUP,
        noun="messages behind",
    ),
    MetricSpec(
        "consumer_lag_at_poll",
        "Lag in messages at the poll",
        Unit.MESSAGES,
        Rollup.LAST,
        Scope.GROUP,
        noun="messages behind",
    ),
    MetricSpec(
        "consumer_lag_seconds",
        "Lag in seconds",
        Unit.SECONDS,
        Rollup.MAX,
        Scope.GROUP,
        AlertKind.FRESHNESS,
        Direction.UP,
        scored=False,
    ),
    MetricSpec("consumer_rate", "Consumed per second", Unit.NUMBER, Rollup.MEAN, Scope.GROUP),
    MetricSpec(
        "committed_offset",
        "Committed offset (all partitions)",
        Unit.MESSAGES,
        Rollup.LAST,
        Scope.GROUP,
    ),
    MetricSpec("consumer_status", "Consumer status", Unit.NUMBER, Rollup.LAST, Scope.GROUP),
    MetricSpec("consumer_members", "Group members", Unit.NUMBER, Rollup.LAST, Scope.GROUP),
    MetricSpec("present_rate", "Messages with the field", Unit.RATIO, Rollup.MEAN, Scope.COLUMN),
    MetricSpec(
        "event_messages",
        "Messages per bucket of event time",
        Unit.MESSAGES,
        Rollup.SUM,
        Scope.TABLE,
        counts=True,
        noun="messages",
    ),
    MetricSpec("reconcile_gap", "Buckets not read whole", Unit.NUMBER, Rollup.MAX, Scope.TABLE),
    MetricSpec(
        "stream_reconciliation",
        "Sink rows against topic messages",
        Unit.ROWS,
        Rollup.SUM,
        Scope.TABLE,
        noun="rows",
    ),
    MetricSpec(
        "sink_rows",
        "Sink rows per bucket of event time",
        Unit.ROWS,
        Rollup.SUM,
        Scope.COLUMN,
        counts=True,
        noun="rows",
    ),
)
_SPECS = _SPECS + _STREAM_SPECS

_BY_NAME: dict[str, MetricSpec] = {str(s.name): s for s in _SPECS}

_CUSTOM = MetricSpec(
    "custom",
    "Custom metric",
    Unit.NUMBER,
    Rollup.MEAN,
    Scope.TABLE,
    AlertKind.CUSTOM,
    Direction.BOTH,
)


def spec(name: str) -> MetricSpec:
    """The spec of metric ``name``; ``custom:<name>`` metrics share one generic spec.

    Raises:
        KeyError: the name is in no catalogue entry (a typo, or a metric nobody emits).
    """
    if name.startswith(CUSTOM_PREFIX):
        custom = name[len(CUSTOM_PREFIX) :]
        return MetricSpec(
            name,
            custom,
            _CUSTOM.unit,
            _CUSTOM.rollup,
            _CUSTOM.scope,
            _CUSTOM.kind,
            _CUSTOM.direction,
        )
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(sorted(_BY_NAME))}") from None


def all_specs() -> tuple[MetricSpec, ...]:
    """Every catalogued metric, in catalogue order."""
    return _SPECS


def detected_metrics() -> frozenset[str]:
    """The metrics scored as learned series (an alert kind, and ``scored``)."""
    return frozenset(str(s.name) for s in _SPECS if s.kind is not None and s.scored)


def rate_metrics() -> frozenset[str]:
    """Scored column metrics that are shares of rows: tested as binomial proportions."""
    return frozenset(
        str(s.name)
        for s in _SPECS
        if s.unit is Unit.RATIO and s.scope is Scope.COLUMN and s.kind is not None and s.scored
    )


def with_unit(unit: Unit) -> frozenset[str]:
    """The catalogued metrics measured in ``unit``."""
    return frozenset(str(s.name) for s in _SPECS if s.unit is unit)


def charted(scope: Scope) -> tuple[str, ...]:
    """The metrics of ``scope`` a page charts by default, in order."""
    chosen = sorted((s for s in _SPECS if s.scope is scope and s.chart), key=lambda s: s.chart)
    return tuple(str(s.name) for s in chosen)
