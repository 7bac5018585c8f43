"""Where a first run's CPU goes, by phase, for one or more source trees, interleaved.

    .venv/bin/python bench/collect_phases.py --tree old=/tmp/old --tree new=. --rounds 3

For each round and tree: ``tidegauge init`` in a fresh project over bench/collect.py's table,
then ``tidegauge run`` in a process whose phases are timed with ``time.process_time()``
(the process's CPU, DuckDB's threads included): each warehouse query by the monitor its
comment names (``field_health``, ``categorical``, the rest), the Python of the profile and
categorical steps around their queries, the store write of the collected points, detection,
the imports done before the run starts, and the rest. Prints one JSON line per run, then the
medians per tree. CPU, not wall time: on a shared machine wall time is mostly other jobs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import collect  # noqa: E402  (bench/collect.py: the table, the environment, the clock)

#: runs ``tidegauge ARGS`` in this process with CPU timers around its phases; prints the
#: phases as one JSON line on stderr, prefixed ``PHASES``
TIMED_RUN = """
import atexit, collections, json, runpy, sys, time
T0 = time.process_time()
spent = collections.Counter()
open_phases = []

def timed(name, fn):
    def wrapper(*args, **kwargs):
        t = time.process_time()
        open_phases.append(name)
        try:
            return fn(*args, **kwargs)
        finally:
            open_phases.pop()
            d = time.process_time() - t
            spent[name] += d
            if open_phases:  # a phase inside another: counted once, in the inner one
                spent[open_phases[-1]] -= d
    return wrapper

import tidegauge.cli.main
import tidegauge.collector as collector
import tidegauge.steps.collect as collect_step
import tidegauge.steps.detect as detect_step
import tidegauge.warehouses.duckdb as duck

execute_sql = duck.DuckDBWarehouse._execute_sql

def query(self, sql):
    head = sql[:80]
    name = ("profile query" if "field_health" in head
            else "categorical query" if "categorical" in head else "other queries")
    return timed(name, execute_sql)(self, sql)

duck.DuckDBWarehouse._execute_sql = query
collector.profile = timed("profile Python", collector.profile)
collector.categorical = timed("categorical Python", collector.categorical)
collect_step.write_collected = timed("store write", collect_step.write_collected)
detect_step.detect_tables = timed("detection", detect_step.detect_tables)
T1 = time.process_time()

def report():
    total = time.process_time() - T0
    out = {k: round(v, 3) for k, v in spent.items()}
    out["imports before the run"] = round(T1 - T0, 3)
    out["rest"] = round(total - (T1 - T0) - sum(spent.values()), 3)
    out["total"] = round(total, 3)
    print("PHASES " + json.dumps(out), file=sys.stderr)

atexit.register(report)
sys.argv = ["tidegauge", *sys.argv[1:]]
runpy.run_module("tidegauge.cli.main", run_name="__main__")
"""

PHASES = (
    "profile query",
    "categorical query",
    "other queries",
    "profile Python",
    "categorical Python",
    "store write",
    "detection",
    "imports before the run",
    "rest",
    "total",
)


def one_run(db: Path, project: Path) -> dict[str, float]:
    """``init`` then the timed first ``run`` of the tree ``collect.ROOT`` points at."""
    collect._tidegauge(project, "init", "-w", f"duckdb:///{db}")
    proc = subprocess.run(
        [sys.executable, "-c", TIMED_RUN, "run", "--now", collect.NOW.isoformat(), "--json",
         "--no-notify"],
        cwd=project, env=collect.child_env(), capture_output=True, text=True,
    )  # fmt: skip
    lines = [x for x in proc.stderr.splitlines() if x.startswith("PHASES ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"tidegauge run failed:\n{proc.stderr[-3000:]}")
    phases: dict[str, float] = json.loads(lines[-1].removeprefix("PHASES "))
    return phases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tree", action="append", required=True, metavar="NAME=PATH",
                    help="a source tree to time (repeat)")  # fmt: skip
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    trees: dict[str, Path] = {}
    for spec in args.tree:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--tree {spec!r}: expected NAME=PATH")
        trees[name] = Path(path).resolve()
    collect.ensure_duckdb(args.rows)  # built before the temporary directory it goes beside
    out: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(dir=collect.DATA) as d:
        work = Path(d)
        copy = collect.working_copy(args.rows, work)
        for root in trees.values():  # each tree's modules compiled once, untimed
            collect.ROOT = root
            one_run(copy, Path(tempfile.mkdtemp(dir=work)))
        for i in range(args.rounds):
            order = list(trees.items())
            for name, root in order if i % 2 == 0 else order[::-1]:
                collect.ROOT = root
                phases = one_run(copy, Path(tempfile.mkdtemp(dir=work)))
                out[name].append(phases)
                print(json.dumps({"tree": name, "round": i, **phases}), flush=True)
    medians: dict[str, Any] = {
        name: {k: round(statistics.median(r.get(k, 0.0) for r in runs), 3) for k in PHASES}
        for name, runs in out.items()
    }
    print(json.dumps({"rows": args.rows, "rounds": args.rounds, "medians": medians}, indent=1))


if __name__ == "__main__":
    main()
