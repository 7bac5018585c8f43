"""Run tidegauge's seasonal detector over the Numenta Anomaly Benchmark and score it.

    python -m bench.nab --out /tmp/nab_out [--jobs 2] [--files realTweets] [--validate]

Streaming: every row is scored by ``SeasonalDetector.evaluate`` against a baseline fitted only
on earlier rows (refitted every quarter day of rows). The score written is
``0.5 * log(p) / log(alpha)`` clipped to [0, 1], so ``>= 0.5`` exactly when the detector alerts
at its *default* sensitivity: the threshold is fixed in advance, never tuned on NAB. After an
alert the detector stays quiet for one day of rows (one alert per series per day, like HTM's
suppression), which is detector design, not scoring.

The scorer re-implements NAB v1.1's rules (see ``score_file``): probation of the first 15% of
rows (at most 750), best detection per window by the scaled sigmoid of its position, every
detection outside windows costs ``fpWeight`` times the sigmoid of its distance past the previous
window, a missed window costs ``fnWeight``, and the total is normalised between the null
detector (0) and the perfect one (100). ``--validate`` checks it against NAB's published
results: the null detector's per-file scores, and the normalisation of published raw totals.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np

from tidegauge.core.detectors.base import DetectorSettings
from tidegauge.core.detectors.seasonal import SeasonalDetector, infer_bucket

NAB = Path(os.environ.get("NAB_ROOT", Path(__file__).resolve().parents[2] / "shared/datasets/nab"))
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
THRESHOLD = 0.5


# ---------------------------------------------------------------------------------------------
# detector


def read_series(path: Path) -> tuple[list[datetime], np.ndarray]:
    with path.open() as f:
        rows = list(csv.reader(f))[1:]
    ts = [datetime.fromisoformat(r[0]) for r in rows]
    return ts, np.array([float(r[1]) for r in rows])


def detect_file(path: Path) -> tuple[list[datetime], np.ndarray, np.ndarray]:
    ts, y = read_series(path)
    t = np.array([x.timestamp() for x in ts])
    per_day = 86400.0 / infer_bucket(t)
    settings = DetectorSettings()
    dets = SeasonalDetector(settings).evaluate(ts, y, test_from=ts[0])
    by_time = {d.timestamp: d for d in dets}
    alpha = settings.point_alpha(per_day)
    quiet = max(1, round(per_day))
    scores = np.zeros(len(ts))
    last_alert = -10**9
    for i, stamp in enumerate(ts):
        d = by_time.get(stamp)
        if d is None or d.observed is None or d.details.get("status"):
            continue
        p = max(d.p_value, 1e-300)
        s = min(1.0, 0.5 * math.log(p) / math.log(alpha)) if p < 1 else 0.0
        if d.is_anomaly and i - last_alert > quiet:
            scores[i] = max(s, THRESHOLD)
            last_alert = i
        else:
            scores[i] = min(s, THRESHOLD - 0.01)
    return ts, y, scores


def _run_one(args: tuple[str, str]) -> tuple[str, float]:
    rel, out = args
    t0 = time.perf_counter()
    ts, y, scores = detect_file(NAB / "data" / rel)
    dest = Path(out) / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value", "anomaly_score"])
        for a, b, c in zip(ts, y, scores, strict=True):
            w.writerow([a.strftime("%Y-%m-%d %H:%M:%S"), repr(float(b)), f"{c:.6f}"])
    return rel, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# scorer (NAB v1.1 rules, written from the published description)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def scaled_sigmoid(pos: float) -> float:
    return -1.0 if pos >= 3.0 else 2.0 * _sigmoid(-5.0 * pos) - 1.0


def score_file(
    timestamps: list[str], alerts: list[bool], windows: list[list[str]], cost: dict[str, float]
) -> dict[str, float]:
    """Raw NAB score of one file at a fixed threshold, with TP/FP/FN counts."""
    n = len(timestamps)
    probation = min(math.floor(0.15 * n), 0.15 * 5000)
    index = {s: i for i, s in enumerate(timestamps)}
    max_tp = scaled_sigmoid(-1.0)
    wins = [(index[a], index[b]) for a, b in windows]
    in_window = [-1] * n
    for k, (a, b) in enumerate(wins):
        for i in range(a, b + 1):
            in_window[i] = k
    window_best: dict[int, float] = {}
    for k, (a, b) in enumerate(wins):
        if any(i >= probation for i in range(a, b + 1)):
            window_best[k] = -cost["fnWeight"]
    fp_total, tp, fp = 0.0, 0, 0
    prev_right: int | None = None
    prev_width = 0.0
    for i in range(n):
        k = in_window[i]
        if k >= 0:
            a, b = wins[k]
            width = float(b - a + 1)
            weighted = scaled_sigmoid(-(b - i + 1) / width) * cost["tpWeight"] / max_tp
        else:
            pos = 3.0 if prev_right is None else abs(prev_right - i) / (prev_width - 1.0)
            weighted = scaled_sigmoid(pos) * cost["fpWeight"]
        if i >= probation and alerts[i]:
            if k >= 0:
                tp += 1
                window_best[k] = max(window_best[k], weighted)
            else:
                fp += 1
                fp_total += weighted
        if k >= 0 and i == wins[k][1]:
            prev_right, prev_width = i, float(wins[k][1] - wins[k][0] + 1)
    detected = sum(1 for k, v in window_best.items() if v > -cost["fnWeight"])
    return {"score": fp_total + sum(window_best.values()), "tp_rows": tp, "fp": fp,
            "windows": len(window_best), "detected_windows": detected}


def load_profiles() -> dict[str, dict[str, float]]:
    raw = json.loads((NAB / "config/profiles.json").read_text())
    return {k: v["CostMatrix"] for k, v in raw.items()}


def _nab_stamp(s: str) -> str:
    return datetime.fromisoformat(s.split(".")[0]).strftime("%Y-%m-%d %H:%M:%S")


def score_folder(folder: Path) -> dict[str, object]:
    """Score a NAB-format results folder for the three profiles."""
    windows = json.loads((NAB / "labels/combined_windows.json").read_text())
    profiles = load_profiles()
    out: dict[str, object] = {}
    per_file: dict[str, dict[str, float]] = {}
    for prof in PROFILES:
        cost = profiles[prof]
        raw = null = perfect = 0.0
        for rel, wl in sorted(windows.items()):
            with (folder / rel).open() as f:
                rows = list(csv.reader(f))[1:]
            stamps = [r[0] for r in rows]
            alerts = [float(r[2]) >= THRESHOLD for r in rows]
            w = [[_nab_stamp(a), _nab_stamp(b)] for a, b in wl]
            res = score_file(stamps, alerts, w, cost)
            raw += res["score"]
            null += score_file(stamps, [False] * len(stamps), w, cost)["score"]
            perf = [False] * len(stamps)
            idx = {s: i for i, s in enumerate(stamps)}
            for a, _ in w:
                perf[idx[a]] = True
            perfect += score_file(stamps, perf, w, cost)["score"]
            if prof == "standard":
                per_file[rel] = res
        out[prof] = round(100.0 * (raw - null) / (perfect - null), 2)
    cats: dict[str, dict[str, float]] = {}
    for rel, r in per_file.items():
        c = cats.setdefault(rel.split("/")[0], {"windows": 0, "detected": 0, "fp": 0})
        c["windows"] += r["windows"]
        c["detected"] += r["detected_windows"]
        c["fp"] += r["fp"]
    out["per_category_standard"] = cats
    noanom = [rel for rel in windows if rel.startswith("artificialNoAnomaly/")]
    n_pts = n_fa = 0
    for rel in noanom:
        with (folder / rel).open() as f:
            rows = list(csv.reader(f))[1:]
        probation = min(math.floor(0.15 * len(rows)), 750)
        n_pts += len(rows) - probation
        n_fa += sum(float(r[2]) >= THRESHOLD for r in rows[probation:])
    out["artificialNoAnomaly_false_alarms_per_1000"] = round(1000.0 * n_fa / max(n_pts, 1), 3)
    return out


def validate() -> dict[str, object]:
    """Check the scorer against NAB's published results."""
    windows = json.loads((NAB / "labels/combined_windows.json").read_text())
    profiles = load_profiles()
    mismatches = 0
    checked = 0
    for prof in PROFILES:
        with (NAB / f"results/null/null_{prof}_scores.csv").open() as f:
            rows = [r for r in csv.DictReader(f) if r["File"] != "Totals" and r["File"]]
        for r in rows:
            rel = r["File"]
            stamps = [x[0] for x in list(csv.reader((NAB / "data" / rel).open()))[1:]]
            w = [[_nab_stamp(a), _nab_stamp(b)] for a, b in windows[rel]]
            ours = score_file(stamps, [False] * len(stamps), w, profiles[prof])["score"]
            checked += 1
            mismatches += abs(ours - float(r["Score"])) > 1e-9
    final = json.loads((NAB / "results/final_results.json").read_text())
    norm = {}
    n_win = sum(len(v) for v in windows.values())
    for det in ("numenta", "twitterADVec", "windowedGaussian"):
        for prof in PROFILES:
            with (NAB / f"results/{det}/{det}_{prof}_scores.csv").open() as f:
                tot = next(r for r in csv.DictReader(f) if r["Detector"] == "Totals")
            null = -profiles[prof]["fnWeight"] * n_win
            perfect = profiles[prof]["tpWeight"] * n_win
            ours = 100 * (float(tot["Score"]) - null) / (perfect - null)
            norm[f"{det}/{prof}"] = [round(ours, 4), round(final[det][prof], 4)]
    return {"null_per_file_checked": checked, "null_per_file_mismatches": mismatches,
            "normalisation_ours_vs_published": norm}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--files", default="", help="only files whose path contains this")
    ap.add_argument("--score-only", action="store_true")
    ap.add_argument("--validate", action="store_true")
    a = ap.parse_args(argv)
    result: dict[str, object] = {}
    if a.validate:
        result["scorer_validation"] = validate()
    rels = sorted(json.loads((NAB / "labels/combined_windows.json").read_text()))
    rels = [r for r in rels if a.files in r]
    t0 = time.perf_counter()
    if not a.score_only:
        jobs = [(r, str(a.out)) for r in rels]
        if a.jobs > 1:
            with ProcessPoolExecutor(a.jobs) as ex:
                for rel, dt in ex.map(_run_one, jobs):
                    print(f"{rel} {dt:.1f}s", file=sys.stderr)
        else:
            for j in jobs:
                rel, dt = _run_one(j)
                print(f"{rel} {dt:.1f}s", file=sys.stderr)
    result["detect_seconds"] = round(time.perf_counter() - t0, 1)
    if not a.files:
        result.update(score_folder(a.out))
    result["threshold"] = "fixed in advance: alert iff p <= the default MEDIUM per-point alpha"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
