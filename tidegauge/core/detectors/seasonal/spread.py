"""A second noise model for sub-daily series: the noise's spread by time of day.

Warehouse metrics are often noisier in quiet hours than at the peak. :func:`daily_spread`
learns that shape from the training residuals; the fit (:mod:`.model`) keeps it beside the
whole day's scale, and scoring (:mod:`.scoring`) asks a point to be unusual under both.
"""

from __future__ import annotations

import math

import numpy as np

from tidegauge.core.detectors.base import SECONDS_PER_DAY, FloatArray

#: harmonics of the noise's daily spread, as for the expectation (:func:`.model.candidate_specs`):
#: a smooth shape from a week of history, a sharp one (an hour's own) from two weeks
SPREAD_HARMONICS = (4, 11)
#: standardised residuals are capped here before their spread is averaged: one wild point
#: says its hour can be loud, not how loud
SPREAD_CAP = 4.0
#: the quietest an hour's noise is taken to be, relative to the whole day's
SPREAD_FLOOR = 0.25


def daily_terms(sow: FloatArray, k: int) -> FloatArray:
    """A constant, then the cosine and sine of each of ``k`` daily harmonics."""
    phase = 2.0 * math.pi * np.mod(sow, SECONDS_PER_DAY) / SECONDS_PER_DAY
    arg = np.outer(phase, np.arange(1, k + 1))
    out = np.empty((sow.size, 2 * k + 1))
    out[:, 0] = 1.0
    out[:, 1::2] = np.cos(arg)
    out[:, 2::2] = np.sin(arg)
    return out


def daily_spread(
    sow: FloatArray, z: FloatArray, bucket: float, span_seconds: float
) -> tuple[FloatArray, FloatArray] | None:
    """The noise's scale by time of day relative to the whole day's: harmonic coefficients,
    and for each residual the factor fitted without it (leave-one-out).

    Warehouse metrics are often noisier in quiet hours: a median of 150 night-time bids moves
    more than one of 3,000 at the peak, and more still when a few big sellers dominate the
    night. One scale for the whole day then makes quiet hours look alarming (and its tails
    look heavy). The absolute standardised residual ``z`` (capped at :data:`SPREAD_CAP`) is
    regressed on daily harmonics (:data:`SPREAD_HARMONICS`) over at least a week of
    sub-daily history, and scaled so that ``z`` divided by the factor has the same median
    size as ``z``: the whole day's scale stays the reference.
    """
    if bucket >= SECONDS_PER_DAY or span_seconds < 7 * SECONDS_PER_DAY:
        return None
    per_day = SECONDS_PER_DAY / bucket
    most = SPREAD_HARMONICS[span_seconds >= 14 * SECONDS_PER_DAY]
    k = int(min(most, max(0, (per_day - 1) // 2)))
    if k == 0 or not np.all(np.isfinite(z)) or z.size < 7 * per_day:
        return None
    az = np.abs(z)
    a = np.minimum(az, SPREAD_CAP)
    x = daily_terms(sow, k)
    xtx = x.T @ x
    xtx[np.diag_indices_from(xtx)] += 1e-10 * float(np.trace(xtx)) / xtx.shape[0]
    xtx_inv = np.linalg.solve(xtx, np.eye(xtx.shape[0]))
    beta = xtx_inv @ (x.T @ a)
    fitted = x @ beta
    f = np.maximum(fitted, 1e-12)
    med, med_h = float(np.median(az)), float(np.median(az / f))
    if not (math.isfinite(med) and med > 0 and med_h > 0):
        return None
    norm = med_h / med
    lev = ((x @ xtx_inv) * x).sum(axis=1)
    loo = (fitted - lev * a) / np.maximum(1.0 - lev, 1e-9)  # each point's fit without it
    loo = np.maximum(loo * norm, SPREAD_FLOOR)
    return np.asarray(beta * norm, dtype=np.float64), loo
