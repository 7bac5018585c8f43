"""A statistic of few rows is noisier: the seasonal detector learns how its noise depends on
the rows behind each value (a mean over 40 night-time rows against 800 at the peak)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidegauge.core.detectors.base import DetectorSettings
from tidegauge.core.detectors.seasonal import SeasonalDetector
from tidegauge.core.detectors.seasonal.model import fit_baseline, prepare

T0 = datetime(2026, 3, 2, tzinfo=UTC)
H = 24 * 35


def quiet_nights(seed: int) -> tuple[list[datetime], np.ndarray, np.ndarray]:
    """The hourly mean of a value with sd 25 per row: 40 rows at 03:00, 800 at 15:00."""
    rng = np.random.default_rng(seed)
    ts = [T0 + timedelta(hours=i) for i in range(H)]
    hour = np.arange(H) % 24
    rows = np.round(420 - 380 * np.cos(2 * np.pi * (hour - 3) / 24))
    return ts, 30 + rng.standard_normal(H) * 25 / np.sqrt(rows), rows


def test_the_noise_is_learned_to_shrink_with_the_rows_behind_each_value():
    ts, y, rows = quiet_nights(0)
    s = prepare(ts, y.tolist(), rows.tolist())
    fit = fit_baseline(s.t, s.sow, s.y, s.bucket, sizes=s.size)
    a, b = fit.size_noise
    assert b > 0 and a >= 0
    night, peak = (float(np.atleast_1d(fit.size_factor(np.array([n])))[0]) for n in (40.0, 800.0))
    assert night / peak == pytest.approx(np.sqrt(800 / 40), rel=0.35)  # sd ∝ 1/sqrt(rows)
    # the same fit without sizes, or sizes that do not vary, learn nothing of the kind
    assert fit_baseline(s.t, s.sow, s.y, s.bucket).size_noise == (1.0, 0.0)
    flat = np.full(H, 500.0)
    assert fit_baseline(s.t, s.sow, s.y, s.bucket, sizes=flat).size_noise == (1.0, 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_move_at_the_busy_peak_alerts_once_its_rows_are_known(seed):
    ts, y, rows = quiet_nights(seed)
    start = ts[-72]
    det = SeasonalDetector(DetectorSettings(), metric="mean")
    # clean: no alert either way
    assert not any(d.is_anomaly for d in det.evaluate(ts, y.tolist(), test_from=start))
    clean = det.evaluate(ts, y.tolist(), test_from=start, sizes=rows.tolist())
    assert not any(d.is_anomaly for d in clean)
    # six of its own standard deviations at 14:00 (787 rows): lost in the night's noise
    # when every hour shares one scale, plain once the detector knows the rows
    moved = y.copy()
    moved[-10] += 6 * 25 / np.sqrt(rows[-10])
    blind = det.evaluate(ts, moved.tolist(), test_from=start)
    told = det.evaluate(ts, moved.tolist(), test_from=start, sizes=rows.tolist())
    assert not blind[-10].is_anomaly
    assert told[-10].is_anomaly
    # the same move at 03:00 (40 rows) is a fraction of that hour's noise: no alert
    night = y.copy()
    i = next(k for k in range(H - 1, H - 72, -1) if rows[k] == rows.min())
    night[i] += 6 * 25 / np.sqrt(rows.max())
    told = det.evaluate(ts, night.tolist(), test_from=start, sizes=rows.tolist())
    assert not any(d.is_anomaly for d in told)


def test_the_explanation_says_the_band_follows_the_rows():
    ts, y, rows = quiet_nights(0)
    det = SeasonalDetector(DetectorSettings(), metric="mean")
    out = det.evaluate(ts, y.tolist(), test_from=ts[-24], sizes=rows.tolist())
    night = next(d for d in out if d.details.get("rows") == rows.min())
    assert night.details["size_factor"] > 2
    assert f"computed from {rows.min():,.0f} rows, so its band is" in night.reason
