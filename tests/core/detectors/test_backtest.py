from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from tidegauge.core.detectors.backtest import backtest
from tidegauge.core.detectors.base import DetectorSettings, Sensitivity


def test_backtest_counts_injected_incidents() -> None:
    rng = np.random.default_rng(1)
    ts = [datetime(2024, 1, 1) + timedelta(days=i) for i in range(150)]
    y = 1000 * np.where(np.arange(150) % 7 >= 5, 0.6, 1.0) * rng.lognormal(0, 0.03, 150)
    for i in (80, 110, 140):
        y[i] *= 0.3
    res = backtest(ts, y, DetectorSettings(), days=90)
    assert {ts[80], ts[110], ts[140]} <= set(res.alert_times) and res.alerts <= 4
    assert sum(res.per_week.values()) == res.alerts and res.tested_points == 91
    quiet = backtest(ts, y, DetectorSettings(sensitivity=Sensitivity.LOW), days=90)
    assert quiet.alerts <= res.alerts


def test_backtest_empty() -> None:
    assert backtest([], []).alerts == 0
