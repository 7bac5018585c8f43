"""The demo's replay schedule is checked before anything is built."""

from __future__ import annotations

import pytest

from tidegauge.cli.demo import QUICK_REPLAY_HOURS, REPLAY_HOURS, run_demo


@pytest.mark.parametrize("hours", [(30, 6), (24, 12, 0), (30, 30, 0), (6, 30, 0), (30,)])
def test_a_schedule_that_cannot_show_the_demo_is_refused(tmp_path, hours):
    with pytest.raises(ValueError, match=r"replay_hours|30 hours back"):
        run_demo(tmp_path, quiet=True, replay_hours=hours)
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_the_schedules_start_30_hours_back_and_end_at_the_end():
    for hours in (REPLAY_HOURS, QUICK_REPLAY_HOURS):
        assert hours[0] == 30 and hours[-1] == 0 and list(hours) == sorted(hours, reverse=True)
