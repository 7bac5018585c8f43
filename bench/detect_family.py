"""False alerts on clean warehouses of 5 and of 500 tables: does control of the run's family
keep them from growing with tables x columns x metrics?

    python -m bench.detect_family [--seed 2001] [--tables 5,500] [--days 14]

Every table carries the series detection scores (steps/detect.py) at their default settings
(``metric_settings``): its daily row count, the mean, median and string length of a few
columns (seasonal detector) and the null rates and key duplicate rate of its columns
(binomial rates), all clean: weekly seasonality, trend, over-dispersed noise and heavy-tailed
means, no incident. Each of the last ``--days`` days is one run; a run's family is every point
tested that day over all tables, controlled as detection controls it (``control_run``,
Benjamini-Hochberg at 5%). Small warehouses are repeated (``--reps``) so that every size covers
thousands of table-days. Reported per size: false alerts per 100 table-days from the
per-point detectors alone (``raw``) and after family control (``controlled``), and the tests
per run. Development used seed 1001; report with others.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timedelta

import numpy as np

from tidegauge.core.detectors.base import Detection
from tidegauge.core.detectors.fdr import control_run
from tidegauge.core.detectors.proportion import RatePoint, evaluate_rates
from tidegauge.core.detectors.seasonal import SeasonalDetector
from tidegauge.steps.detect import metric_settings

T0 = datetime(2024, 1, 1)
HIST_DAYS = 56


def _table(rng: np.random.Generator, days: int, test_days: int) -> dict[str, list[Detection]]:
    """Every tested point of one clean table, per series."""
    n = days
    ts = [T0 + timedelta(days=i) for i in range(n)]
    dow = np.array([t.weekday() for t in ts])
    test_from = ts[-test_days]
    weekly = np.where(dow >= 5, rng.uniform(0.4, 0.9), 1.0)
    trend = 1 + rng.uniform(-0.003, 0.006) * np.arange(n)
    rows = rng.poisson(
        rng.lognormal(rng.uniform(4, 11), 0.3) * weekly * trend * rng.lognormal(0, 0.05, n)
    ).astype(float)
    rows = np.maximum(rows, 1.0)
    out: dict[str, list[Detection]] = {}

    def seasonal(name: str, metric: str, y: np.ndarray) -> None:
        det = SeasonalDetector(metric_settings(metric), metric=metric)
        out[name] = det.evaluate(ts, y, test_from=test_from)

    def rates(name: str, metric: str, rate: np.ndarray) -> None:
        pts = [RatePoint(t, float(r), float(k)) for t, r, k in zip(ts, rate, rows, strict=True)]
        hist = [p for p in pts if p.timestamp < test_from]
        tested = [p for p in pts if p.timestamp >= test_from]
        out[name] = evaluate_rates(hist, tested, metric_settings(metric), metric, 1.0)

    seasonal("row_count", "row_count", rows)
    for c in range(3):
        level = rng.lognormal(3, 1)
        noise = rng.uniform(0.01, 0.08)
        mean = level * (1 + noise * rng.standard_t(5, n) / np.sqrt(np.maximum(rows, 1) / 100))
        seasonal(f"c{c}.mean", "mean", mean)
        seasonal(f"c{c}.p50", "p50", np.round(level * (1 + noise * rng.standard_t(5, n)), 1))
        seasonal(f"s{c}.len_mean", "len_mean", rng.uniform(8, 40) * rng.lognormal(0, 0.01, n))
    for c in range(6):
        p = rng.choice([0.0, rng.uniform(0.001, 0.2)]) * rng.lognormal(0, 0.1, n)
        rates(
            f"c{c}.null_rate", "null_rate", rng.binomial(rows.astype(int), np.minimum(p, 1)) / rows
        )
    rates("id.duplicate_rate", "duplicate_rate", np.zeros(n))
    return out


def measure(rng: np.random.Generator, tables: int, days: int) -> dict[str, float]:
    """One warehouse of ``tables`` clean tables scored over its last ``days`` days."""
    per_day: dict[datetime, list[Detection]] = {}
    for _ in range(tables):
        for dets in _table(rng, HIST_DAYS + days, days).values():
            for d in dets:
                if d.expected is not None:  # learning and missing points are not tests
                    per_day.setdefault(d.timestamp, []).append(d)
    raw = kept = tests = 0
    for dets in per_day.values():
        verdicts = control_run([d.p_value for d in dets], [d.is_anomaly for d in dets])
        raw += sum(d.is_anomaly for d in dets)
        kept += sum(v.keep for v in verdicts)
        tests += len(dets)
    return {"raw": raw, "controlled": kept, "tests": tests, "runs": len(per_day)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=2001)
    ap.add_argument("--tables", default="5,500")
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--min-table-days", type=int, default=2000, help="repeat small warehouses")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    out: dict[str, object] = {"seed": a.seed}
    for size in (int(x) for x in a.tables.split(",")):
        reps = max(1, -(-a.min_table_days // (size * a.days)))
        tot = {"raw": 0, "controlled": 0, "tests": 0, "runs": 0}
        for _ in range(reps):
            for k, v in measure(rng, size, a.days).items():
                tot[k] += v
        table_days = size * a.days * reps
        out[f"tables_{size}"] = {
            "warehouses": reps,
            "table_days": table_days,
            "tests_per_run": round(tot["tests"] / tot["runs"]),
            "false_alerts_raw": tot["raw"],
            "false_alerts_controlled": tot["controlled"],
            "raw_per_100_table_days": round(100 * tot["raw"] / table_days, 3),
            "controlled_per_100_table_days": round(100 * tot["controlled"] / table_days, 3),
        }
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
