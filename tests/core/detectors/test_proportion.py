"""Rates as proportions: honest on small buckets, loud on real spikes."""

from datetime import UTC, datetime, timedelta

import numpy as np

from tidegauge.core.detectors.base import DetectorSettings, Direction
from tidegauge.core.detectors.proportion import RatePoint, evaluate_rates

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history(rate: float = 0.005, n: int = 40, buckets: int = 500, seed: int = 3):
    rng = np.random.default_rng(seed)
    return [
        RatePoint(T0 + timedelta(hours=i), rng.binomial(n, rate) / n, n) for i in range(buckets)
    ]


def test_one_null_in_a_small_bucket_is_not_news():
    hist = history()
    t = T0 + timedelta(hours=600)
    [d] = evaluate_rates(hist, [RatePoint(t, 1 / 20, 20)], DetectorSettings())
    assert not d.is_anomaly


def test_a_real_spike_alerts_with_an_explanation():
    hist = history()
    t = T0 + timedelta(hours=600)
    [d] = evaluate_rates(hist, [RatePoint(t, 0.4, 150)], DetectorSettings(), "null_rate")
    assert d.expected is not None and d.upper is not None
    assert d.is_anomaly and d.expected < 0.01 and d.upper < 0.4
    assert "null rate 40.0% (60 of 150 rows)" in d.reason


def test_small_expected_counts_use_the_poisson_tail():
    hist = history(n=160)
    t = T0 + timedelta(hours=600)
    [d] = evaluate_rates(hist, [RatePoint(t, 5 / 154, 154)], DetectorSettings())
    # 5 where ~0.8 are usual: rare (p≈1e-3), not astronomically rare
    assert 1e-4 < d.p_value < 1e-2


def test_direction_and_learning_phase():
    hist = history(rate=0.3)
    t = T0 + timedelta(hours=600)
    down_only = DetectorSettings(direction=Direction.DOWN)
    [d] = evaluate_rates(hist, [RatePoint(t, 0.9, 200)], down_only)
    assert not d.is_anomaly
    [d] = evaluate_rates(hist[:10], [RatePoint(t, 0.9, 200)], DetectorSettings())
    assert not d.is_anomaly and "learning" in d.reason


def test_overdispersed_history_widens_the_band():
    rng = np.random.default_rng(5)
    noisy = [
        RatePoint(T0 + timedelta(hours=i), float(np.clip(rng.normal(0.1, 0.05), 0, 1)), 500)
        for i in range(300)
    ]
    t = T0 + timedelta(hours=400)
    [d] = evaluate_rates(noisy, [RatePoint(t, 0.17, 500)], DetectorSettings())
    assert not d.is_anomaly and d.details["dispersion"] > 5


def test_five_of_47_rows_cannot_page_anyone_but_most_of_them_can():
    hist = history(rate=0.005, n=200)
    t = T0 + timedelta(hours=600)
    [small] = evaluate_rates(hist, [RatePoint(t, 5 / 47, 47)], DetectorSettings())
    assert small.p_value < 1e-3 and not small.is_anomaly  # rare, but 5 rows is no incident
    [broken] = evaluate_rates(hist, [RatePoint(t, 40 / 47, 47)], DetectorSettings())
    assert broken.is_anomaly
