from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from tidegauge.core.detectors.base import DetectorSettings
from tidegauge.core.detectors.feedback import compile_feedback
from tidegauge.core.detectors.seasonal import SeasonalDetector
from tidegauge.core.model import Feedback

T0 = datetime(2024, 1, 1)


def series(n: int = 80) -> tuple[list[datetime], np.ndarray]:
    rng = np.random.default_rng(0)
    return [T0 + timedelta(days=i) for i in range(n)], 100 + rng.normal(0, 2, n)


def test_expected_makes_a_level_shift_the_new_normal() -> None:
    ts, y = series()
    y[70:] += 40
    cfg = DetectorSettings(shift_accept_points=1000)  # no automatic acceptance
    without = SeasonalDetector(cfg).evaluate(ts, y, test_from=ts[70])
    assert all(d.is_anomaly for d in without)
    with_fb = SeasonalDetector(cfg).evaluate(
        ts, y, test_from=ts[71], feedback=[(ts[70], Feedback.EXPECTED)]
    )
    assert sum(d.is_anomaly for d in with_fb) <= 1
    assert with_fb[-1].expected is not None and with_fb[-1].expected > 130


def test_false_positive_widens_the_band_more_each_time() -> None:
    ts, y = series()
    det = SeasonalDetector()
    b0 = det.evaluate(ts, y, test_from=ts[-1])[0]
    b1 = det.evaluate(ts, y, test_from=ts[-1], feedback=[(ts[10], "false_positive")])[0]
    b2 = det.evaluate(
        ts, y, test_from=ts[-1], feedback=[(ts[10], "false_positive"), (ts[20], "false_positive")]
    )[0]
    w = [b.upper - b.lower for b in (b0, b1, b2)]  # type: ignore[operator]
    assert w[0] < w[1] < w[2]


def test_fixed_keeps_the_point_out_of_training() -> None:
    ts, y = series()
    y[40:70] = 400  # a month-long incident, repaired: without feedback it is half of normal
    fb = [(ts[i], Feedback.FIXED) for i in range(40, 70)]
    plain = SeasonalDetector().evaluate(ts, y, test_from=ts[-1])[0]
    fixed = SeasonalDetector().evaluate(ts, y, test_from=ts[-1], feedback=fb)[0]
    assert fixed.training_points == plain.training_points - 30
    assert fixed.expected is not None and plain.expected is not None
    assert abs(fixed.expected - 100) < 5
    assert fixed.upper is not None and plain.upper is not None and fixed.upper < plain.upper


def test_compile_feedback_latest_wins() -> None:
    eff = compile_feedback([(T0, Feedback.FIXED), (T0, Feedback.EXPECTED)])
    assert T0 not in eff.exclude and eff.changepoints == (T0,)
    mask = compile_feedback([(T0, "fixed")]).training_mask([T0, T0 + timedelta(days=1)])
    assert mask.tolist() == [False, True]
