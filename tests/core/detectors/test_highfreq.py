"""The high-frequency path: on 15-minute buckets or finer the verdicts and p-values of the
seasonal detector's points are the ensemble's (the detector the NAB benchmark scores); hourly
series keep the seasonal verdicts untouched."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from tidegauge.core.detectors.base import Detection, DetectorSettings
from tidegauge.core.detectors.context import ensemble_scores
from tidegauge.core.detectors.highfreq import (
    high_frequency_detections,
    high_frequency_scores,
)
from tidegauge.core.detectors.seasonal import SeasonalDetector

PER_DAY = 288  # 5-minute points
T0 = datetime(2024, 1, 1)
START = 9 * PER_DAY + 40  # where incidents are injected: day 10, mid-morning


def clean(seed: int, days: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * PER_DAY)
    return 50 + 20 * np.sin(2 * np.pi * t / PER_DAY) + rng.normal(0, 1, t.size)


def _both(
    y: np.ndarray, minutes: int = 5, settings: DetectorSettings | None = None
) -> tuple[list[Detection], list[Detection], list[datetime]]:
    ts = [T0 + timedelta(minutes=minutes * i) for i in range(y.size)]
    cfg = settings or DetectorSettings()
    seasonal = SeasonalDetector(cfg).evaluate(ts, y, test_from=ts[START - 12])
    return seasonal, high_frequency_detections(seasonal, ts, y, cfg, "latency"), ts


def test_minute_verdicts_and_p_values_are_the_ensembles() -> None:
    y = clean(0)[: START + 60]
    y[START : START + 24] += np.where(np.arange(24) % 2 == 0, 10.0, -10.0)  # a jitter
    seasonal, merged, ts = _both(y)
    assert len(merged) == len(seasonal)
    ens = ensemble_scores(y, float(PER_DAY))
    at = {t: i for i, t in enumerate(ts)}
    tested = [d for d in merged if d.expected is not None]
    assert len(tested) == 72
    for d in tested:  # every tested point: the ensemble's p-value and verdict
        i = at[d.timestamp]
        assert d.p_value == float(ens.p_value[i])
        assert d.is_anomaly == bool(ens.alert[i])
        assert d.details["detector"] == "high_frequency_ensemble"
    flagged = [d for d in merged if d.is_anomaly]
    assert len(flagged) == 1 and ts[START] <= flagged[0].timestamp < ts[START + 12]
    (hit,) = flagged
    assert hit.details["member"] in ("spread", "pattern", "point", "level", "context")
    assert "tail probability" in hit.reason and hit.lower is not None  # the seasonal band


def test_a_level_shift_alerts_once_at_its_start() -> None:
    y = clean(1)[: START + 60]
    y[START:] += 15
    _, merged, ts = _both(y)
    flagged = [d for d in merged if d.is_anomaly]
    assert len(flagged) == 1 and ts[START] <= flagged[0].timestamp <= ts[START + 3]


def test_a_clean_minute_series_raises_nothing() -> None:
    _, merged, _ = _both(clean(2)[: START + 60])
    assert not any(d.is_anomaly for d in merged)


def test_the_minimum_effect_still_holds() -> None:
    y = clean(3)[: START + 60]
    y[START:] += 15
    _, merged, _ = _both(y, settings=DetectorSettings(min_abs_change=1000.0))
    assert not any(d.is_anomaly for d in merged)
    assert min(d.p_value for d in merged) < 1e-6  # still a test the run's FDR sees


def test_hourly_series_keep_the_seasonal_verdicts() -> None:
    y = clean(0)[: START + 60]
    y[START:] += 15
    seasonal, merged, ts = _both(y, minutes=60)
    assert merged == seasonal
    assert high_frequency_scores(ts, y) is None
    fifteen = [T0 + timedelta(minutes=15 * i) for i in range(y.size)]
    assert high_frequency_scores(fifteen, y) is not None  # 96 a day: the ensemble's


def test_a_stuck_value_alerts_within_the_hour() -> None:
    """A sensor that repeats its last value stays inside the usual range; the spread view
    sees its variability collapse (both sides of the usual texture count)."""
    y = clean(4)[: START + 60]
    y[START:] = y[START - 1]
    _, merged, ts = _both(y)
    flagged = [d for d in merged if d.is_anomaly]
    assert len(flagged) == 1 and ts[START] <= flagged[0].timestamp < ts[START + 12]
    assert flagged[0].details["member"] == "spread"


def test_a_tail_probability_past_the_end_of_a_bounded_tail_is_not_called_zero():
    from tidegauge.core.detectors.highfreq import _probability

    assert _probability(0.0) == "below 1e-16"
    assert _probability(3.1e-5) == "3.1e-05"


def test_feedback_on_a_minute_series_is_heard() -> None:
    from tidegauge.core.detectors.highfreq import quieter

    y = clean(0)[: START + 60]
    y[START:] += 15.0  # a level shift
    seasonal, merged, ts = _both(y)
    hits = [d for d in merged if d.is_anomaly]
    assert hits, "the shift alerts without feedback"
    at = hits[0].timestamp
    cfg = DetectorSettings()
    # "expected": the shift is the new normal; the ensemble learns from it afresh and the
    # points after it are no alerts (the too-short new history is learning, and says so)
    heard = high_frequency_detections(seasonal, ts, y, cfg, "latency", [(at, "expected")])
    assert not any(d.is_anomaly for d in heard if d.timestamp >= at)
    assert any("new normal" in d.reason for d in heard if d.timestamp >= at)
    # "false positive": quieter, by the level of a normal band widened by the same factor
    assert quieter(1e-4, 1.0) == 1e-4
    assert quieter(1e-4, 1.25) < 1e-5
    fp = [(at, "false_positive")] * 1
    quiet = high_frequency_detections(seasonal, ts, y, cfg, "latency", fp)
    ps = {d.timestamp: d.p_value for d in quiet}
    assert all(ps[d.timestamp] == d.p_value for d in merged)  # same tests, stricter level
    assert all(d.details["alpha"] < hits[0].details["alpha"] for d in quiet if d.is_anomaly)
