"""Stream metrics are in the metric catalogue, the one home of titles, units and roll-ups."""

from __future__ import annotations

from tidegauge.core.catalogue import Rollup, Scope, Unit, detected_metrics, spec
from tidegauge.store.retention import rollup_of
from tidegauge.streams import metrics as M


def test_every_stream_series_has_a_catalogue_entry() -> None:
    for metric in (*M.STREAM_METRICS, "stream_reconciliation"):
        s = spec(metric)  # KeyError names a metric with no entry
        assert s.title and s.unit and s.rollup and s.scope


def test_counts_sum_and_snapshots_keep_the_last_value_when_rolled_up() -> None:
    assert rollup_of(M.MESSAGES) is Rollup.SUM  # a day's messages, not a minute's mean
    assert rollup_of(M.END_OFFSET) is Rollup.LAST
    assert spec(M.MESSAGES).unit is Unit.MESSAGES
    assert spec(M.LAG_SECONDS).unit is Unit.SECONDS
    assert spec(M.LAG).scope is Scope.GROUP


def test_the_table_detection_step_never_scores_stream_series() -> None:
    # their alerts come from tidegauge/streams/detect.py, which reads kind and direction here
    # (null rate, distinct count, mean and value counts are the table metrics of that name)
    shared = {M.NULL_RATE, M.DISTINCT, M.MEAN, M.VALUE_COUNT}
    assert not (set(M.STREAM_METRICS) - shared) & detected_metrics()
    assert spec(M.MESSAGES).kind is not None and spec(M.LAG_SECONDS).kind is not None
