"""Monitor schedules: intervals and cron, including cron's either-day rule."""

from datetime import UTC, datetime, timedelta

import pytest

from tidegauge.core.schedule import ScheduleError, is_due, parse_cron

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


def test_bad_cron():
    with pytest.raises(ScheduleError):
        parse_cron("61 * * * *")
    with pytest.raises(ScheduleError):
        parse_cron("* * *")
