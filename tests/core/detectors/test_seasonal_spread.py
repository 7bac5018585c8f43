"""Noise that is louder at some hours of the day: a second noise model learns the spread by
time of day, and a point must be unusual under both that model and the whole day's noise (the
larger p-value, an intersection-union test), so loud hours stop alerting on their ordinary
noise while no hour gets a narrower band than before."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import numpy as np

from tidegauge.core.detectors.base import DetectorSettings, Direction, FloatArray
from tidegauge.core.detectors.seasonal import SeasonalDetector
from tidegauge.core.detectors.seasonal.model import Fit, fit_baseline, prepare
from tidegauge.core.detectors.seasonal.scoring import score_points
from tidegauge.core.detectors.seasonal.spread import daily_spread

T0 = datetime(2024, 1, 1)
DAYS = 30
LOUD = range(6, 8)  # 06:00 and 07:00


def _series(
    seed: int, loud: float = 3.0, days: int = DAYS + 1
) -> tuple[list[datetime], np.ndarray]:
    """An hourly median around 40 with 5% noise, ``loud`` times that at 06:00-07:00."""
    rng = np.random.default_rng(seed)
    ts = [T0 + timedelta(hours=i) for i in range(24 * days)]
    sd = np.array([0.05 * (loud if t.hour in LOUD else 1.0) for t in ts])
    return ts, 40.0 * np.exp(sd * rng.standard_normal(len(ts)))


def _fit_and_last_day(
    seed: int, loud: float = 3.0
) -> tuple[Fit, np.ndarray, np.ndarray, np.ndarray]:
    ts, y = _series(seed, loud)
    s = prepare(ts, y)
    train = np.arange(s.t.size) < 24 * DAYS
    fit = fit_baseline(s.t[train], s.sow[train], s.y[train], s.bucket)
    return fit, s.t[~train], s.sow[~train], s.y[~train]


def test_the_spread_is_learned_by_hour() -> None:
    fit, *_ = _fit_and_last_day(0)
    f = fit.spread_factor(np.arange(24, dtype=np.float64) * 3600.0)
    assert f is not None
    assert min(f[6], f[7]) > 1.7 and f[6] + f[7] > 4.0  # three times louder there
    assert all(0.6 < f[h] < 1.4 for h in (0, 3, 11, 14, 18, 21))


def test_daily_buckets_and_short_histories_have_no_second_model() -> None:
    z: FloatArray = np.random.default_rng(1).standard_normal(24 * 10)
    days: FloatArray = np.arange(z.size, dtype=np.float64) * 86400.0
    assert daily_spread(days, z, 86400.0, z.size * 86400.0) is None
    assert daily_spread(days[: 24 * 6] / 24, z[: 24 * 6], 3600.0, 6 * 86400.0) is None


def test_clean_loud_hours_stop_alerting_on_their_own_noise() -> None:
    """Over 200 clean days the loud hours' p-values come out near their nominal rate; under
    one scale for the whole day, 5-6% of them were below 0.001 (the heavy tails that one
    scale sees are not enough)."""
    with_spread, without = [], []
    for seed in range(200):
        fit, t, sow, y = _fit_and_last_day(seed)
        loud = np.isin(((sow % 86400) // 3600).astype(int), list(LOUD))
        args = (t[loud], sow[loud], y[loud], 1e-4, 1.0, Direction.BOTH)
        with_spread += [p.p_value for p in score_points(fit, *args)]
        one_scale = dataclasses.replace(fit, spread=None, spread_tails=())
        without += [p.p_value for p in score_points(one_scale, *args)]
    assert np.mean(np.array(without) <= 1e-3) > 0.03  # the problem is real
    assert np.mean(np.array(with_spread) <= 1e-3) < 0.005


def test_no_band_narrows_and_no_p_value_falls() -> None:
    for seed in range(5):
        fit, t, sow, y = _fit_and_last_day(seed, loud=float(1 + seed))
        args = (t, sow, y * np.exp(np.linspace(-0.5, 0.5, y.size)), 1e-4, 1.0, Direction.BOTH)
        one_scale = dataclasses.replace(fit, spread=None, spread_tails=())
        for a, b in zip(score_points(fit, *args), score_points(one_scale, *args), strict=True):
            assert a.p_value >= b.p_value
            assert a.lower <= b.lower + 1e-9 and a.upper >= b.upper - 1e-9


def test_a_real_change_still_alerts_at_a_loud_hour_and_any_hour() -> None:
    det = SeasonalDetector(DetectorSettings(), metric="p50")
    hits = {7: 0, 14: 0}
    for seed in range(10):
        ts, y = _series(seed)
        for hour in hits:
            last = DAYS * 24 + hour
            tt, yy = ts[: last + 1], y[: last + 1].copy()
            yy[-1] = 40.0 * 10.0  # a unit slip: ten times the usual median
            hits[hour] += det.evaluate(tt, yy, test_from=tt[-1])[0].is_anomaly
    assert hits == {7: 10, 14: 10}


def test_the_verdict_says_how_loud_its_hour_usually_is() -> None:
    ts, y = _series(0)
    det = SeasonalDetector(DetectorSettings(), metric="p50")
    loud = det.evaluate(ts[: DAYS * 24 + 7], y[: DAYS * 24 + 7], test_from=ts[DAYS * 24 + 6])[0]
    assert loud.details["hour_noise"] > 1.7
    assert "at 06:00 the noise is usually" in loud.reason
    calm = det.evaluate(ts[: DAYS * 24 + 15], y[: DAYS * 24 + 15], test_from=ts[DAYS * 24 + 14])
    assert "noise is usually" not in calm[0].reason


def test_poisson_counts_keep_their_own_quiet_hour_noise() -> None:
    """Row counts carry Poisson noise at their expected count, which already is the quiet
    hours' loudness: no second model (with one, bench.detect missed a one-hour shift)."""
    rng = np.random.default_rng(5)
    ts = [T0 + timedelta(hours=i) for i in range(24 * DAYS)]
    mu = np.array([20.0 if t.hour < 6 else 400.0 for t in ts])
    s = prepare(ts, rng.poisson(mu).astype(float))
    counted = fit_baseline(s.t, s.sow, s.y, s.bucket, count_noise=True)
    assert counted.poisson and counted.spread is None
    assert fit_baseline(s.t, s.sow, s.y, s.bucket).spread is not None  # not read as counts
