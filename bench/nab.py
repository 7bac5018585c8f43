"""Run tidegauge's streaming detector over the Numenta Anomaly Benchmark and score it.

    python -m bench.nab --out /tmp/nab_out [--jobs 2] [--files realTweets,realTraffic]
    python -m bench.nab --out /tmp/nab_out --score-only     # re-score a written folder
    python -m bench.nab --out /tmp/nab_out --validate       # also check the scorer
    python -m bench.nab --out /tmp/nab_out --save-raw /tmp/nab_raw  # keep every view's p-values

Streaming: every row gets a tail probability from ``high_frequency_scores``
(core/detectors/highfreq.py: the function the product's detection step runs on series of 15-minute
buckets or finer; the few coarser files get the same ``ensemble_scores`` directly, listed as
``coarser_files``) computed from earlier rows only: the change views of
``stream_scores`` (core/detectors/stream.py) and the context novelty of ``context_scores``,
combined by Bonferroni. A row alerts when ``p <= alpha`` and starts a new event (an event ends
after a quarter of a day of unsurprising rows: one alert per event). The threshold ``alpha`` is
reported two ways:

- **fixed in advance**: ``FIXED_LOG_ALPHA`` (1e-2.5), chosen on the development categories
  (``DEV_CATEGORIES``) before any other category was run; the JSON also gives the score on the
  held-out categories only;
- **leave-one-category-out**, per profile: for each category, the ``GRID`` value that scores best
  on the other categories is applied to it.

The folder written holds the standard profile's leave-one-category-out alerts in NAB format
(``anomaly_score >= 0.5`` exactly on alerting rows), so anyone can re-score it; ``rescored_folder``
in the JSON is that folder scored at its single 0.5 threshold for all three profiles.

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
from tidegauge.core.detectors.context import ensemble_scores
from tidegauge.core.detectors.highfreq import HIGH_FREQUENCY_POINTS_PER_DAY, high_frequency_scores
from tidegauge.core.detectors.seasonal import infer_bucket
from tidegauge.core.detectors.stream import alerts_from, quiet_points

NAB = Path(os.environ.get("NAB_ROOT", Path(__file__).resolve().parents[2] / "shared/datasets/nab"))
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
THRESHOLD = 0.5
#: candidate per-point test levels (log10) for leave-one-category-out selection
GRID = (-1.5, -2.0, -2.5, -3.0, -3.5, -4.0, -4.5, -5.0, -6.0)
#: the fixed threshold: chosen on the development categories only, before any other category
#: was run (see the module docstring)
FIXED_LOG_ALPHA = -2.5
DEV_CATEGORIES = ("artificialWithAnomaly", "realKnownCause", "realAdExchange")


# ---------------------------------------------------------------------------------------------
# detector


def read_series(path: Path) -> tuple[list[datetime], np.ndarray]:
    with path.open() as f:
        rows = list(csv.reader(f))[1:]
    ts = [datetime.fromisoformat(r[0]) for r in rows]
    return ts, np.array([float(r[1]) for r in rows])


def _run_one(
    rel: str, raw_dir: Path | None = None
) -> tuple[str, list[datetime], np.ndarray, np.ndarray, float, float]:
    """Detect one file; with ``raw_dir``, also save every view's p-value per row (``.npz``)
    so that combinations and alert rules can be studied without re-running detection."""
    t0 = time.perf_counter()
    ts, y = read_series(NAB / "data" / rel)
    t = np.array([x.timestamp() for x in ts])
    per_day = 86400.0 / infer_bucket(t)
    # the product's detector for 15-minute buckets or finer (steps/detect.py runs the same
    # function); a coarser file, which the product tests with its seasonal detector, gets the
    # same ensemble directly (reported apart: ``coarser_files``)
    hf = high_frequency_scores(ts, y, DetectorSettings())
    if hf is not None:
        # the series as the product tests it: sorted, the last of a duplicated timestamp kept
        # (8 files repeat a timestamp, one is out of order); each row gets its timestamp's
        at = {x: i for i, x in enumerate(hf.series.stamps)}
        rows = np.array([at[x] for x in ts])
        res = hf.scores
        p, feature_p = res.p_value[rows], res.stream.feature_p[rows]
        stream_p, context_p = res.stream.p_value[rows], res.context.p_value[rows]
    else:
        res = ensemble_scores(y, per_day, DetectorSettings())
        p, feature_p = res.p_value, res.stream.feature_p
        stream_p, context_p = res.stream.p_value, res.context.p_value
    if raw_dir is not None:
        raw_dir.mkdir(parents=True, exist_ok=True)
        np.savez(
            raw_dir / (rel.replace("/", "__") + ".npz"),
            t=t,
            y=y,
            p=p,
            feature_p=feature_p,
            stream_p=stream_p,
            context_p=context_p,
            per_day=np.array([per_day]),
        )
    return rel, ts, y, p, per_day, time.perf_counter() - t0


def write_file(
    out: Path,
    rel: str,
    ts: list[datetime],
    y: np.ndarray,
    p: np.ndarray,
    alerts: np.ndarray,
    alpha: float,
) -> None:
    """NAB format; ``anomaly_score >= 0.5`` exactly on the rows that alert."""
    s = np.clip(0.5 * np.log(np.maximum(p, 1e-300)) / math.log(alpha), 0.0, 1.0)
    scores = np.where(alerts, np.maximum(s, THRESHOLD), np.minimum(s, THRESHOLD - 0.01))
    dest = out / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value", "anomaly_score"])
        for a, b, c in zip(ts, y, scores, strict=True):
            w.writerow([a.strftime("%Y-%m-%d %H:%M:%S"), repr(float(b)), f"{c:.6f}"])


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
    return {
        "score": fp_total + sum(window_best.values()),
        "tp_rows": tp,
        "fp": fp,
        "windows": len(window_best),
        "detected_windows": detected,
    }


def load_profiles() -> dict[str, dict[str, float]]:
    raw = json.loads((NAB / "config/profiles.json").read_text())
    return {k: v["CostMatrix"] for k, v in raw.items()}


def _nab_stamp(s: str) -> str:
    return datetime.fromisoformat(s.split(".")[0]).strftime("%Y-%m-%d %H:%M:%S")


def score_folder(folder: Path, only: str = "") -> dict[str, object]:
    """Score a NAB-format results folder for the three profiles (files containing ``only``)."""
    windows = json.loads((NAB / "labels/combined_windows.json").read_text())
    parts = [o for o in only.split(",") if o] or [""]
    windows = {k: v for k, v in windows.items() if any(o in k for o in parts)}
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
        out[prof] = round(100.0 * (raw - null) / (perfect - null), 2) if perfect > null else None
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
    return {
        "null_per_file_checked": checked,
        "null_per_file_mismatches": mismatches,
        "normalisation_ours_vs_published": norm,
    }


def evaluate(
    folder: Path,
    runs: dict[str, tuple[list[datetime], np.ndarray, np.ndarray, float]],
    only: str = "",
) -> dict[str, object]:
    """Scores at the fixed threshold and by leave-one-category-out over ``GRID``."""
    windows = json.loads((NAB / "labels/combined_windows.json").read_text())
    profiles = load_profiles()
    rels = sorted(runs)
    cat = {r: r.split("/")[0] for r in rels}
    cats = sorted(set(cat.values()))
    raw: dict[tuple[str, str, float], float] = {}
    base: dict[tuple[str, str], tuple[float, float]] = {}
    counts: dict[tuple[str, float], tuple[int, int, int]] = {}
    alerts_at: dict[tuple[str, float], np.ndarray] = {}
    product: dict[str, float] = {}
    for rel in rels:
        ts, _, p, per_day = runs[rel]
        stamps = [x.strftime("%Y-%m-%d %H:%M:%S") for x in ts]
        w = [[_nab_stamp(a), _nab_stamp(b)] for a, b in windows[rel]]
        idx = {x: i for i, x in enumerate(stamps)}
        perf = [False] * len(stamps)
        for a, _ in w:
            perf[idx[a]] = True
        for prof in PROFILES:
            c = profiles[prof]
            base[(rel, prof)] = (
                score_file(stamps, [False] * len(stamps), w, c)["score"],
                score_file(stamps, perf, w, c)["score"],
            )
        product[rel] = math.log10(DetectorSettings().point_alpha(per_day))
        for la in (*GRID, product[rel]):
            al = alerts_from(p, 10.0**la, quiet_points(per_day))
            alerts_at[(rel, la)] = al
            for prof in PROFILES:
                r = score_file(stamps, list(al), w, profiles[prof])
                raw[(rel, prof, la)] = r["score"]
                if prof == "standard":
                    counts[(rel, la)] = (r["windows"], r["detected_windows"], r["fp"])

    def norm(files: list[str], prof: str, pick: dict[str, float]) -> float | None:
        null = sum(base[(r, prof)][0] for r in files)
        perfect = sum(base[(r, prof)][1] for r in files)
        got = sum(raw[(r, prof, pick[r])] for r in files)
        return round(100.0 * (got - null) / (perfect - null), 2) if perfect > null else None

    def per_category(pick: dict[str, float]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in rels:
            c = out.setdefault(cat[r], {"windows": 0, "detected": 0, "fp": 0})
            wn, det, fp = counts[(r, pick[r])]
            c["windows"] += wn
            c["detected"] += det
            c["fp"] += fp
        return out

    def fa_per_1000(pick: dict[str, float]) -> float:
        n_pts = n_fa = 0
        for r in rels:
            if cat[r] != "artificialNoAnomaly":
                continue
            al = alerts_at[(r, pick[r])]
            probation = min(math.floor(0.15 * al.size), 750)
            n_pts += al.size - probation
            n_fa += int(al[probation:].sum())
        return round(1000.0 * n_fa / max(n_pts, 1), 3)

    result: dict[str, object] = {}
    fixed = dict.fromkeys(rels, FIXED_LOG_ALPHA)
    result["fixed_threshold"] = {
        "log10_alpha": FIXED_LOG_ALPHA,
        **{prof: norm(rels, prof, fixed) for prof in PROFILES},
        "held_out_categories_only": {
            prof: norm([r for r in rels if cat[r] not in DEV_CATEGORIES], prof, fixed)
            for prof in PROFILES
        },
        "per_category_standard": per_category(fixed),
        "artificialNoAnomaly_false_alarms_per_1000": fa_per_1000(fixed),
    }
    # what the product alerts on by default: the medium sensitivity's per-point level
    result["product_default_sensitivity"] = {
        **{prof: norm(rels, prof, product) for prof in PROFILES},
        "per_category_standard": per_category(product),
        "artificialNoAnomaly_false_alarms_per_1000": fa_per_1000(product),
    }
    result["coarser_files"] = sorted(r for r in rels if runs[r][3] < HIGH_FREQUENCY_POINTS_PER_DAY)
    loco: dict[str, object] = {}
    loco_std: dict[str, float] = {}
    for prof in PROFILES:
        pick: dict[str, float] = {}
        chosen: dict[str, float] = {}
        for c in cats:
            train = [r for r in rels if cat[r] != c]
            best = max(
                GRID, key=lambda la: (norm(train, prof, dict.fromkeys(train, la)) or 0.0, -la)
            )
            chosen[c] = best
            pick.update(dict.fromkeys([r for r in rels if cat[r] == c], best))
        loco[prof] = norm(rels, prof, pick)
        loco[f"{prof}_log10_alpha_per_category"] = chosen
        if prof == "standard":
            loco_std = pick
    loco["per_category_standard"] = per_category(loco_std)
    loco["artificialNoAnomaly_false_alarms_per_1000"] = fa_per_1000(loco_std)
    result["leave_one_category_out"] = loco
    for rel in rels:  # the folder holds the standard profile's leave-one-category-out alerts
        ts, y, p, _ = runs[rel]
        la = loco_std[rel]
        write_file(folder, rel, ts, y, p, alerts_at[(rel, la)], 10.0**la)
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument(
        "--files", default="", help="only files whose path contains one of these (comma-separated)"
    )
    ap.add_argument(
        "--score-only",
        action="store_true",
        help="re-score an existing results folder at its own 0.5 threshold",
    )
    ap.add_argument("--validate", action="store_true")
    ap.add_argument("--save-raw", type=Path, help="also save per-row view p-values here (.npz)")
    a = ap.parse_args(argv)
    result: dict[str, object] = {}
    if a.validate:
        result["scorer_validation"] = validate()
    if a.score_only:
        result.update(score_folder(a.out, a.files))
        print(json.dumps(result, indent=2))
        return
    rels = sorted(json.loads((NAB / "labels/combined_windows.json").read_text()))
    parts = [o for o in a.files.split(",") if o] or [""]
    rels = [r for r in rels if any(o in r for o in parts)]
    t0 = time.perf_counter()
    runs: dict[str, tuple[list[datetime], np.ndarray, np.ndarray, float]] = {}
    if a.jobs > 1:
        with ProcessPoolExecutor(a.jobs) as ex:
            raw = [a.save_raw] * len(rels)
            for rel, ts, y, p, per_day, dt in ex.map(_run_one, rels, raw):
                runs[rel] = (ts, y, p, per_day)
                print(f"{rel} {dt:.1f}s", file=sys.stderr)
    else:
        for r in rels:
            rel, ts, y, p, per_day, dt = _run_one(r, a.save_raw)
            runs[rel] = (ts, y, p, per_day)
            print(f"{rel} {dt:.1f}s", file=sys.stderr)
    result["detect_seconds"] = round(time.perf_counter() - t0, 1)
    result.update(evaluate(a.out, runs))
    result["rescored_folder"] = score_folder(a.out, a.files)
    if a.files:
        result["subset"] = a.files
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
