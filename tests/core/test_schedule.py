"""Monitor schedules: intervals and cron, including cron's either-day rule."""

from datetime import UTC, datetime, timedelta

import pytest

from tidegauge.core.schedule import ScheduleError, check_schedule, is_due, next_after

T = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)  # a Monday


def test_intervals():
    assert is_due("6h", None, T)
    assert not is_due("6h", T - timedelta(hours=5), T)
    assert is_due("6h", T - timedelta(hours=6), T)


def test_cron_fires_between_last_and_now():
    assert is_due("0 6 * * *", T - timedelta(hours=1), T)
    assert not is_due("0 6 * * *", T - timedelta(minutes=20), T)
    assert not is_due("0 6 * * 6", T - timedelta(hours=1), T)  # Saturdays only
    assert is_due("0 6 15 * 1", T - timedelta(hours=1), T)  # day 15 OR Monday
    assert is_due("@daily", T - timedelta(days=1), T)


@pytest.mark.parametrize(
    "bad",
    ["61 * * * *", "0 25 * * *", "* * *", "0 0 31 2 *", "* * * * * *", "@often", "0s", "-5m"],
)
def test_what_no_run_could_use_is_refused_up_front(bad):
    with pytest.raises(ScheduleError):
        check_schedule(bad)


def test_names_and_month_ends_are_read_as_cron_reads_them():
    assert next_after("0 6 * * MON-FRI", T).isoformat() == "2026-03-03T06:00:00+00:00"
    assert next_after("0 0 L * *", T).isoformat() == "2026-03-31T00:00:00+00:00"
    assert next_after("1h30m", T) == T + timedelta(minutes=90)
