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


def test_a_sustained_spike_in_quiet_hours_alerts_though_no_hour_reaches_the_row_minimum():
    # 40% nulls for six night hours of ~25 rows: 8-12 rows an hour, ~60 over the six
    hist = history(rate=0.005, n=60)
    night = [
        RatePoint(T0 + timedelta(hours=600 + i), k / n, n)
        for i, (k, n) in enumerate([(12, 34), (11, 27), (8, 19), (10, 24), (15, 27), (12, 36)])
    ]
    alone = [evaluate_rates(hist, [p], DetectorSettings())[0] for p in night]
    assert all(d.p_value < 1e-9 and not d.is_anomaly for d in alone)  # each hour: too few rows
    together = evaluate_rates(hist, night, DetectorSettings(), "null_rate")
    assert [d.timestamp for d in together] == [p.timestamp for p in night]
    assert all(d.is_anomaly for d in together)
    assert "over 6 adjacent buckets" in together[0].reason
    assert together[0].details["sustained"]["buckets"] == 6


def test_only_adjacent_buckets_moving_the_same_way_add_up():
    hist = history(rate=0.2, n=60)
    t = T0 + timedelta(hours=600)
    s = DetectorSettings()
    # every row of a 20-row bucket: 16 rows above the usual 20%, rare, but short of 20 alone
    [one] = evaluate_rates(hist, [RatePoint(t, 1.0, 20)], s)
    assert one.p_value < s.point_alpha(24) and not one.is_anomaly
    # two such buckets three hours apart: no run
    apart = [RatePoint(t, 1.0, 20), RatePoint(t + timedelta(hours=3), 1.0, 20)]
    assert not any(d.is_anomaly for d in evaluate_rates(hist, apart, s))
    # adjacent, but the second one moved down (0 of 60, 12 rows under): no run either
    opposite = [RatePoint(t, 1.0, 20), RatePoint(t + timedelta(hours=1), 0.0, 60)]
    scored = evaluate_rates(hist, opposite, s)
    assert scored[1].p_value < s.point_alpha(24)
    assert not any(d.is_anomaly for d in scored)
    # adjacent and both up: 32 rows together
    both = [RatePoint(t, 1.0, 20), RatePoint(t + timedelta(hours=1), 1.0, 20)]
    assert all(d.is_anomaly for d in evaluate_rates(hist, both, s))
