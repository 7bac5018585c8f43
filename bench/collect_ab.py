"""Two source trees' first runs over the bench-collect table, interleaved in one run: for
each round and each tree (alternating which goes first), the hand-written scan, ``tidegauge
init`` and the first ``tidegauge run``, as bench/collect.py runs them, with each process's
wall time and CPU seconds (user + system, from the children's rusage: on a busy machine
wall time is mostly other jobs' load). Prints one JSON line per round and tree, then the
medians per tree.

    git archive <old commit> | tar -x -C /tmp/old     # a clean copy of the old tree
    .venv/bin/python bench/collect_ab.py --old /tmp/old --new . --rows 10000000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import collect  # noqa: E402  (bench/collect.py: the table, the hand-written scan, the runs)


def one_round(db: Path, work: Path, name: str, tag: str) -> dict[str, Any]:
    """The hand-written scan, init and the first run of the tree ``collect.ROOT`` points at."""
    rec: dict[str, Any] = {"tree": name, "load1": os.getloadavg()[0]}
    c0, t0 = collect.children_cpu(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, collect.__file__, "--hand-worker", str(db)],
        env=collect.child_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    rec["hand_wall"], rec["hand_cpu"] = time.perf_counter() - t0, collect.children_cpu() - c0
    hand = json.loads(proc.stdout.strip().splitlines()[-1])
    rec["hand_query"], rec["hand_rss"] = hand["query_seconds"], hand["peak_rss_mb"]
    project = work / f"project-{tag}"
    project.mkdir()
    c0 = collect.children_cpu()
    rec["init_wall"], _, _ = collect._tidegauge(project, "init", "-w", f"duckdb:///{db}")
    rec["init_cpu"] = collect.children_cpu() - c0
    c0 = collect.children_cpu()
    now = collect.NOW.isoformat()
    rec["run_wall"], rec["run_rss"], out = collect._tidegauge(
        project, "run", "--now", now, "--json", "--no-notify"
    )
    rec["run_cpu"] = collect.children_cpu() - c0
    report = collect._report(out)
    ledger = collect._ledger(project, report["run_id"])
    rec["field_health_scan"] = ledger["by_monitor"]["field_health"]["seconds"]
    rec["categorical_query"] = ledger["by_monitor"].get("categorical", {}).get("seconds", 0.0)
    rec["points"] = report["points"]
    rec["first_wall"] = rec["init_wall"] + rec["run_wall"]
    rec["first_cpu"] = rec["init_cpu"] + rec["run_cpu"]
    rec["first_over_hand_wall"] = rec["first_wall"] / rec["hand_wall"]
    rec["first_over_hand_cpu"] = rec["first_cpu"] / rec["hand_cpu"]
    rec["profile_over_hand_query"] = rec["field_health_scan"] / rec["hand_query"]
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--old", type=Path, required=True, help="the old source tree")
    ap.add_argument("--new", type=Path, required=True, help="the new source tree")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    collect.ensure_duckdb(args.rows)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(dir=collect.DATA) as d:
        work = Path(d)
        copy = collect.working_copy(args.rows, work)
        for name, root in trees.items():  # each tree's modules compiled once, untimed
            collect.ROOT = root
            warm = work / f"warm-{name}"
            warm.mkdir()
            collect._tidegauge(warm, "init", "-w", f"duckdb:///{copy}")
            collect._tidegauge(warm, "run", "--now", collect.NOW.isoformat(), "--json")
        for i in range(args.rounds):
            order = list(trees.items())
            for name, root in order if i % 2 == 0 else order[::-1]:
                collect.ROOT = root
                rec = one_round(copy, work, name, f"{name}-{i}")
                out[name].append(rec)
                print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                  for k, v in rec.items()}), flush=True)  # fmt: skip
    medians = {
        name: {
            k: round(statistics.median(float(r[k]) for r in recs), 3)
            for k, v in recs[0].items()
            if isinstance(v, int | float)
        }
        for name, recs in out.items()
    }
    print(json.dumps({"rows": args.rows, "rounds": args.rounds, "medians": medians}, indent=1))


if __name__ == "__main__":
    main()
