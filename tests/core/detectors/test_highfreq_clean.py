"""False alerts on clean minute series stay under the issue's target: at most 1 per 100
series-days, counted after everything the product applies to a minute series (the ensemble,
the minimum effect of a custom metric, and the run's Benjamini-Hochberg step over the runs
that test each point).

The functions are the ones ``steps/detect._series_candidates`` and ``steps/detect._fdr`` call
on a custom SQL metric of 5-minute buckets: the seasonal detector for the expected value, then
:func:`high_frequency_detections` with the custom metric's default settings, then
:func:`control_run` over each hourly run's family (the new hour and the re-checked ones).
The end-to-end path over a DuckDB warehouse is in tests/steps/test_detect_minutes.py; it is
too slow for enough series-days to say anything about a rate of 1 in 100.

"Clean" means series whose behaviour does not change: Gaussian noise around a level, Poisson
counts at a low and a moderate rate, a daily cycle with noise, a weekly pattern with noise
(no random walks: a random walk's level really moves)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidegauge.core.detectors.base import Detection
from tidegauge.core.detectors.fdr import RUN_Q, control_run
from tidegauge.core.detectors.highfreq import high_frequency_detections
from tidegauge.core.detectors.seasonal import SeasonalDetector
from tidegauge.monitors.tuning import metric_settings

PER_DAY = 288  # 5-minute buckets
HISTORY_DAYS = 8
TESTED_DAYS = 2
START = datetime(2026, 3, 2, tzinfo=UTC)
FIRST_TESTED = START + timedelta(days=HISTORY_DAYS)
KINDS = ("gauss", "poisson2", "poisson50", "daily", "weekly")
#: the issue's target: false alerts per series-day on clean data
TARGET = 1 / 100


def _clean(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)
    if kind == "gauss":
        return 100 + rng.normal(0, 5, n)
    if kind == "poisson2":
        return rng.poisson(2.0, n).astype(float)
    if kind == "poisson50":
        return rng.poisson(50.0, n).astype(float)
    if kind == "daily":
        return 50 + 20 * np.sin(2 * np.pi * t / PER_DAY) + rng.normal(0, 2, n)
    weekend = (t // PER_DAY) % 7 >= 5
    return 200 - 80 * weekend + 30 * np.sin(2 * np.pi * t / PER_DAY) + rng.normal(0, 8, n)


def _tested(kind: str, seed: int) -> list[Detection]:
    """Every tested point of one clean custom-metric series, as steps/detect judges it."""
    n = (HISTORY_DAYS + TESTED_DAYS) * PER_DAY
    stamps = [START + timedelta(minutes=5 * i) for i in range(n)]
    values = [round(float(v), 3) for v in _clean(kind, n, np.random.default_rng(seed))]
    metric = "custom:reading"
    det = SeasonalDetector(metric_settings(metric), metric=metric)
    found = det.evaluate(stamps, values, test_from=FIRST_TESTED)
    found = high_frequency_detections(found, stamps, values, det.settings, metric)
    return [d for d in found if d.expected is not None]


def _kept_after_hourly_runs(tested: list[Detection]) -> list[Detection]:
    """Alerts that survive Benjamini-Hochberg in at least one hourly run: a run at ``now``
    tests the hour since the previous run and the 3 re-checked hours before it."""
    kept: dict[datetime, Detection] = {}
    for h in range(1, TESTED_DAYS * 24 + 1):
        now = FIRST_TESTED + timedelta(hours=h)
        family = [d for d in tested if now - timedelta(hours=4) <= d.timestamp < now]
        verdicts = control_run([d.p_value for d in family], [d.is_anomaly for d in family], RUN_Q)
        kept.update({d.timestamp: d for d, v in zip(family, verdicts, strict=True) if v.keep})
    return list(kept.values())


@pytest.mark.slow
def test_clean_minute_series_raise_at_most_one_false_alert_per_100_series_days() -> None:
    tested = {
        (kind, seed): _tested(kind, 100 * seed + k)
        for seed in range(3)
        for k, kind in enumerate(KINDS)
    }
    series_days = len(tested) * TESTED_DAYS
    alerts = _kept_after_hourly_runs([d for ds in tested.values() for d in ds])
    # 30 series-days: the target allows no alert at all
    assert len(alerts) <= TARGET * series_days, [
        (d.timestamp, d.observed, d.expected, d.p_value, d.details.get("member")) for d in alerts
    ]
    # the ensemble did test every point of the tested days: a test that skipped them would pass
    assert all(len(ds) == TESTED_DAYS * PER_DAY for ds in tested.values())
