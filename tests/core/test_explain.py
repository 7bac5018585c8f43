"""Alerts as sentences a person reads once: units, humane numbers, no metric ids."""

from datetime import UTC, datetime, timedelta
from typing import Any

from tidegauge.core.detectors.categorical import CategoricalDetector
from tidegauge.core.explain import explain, headline

T = datetime(2026, 3, 2, 16, tzinfo=UTC)  # a Monday


def alert(**kw):
    base: dict[str, Any] = {
        "kind": "volume",
        "metric": "bucket_row_count",
        "table": "raw.orders",
        "column": None,
        "segment": None,
        "observed": None,
        "expected": None,
        "lower": None,
        "upper": None,
        "data_time": T,
        "title": "",
        "explanation": {},
    }
    return {**base, **kw}


def test_a_missing_load_says_how_many_rows_when_and_what_is_usual():
    text = explain(
        alert(
            observed=0, expected=33.04, lower=13, upper=60.72, explanation={"bucket_seconds": 3600}
        )
    )
    assert text == (
        "raw.orders received 0 rows from 16:00 to 17:00 UTC on Mon 2 Mar "
        "(usually 13–61 an hour at that time)"
    )
    assert "bucket_row_count" not in text and "33.04" not in text


def test_late_data_reads_as_a_duration_with_its_usual_cadence():
    text = explain(
        alert(
            kind="freshness",
            metric="freshness",
            observed=28_800,
            expected=3_600,
            upper=5_400,
            explanation={"kind": "cadence", "cadence": "hourly"},
        )
    )
    assert (
        text == "raw.orders: last row 8 h ago; it usually lands hourly (overdue after 1 h 30 min)"
    )
    assert "28.8k" not in text and "3,600" not in text


def test_a_column_metric_speaks_in_its_unit_and_plain_title():
    text = explain(
        alert(
            kind="distribution",
            metric="len_mean",
            column="email",
            observed=9.714,
            lower=6.5,
            upper=7.9,
        )
    )
    assert text.startswith("raw.orders.email: mean length 9.71 characters at 16:00 UTC")
    assert "(usually 6.5–7.9 characters)" in text and "len_mean" not in text
    rate = explain(
        alert(kind="null_rate", metric="null_rate", column="email", observed=2.745e-05, upper=0.01)
    )
    assert "null rate 0.00275%" in rate and "e-05" not in rate


def test_a_new_value_is_dated_from_the_bucket_it_first_appeared_in():
    # hourly counts of a status column; 'on_hold' is injected from 13:00 inside a tested
    # window that starts at 10:00: the alert must say 13:00, with counts on both sides
    start = datetime(2026, 3, 1, tzinfo=UTC)
    history = [(start + timedelta(hours=h), {"paid": 20, "placed": 30}) for h in range(200)]
    now = start + timedelta(hours=200)
    current = []
    for h in range(10, 16):
        counts = {"paid": 15, "placed": 20}
        if h >= 13:
            counts["on_hold"] = 10
        current.append((now.replace(hour=h), counts))
    found = CategoricalDetector(column="status").evaluate(history, current)
    new = [d for d in found if d.details.get("kind") == "category_new_value"]
    assert len(new) == 1
    d = new[0]
    a = alert(
        kind="category_new_value",
        metric="value_count",
        column="status",
        segment="on_hold",
        observed=d.observed,
        data_time=d.timestamp,
        explanation={"text": d.reason, **d.details},
    )
    text = explain(a)
    assert text == (
        "status has a new value 'on_hold' since 13:00 UTC: 30 of 135 rows (22.2%); "
        "in the 105 rows before 13:00 it never appeared"
    )
    assert headline(a) == "New value in status"
    assert "since 2026-03-09 13:00" in d.reason


def test_titles_come_from_the_catalogue():
    assert headline(alert(kind="distribution", metric="len_mean", column="email")) == (
        "Mean length · email"
    )
    assert headline(alert(metric="bucket_row_count")) == "Rows per time bucket"


def test_a_behaviour_alert_says_what_changed_when_the_value_looks_usual():
    """The minute-series ensemble alerts on behaviour (a sensor that stops moving stays inside
    its usual range): the sentence says what changed, in the detector's words."""
    stuck = alert(
        kind="custom",
        metric="custom:boiler_temp",
        table="raw.sensors",
        observed=71.2,
        expected=70.0,
        lower=60.0,
        upper=80.0,
        explanation={
            "detector": "high_frequency_ensemble",
            "change": "the recent variability is unlike the usual one",
        },
    )
    assert explain(stuck) == (
        "raw.sensors: boiler_temp 71.2 at 16:00 UTC on Mon 2 Mar (usually 60–80): "
        "the recent variability is unlike the usual one"
    )
    plain = {**stuck, "explanation": {}}
    assert (
        explain(plain) == "raw.sensors: boiler_temp 71.2 at 16:00 UTC on Mon 2 Mar (usually 60–80)"
    )
