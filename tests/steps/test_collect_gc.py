"""Collection and detection run with fewer cycle-collector passes, and leave the collector as
they found it, even when the step fails."""

from __future__ import annotations

import gc

import pytest

from tidegauge.steps.collect_gc import THRESHOLD, fewer_collections


def test_inside_fewer_passes_and_everything_restored_after():
    before = gc.get_threshold()
    alive = [object() for _ in range(10)]  # noqa: F841  (alive across the step)
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], THRESHOLD)
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_when_the_step_raises():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a step failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
