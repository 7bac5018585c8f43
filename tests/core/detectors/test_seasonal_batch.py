"""Chart bands (evaluate_batch) equal live bands (SeasonalDetector.evaluate), point for point,
including a calendar holiday, user feedback and an accepted level shift: users must never see a
band on a chart that disagrees with the band an alert was judged against (issue 12)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from tidegauge.core.calendar import SpecialDays
from tidegauge.core.detectors.base import Detection
from tidegauge.core.detectors.seasonal import SeasonalDetector, evaluate_batch

T0 = datetime(2024, 1, 1)  # a Monday
DAYS = 30


def _series(seed: int) -> tuple[list[datetime], np.ndarray]:
    rng = np.random.default_rng(seed)
    n = DAYS * 24
    ts = [T0 + timedelta(hours=i) for i in range(n)]
    h = np.arange(n) % 24
    mu = 400 * (1 + 0.5 * np.sin(2 * np.pi * (h - 6) / 24))
    return ts, rng.poisson(mu).astype(float)


def _assert_same(res, row: int, live: list[Detection]) -> None:
    col = {t: j for j, t in enumerate(res.test_times)}
    assert len(live) == len(res.test_times)
    for d in live:
        j = col[d.timestamp]
        for got, want in (
            (res.lower[row, j], d.lower),
            (res.upper[row, j], d.upper),
            (res.expected[row, j], d.expected),
        ):
            assert (want is None and np.isnan(got)) or got == pytest.approx(want, rel=1e-12)
        assert bool(res.is_anomaly[row, j]) == d.is_anomaly


@pytest.mark.slow
def test_batch_bands_equal_live_bands_with_calendar_feedback_and_a_level_shift() -> None:
    ts, base = _series(1)
    test_from = ts[-72]
    holiday = ts[-48].date()
    on_holiday = np.array([t.date() == holiday for t in ts])
    y_holiday = np.where(on_holiday, base * 0.6, base)
    y_shift = base.copy()
    y_shift[-40:] *= 1.8  # a new level that lasts: learned as a shift
    y_fb = base.copy()
    y_fb[-60] *= 1.5
    cal = SpecialDays(frozenset({holiday}), "test")
    rows = np.vstack([base, y_holiday, y_shift, y_fb])
    detectors = [
        SeasonalDetector(metric="rows", counts=True),
        SeasonalDetector(metric="rows", counts=True, calendar=cal),
        SeasonalDetector(metric="rows", counts=True),
        SeasonalDetector(metric="rows", counts=True),
    ]
    feedback = [[], [], [], [(ts[-60], "false_positive"), (ts[-50], "expected")]]
    exclude = [[], [], [], [ts[-100]]]
    res = evaluate_batch(
        ts, rows, test_from=test_from, detectors=detectors, feedback=feedback, exclude=exclude
    )
    for r in range(rows.shape[0]):
        live = detectors[r].evaluate(
            ts, rows[r], test_from=test_from, exclude=exclude[r], feedback=feedback[r]
        )
        _assert_same(res, r, live)
        if r == 2:  # the shift was accepted by the live walk, and the batch followed it
            assert any(d.details.get("level_shift_accepted") for d in live)
    # each case changed the bands: the calendar, the feedback and the shift are not ignored
    plain = evaluate_batch(ts, rows, test_from=test_from, detectors=detectors[0])
    hol = [j for j, t in enumerate(res.test_times) if t.date() == holiday]
    assert not np.allclose(res.lower[1, hol], plain.lower[1, hol], equal_nan=True)
    assert res.is_anomaly[1, hol].sum() < plain.is_anomaly[1, hol].sum()
    wide = res.upper[3, -20:] - res.lower[3, -20:]
    assert np.all(wide > plain.upper[3, -20:] - plain.lower[3, -20:])
    assert res.expected[2, -1] > 1.4 * plain.expected[0, -1]


def test_batch_rejects_per_series_inputs_of_the_wrong_length() -> None:
    ts, y = _series(2)
    with pytest.raises(ValueError, match="feedback: 1 given for 2 series"):
        evaluate_batch(ts, np.vstack([y, y]), test_from=ts[-3], feedback=[[]])


def test_batch_marks_unscored_points_as_missing() -> None:
    ts, y = _series(3)
    y[-2] = np.nan
    res = evaluate_batch(ts[:200], y[None, :200], test_from=ts[10])
    assert np.isnan(res.lower[0, 0])  # still learning: no band
    res = evaluate_batch(ts, y[None, :], test_from=ts[-3])
    assert np.isnan(res.lower[0, 1]) and np.isfinite(res.lower[0, 0])
