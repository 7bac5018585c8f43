"""Streaming detector: the daily and weekly views (same time on earlier days / weeks)."""

from __future__ import annotations

import numpy as np

from tidegauge.core.detectors.base import DetectorSettings, Direction
from tidegauge.core.detectors.stream import (
    FEATURES,
    fit_tail,
    seasonal_residual,
    stream_scores,
)

PER_DAY = 288


def _daily(days: int, noise: float, seed: int) -> np.ndarray:
    """A busy period every afternoon: 20 at night, 80 from 10:00 to 18:00."""
    rng = np.random.default_rng(seed)
    phase = np.arange(days * PER_DAY) % PER_DAY
    y = np.where((phase >= 120) & (phase < 216), 80.0, 20.0)
    return y + rng.normal(0, noise, y.size)


def test_seasonal_residual_uses_the_median_of_earlier_days_only() -> None:
    y = np.arange(10, dtype=float)
    r = seasonal_residual(y, 2, days=3)
    assert np.isnan(r[:2]).all()
    assert r[2] == 2.0  # one earlier period: y[0]
    assert r[9] == 9.0 - 5.0  # median of y[7], y[5], y[3]
    assert np.isnan(seasonal_residual(y, 1)).all()


def test_a_missing_busy_period_alerts_on_its_day_and_not_before() -> None:
    y = _daily(14, 2.0, seed=5)
    day = 10 * PER_DAY
    y[day + 120 : day + 216] = 20.0 + np.random.default_rng(6).normal(0, 2.0, 96)
    res = stream_scores(y, float(PER_DAY))  # the default (medium) sensitivity
    hits = np.flatnonzero(res.alert)
    assert any(day + 120 <= h <= day + 140 for h in hits)
    assert not any(3 * PER_DAY <= h < day + 120 for h in hits)
    k = FEATURES.index("daily")
    first = next(h for h in hits if h >= day + 120)
    assert np.argmin(res.feature_p[first]) == k or res.feature_p[first, k] <= 1e-3


def test_noiseless_periodic_series_never_alert() -> None:
    for y in (
        _daily(14, 0.0, seed=0),
        50 + 30 * np.sin(2 * np.pi * np.arange(14 * PER_DAY) / PER_DAY),
    ):
        res = stream_scores(y, float(PER_DAY))
        assert not res.alert.any()
        assert np.all(np.isfinite(res.p_value))


def test_clean_seasonal_noise_stays_quiet_and_direction_is_respected() -> None:
    y = _daily(14, 3.0, seed=7)
    assert stream_scores(y, float(PER_DAY)).alert.sum() <= 1
    y[10 * PER_DAY + 120 : 10 * PER_DAY + 216] -= 40.0
    up = stream_scores(y, float(PER_DAY), DetectorSettings(direction=Direction.UP), alpha=10**-2.5)
    assert not up.alert[10 * PER_DAY + 120 : 10 * PER_DAY + 216].any()


def test_a_new_view_is_not_trusted_before_a_day_of_its_own_history() -> None:
    tail = fit_tail(np.linspace(0.0, 1.0, 200), min_calibration=288)
    assert tail.sf(100.0) == 1.0
    assert fit_tail(np.linspace(0.0, 1.0, 300), min_calibration=288).sf(100.0) < 1e-3


def test_a_daily_series_gets_its_weekly_view() -> None:
    rng = np.random.default_rng(8)
    days = np.arange(730)
    y = np.where(days % 7 >= 5, 200.0, 1000.0) + rng.normal(0, 20, days.size)
    y[702] = 200.0  # a weekday that looks like a Sunday: inside the overall range
    assert 702 % 7 < 5
    res = stream_scores(y, 1.0, alpha=1e-3)
    k = FEATURES.index("weekly")
    assert res.alert[702] and res.feature_p[702, k] <= 1e-2
    assert (res.feature_p[:, FEATURES.index("daily")] == 1.0).all()  # no daily cycle to learn
    assert res.alert.sum() <= 2
