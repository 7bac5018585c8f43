"""Benchmark: what turning tidegauge on over one wide table costs, side by side with the
query a user would write by hand, Soda Core and Great Expectations. Prints one JSON document.

    make bench-collect                                   # 10M rows, 3 rounds
    .venv/bin/python bench/collect.py --rows 1000000 --runs 3 --skip-ref   # quick

* Table ``bench.events`` in DuckDB: ``--rows`` rows x 20 columns (ints, floats, a decimal,
  low/high-cardinality strings, timestamps, a date, booleans, nulls, an all-null column),
  30 days of ``created_at``; built once into ``bench/.data``, copied per benchmark.
* ``handwritten``: one process that imports DuckDB, opens the file and runs ONE aggregate
  query written here by hand computing the same field-health metrics per bucket (the
  bucket ``tidegauge init`` writes: hourly). Whole-process wall time and peak RSS.
* ``tidegauge_first_run``: ``tidegauge init -w duckdb:///…`` then ``tidegauge run`` in a
  fresh project, as two processes (discovery, backfill of 30 days, field health,
  categorical values, store, detection): whole wall time, peak RSS of the run process, and
  its queries from the cost ledger. ``profile_ratio`` is the ledger's field-health scan over
  the hand-written query's own time (both in-process). ``first_run_over_handwritten_cpu`` is
  the whole-process ratio in CPU seconds (both processes' children rusage).
* ``tidegauge_steady_state``: the table gains one hour of rows and ``tidegauge run`` runs an
  hour later in the same project: it reads only the new bucket and the settle window
  (``recheck_buckets``); the cost ledger's rows say which. Its ratio to the first run is
  given twice: whole process (``steady_over_first_run``, the target) and the warehouse's
  query seconds from the ledger (``steady_over_first_run_warehouse_seconds``).
* ``soda_core`` / ``great_expectations``: each in its own venv (bench/reference_tools.py),
  with checks/expectations for the same metrics over the whole table; their in-process time,
  statement count and peak RSS.

Rounds are interleaved (hand-written, tidegauge first run, steady state, ...); medians.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
NOW = datetime(2024, 7, 1, 0, 30, tzinfo=UTC)  # data: 2024-06-01 .. 2024-06-30
#: ``tidegauge init`` writes hourly buckets; the hand-written query groups the same way
BUCKET = "hour"

NUMERIC = ["id", "user_id", "amount", "price", "qty", "score", "rating", "discount", "all_null"]
STRINGS = ["status", "country", "email", "note", "category", "session_id"]
BOOLS = ["is_active", "is_test"]
TEMPORAL = ["created_at", "updated_at", "event_date"]

DUCKDB_TABLE = """
CREATE TABLE bench.events AS
SELECT
  r AS id,
  hash(r) % 1000000 AS user_id,
  (hash(r + 1) % 1000000) / 100.0 - 50 AS amount,
  ((hash(r + 2) % 100000) / 100.0)::DECIMAL(12, 2) AS price,
  (hash(r + 3) % 23)::INTEGER - 2 AS qty,
  CASE WHEN r % 10 = 0 THEN NULL ELSE (hash(r + 4) % 10000) / 100.0 END AS score,
  CASE WHEN r % 7 = 0 THEN NULL ELSE (hash(r + 5) % 5)::INTEGER + 1 END AS rating,
  CASE WHEN r % 10 <> 0 THEN NULL ELSE (hash(r + 6) % 50) / 100.0 END AS discount,
  NULL::DOUBLE AS all_null,
  ['paid', 'shipped', 'cancelled', 'refunded', 'pending'][(hash(r + 7) % 5)::INTEGER + 1]
    AS status,
  'c' || (hash(r + 8) % 30)::VARCHAR AS country,
  'user' || (hash(r + 9) % 5000000)::VARCHAR || '@example.com' AS email,
  CASE WHEN r % 5 = 0 THEN NULL WHEN r % 17 = 0 THEN '' ELSE 'note ' || (r % 1000)::VARCHAR END
    AS note,
  'cat' || (hash(r + 10) % 12)::VARCHAR AS category,
  md5((r // 3)::VARCHAR) AS session_id,
  hash(r + 11) % 3 <> 0 AS is_active,
  CASE WHEN r % 4 = 0 THEN NULL ELSE hash(r + 12) % 2 = 0 END AS is_test,
  TIMESTAMP '2024-06-01' + to_microseconds((r * (2592000000000 // {rows}))::BIGINT)
    AS created_at,
  TIMESTAMP '2024-06-01' + to_microseconds((r * (2592000000000 // {rows}))::BIGINT)
    + to_seconds((hash(r + 13) % 7200)::BIGINT) AS updated_at,
  (DATE '2024-06-01' + (r * 30 // {rows})::INTEGER) AS event_date
FROM range({rows}) AS g(r)
"""

POSTGRES_TABLE = """
CREATE TABLE bench.events AS
SELECT
  r AS id,
  (r * 7919) % 1000000 AS user_id,
  ((r * 104729) % 1000000) / 100.0::float8 - 50 AS amount,
  (((r * 1299709) % 100000) / 100.0)::numeric(12, 2) AS price,
  ((r * 31) % 23)::int - 2 AS qty,
  CASE WHEN r % 10 = 0 THEN NULL ELSE ((r * 37) % 10000) / 100.0::float8 END AS score,
  CASE WHEN r % 7 = 0 THEN NULL ELSE ((r * 13) % 5)::int + 1 END AS rating,
  CASE WHEN r % 10 <> 0 THEN NULL ELSE ((r * 17) % 50) / 100.0::float8 END AS discount,
  NULL::float8 AS all_null,
  (ARRAY['paid', 'shipped', 'cancelled', 'refunded', 'pending'])[((r * 7) % 5)::int + 1]
    AS status,
  'c' || ((r * 11) % 30)::text AS country,
  'user' || ((r * 7907) % 5000000)::text || '@example.com' AS email,
  CASE WHEN r % 5 = 0 THEN NULL WHEN r % 17 = 0 THEN '' ELSE 'note ' || (r % 1000)::text END
    AS note,
  'cat' || ((r * 19) % 12)::text AS category,
  md5((r / 3)::text) AS session_id,
  (r * 3) % 3 <> 1 AS is_active,
  CASE WHEN r % 4 = 0 THEN NULL ELSE r % 2 = 0 END AS is_test,
  TIMESTAMP '2024-06-01' + (r * (2592.0 / {rows})) * INTERVAL '1000 seconds' AS created_at,
  TIMESTAMP '2024-06-01' + (r * (2592.0 / {rows})) * INTERVAL '1000 seconds'
    + ((r * 29) % 7200) * INTERVAL '1 second' AS updated_at,
  (DATE '2024-06-01' + (r * 30 / {rows})::int) AS event_date
FROM generate_series(0::bigint, {rows} - 1) AS g(r)
"""


def handwritten_sql(bucket: str = BUCKET) -> str:
    """The expert's one-scan query: the same metrics tidegauge computes, typed by hand."""
    q = "[0.01, 0.25, 0.5, 0.75, 0.99]"
    parts = [f"date_trunc('{bucket}', created_at) AS bucket", "count(*) AS n"]
    for c in NUMERIC:
        arg = f"{c}::DOUBLE" if c == "price" else c
        parts.append(
            f"count({c}), approx_count_distinct({c}), min({c}), max({c}), avg({c}), "
            f"stddev_samp({c}), quantile_cont({arg}, {q}), count_if({c} = 0), count_if({c} < 0)"
        )
    for c in STRINGS:
        parts.append(
            f"count({c}), approx_count_distinct({c}), min(length({c})), max(length({c})), "
            f"avg(length({c})), count_if({c} = '')"
        )
    for c in BOOLS:
        parts.append(f"count({c}), count_if({c})")
    for c in TEMPORAL:
        lit = "DATE '2024-07-01'" if c == "event_date" else "TIMESTAMP '2024-07-01 00:30:00'"
        parts.append(
            f"count({c}), approx_count_distinct({c}), min({c}), max({c}), count_if({c} > {lit})"
        )
    return (
        "SELECT " + ",\n  ".join(parts) + "\nFROM bench.events\n"
        "WHERE created_at >= TIMESTAMP '2024-06-01' AND created_at < TIMESTAMP '2024-07-01'\n"
        f"GROUP BY date_trunc('{bucket}', created_at)"
    )


def hand_worker(db: Path) -> dict[str, Any]:
    """The hand-written scan's own process: import DuckDB, open, query, fetch."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    t0 = time.perf_counter()
    rows = con.execute(handwritten_sql()).fetchall()
    seconds = time.perf_counter() - t0
    con.close()
    return {"query_seconds": seconds, "buckets": len(rows), "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: reset by exec, unlike ``ru_maxrss``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


#: runs ``tidegauge`` in this process and writes its peak RSS to the file named first
RSS_WRAPPER = """
import atexit, runpy, sys
out = sys.argv[1]
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(out, "w").write(str(int(line.split()[1]) / 1024))
atexit.register(peak)
sys.argv = ["tidegauge", *sys.argv[2:]]
runpy.run_module("tidegauge.cli.main", run_name="__main__")
"""


def child_env() -> dict[str, str]:
    """The environment of every process measured here (the hand-written scan's too).

    Python compiles a module's source to bytecode once and caches it, as any installed
    package has it: a shell with ``PYTHONDONTWRITEBYTECODE`` set would make every process
    here recompile each module it imports (seconds, on tidegauge's side). The cache goes
    under ``bench/.data``; :func:`warm_bytecode` fills it before the first timed round."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(DATA / "pycache")
    env["PYTHONPATH"] = str(ROOT)
    return env


def warm_bytecode(db: Path, work: Path) -> None:
    """One untimed ``init`` + ``run`` and hand-written scan, so every timed process finds
    its modules compiled (as after ``pip install``)."""
    project = work / "warm"
    project.mkdir()
    subprocess.run([sys.executable, __file__, "--hand-worker", str(db)], env=child_env(),
                   capture_output=True, check=True)  # fmt: skip
    _tidegauge(project, "init", "-w", f"duckdb:///{db}")
    _tidegauge(project, "run", "--now", NOW.isoformat(), "--json", "--no-notify")
    shutil.rmtree(project)


def children_cpu() -> float:
    """CPU seconds (user + system, DuckDB's threads included) of this process's finished
    children: what the machine spent, beside the wall time a user waits."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _tidegauge(project: Path, *args: str) -> tuple[float, float, str]:
    """Run ``tidegauge ARGS`` in ``project`` as its own process: wall seconds, peak RSS MB,
    stdout."""
    rss = project / ".rss"
    env = child_env()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RSS_WRAPPER, str(rss), *args],
        cwd=project, env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"tidegauge {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return seconds, float(rss.read_text()), proc.stdout


def _report(out: str) -> dict[str, Any]:
    """The JSON report ``tidegauge run --json`` printed (after any other line)."""
    start = out.find("{\n")
    try:
        report: dict[str, Any] = json.loads(out[start:])
    except ValueError:
        raise SystemExit(f"tidegauge run printed no JSON report:\n{out[-3000:]}") from None
    return report


def _ledger(project: Path, run_id: int) -> dict[str, Any]:
    """The cost ledger of one run: its queries, their seconds and rows, per monitor."""
    con = sqlite3.connect(project / ".tidegauge" / "state.db")
    try:
        rows = con.execute(
            "SELECT monitor, seconds, rows, sql FROM cost_ledger WHERE run_id = ? ORDER BY id",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    queries = [r for r in rows if r[3] is not None]
    return {
        "queries": len(queries),
        "query_seconds": round(sum(r[1] for r in queries), 3),
        "by_monitor": {m: {"seconds": round(sec, 3), "rows": n} for m, sec, n, sql in queries},
    }


def _one_hour(db: Path, add: bool) -> int:
    """Append the rows of 2024-07-01 00:00-01:00 (a copy of the first hour, a month later),
    or remove them again."""
    import duckdb

    con = duckdb.connect(str(db))
    try:
        if add:
            con.execute(
                "INSERT INTO bench.events SELECT * REPLACE ("
                "created_at + INTERVAL 30 DAY AS created_at, "
                "updated_at + INTERVAL 30 DAY AS updated_at, "
                "event_date + INTERVAL 30 DAY AS event_date) FROM bench.events "
                "WHERE created_at >= TIMESTAMP '2024-06-01' "
                "AND created_at < TIMESTAMP '2024-06-01 01:00'"
            )
        else:
            con.execute("DELETE FROM bench.events WHERE created_at >= TIMESTAMP '2024-07-01'")
        (n,) = con.execute(
            "SELECT count(*) FROM bench.events WHERE created_at >= TIMESTAMP '2024-07-01'"
        ).fetchone() or (0,)
        return int(n)
    finally:
        con.close()


def side_by_side(db: Path, runs: int, work: Path) -> dict[str, Any]:
    """Rounds of: the hand-written scan, tidegauge's first run, its steady-state run."""
    copy = work / "events.duckdb"
    shutil.copy(db, copy)
    warm_bytecode(copy, work)
    hand: list[dict[str, Any]] = []
    first: list[dict[str, Any]] = []
    steady: list[dict[str, Any]] = []
    for i in range(runs):
        c0, t0 = children_cpu(), time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--hand-worker", str(copy)],
            env=child_env(), capture_output=True, text=True, check=True,
        )  # fmt: skip
        wall, cpu = time.perf_counter() - t0, children_cpu() - c0
        worker = json.loads(proc.stdout.strip().splitlines()[-1])
        hand.append({"seconds": wall, "cpu_seconds": cpu, **worker})

        project = work / f"project-{i}"
        project.mkdir()
        c0 = children_cpu()
        init_s, _, _ = _tidegauge(project, "init", "-w", f"duckdb:///{copy}")
        now = NOW.isoformat()
        run_s, rss, out = _tidegauge(project, "run", "--now", now, "--json", "--no-notify")
        cpu = children_cpu() - c0
        report = _report(out)
        first.append(
            {
                "seconds": init_s + run_s,
                "cpu_seconds": cpu,
                "init_seconds": init_s,
                "run_seconds": run_s,
                "peak_rss_mb": rss,
                "points": report["points"],
                "failed_tables": report["failed_tables"],
                **_ledger(project, report["run_id"]),
            }
        )

        added = _one_hour(copy, add=True)
        try:
            later = (NOW + timedelta(hours=1)).isoformat()
            run_s, rss, out = _tidegauge(project, "run", "--now", later, "--json", "--no-notify")
        finally:
            _one_hour(copy, add=False)
        report = _report(out)
        steady.append(
            {
                "seconds": run_s,
                "peak_rss_mb": rss,
                "rows_added": added,
                "points": report["points"],
                **_ledger(project, report["run_id"]),
            }
        )
        print(json.dumps({"round": i, "hand": hand[-1]["seconds"],
                          "first": first[-1]["seconds"], "steady": steady[-1]["seconds"]}),
              file=sys.stderr)  # fmt: skip

    def med(items: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(float(x[key]) for x in items))

    def fh(item: dict[str, Any]) -> float:
        return float(item["by_monitor"].get("field_health", {}).get("seconds", 0.0))

    hand_s, first_s, steady_s = med(hand, "seconds"), med(first, "seconds"), med(steady, "seconds")
    profile = statistics.median(fh(x) for x in first)
    hand_q = med(hand, "query_seconds")
    return {
        "handwritten": {
            "median_seconds": round(hand_s, 3),
            "query_median_seconds": round(hand_q, 3),
            "peak_rss_mb": round(med(hand, "peak_rss_mb"), 1),
            "queries": 1,
            "rounds": hand,
        },
        "tidegauge_first_run": {
            "median_seconds": round(first_s, 3),
            "peak_rss_mb": round(med(first, "peak_rss_mb"), 1),
            "field_health_scan_median_seconds": round(profile, 3),
            "query_median_seconds": round(med(first, "query_seconds"), 3),
            "queries": first[-1]["queries"],
            "rounds": first,
        },
        "tidegauge_steady_state": {
            "median_seconds": round(steady_s, 3),
            "peak_rss_mb": round(med(steady, "peak_rss_mb"), 1),
            "query_median_seconds": round(med(steady, "query_seconds"), 3),
            "queries": steady[-1]["queries"],
            "rounds": steady,
        },
        "ratios": {
            "first_run_over_handwritten": round(first_s / hand_s, 3),
            # the same ratio in CPU seconds: the scan keeps both cores busy, tidegauge's
            # Python around it runs on one, so its wall ratio is the larger of the two
            "first_run_over_handwritten_cpu": round(
                med(first, "cpu_seconds") / med(hand, "cpu_seconds"), 3
            ),
            "profile_over_handwritten_query": round(profile / hand_q, 3),
            "steady_over_first_run": round(steady_s / first_s, 3),
            # the warehouse's side of the same ratio: the steady run's queries over the first
            # run's, from the cost ledger (what a warehouse bills), beside the whole-process
            # ratio above (which includes the run process's start-up and detection)
            "steady_over_first_run_warehouse_seconds": round(
                med(steady, "query_seconds") / med(first, "query_seconds"), 3
            ),
            "first_run_rss_over_handwritten": round(
                med(first, "peak_rss_mb") / med(hand, "peak_rss_mb"), 3
            ),
        },
        "targets": {
            "first_run_over_handwritten": 1.5,
            "profile_over_handwritten_query": 1.1,
            "steady_over_first_run": 0.1,
            "first_run_rss_over_handwritten": 1.5,
        },
    }


def ensure_duckdb(rows: int) -> tuple[Path, Path]:
    import duckdb

    DATA.mkdir(exist_ok=True)
    db = DATA / f"events_{rows}.duckdb"
    parquet = DATA / f"events_{rows}.parquet"
    if not db.exists():
        tmp = db.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        con = duckdb.connect(str(tmp))
        con.execute("CREATE SCHEMA bench")
        con.execute(DUCKDB_TABLE.format(rows=rows))
        con.execute(f"COPY bench.events TO '{parquet}' (FORMAT PARQUET)")
        con.close()
        tmp.rename(db)
    return db, parquet


def working_copy(rows: int, work: Path) -> Path:
    """A copy of the ``rows``-row table's file in ``work`` (built first if needed), for runs
    that may write to it."""
    db, _ = ensure_duckdb(rows)
    copy = work / "events.duckdb"
    shutil.copy(db, copy)
    return copy


def postgres_profile(rows: int, runs: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent))
    from tests.servers import POSTGRES_URL, reachable

    if not reachable("postgres"):
        return {"skipped": "PostgreSQL not reachable at 127.0.0.1:5432"}
    import psycopg

    from tidegauge.collector import collect_table
    from tidegauge.config import Bucket, Defaults, TableSettings
    from tidegauge.warehouses.postgres import PostgresWarehouse, PostgresWarehouseConfig

    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        have = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'bench' AND table_name = 'events'"
        ).fetchone()
        n = None
        if have and have[0]:
            n = con.execute("SELECT count(*) FROM bench.events").fetchone()
        if not n or n[0] != rows:
            con.execute("DROP SCHEMA IF EXISTS bench CASCADE")
            con.execute("CREATE SCHEMA bench")
            con.execute(POSTGRES_TABLE.format(rows=rows))
            con.execute("ANALYZE bench.events")
    wh = PostgresWarehouse(PostgresWarehouseConfig(url=POSTGRES_URL, include=["bench.events"]))
    wh.connect()
    (info,) = [t for t in wh.list_tables() if t.ref.name == "events"]
    settings = TableSettings(match="bench.events", field_health=True, categorical=False)
    times, scan = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        res = collect_table(
            wh, info, settings, Defaults(bucket=Bucket.DAY, history_days=30), now=NOW,
            last_bucket=None,
        )  # fmt: skip
        times.append(time.perf_counter() - t0)
        if res.errors:
            return {"error": res.errors}
        scan.append(sum(e.seconds for e in res.ledger if e.monitor == "field_health"))
    wh.close()
    return {
        "rows": rows,
        "median_seconds": statistics.median(times),
        "runs": times,
        "field_health_scan_median_seconds": statistics.median(scan),
        "queries": sum(1 for e in res.ledger if e.kind == "query"),
        "note": "exact COUNT(DISTINCT) (no HLL in PostgreSQL) and exact percentile_cont",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="DuckDB table size")
    ap.add_argument("--runs", type=int, default=3, help="rounds (medians reported)")
    ap.add_argument("--ref-runs", type=int, default=3, help="runs of Soda Core and GX")
    ap.add_argument("--skip-ref", action="store_true", help="skip Soda Core and GX")
    ap.add_argument("--pg-rows", type=int, default=0, help="tidegauge's profile on PostgreSQL "
                    "at this size (0 skips)")  # fmt: skip
    ap.add_argument("--gx-pg-rows", type=int, default=0, help="GX vs tidegauge on PostgreSQL "
                    "at this size (0 skips)")  # fmt: skip
    ap.add_argument("--hand-worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hand_worker:
        print(json.dumps(hand_worker(args.hand_worker)))
        return

    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    db, parquet = ensure_duckdb(args.rows)
    setup = time.perf_counter() - t0
    out: dict[str, Any] = {
        "table": {"rows": args.rows, "columns": 20, "setup_seconds": round(setup, 2)},
        "machine": {"cpus": len(os.sched_getaffinity(0)), "load_average": os.getloadavg()},
    }
    with tempfile.TemporaryDirectory(dir=DATA) as d:
        out["duckdb"] = side_by_side(db, args.runs, Path(d))
    first = out["duckdb"]["tidegauge_first_run"]["median_seconds"]
    steady = out["duckdb"]["tidegauge_steady_state"]["median_seconds"]
    if not args.skip_ref:
        import reference_tools as ref

        for tool, key in (("soda", "soda_core"), ("gx", "great_expectations")):
            res = ref.run_ref(tool, parquet, args.ref_runs)
            if "median_seconds" in res:
                res["ratio_over_tidegauge_first_run"] = round(res["median_seconds"] / first, 2)
                res["ratio_over_tidegauge_steady_state"] = round(res["median_seconds"] / steady, 2)
                res["note"] = (
                    "in-process time of the tool's scan (imports and venv start excluded), "
                    "whole table, no buckets; tidegauge's figures are whole processes"
                )
            if tool == "gx" and "median_seconds" in res:
                res["coverage"] = ref.GX_COVERAGE
            out[key] = res
        if args.gx_pg_rows:
            out["great_expectations_postgres"] = ref.postgres_gx(args.gx_pg_rows, args.ref_runs)
        out["targets"] = {"soda_over_tidegauge": 8.0}
    if args.pg_rows:
        out["postgres"] = postgres_profile(args.pg_rows, max(args.runs, 3))
    out["machine"]["load_average_after"] = os.getloadavg()
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
