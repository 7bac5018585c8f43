"""Streaming change detector: calibrated tails, one alert per event, bad input."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from tidegauge.core.detectors.base import DetectorSettings, Direction
from tidegauge.core.detectors.stream import (
    StreamDetector,
    alerts_from,
    fit_tail,
    poisson_lower,
    quiet_points,
    stream_scores,
)

T0 = datetime(2024, 1, 1)


def test_tail_matches_a_known_exponential_tail() -> None:
    rng = np.random.default_rng(0)
    tail = fit_tail(rng.exponential(1.0, 20_000))
    for x in (4.0, 6.0, 9.0):  # right within a small factor, and on the conservative side
        assert -x - 0.7 < math.log(tail.sf(x)) < -x + 1.5
    assert tail.sf(0.1) > 0.01


def test_tail_of_a_constant_statistic_is_never_surprising_at_its_value() -> None:
    tail = fit_tail(np.zeros(500))
    assert tail.sf(0.0) == 1.0
    assert tail.sf(1.0) < 1e-6


def test_a_value_the_history_shows_repeatedly_is_not_extrapolated_into_a_rare_one() -> None:
    rng = np.random.default_rng(3)
    h = rng.exponential(1.0, 3000)
    h[::150] = 20.0  # a recurring spike: 20 earlier values at 20
    tail = fit_tail(h)
    assert tail.sf(20.0) >= poisson_lower(20) / h.size > 1e-3
    assert tail.sf(25.0) < tail.sf(20.0)  # beyond all the history: extrapolated
    once = h.copy()
    once[::150] = 1.0
    once[1000] = 20.0  # seen once: barely a floor (it may itself have been an incident)
    assert fit_tail(once).sf(20.0) < 1e-5
    assert poisson_lower(0) == 0.0
    assert [round(poisson_lower(k), 1) for k in (5, 20)] == [1.3, 11.1]


def test_a_statistic_bounded_by_construction_gets_a_tail_that_ends_at_its_bound() -> None:
    rng = np.random.default_rng(0)
    h = rng.beta(1.0, 3.0, 20_000)  # P(X >= x) = (1 - x)^3: a GPD tail of shape -1/3 ending at 1
    bounded, unbounded = fit_tail(h, upper=1.0), fit_tail(h)
    assert -0.5 < bounded.xi < -0.2
    for x in (0.9, 0.95, 0.99):  # right within a factor 1.5
        assert abs(math.log(bounded.sf(x) / (1.0 - x) ** 3)) < math.log(1.5)
    # the unbounded fit puts probability past the end point: ten times too much at 0.95
    assert unbounded.sf(0.95) > 5 * (1.0 - 0.95) ** 3
    assert bounded.sf(1.0) == 0.0 and bounded.sf(0.1) == unbounded.sf(0.1)


def test_spike_and_level_shift_alert_once_each() -> None:
    rng = np.random.default_rng(1)
    y = 50 + rng.normal(0, 1, 3000)
    y[1500] += 15
    y[2300:] += 8
    res = stream_scores(y, 288.0, alpha=1e-4)
    hits = np.flatnonzero(res.alert)
    assert any(abs(h - 1500) <= 2 for h in hits)
    assert any(2300 <= h <= 2315 for h in hits)
    assert len(hits) <= 4
    assert res.p_value.shape == y.shape and np.all((res.p_value > 0) & (res.p_value <= 1))


def test_clean_noise_stays_quiet_at_the_default_level() -> None:
    rng = np.random.default_rng(2)
    res = stream_scores(rng.normal(0, 1, 4000), 288.0)
    assert res.alert.sum() <= 1


def test_flat_line_and_bad_values_do_not_crash_or_alert() -> None:
    assert not stream_scores(np.full(2000, 3.0), 288.0).alert.any()
    y = np.full(500, 1.0)
    y[100:110] = np.nan
    y[200] = np.inf
    res = stream_scores(y, 24.0)
    assert res.p_value.shape == (500,) and np.all(np.isfinite(res.p_value))
    assert stream_scores(np.array([1.0]), 24.0).p_value.tolist() == [1.0]
    assert stream_scores(np.array([]), 24.0).alert.size == 0


def test_direction_restricts_the_side() -> None:
    rng = np.random.default_rng(3)
    y = 10 + rng.normal(0, 0.5, 2000)
    y[1500] -= 10
    up = stream_scores(y, 288.0, DetectorSettings(direction=Direction.UP), alpha=1e-4)
    assert not up.alert[1498:1503].any()


def test_alerts_from_keeps_one_alert_per_event() -> None:
    p = np.ones(100)
    p[[10, 11, 12, 40, 41, 80]] = 1e-9
    assert np.flatnonzero(alerts_from(p, 1e-6, 20)).tolist() == [10, 40, 80]
    assert quiet_points(24.0) == 6 and quiet_points(288.0) == 72


def test_detector_gives_one_detection_per_tested_point_with_a_reason() -> None:
    rng = np.random.default_rng(4)
    ts = [T0 + timedelta(minutes=5 * i) for i in range(2000)]
    y = 100 + rng.normal(0, 1, 2000)
    y[1900] = 140
    dets = StreamDetector(DetectorSettings(sensitivity=1e-4), metric="latency").evaluate(
        ts, y, test_from=ts[1800]
    )
    assert len(dets) == 200
    hit = [d for d in dets if d.is_anomaly]
    assert [d.timestamp for d in hit] == [ts[1900]]
    assert "latency" in hit[0].reason and hit[0].p_value <= 1e-4
