"""Context novelty and the change + novelty ensemble: a new sequence or a new level alerts, a
clean seasonal stream stays quiet, scoring is deterministic, bad input does not crash."""

from __future__ import annotations

import numpy as np
import pytest

from tidegauge.core.detectors.base import DetectorSettings, Direction
from tidegauge.core.detectors.context import (
    ENSEMBLE_BINS,
    ENSEMBLE_MEMORY_DAYS,
    combine,
    context_scores,
    ensemble_scores,
)
from tidegauge.core.detectors.stream import alerts_from

PER_DAY = 288  # 5-minute points
START = 9 * PER_DAY + 40  # where incidents are injected: day 10, mid-morning


def clean(seed: int, days: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * PER_DAY)
    return 50 + 20 * np.sin(2 * np.pi * t / PER_DAY) + rng.normal(0, 1, t.size)


def jitter(seed: int) -> np.ndarray:
    """Two hours of values that swing ±10 every point: inside the usual range at every point,
    but a sequence the series never produced."""
    y = clean(seed)
    y[START : START + 24] += np.where(np.arange(24) % 2 == 0, 10.0, -10.0)
    return y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_seasonal_stream_stays_quiet(seed: int) -> None:
    y = clean(seed)
    assert not context_scores(y, float(PER_DAY)).alert.any()
    assert not ensemble_scores(y, float(PER_DAY)).alert.any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_sequence_never_seen_alerts_within_the_hour(seed: int) -> None:
    res = context_scores(jitter(seed), float(PER_DAY))
    hits = np.flatnonzero(res.alert)
    assert hits.size == 1 and START <= hits[0] < START + 12
    assert res.novelty[START + 2] > 0.5 > np.nanmean(res.novelty[START - PER_DAY : START])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_ensemble_flags_a_level_shift_at_once_and_only_once(seed: int) -> None:
    y = clean(seed)
    y[START:] += 15
    hits = np.flatnonzero(ensemble_scores(y, float(PER_DAY)).alert)
    assert hits.size == 1 and START <= hits[0] <= START + 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_most_novel_stretch_is_rare_not_merely_uncommon(seed: int) -> None:
    """The recent novelty is at most 1, so its tail ends there: a stretch of sequences never
    seen (±5 around a ±1 noise, inside the usual range) gets a tail probability well below
    what an unbounded tail allows it (2e-4..3e-4 on seeds 0 and 1)."""
    y = clean(seed)
    y[START : START + 24] += np.where(np.arange(24) % 2 == 0, 5.0, -5.0)
    res = context_scores(y, float(PER_DAY), bins=ENSEMBLE_BINS, memory_days=ENSEMBLE_MEMORY_DAYS)
    assert res.p_value[START : START + 24].min() < 1e-4


def test_scoring_is_deterministic() -> None:
    y = jitter(3)
    a, b = context_scores(y, float(PER_DAY)), context_scores(y.copy(), float(PER_DAY))
    assert np.array_equal(a.p_value, b.p_value) and np.array_equal(a.level, b.level)
    e1, e2 = ensemble_scores(y, float(PER_DAY)), ensemble_scores(y, float(PER_DAY))
    assert np.array_equal(e1.p_value, e2.p_value)
    assert np.array_equal(e1.p_value, combine(e1.stream.p_value, e1.context.p_value))


def test_only_the_wanted_side_alerts() -> None:
    y = clean(4)
    y[START:] += 15  # a rise: news for a metric where up is bad, not for one where down is
    up = context_scores(y, float(PER_DAY), DetectorSettings(direction=Direction.UP))
    down = context_scores(y, float(PER_DAY), DetectorSettings(direction=Direction.DOWN))
    assert up.p_value[START : START + 12].min() < 1e-4
    assert down.p_value[START : START + 12].min() == 1.0


def test_bad_input_does_not_crash_or_alert() -> None:
    flat = context_scores(np.full(3000, 7.0), float(PER_DAY))
    assert not flat.alert.any() and flat.p_value.min() > 0.01
    y = clean(5)
    y[500:520] = np.nan
    y[900] = np.inf
    res = context_scores(y, float(PER_DAY))
    assert np.all(np.isfinite(res.p_value)) and res.p_value[505] == 1.0
    assert context_scores(np.array([]), 24.0).alert.size == 0
    assert context_scores(np.array([1.0, 2.0]), 24.0).p_value.tolist() == [1.0, 1.0]


def test_an_event_ends_when_the_series_calms_down() -> None:
    p = np.ones(400)
    p[10:200:5] = 1e-9  # one long, flickering event: one alert
    p[260] = 1e-9  # a new one after 60 calm points
    assert np.flatnonzero(alerts_from(p, 1e-6, 50)).tolist() == [10, 260]


def test_forgetting_makes_a_shape_not_seen_for_weeks_new_again() -> None:
    rng = np.random.default_rng(0)
    per_day = 96

    def wave(n: int) -> np.ndarray:
        return 50 + 8 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 1, n)

    y = np.concatenate([wave(3 * per_day), 50 + rng.normal(0, 1, 18 * per_day), wave(per_day)])
    back = slice(21 * per_day, 21 * per_day + 24)  # the wave returns after 18 days
    keep = context_scores(y, float(per_day))
    forget = context_scores(y, float(per_day), memory_days=7.0)
    assert np.nanmean(forget.novelty[back]) > np.nanmean(keep.novelty[back]) + 0.1
    assert forget.p_value[back].min() < keep.p_value[back].min() / 5
    # two resolutions: still deterministic and aligned with the input
    two = context_scores(y, float(per_day), bins=(20, 5), memory_days=7.0)
    assert two.p_value.shape == y.shape and two.level.tolist() == forget.level.tolist()
