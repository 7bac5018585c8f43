"""Freshness: the cadence learned from update times, and how stale a table usually is when a
run looks at it (what keeps a nightly batch from reading as a late load every morning)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidegauge.core.detectors.freshness import (
    FreshnessDetector,
    landings,
    last_arrival,
    late_by_looks,
    learn_cadence,
    usual_staleness,
)

DAY = timedelta(days=1)
T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday


def test_hourly_updates_learn_an_hourly_cadence_and_a_missed_hour_is_overdue() -> None:
    updates = [T0 + timedelta(hours=h, minutes=5) for h in range(48)]
    cadence = learn_cadence(updates)
    assert cadence is not None and cadence.period == 3600
    last = updates[-1]
    fresh = FreshnessDetector("t").evaluate(updates, last + timedelta(minutes=50))
    late = FreshnessDetector("t").evaluate(updates, last + timedelta(hours=3))
    assert not fresh.is_anomaly and late.is_anomaly


def _looks(
    runs: list[datetime], loads: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, float]]:
    """What each run saw: seconds since the newest row, given (landed at, newest row) per
    load."""
    out = []
    for r in runs:
        newest = max((row for landed, row in loads if landed <= r), default=None)
        if newest is not None:
            out.append((r, (r - newest).total_seconds()))
    return out


def _nightly(days: int, skip: frozenset[int] = frozenset()) -> list[tuple[datetime, datetime]]:
    """A batch at 03:00 with the previous day's rows, the newest at 23:59."""
    return [
        (T0 + i * DAY + timedelta(hours=3), T0 + i * DAY - timedelta(minutes=1))
        for i in range(1, days)
        if i not in skip
    ]


def test_daily_runs_over_a_nightly_batch_find_it_as_stale_as_ever() -> None:
    runs = [T0 + i * DAY + timedelta(hours=4) for i in range(1, 12)]
    looks = _looks(runs, _nightly(12))
    now = runs[-1]
    assert usual_staleness(looks, now) == 4 * 3600.0 + 60
    assert not late_by_looks(looks[-1][1], looks, now)
    # the night's batch did not come: the first run after it says so
    missed = _looks(runs, _nightly(12, skip=frozenset({11})))
    assert missed[-1][1] == 28 * 3600.0 + 60
    assert late_by_looks(missed[-1][1], missed, now)


def test_runs_between_loads_are_not_late_until_a_load_is_missed() -> None:
    runs = [T0 + i * DAY + timedelta(hours=h) for i in range(1, 8) for h in (4, 6, 9)]
    loads = _nightly(9)
    looks = _looks(runs, loads)
    for later in (6, 9, 20):  # the day after: staler than any earlier run saw at 04:00
        now = T0 + 8 * DAY + timedelta(hours=later)
        here = [*looks, *_looks([now], loads)]
        assert not late_by_looks(here[-1][1], here, now), later
    # no batch on day 8: by 10:00 the newest row is 34 h old, and a day's move overdue
    now = T0 + 8 * DAY + timedelta(hours=10)
    missing = _nightly(8)
    here = _looks([*runs, now], missing)
    assert late_by_looks(here[-1][1], here, now)


def test_hourly_runs_over_a_nightly_batch_learn_the_daily_worst() -> None:
    runs = [T0 + timedelta(hours=h) for h in range(27, 7 * 24 + 2)]
    looks = _looks(runs, _nightly(8))
    now = runs[-1]  # 01:00, an hour before the stalest look of a day (02:00)
    assert usual_staleness(looks, now) == 26 * 3600.0 + 60
    assert not late_by_looks(looks[-1][1], looks, now)
    # the batch of day 7 never lands: by 10:00 on day 8 it is late
    missed = _nightly(7)
    late = T0 + 8 * DAY + timedelta(hours=10)
    more = [T0 + timedelta(hours=h) for h in range(27, 8 * 24 + 11)]
    assert late_by_looks(_looks(more, missed)[-1][1], _looks(more, missed), late)


def test_a_past_outage_does_not_become_the_usual() -> None:
    runs = [T0 + i * DAY + timedelta(hours=4) for i in range(1, 12)]
    # two nights missed last week: one run saw the table 52 h old
    looks = _looks(runs, _nightly(11, skip=frozenset({4, 5})))
    assert max(v for _, v in looks) > 52 * 3600
    now = runs[-1]
    assert usual_staleness(looks, now) == 4 * 3600.0 + 60
    assert late_by_looks(looks[-1][1], looks, now)  # night 11 is missing


def test_no_weekend_loads_are_learned_from_the_same_time_last_week() -> None:
    # no batch lands on Sunday or Monday (T0 is a Monday): Monday's run finds Friday's rows;
    # two earlier Mondays make it the usual
    weekend = frozenset(i for i in range(1, 23) if (T0 + i * DAY).weekday() in (6, 0))
    loads = _nightly(23, skip=weekend)
    runs = [T0 + i * DAY + timedelta(hours=4) for i in range(1, 22)]
    looks = _looks(runs, loads)
    monday = T0 + 21 * DAY + timedelta(hours=4)
    assert monday.weekday() == 0 and looks[-1][0] == monday
    assert not late_by_looks(looks[-1][1], looks, monday)
    # a Tuesday without its batch is late
    tuesday = monday + DAY
    missed = _looks([*runs, tuesday], [x for x in loads if x[0] < tuesday - DAY])
    assert late_by_looks(missed[-1][1], missed, tuesday)


def test_before_a_whole_day_of_looks_the_cadence_alone_decides() -> None:
    now = T0 + 5 * DAY + timedelta(hours=9)
    assert usual_staleness([], now) is None
    # looks of today are not the usual yet: an outage going on would teach itself
    today = [(T0 + 5 * DAY + timedelta(hours=h), h * 3600.0) for h in (4, 6, 9)]
    assert usual_staleness(today, now) is None
    assert late_by_looks(9 * 3600.0, today, now)


def test_a_table_never_seen_moving_is_late_once_staler_than_usual() -> None:
    # dead since before the first look: every look finds the same newest row
    looks = [(T0 + timedelta(hours=h), h * 3600.0) for h in (4, 20)]
    later = T0 + timedelta(days=1, hours=2)
    assert last_arrival([*looks, (later, 26 * 3600.0)], later) is None
    assert late_by_looks(26 * 3600.0, [*looks, (later, 26 * 3600.0)], later)
    sooner = T0 + timedelta(days=1)
    assert not late_by_looks(24 * 3600.0, [*looks, (sooner, 24 * 3600.0)], sooner)


def test_landings_are_placed_between_the_runs_that_saw_them() -> None:
    runs = [T0 + i * DAY + timedelta(hours=h) for i in range(1, 4) for h in (2, 4)]
    moves = landings(_looks(runs, _nightly(4)), runs[-1])
    # each night's batch lands at 03:00, between the 02:00 run and the 04:00 run
    day = 86400.0
    assert [(t - T0.timestamp()) % day for t, _ in moves] == [3 * 3600.0, 3 * 3600.0]
    assert [m for _, m in moves] == [day, day]
