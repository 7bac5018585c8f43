"""False-discovery control across the many series evaluated in one run.

Each detector tests its own points at a per-point level; when thousands of series are scored in
one run, a few chance exceedances are certain. Benjamini-Hochberg keeps the expected share of
false discoveries among the alerts of a run below ``q``; Benjamini-Yekutieli does so under any
dependence between series (at some loss of power). On clean data (every hypothesis null) BH
at ``q`` lets through at most one false alert in 1/q runs *whatever the number of tests*: that
is what keeps false alerts from growing with tables x columns x metrics. :func:`control_run`
also says so in words, for the alert's explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
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


#: the run's false-discovery rate: the expected share of false alerts among a run's alerts
RUN_Q = 0.05


def bh_adjusted(p_values: Sequence[float] | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values: a test is a discovery at FDR ``q`` exactly when
    its adjusted p is at most ``q``.

    >>> bh_adjusted([0.001, 0.02, 0.04, 0.5]).round(4).tolist()
    [0.004, 0.04, 0.0533, 0.5]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return np.zeros(0)
    p = np.where(np.isfinite(p), p, 1.0)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


@dataclass(frozen=True, slots=True)
class RunVerdict:
    """One test's fate in its run's family, with the words that explain it."""

    keep: bool
    adjusted_p: float
    tests: int
    kept: int
    q: float

    def explanation(self) -> dict[str, object]:
        return {
            "method": "Benjamini-Hochberg",
            "tests_this_run": self.tests,
            "alerts_kept": self.kept,
            "fdr": self.q,
            "adjusted_p": self.adjusted_p,
            "text": (
                f"{self.kept:,} of {self.tests:,} tests this run kept at a false-discovery "
                f"rate of {self.q:.0%}; Benjamini-Hochberg adjusted p = {self.adjusted_p:.2g}"
            ),
        }


def control_run(
    p_values: Sequence[float], alerting: Sequence[bool], q: float = RUN_Q
) -> list[RunVerdict]:
    """Benjamini-Hochberg over every test of a run: an alert is kept when its detector raised
    it (band, minimum effect) *and* its adjusted p is at most ``q``.

    >>> [v.keep for v in control_run([1e-6, 0.04, 0.3], [True, True, False])]
    [True, False, False]
    """
    adj = bh_adjusted(p_values)
    keep = [bool(a) and float(x) <= q for a, x in zip(alerting, adj, strict=True)]
    kept = sum(keep)
    return [RunVerdict(k, float(x), len(keep), kept, q) for k, x in zip(keep, adj, strict=True)]
