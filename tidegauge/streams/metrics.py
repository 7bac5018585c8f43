"""The names of a stream topic's series, as stored and as the metric catalogue knows them.

Bucketed (``bucket:``) unless noted; snapshots are points at the poll time. Titles, units
and roll-ups are in :mod:`tidegauge.core.catalogue`.
"""

from __future__ import annotations

MESSAGES = "messages"
BYTES = "bytes"
LAST_MESSAGE = "last_message_at"  # snapshot, epoch seconds
SKEW = "partition_skew"  # snapshot: busiest partition's share over an even share
END_OFFSET = "end_offset"  # snapshot: summed real end offsets
START_OFFSET = "start_offset"  # snapshot: summed earliest offsets (retention's start)
PARTITIONS = "partitions"  # snapshot
PARSE_FAILURES = "parse_failure_rate"
OVERSIZED = "oversized_count"
LAG = "consumer_lag"  # column = group, messages (bucketed: the last poll's in the bucket)
LAG_AT_POLL = "consumer_lag_at_poll"  # snapshot, column = group: the status window reads it
LAG_SECONDS = "consumer_lag_seconds"  # column = group
RATE = "consumer_rate"  # column = group, messages per second
COMMITTED = "committed_offset"  # snapshot, column = group
STATUS = "consumer_status"  # snapshot, column = group, ConsumerStatus.code
MEMBERS = "consumer_members"  # snapshot, column = group
PRESENT = "present_rate"  # column = path
NULL_RATE = "null_rate"
DISTINCT = "distinct_count"
MEAN = "mean"
VALUE_COUNT = "value_count"  # column = path, segment = value
EVENT_MESSAGES = "event_messages"  # sink topics: messages per bucket of event time
RECONCILE_GAP = "reconcile_gap"  # sink topics: 1 where not every message was read
SINK_ROWS = "sink_rows"  # column = sink table: its rows per bucket of table_timestamp
STREAM_METRICS = (
    MESSAGES,
    BYTES,
    LAST_MESSAGE,
    SKEW,
    END_OFFSET,
    START_OFFSET,
    PARTITIONS,
    PARSE_FAILURES,
    OVERSIZED,
    LAG,
    LAG_AT_POLL,
    LAG_SECONDS,
    RATE,
    COMMITTED,
    STATUS,
    MEMBERS,
    PRESENT,
    NULL_RATE,
    DISTINCT,
    MEAN,
    VALUE_COUNT,
    EVENT_MESSAGES,
    RECONCILE_GAP,
    SINK_ROWS,
)
