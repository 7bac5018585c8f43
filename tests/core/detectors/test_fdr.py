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
