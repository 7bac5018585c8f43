"""Fan-out over Celery: throughput (tables/s) of one run with 1, 2 and 4 workers, as ratios
to the same run in a single process, as JSON.

The warehouse is generated (``tests/fanout/fleet.py``: hourly tables with field health
on). One backfill run as of END fills a template PostgreSQL store; every measured run
starts from a fresh copy of it (``CREATE DATABASE … TEMPLATE``) and is the next hourly run
(END + 1h), the run a fleet does all day. Worker start-up is outside the timing; the
coordinator's discovery, lineage, grouping and (with ``detect: coordinator``) detection are
inside it. Configurations are interleaved within each repeat, so load from other work on
the machine spreads over all of them; the medians are reported, with every run's figure.

Two detection modes are measured: ``coordinator`` (workers collect, the coordinator
detects over all tables at once: the same results as one process, checked here) and
``workers`` (each chunk detects its own tables: one false-discovery-rate family per chunk).
``--modes dagster`` measures the same run as Dagster ops instead (``execution.type:
dagster``, the worker count as ``max_concurrent``; each op is a fresh process, so its
start-up is inside the timing).

    .venv/bin/python -m bench.fanout [--tables 120] [--days 7] [--workers 1,2,4]
        [--repeats 3] [--modes coordinator,workers] [--broker redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.fanout.fleet import END, Fleet, build_warehouse, fingerprint, write_project
from tests.servers import POSTGRES_URL, reachable


def _admin() -> Any:
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True)


def _url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


def _run(config: Path, when: Any) -> tuple[float, Any, dict[str, Any]]:
    from tidegauge.config import load_project
    from tidegauge.core.clock import Clock
    from tidegauge.runner import run
    from tidegauge.store.store import Store

    project = load_project(config)
    store = Store.open(project.store_url())
    try:
        start = time.perf_counter()
        report = run(project, store, Clock.fixed(when), notify=False)
        seconds = time.perf_counter() - start
        got = fingerprint(store, points=False)
    finally:
        store.close()
    return seconds, report, got


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a[k] == b[k] for k in ("points", "alerts", "incidents", "ledger"))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tables", type=int, default=120)
    ap.add_argument("--days", type=int, default=7, help="history per table")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="coordinator,workers")
    ap.add_argument(
        "--chunk-size",
        type=int,
        default=0,
        help="tables per task (default: tables / 8, so 4 workers share work)",
    )
    ap.add_argument("--no-field-health", action="store_true")
    ap.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args()
    for server in ("postgres", "redis" if args.broker.startswith("redis") else "rabbitmq"):
        if not reachable(server):
            print(json.dumps({"bench": "fanout", "skipped": f"{server} not reachable"}))
            return
    counts = [int(x) for x in args.workers.split(",")]
    modes = args.modes.split(",")
    chunk = args.chunk_size or max(1, (args.tables + 1) // 8)
    field_health = not args.no_field_health
    later = END + timedelta(hours=1)
    tag = uuid.uuid4().hex[:8]
    template = f"tgbench_tmpl_{tag}"
    made: list[str] = []
    admin = _admin()
    out: dict[str, Any] = {
        "bench": "fanout",
        "tables": args.tables + 1,  # and the view
        "field_health": field_health,
        "history_days": args.days,
        "measured": "the hourly run after a backfill (END + 1h), coordinator included",
        "chunk_size": chunk,
        "broker": args.broker.split("://")[0],
        "repeats": args.repeats,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "note": "coordinator, workers, PostgreSQL and DuckDB share these cores",
        },
    }
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        started = time.perf_counter()
        build_warehouse(work / "w.duckdb", args.tables, days=args.days, hours_after=2)
        out["build_seconds"] = round(time.perf_counter() - started, 1)
        try:
            admin.execute(f'CREATE DATABASE "{template}"')
            made.append(template)
            base = work / "template"
            base.mkdir()
            shutil.copy(work / "w.duckdb", base / "w.duckdb")
            backfill, report, _ = _run(
                write_project(
                    base, _url(template), field_health=field_health, history_days=args.days
                ),
                END,
            )
            out["backfill"] = {"seconds": round(backfill, 1), "points": report.points}
            print(json.dumps({"backfill": out["backfill"]}), file=sys.stderr)

            configs: list[tuple[str, int]] = [("single", 1)] + [
                (mode, n) for mode in modes for n in counts
            ]
            seconds: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
            results: dict[tuple[str, int], list[dict[str, Any] | None]] = {c: [] for c in configs}
            for rep in range(args.repeats):
                order = configs[rep % len(configs) :] + configs[: rep % len(configs)]
                for mode, n in order:
                    secs, got = _one(
                        work, admin, template, made, mode, n, args, chunk, field_health, later
                    )
                    seconds[(mode, n)].append(secs)
                    results[(mode, n)].append(got)
                    print(
                        json.dumps(
                            {"repeat": rep, "mode": mode, "workers": n, "seconds": round(secs, 2)}
                        ),
                        file=sys.stderr,
                    )
        finally:
            for name in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

    reference = results[("single", 1)][0]
    assert reference is not None, "the single-process run failed"
    single = statistics.median(seconds[("single", 1)])
    n_tables = args.tables + 1
    out["single"] = {
        "median_seconds": round(single, 2),
        "tables_per_second": round(n_tables / single, 2),
        "runs": [round(s, 2) for s in seconds[("single", 1)]],
    }
    for mode in modes:
        rows = {}
        for n in counts:
            med = statistics.median(seconds[(mode, n)])
            rows[str(n)] = {
                "median_seconds": round(med, 2),
                "tables_per_second": round(n_tables / med, 2),
                "throughput_vs_single": round(single / med, 2),
                "same_results_as_single": all(
                    got is not None and _same(reference, got) for got in results[(mode, n)]
                ),
                "runs": [round(s, 2) for s in seconds[(mode, n)]],
            }
        out["dagster_ops" if mode == "dagster" else f"celery_detect_{mode}"] = rows
    print(json.dumps(out, indent=2))


def _one(
    work: Path,
    admin: Any,
    template: str,
    made: list[str],
    mode: str,
    n: int,
    args: argparse.Namespace,
    chunk: int,
    field_health: bool,
    later: Any,
) -> tuple[float, dict[str, Any] | None]:
    """One measured run on a fresh copy of the backfilled store."""
    name = f"tgbench_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    made.append(name)
    folder = work / name
    folder.mkdir()
    shutil.copy(work / "w.duckdb", folder / "w.duckdb")
    execution = None
    if mode == "dagster":  # n: ops at once in Dagster's multiprocess executor
        execution = f"{{type: dagster, chunk_size: {chunk}, max_concurrent: {n}, timeout: 2h}}"
    elif mode != "single":
        execution = (
            f'{{type: celery, broker: "{args.broker}", queue: {name}, '
            f"chunk_size: {chunk}, detect: {mode}, timeout: 2h}}"
        )
    config = write_project(
        folder, _url(name), field_health=field_health, history_days=args.days, execution=execution
    )
    fleet = None
    try:
        if mode not in ("single", "dagster"):
            from tidegauge.config import load_project
            from tidegauge.fanout.celery_engine import make_app

            fleet = Fleet(config, n, logs=folder / "logs").start()
            app = make_app(load_project(config).execution)
            try:
                fleet.wait_ready(app)
            finally:
                app.close()
        secs, report, got = _run(config, later)
        ok = not report.failed_tables and report.tables == args.tables + 1
        if not ok:
            print(
                json.dumps(
                    {
                        "mode": mode,
                        "workers": n,
                        "failed": report.failed_tables,
                        "tables": report.tables,
                    },
                    default=str,
                )[:2000],
                file=sys.stderr,
            )
        return secs, got if ok else None
    finally:
        if fleet is not None:
            fleet.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        made.remove(name)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
