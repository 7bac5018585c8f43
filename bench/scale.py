"""Scale: one metadata-only run (discover + freshness/volume/schema) over N tables, as JSON.

Generates N small tables (id, name, amount; 10 rows; no timestamp column, so there is no
timestamp scan) on each engine, then times one ``tidegauge.runner.run`` with
``tables: [{match: "*", field_health: false, categorical: false}]`` and a SQLite store, in a
child process per engine so that peak RSS (VmHWM) is that run's alone.
DuckDB reads row counts from metadata; PostgreSQL has none it can trust, so it counts rows
(small tables 100 to a statement, see ``tidegauge/steps/counts.py``).

    .venv/bin/python -m bench.scale [--tables 10000] [--engines duckdb,postgres]

Targets (issue 17): <= 5 s and <= 500 MB peak RSS per engine at 10,000 tables, and the
second run (nothing changed, an hour later) faster than the first. ``meets_targets``
judges the wall time; the CPU seconds and load averages beside it say how much of that
wall time was spent waiting for a CPU on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.servers import POSTGRES_URL, reachable

TARGET_SECONDS = 5.0
TARGET_MB = 500.0
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def build_duckdb(path: Path, n: int) -> float:
    import duckdb

    start = time.perf_counter()
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA s")
    con.execute("BEGIN")
    for i in range(n):
        con.execute(
            f"CREATE TABLE s.t_{i:05d} AS SELECT range AS id, 'x' || range AS name, "
            "CAST(range AS DECIMAL(12, 2)) AS amount FROM range(10)"
        )
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - start


def build_postgres(schema: str, n: int) -> float:
    import psycopg

    start = time.perf_counter()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
        for lo in range(0, n, 500):  # 500 tables per transaction: stays within the lock table
            hi = min(n, lo + 500) - 1
            con.execute(
                f"""
                DO $$ BEGIN
                  FOR i IN {lo}..{hi} LOOP
                    EXECUTE format('CREATE TABLE %I.%I AS SELECT g AS id, ''x'' || g AS name,
                                    g::numeric(12, 2) AS amount FROM generate_series(1, 10) g',
                                   '{schema}', 't_' || lpad(i::text, 5, '0'));
                  END LOOP;
                END $$;
                """
            )
        con.execute("ANALYZE")  # statistics, as a loaded warehouse has them
    return time.perf_counter() - start


def drop_postgres(schema: str) -> None:
    """Drop 500 tables per transaction: one DROP SCHEMA CASCADE of 10,000 tables needs more
    locks than the default lock table holds (out of shared memory)."""
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        while True:
            names = [
                r[0]
                for r in con.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s LIMIT 500", [schema]
                )
            ]
            if not names:
                break
            con.execute("DROP TABLE " + ", ".join(f'"{schema}"."{n}"' for n in names))
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ``getrusage``: Linux carries ru_maxrss over
    fork+exec, so a child would report the parent's peak (the DuckDB build's)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(engine: str, workdir: Path, target: str) -> dict[str, Any]:
    """One run in this process; returns timings and peak RSS."""
    from tidegauge.config import load_project
    from tidegauge.core.clock import Clock
    from tidegauge.runner import run
    from tidegauge.store.store import Store

    wh = (
        f"{{type: duckdb, path: {target}}}"
        if engine == "duckdb"
        else f'{{type: postgres, url: "{POSTGRES_URL}", include: [{target}]}}'
    )
    (workdir / "tidegauge.yml").write_text(
        f"""
warehouses: [{wh}]
store: {{url: "sqlite:///state-{engine}.db"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
"""
    )
    rss_before = peak_rss_mb()
    project = load_project(workdir / "tidegauge.yml")
    store = Store.open(project.store_url())
    load_before = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    report = run(project, store, Clock.fixed(NOW), notify=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    second: float | None = None
    second_cpu: float | None = None
    if os.environ.get("TG_SCALE_SECOND_RUN", "1") == "1":  # the steady state, an hour later
        second_start, second_cpu = time.perf_counter(), time.process_time()
        run(project, store, Clock.fixed(NOW.replace(hour=13)), notify=False)
        second = time.perf_counter() - second_start
        second_cpu = time.process_time() - second_cpu
    peak = peak_rss_mb()
    return {
        "tables": report.tables,
        "failed_tables": len(report.failed_tables),
        "points": report.points,
        "first_run_seconds": round(seconds, 2),
        "second_run_seconds": None if second is None else round(second, 2),
        # CPU of this process (all its threads; not the PostgreSQL server's): on a shared
        # machine the wall time above includes waiting for the CPU, this does not
        "first_run_cpu_seconds": round(cpu, 2),
        "second_run_cpu_seconds": None if second_cpu is None else round(second_cpu, 2),
        # 1-minute load average when the run started and ended (the machine has ``cpus``)
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "peak_rss_mb": round(peak, 1),
        "rss_after_import_mb": round(rss_before, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tables", type=int, default=10_000)
    ap.add_argument("--engines", default="duckdb,postgres")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--target", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.workdir), args.target)))
        return

    out: dict[str, Any] = {
        "bench": "scale",
        "tables": args.tables,
        "targets": {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_MB},
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "engines": {},
    }
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        for engine in args.engines.split(","):
            if engine == "postgres" and not reachable("postgres"):
                out["engines"][engine] = {"skipped": "postgres not reachable"}
                continue
            schema = f"tgscale_{uuid.uuid4().hex[:8]}"
            try:
                if engine == "duckdb":
                    target = "w.duckdb"
                    built = build_duckdb(work / target, args.tables)
                else:
                    target = schema
                    built = build_postgres(schema, args.tables)
                proc = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.scale",
                        "--child",
                        engine,
                        "--workdir",
                        str(work),
                        "--target",
                        target,
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                    env=_child_env(work),
                )
                if proc.returncode != 0:
                    out["engines"][engine] = {"error": proc.stderr[-2000:]}
                    continue
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                result["build_seconds"] = round(built, 1)
                second = result["second_run_seconds"]
                if second is not None:
                    result["second_over_first"] = round(second / result["first_run_seconds"], 3)
                result["meets_targets"] = (
                    result["first_run_seconds"] <= TARGET_SECONDS
                    and result["peak_rss_mb"] <= TARGET_MB
                    and (second is None or second < result["first_run_seconds"])
                )
                out["engines"][engine] = result
            finally:
                print(json.dumps({engine: out["engines"].get(engine)}), file=sys.stderr)
                if engine == "postgres":
                    drop_postgres(schema)
    print(json.dumps(out, indent=2))


#: what a run imports (most of it lazily, inside the timed run)
WARM_IMPORTS = (
    "import tidegauge.runner, tidegauge.steps.collect, tidegauge.steps.detect, "
    "tidegauge.steps.lineage, tidegauge.steps.group, tidegauge.steps.emit, "
    "tidegauge.steps.notify, tidegauge.steps.recover, tidegauge.fanout.local_engine, "
    "tidegauge.fanout.registry, tidegauge.fanout.chunks, tidegauge.streams.run, "
    "tidegauge.warehouses.duckdb, tidegauge.warehouses.postgres, tidegauge.store.outbox"
)


def _child_env(work: Path) -> dict[str, str]:
    """The measured run's environment: modules compiled once and cached, as an installed
    package has them (``PYTHONDONTWRITEBYTECODE`` in a shell would recompile every module
    in the measured process). An untimed import fills the cache first."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    subprocess.run(
        [sys.executable, "-c", WARM_IMPORTS],
        env=env,
        check=False,
    )
    return env


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
