"""Speed of the chart-band path: N series x 720 hourly points, last day scored.

    python -m bench.detect_speed [--series 500]

Prints JSON with the wall time of ``evaluate_batch`` (data generation excluded) for the
requested number of series. ``evaluate_batch`` walks each series with the live detector (so
that chart bands equal alert bands), so its speed is the live detector's: series per second
here is what a detection run scores per core.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime

import numpy as np

from tidegauge.core.detectors.seasonal import evaluate_batch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--points", type=int, default=720)
    ap.add_argument("--block", type=int, default=100)
    a = ap.parse_args()
    rng = np.random.default_rng(20240501)
    n = a.points
    ts = np.datetime64("2024-01-01T00") + np.arange(n).astype("timedelta64[h]")
    test_from = datetime(2024, 1, 1) + (ts[-24] - ts[0]).astype(object)
    h = np.arange(n) % 24
    dow = (np.arange(n) // 24) % 7
    shape = (1 + 0.5 * np.sin(2 * np.pi * (h - 6) / 24)) * np.where(dow >= 5, 0.6, 1.0)
    elapsed = 0.0
    alerts = 0
    done = 0
    while done < a.series:
        m = min(a.block, a.series - done)
        level = rng.lognormal(6, 1.5, (m, 1))
        y = rng.poisson(level * shape[None, :] * rng.lognormal(0, 0.05, (m, n))).astype(float)
        t0 = time.perf_counter()
        res = evaluate_batch(ts, y, test_from=test_from)
        elapsed += time.perf_counter() - t0
        alerts += int(res.is_anomaly.sum())
        done += m
    print(
        json.dumps(
            {
                "series": a.series,
                "points_per_series": n,
                "tested_points_per_series": 24,
                "seconds": round(elapsed, 2),
                "series_per_second": round(a.series / elapsed, 1),
                "alerts_on_clean_data": alerts,
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
