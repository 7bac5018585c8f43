"""False-discovery control across the many series evaluated in one run.

Each detector tests its own points at a per-point level; when thousands of series are scored in
one run, a few chance exceedances are certain. Benjamini-Hochberg keeps the expected share of
false discoveries among the alerts of a run below ``q``; Benjamini-Yekutieli does so under any
dependence between series (at some loss of power).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from tidegauge.core.detectors.base import Detection


class FdrMethod(StrEnum):
    BH = "bh"
    BY = "by"


def fdr_reject(
    p_values: Sequence[float] | npt.NDArray[np.float64],
    q: float = 0.05,
    method: FdrMethod = FdrMethod.BH,
) -> npt.NDArray[np.bool_]:
    """Which hypotheses are rejected (discoveries) at false-discovery rate ``q``.

    >>> fdr_reject([0.001, 0.02, 0.04, 0.5], q=0.05).tolist()
    [True, True, False, False]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    p = np.where(np.isfinite(p), p, 1.0)
    order = np.argsort(p, kind="stable")
    c = float(np.sum(1.0 / np.arange(1, m + 1))) if method is FdrMethod.BY else 1.0
    crit = q * np.arange(1, m + 1) / (m * c)
    below = p[order] <= crit
    out = np.zeros(m, dtype=bool)
    if below.any():
        k = int(np.flatnonzero(below).max())
        out[order[: k + 1]] = True
    return out


def apply_fdr(
    detections: Sequence[Detection], q: float = 0.05, method: FdrMethod = FdrMethod.BH
) -> list[Detection]:
    """Copies of ``detections`` where only alerts that survive FDR control stay anomalous.

    All tested points count in the family (not only the alerts), which is what makes the
    correction honest. The adjusted verdict is recorded in ``details["fdr"]``.
    """
    keep = fdr_reject([d.p_value for d in detections], q, method)
    out: list[Detection] = []
    for d, k in zip(detections, keep, strict=True):
        details = {**d.details, "fdr": {"q": q, "method": method.value, "survives": bool(k)}}
        out.append(replace(d, is_anomaly=d.is_anomaly and bool(k), details=details))
    return out
