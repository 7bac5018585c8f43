from __future__ import annotations

from datetime import datetime

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tidegauge.core.detectors.base import Detection
from tidegauge.core.detectors.fdr import FdrMethod, apply_fdr, fdr_reject


def test_bh_known_example() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.2]
    assert fdr_reject(p, q=0.05).tolist() == [True, True, True, True, False]
    assert fdr_reject(p, q=0.05, method=FdrMethod.BY).sum() <= 4


def test_null_p_values_rarely_survive() -> None:
    rng = np.random.default_rng(0)
    hits = sum(fdr_reject(rng.uniform(size=1000), q=0.05).any() for _ in range(100))
    assert hits <= 12  # BH controls the family-wise rate under the global null at q


@given(st.lists(st.floats(0, 1), max_size=50))
def test_monotone(p: list[float]) -> None:
    r = fdr_reject(p, 0.1)
    if r.any():
        assert max(np.array(p)[r]) <= min(np.array(p)[~r], default=1.0)


def test_apply_fdr_demotes_weak_alerts() -> None:
    t = datetime(2024, 1, 1)
    dets = [Detection(True, t, p_value=1e-9), Detection(True, t, p_value=0.01)] + [
        Detection(False, t, p_value=0.5) for _ in range(500)
    ]
    out = apply_fdr(dets, q=0.05)
    assert out[0].is_anomaly and not out[1].is_anomaly
    assert out[1].details["fdr"]["survives"] is False


def test_adjusted_p_values_agree_with_the_rejections() -> None:
    from tidegauge.core.detectors.fdr import bh_adjusted

    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=300), rng.uniform(0, 1e-4, 20)])
    assert ((bh_adjusted(p) <= 0.05) == fdr_reject(p, q=0.05)).all()


def test_false_alerts_do_not_grow_with_the_number_of_tests() -> None:
    """Clean runs at 5 and at 500 tables: alerts a per-point test would raise grow 100-fold,
    the ones Benjamini-Hochberg keeps stay at about q per run whatever the family size."""
    from tidegauge.core.detectors.fdr import control_run

    rng = np.random.default_rng(11)
    raw, kept = {}, {}
    for tables in (5, 500):
        raw[tables] = kept[tables] = 0
        for _ in range(40):  # 40 clean runs
            p = rng.uniform(size=tables * 60)
            alerting = p < 1e-3  # what the per-point detectors alone would raise
            raw[tables] += int(alerting.sum())
            kept[tables] += sum(v.keep for v in control_run(p.tolist(), alerting.tolist()))
    assert raw[500] > 50 * max(raw[5], 1)
    assert kept[5] <= 4 and kept[500] <= 4


def test_the_verdict_explains_itself() -> None:
    from tidegauge.core.detectors.fdr import control_run

    v = control_run([1e-7] + [0.5] * 3411, [True] + [False] * 3411)[0]
    e = v.explanation()
    assert v.keep and e["tests_this_run"] == 3412 and e["alerts_kept"] == 1
    text = str(e["text"])
    assert text.startswith("1 of 3,412 tests this run kept at a false-discovery rate of 5%")
    assert "adjusted p = 0.00034" in text
