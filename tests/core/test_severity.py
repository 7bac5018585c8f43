"""Severity is computed from size, duration and reach, and says why."""

import itertools
from datetime import timedelta

from tidegauge.core.model import AlertKind, Severity
from tidegauge.core.severity import (
    ChangeEvidence,
    Reach,
    assess_severity,
    severity_sentence,
)

DROP = ChangeEvidence(AlertKind.VOLUME, "bucket_row_count", 41.0, 153.0)
BLIP = ChangeEvidence(AlertKind.DISTRIBUTION, "len_mean", 9.4, 7.9)
HOUR = timedelta(hours=1)


def rising(levels: list[Severity]) -> bool:
    return all(a.rank <= b.rank for a, b in itertools.pairwise(levels))


SPIKE = ChangeEvidence(AlertKind.NULL_RATE, "null_rate", 0.41, 0.005)


def test_severity_grows_with_downstream_reach():
    reaches = [
        Reach(),
        Reach(models=3, owners=1),
        Reach(models=12, owners=3),
        Reach(models=12, owners=3, exposures=2),
    ]
    lasting = timedelta(hours=5)
    levels = [assess_severity([SPIKE], lasted=lasting, reach=r).level for r in reaches]
    assert rising(levels), levels
    assert levels[0] is Severity.MEDIUM and levels[-1] is Severity.CRITICAL
    # the same small blip that nothing reads is low; read by dashboards it is not
    quiet = assess_severity([BLIP], lasted=HOUR, reach=reaches[0])
    loud = assess_severity([BLIP], lasted=HOUR, reach=reaches[-1])
    assert quiet.level is Severity.LOW and loud.level.rank > quiet.level.rank
    assert loud.reasons[2] == (
        "12 downstream models of 3 owners and 2 exposures (dashboards, reports) read it"
    )


def test_severity_grows_with_the_size_of_the_change():
    reach = Reach(models=2, owners=1)
    lasting = timedelta(hours=5)
    small = assess_severity([BLIP], lasted=lasting, reach=reach)
    large = assess_severity([DROP], lasted=lasting, reach=reach)
    stopped = assess_severity(
        [ChangeEvidence(AlertKind.VOLUME, "bucket_row_count", 0.0, 153.0)],
        lasted=lasting,
        reach=reach,
    )
    assert rising([small.level, large.level, stopped.level])
    assert small.level is Severity.MEDIUM and stopped.level is Severity.HIGH
    assert stopped.reasons[0] == "no rows at all where about 153 are usual, a severe change"


def test_severity_grows_with_how_long_it_lasts():
    reach = Reach(models=2, owners=1)
    levels = [
        assess_severity([SPIKE], lasted=d, reach=reach)
        for d in (HOUR, timedelta(hours=5), timedelta(days=2))
    ]
    assert [a.level for a in levels] == [Severity.MEDIUM, Severity.HIGH, Severity.HIGH]
    assert levels[0].reasons[1] == "seen for 1 hour so far"
    assert levels[2].reasons[1] == "it has lasted 2 days"
    brief_blip = assess_severity([BLIP], lasted=HOUR, reach=Reach())
    long_blip = assess_severity([BLIP], lasted=timedelta(days=2), reach=Reach())
    assert brief_blip.level is Severity.LOW and long_blip.level is Severity.MEDIUM


def test_a_late_table_has_lasted_as_long_as_it_is_overdue():
    late = ChangeEvidence(AlertKind.FRESHNESS, "freshness", 8 * 3600.0, 3600.0)
    a = assess_severity([late], lasted=HOUR, reach=Reach(models=3, owners=1))
    assert a.reasons[0].startswith("no new data for 8 hours where it usually updates every")
    assert a.reasons[1] == "it has lasted 7 hours"
    assert a.level is Severity.HIGH


def test_an_added_column_is_minor_and_a_removed_one_severe():
    added = ChangeEvidence(AlertKind.SCHEMA_CHANGE, "schema", None, None, {"change": "added"})
    removed = ChangeEvidence(AlertKind.SCHEMA_CHANGE, "schema", None, None, {"change": "removed"})
    reach = Reach(models=2, owners=1)
    assert assess_severity([added], lasted=HOUR, reach=reach).level is Severity.MEDIUM
    assert assess_severity([removed], lasted=HOUR, reach=reach).level is Severity.HIGH


def test_the_largest_change_of_the_root_problem_sets_the_size():
    null_spike = ChangeEvidence(AlertKind.NULL_RATE, "null_rate", 0.41, 0.005)
    a = assess_severity([BLIP, null_spike], lasted=HOUR, reach=Reach())
    assert a.reasons[0] == "a rate of 41% of rows against a usual 0.5%, a severe change"


def test_the_reason_renders_as_one_sentence():
    a = assess_severity([DROP], lasted=timedelta(hours=4), reach=Reach(models=6, owners=1))
    assert a.sentence() == severity_sentence(a.level, a.reasons)
    assert a.sentence() == (
        "Medium: 73% fewer rows than usual (41 against about 153), a large change; "
        "it has lasted 4 hours; 6 downstream models read it, no dashboards."
    )


def test_a_result_without_numbers_still_gets_a_level_and_a_reason():
    rule = ChangeEvidence(AlertKind.RULE, "rule:orders_have_buyers", None, None)
    a = assess_severity([rule], lasted=HOUR, reach=Reach())
    assert a.level is Severity.LOW and a.reasons[0] == "a check failed"
