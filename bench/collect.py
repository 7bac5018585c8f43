"""Benchmark: tidegauge's field-health profile vs one hand-written scan, Soda Core, GX, PostgreSQL.

Prints one JSON document. Quick run::

    .venv/bin/python bench/collect.py --rows 1000000 --runs 5 --pg-rows 100000

Full run (the issue's numbers)::

    .venv/bin/python bench/collect.py --rows 10000000 --runs 5 --pg-rows 1000000

* DuckDB table ``bench.events``: ``--rows`` rows x 20 columns (ints, floats, a decimal,
  low/high-cardinality strings, timestamps, a date, booleans, nulls, an all-null column),
  30 days of ``created_at``.
* ``tidegauge``: ``collect_table`` with field health on (daily buckets, 30-day backfill), its
  whole wall time (planning, the freshness query, the scan, turning rows into points);
  ``tidegauge_full`` adds the categorical query.
* ``handwritten``: ONE aggregate query written here by hand computing the same metrics.
  Runs are interleaved (tidegauge, hand-written, tidegauge, ...); medians are reported.
* ``soda_core`` / ``great_expectations``: installed with uv into ``bench/.venv-ref`` (never
  project dependencies) and run on a copy of the same rows (a Parquet export loaded by the
  reference venv's own DuckDB, whose file format may differ) with checks/expectations for
  the same metrics; their time and query count are reported, or why they could not run.
  GX has no DuckDB support of its own: through duckdb-engine it only gets rows with its
  persisted-connection mode turned on (recorded under ``workarounds``).
* ``great_expectations_postgres``: GX on its supported PostgreSQL path against tidegauge on
  the same PostgreSQL table (the DuckDB rows at ``--gx-pg-rows``, copied into a throwaway
  schema dropped afterwards), rounds interleaved; the ratio is GX time over tidegauge time.
* ``postgres``: the same profile on PostgreSQL at ``--pg-rows`` (skipped when unreachable).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
REF_VENV = HERE / ".venv-ref"
NOW = datetime(2024, 7, 1, 0, 30, tzinfo=UTC)  # data: 2024-06-01 .. 2024-06-30

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


def handwritten_sql() -> str:
    """The expert's one-scan query: the same metrics tidegauge computes, typed by hand."""
    q = "[0.01, 0.25, 0.5, 0.75, 0.99]"
    parts = ["date_trunc('day', created_at) AS bucket", "count(*) AS n"]
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
        "GROUP BY date_trunc('day', created_at)"
    )


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


def tidegauge_profile(db: Path, runs: int, *, categorical: bool, hand: bool) -> dict[str, Any]:
    from tidegauge.collector import collect_table
    from tidegauge.config import Bucket, Defaults, TableSettings
    from tidegauge.warehouses.duckdb import DuckDBWarehouse, DuckDBWarehouseConfig

    wh = DuckDBWarehouse(DuckDBWarehouseConfig(path=str(db), read_only=True))
    wh.connect()
    wh.connection.execute("SET TimeZone = 'UTC'")
    (info,) = [t for t in wh.list_tables() if t.ref.name == "events"]
    settings = TableSettings(match="bench.events", field_health=True, categorical=categorical)
    defaults = Defaults(bucket=Bucket.DAY, history_days=30)
    sql = handwritten_sql()
    tg, hw, scan, points, queries = [], [], [], 0, 0
    for _ in range(runs):
        t0 = time.perf_counter()
        res = collect_table(wh, info, settings, defaults, now=NOW, last_bucket=None)
        tg.append(time.perf_counter() - t0)
        if res.errors:
            raise SystemExit(f"tidegauge errors: {res.errors}")
        scan.append(sum(e.seconds for e in res.ledger if e.monitor == "field_health"))
        points = len(res.points)
        queries = sum(1 for e in res.ledger if e.kind == "query")
        if hand:
            t0 = time.perf_counter()
            wh.connection.execute(sql).fetchall()
            hw.append(time.perf_counter() - t0)
    wh.close()
    out: dict[str, Any] = {
        "median_seconds": statistics.median(tg),
        "runs": tg,
        "field_health_scan_median_seconds": statistics.median(scan),
        "queries": queries,
        "points": points,
    }
    if hand:
        out["handwritten"] = {"median_seconds": statistics.median(hw), "runs": hw, "queries": 1}
    return out


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


GX_PG_SCHEMA = "tidegauge_bench_gx"  # throwaway: created, profiled, dropped
PG_TYPES = {"BIGINT": "bigint", "UBIGINT": "bigint", "INTEGER": "integer", "VARCHAR": "text",
            "DOUBLE": "double precision", "BOOLEAN": "boolean", "TIMESTAMP": "timestamp",
            "DATE": "date"}  # fmt: skip
GX_COVERAGE = (
    "GX: whole-table row count, null count of all 20 columns; min, max, mean, stdev, exact "
    "distinct count and 5 quantiles of 8 numeric columns; length bounds and distinct count of "
    "6 string columns. tidegauge computes more (zero/negative/empty/true/future rates, string "
    "length stats, temporal min/max/distinct) and per daily bucket."
)


def _copy_duckdb_to_postgres(con: Any, db: Path, schema: str) -> None:
    """The DuckDB table's exact rows into ``schema.events`` (through CSV and COPY)."""
    import duckdb

    src = duckdb.connect(str(db), read_only=True)
    cols = src.execute("DESCRIBE bench.events").fetchall()
    csv = DATA / f"{db.stem}.pg.csv"
    src.execute(f"COPY bench.events TO '{csv}' (FORMAT CSV, HEADER false)")
    src.close()
    ddl = ", ".join(
        f"{name} {t.replace('DECIMAL', 'numeric') if t.startswith('DECIMAL') else PG_TYPES[t]}"
        for name, t, *_ in cols
    )
    con.execute(f"CREATE SCHEMA {schema}")
    con.execute(f"CREATE TABLE {schema}.events ({ddl})")
    try:
        copy = f"COPY {schema}.events FROM STDIN (FORMAT csv)"
        with con.cursor() as cur, cur.copy(copy) as cp, csv.open("rb") as f:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
    finally:
        csv.unlink(missing_ok=True)
    con.execute(f"ANALYZE {schema}.events")
    con.execute(f"SELECT count(*) FROM {schema}.events").fetchone()  # warm the cache once


def postgres_gx(rows: int, ref_runs: int) -> dict[str, Any]:
    """GX and tidegauge on one PostgreSQL table holding the DuckDB table's rows, interleaved."""
    sys.path.insert(0, str(HERE.parent))
    from tests.servers import POSTGRES_URL, reachable

    if not reachable("postgres"):
        return {"skipped": "PostgreSQL not reachable at 127.0.0.1:5432"}
    import psycopg

    from tidegauge.collector import collect_table
    from tidegauge.config import Bucket, Defaults, TableSettings
    from tidegauge.warehouses.postgres import PostgresWarehouse, PostgresWarehouseConfig

    schema, (db, _) = GX_PG_SCHEMA, ensure_duckdb(rows)
    gx_url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg2://", 1)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        t0 = time.perf_counter()
        _copy_duckdb_to_postgres(con, db, schema)
        load = time.perf_counter() - t0
        server = con.execute("SHOW server_version").fetchone()
    wh = PostgresWarehouse(PostgresWarehouseConfig(url=POSTGRES_URL, include=[f"{schema}.events"]))
    try:
        wh.connect()
        (info,) = [t for t in wh.list_tables() if t.ref.name == "events"]
        settings = TableSettings(match=f"{schema}.events", field_health=True, categorical=False)
        defaults = Defaults(bucket=Bucket.DAY, history_days=30)
        tg: list[float] = []
        gx_runs: list[float] = []
        gx: dict[str, Any] = {}
        for _ in range(ref_runs):  # one tidegauge run, then one GX run, per round
            t0 = time.perf_counter()
            res = collect_table(wh, info, settings, defaults, now=NOW, last_bucket=None)
            tg.append(time.perf_counter() - t0)
            if res.errors:
                return {"error": f"tidegauge: {res.errors}"}
            gx = run_ref("gx", None, 1, "--pg-url", gx_url, "--pg-schema", schema)
            if "error" in gx:
                return {"error": gx}
            gx_runs += gx["runs"]
    finally:
        wh.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    tg_out = {
        "median_seconds": statistics.median(tg),
        "runs": tg,
        "queries": sum(1 for e in res.ledger if e.kind == "query"),
        "points": len(res.points),
    }
    gx_out = {**gx, "median_seconds": statistics.median(gx_runs), "runs": gx_runs}
    if gx_out["observed_row_count"] != rows:
        return {"error": f"GX counted {gx_out['observed_row_count']} rows, not {rows}"}
    return {
        "rows": rows,
        "data": "the DuckDB bench.events rows (same generator and seed), copied into a "
        f"throwaway schema {schema} that is dropped afterwards",
        "load_seconds": round(load, 2),
        "server_version": server[0] if server else None,
        "tidegauge_field_health": tg_out,
        "great_expectations": gx_out,
        "ratio_gx_over_tidegauge": gx_out["median_seconds"] / tg_out["median_seconds"],
        "method": "same engine and table; rounds interleaved (tidegauge, then GX in "
        "bench/.venv-ref); medians of the rounds",
        "coverage": GX_COVERAGE,
    }


# --- reference tools, run inside bench/.venv-ref -------------------------------------------


REF_PROBE = """
import soda.scan, great_expectations, psycopg2, duckdb_engine
from importlib.metadata import version
assert int(version("marshmallow").split(".")[0]) < 4
"""


def ensure_ref_venv() -> str | None:
    """Create bench/.venv-ref with uv; return an error text when it cannot be done."""
    py = REF_VENV / "bin" / "python"
    uv = Path(sys.executable).parent / "uv"
    try:
        if not py.exists():
            subprocess.run([str(uv), "venv", "-q", "--python", "3.11", str(REF_VENV)], check=True,
                           capture_output=True, text=True)  # fmt: skip
        probe = subprocess.run([str(py), "-c", REF_PROBE], capture_output=True, text=True)
        if probe.returncode != 0:
            subprocess.run(
                [str(uv), "pip", "install", "-q", "--python", str(py), "soda-core-duckdb",
                 "great_expectations>=1,<2", "duckdb-engine"],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            # soda-core-duckdb pins duckdb<1.1, whose pg_catalog emulation breaks the
            # duckdb-engine reflection GX relies on; SQLAlchemy 2.0.36+ reflects pg_collation,
            # which DuckDB lacks. Override both (Soda runs fine on the newer DuckDB).
            # marshmallow 4 no longer casts numpy booleans in GX's result schema, so storing a
            # quantile expectation's result fails; GX allows any marshmallow>=3.18, pin 3.x.
            # psycopg2 is GX's PostgreSQL driver.
            subprocess.run(
                [str(uv), "pip", "install", "-q", "--python", str(py), "duckdb==1.3.2",
                 "sqlalchemy==2.0.35", "marshmallow>=3.18,<4", "psycopg2-binary"],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
    except subprocess.CalledProcessError as e:
        return f"could not install Soda Core / Great Expectations: {e.stderr.strip()[-500:]}"
    return None


def run_ref(tool: str, parquet: Path | None, runs: int, *extra: str) -> dict[str, Any]:
    err = ensure_ref_venv()
    if err:
        return {"error": err}
    where = ["--parquet", str(parquet)] if parquet else []
    proc = subprocess.run(
        [str(REF_VENV / "bin" / "python"), __file__, "--ref-worker", tool, *where,
         "--runs", str(runs), *extra],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout).strip()[-1500:]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _ref_db(parquet: Path) -> Path:
    import duckdb

    db = parquet.with_suffix(".ref.duckdb")
    if not db.exists():
        con = duckdb.connect(str(db))
        con.execute("CREATE SCHEMA bench")
        con.execute(f"CREATE TABLE bench.events AS SELECT * FROM read_parquet('{parquet}')")
        con.close()
    return db


def soda_worker(parquet: Path, runs: int) -> dict[str, Any]:
    from soda.execution.query.query import Query
    from soda.scan import Scan

    db = _ref_db(parquet)
    counter = {"n": 0}
    execute_cursor, store = Query._execute_cursor, Query.store

    def counting_cursor(self: Any, execute: bool = True) -> Any:
        counter["n"] += 1
        return execute_cursor(self, execute)

    def counting_store(self: Any) -> Any:
        counter["n"] += 1
        return store(self)

    # every SQL statement Soda sends goes through one of these two
    Query._execute_cursor = counting_cursor  # type: ignore[method-assign]
    Query.store = counting_store  # type: ignore[method-assign]
    checks = ["checks for events:", "  - row_count > 0"]
    for c in NUMERIC + STRINGS + BOOLS + TEMPORAL:
        checks.append(f"  - missing_count({c}) >= 0")
    for c in NUMERIC:
        if c == "all_null":
            continue
        for m in ("min", "max", "avg", "stddev"):
            checks.append(f"  - {m}({c}) > -999999999999")
        checks.append(f"  - duplicate_count({c}) >= 0")
        for p in (0.01, 0.25, 0.5, 0.75, 0.99):
            checks.append(f"  - percentile({c}, {p}) > -999999999999")
    for c in STRINGS:
        for m in ("min_length", "max_length", "avg_length"):
            checks.append(f"  - {m}({c}) >= 0")
        checks.append(f"  - duplicate_count({c}) >= 0")
    config = (
        f"data_source bench:\n  type: duckdb\n  path: {db}\n  read_only: true\n  schema: bench\n"
    )
    times, queries = [], 0
    for _ in range(runs):
        counter["n"] = 0
        scan = Scan()
        scan.set_data_source_name("bench")
        scan.add_configuration_yaml_str(config)
        scan.add_sodacl_yaml_str("\n".join(checks) + "\n")
        t0 = time.perf_counter()
        scan.execute()
        times.append(time.perf_counter() - t0)
        queries = counter["n"]
        if scan.has_error_logs():
            return {"error": scan.get_error_logs_text()[-1500:]}
    return {"median_seconds": statistics.median(times), "runs": times, "queries": queries,
            "checks": len(checks) - 1, "version": _version("soda-core")}  # fmt: skip


def _gx_keep_duckdb_connection() -> str:
    """Let GX hold one DuckDB connection open, as it already does for SQLite and SQL Server.

    GX runs each metric query in ``with engine.connect()`` and calls ``fetchall()`` after the
    block. Leaving the block rolls back the transaction duckdb-engine began, and duckdb-engine's
    cursor is the DuckDB connection itself, so the rollback discards the pending result: every
    query returns no rows and each expectation raises IndexError in ``resolve_metric_bundle``.
    GX's persisted-connection mode (a ``StaticPool`` engine, the connection never closed) keeps
    the result alive; the SQL GX sends is unchanged.
    """
    from great_expectations.execution_engine import sqlalchemy_execution_engine as sae

    class DuckDBDialect(str):  # compares as "duckdb" and has the .value GX reads
        value = "duckdb"

    sae._PERSISTED_CONNECTION_DIALECTS = (  # type: ignore[assignment]
        *sae._PERSISTED_CONNECTION_DIALECTS, DuckDBDialect("duckdb"),
    )  # fmt: skip
    return (
        "GX's persisted-connection mode turned on for duckdb (as GX does for sqlite/mssql): "
        "otherwise each metric query's connection is closed (rolled back) before GX fetches "
        "its rows, and duckdb-engine returns none"
    )


def gx_worker(
    parquet: Path | None, runs: int, *, pg_url: str | None = None, pg_schema: str = "bench"
) -> dict[str, Any]:
    """Validate the GX suite ``runs`` times on DuckDB (``parquet``) or PostgreSQL (``pg_url``)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    workarounds = []
    if pg_url:
        schema = pg_schema
    else:
        assert parquet is not None
        schema, db = "bench", _ref_db(parquet)
        workarounds.append(_gx_keep_duckdb_connection())
    counter = {"all": 0, "table": 0}
    table = f"{schema}.events"

    @event.listens_for(Engine, "before_cursor_execute")
    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counter["all"] += 1  # every statement, reflection included
        if table in statement:
            counter["table"] += 1  # the ones that read the table

    times, queries, table_queries, observed_rows = [], 0, 0, None
    for i in range(runs):
        ctx = gx.get_context(mode="ephemeral")
        if pg_url:
            ds: Any = ctx.data_sources.add_postgres(name=f"d{i}", connection_string=pg_url)
        else:
            ds = ctx.data_sources.add_sql(name=f"d{i}", connection_string=f"duckdb:///{db}")
        asset = ds.add_table_asset(name="events", table_name="events", schema_name=schema)
        batch_def = asset.add_batch_definition_whole_table("all")
        expectations = _gx_expectations(gxe)
        suite = ctx.suites.add(gx.ExpectationSuite(name=f"s{i}", expectations=expectations))
        vd = ctx.validation_definitions.add(
            gx.ValidationDefinition(data=batch_def, suite=suite, name=f"v{i}")
        )
        counter["all"] = counter["table"] = 0
        t0 = time.perf_counter()
        result = vd.run()
        times.append(time.perf_counter() - t0)
        queries, table_queries = counter["all"], counter["table"]
        failed = [r for r in result.results if _gx_raised(r.exception_info)]
        if failed:
            return {
                "error": f"{len(failed)} of {len(result.results)} expectations raised: "
                + str(failed[0].exception_info)[-1200:],
                "seconds_until_failure": times[-1],
                "queries": queries,
            }
        (observed_rows,) = [
            r.result["observed_value"] for r in result.results
            if r.expectation_config.type == "expect_table_row_count_to_be_between"
        ]  # fmt: skip
    versions = {d: _version(d) for d in ("great_expectations", "sqlalchemy", "marshmallow")}
    versions.update(
        {d: _version(d) for d in ("psycopg2-binary",)}
        if pg_url
        else {d: _version(d) for d in ("duckdb", "duckdb-engine")}
    )
    return {"median_seconds": statistics.median(times), "runs": times, "queries": queries,
            "table_queries": table_queries, "expectations": len(expectations),
            "observed_row_count": observed_rows, "version": gx.__version__,
            "versions": versions, "workarounds": workarounds}  # fmt: skip


def _gx_raised(info: dict[str, Any]) -> bool:
    """GX nests exception info per metric id (or not, depending on the failure)."""
    if info.get("raised_exception"):
        return True
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _gx_expectations(gxe: Any) -> list[Any]:
    """GX expectations covering the same metrics (a fresh list per suite: GX owns them)."""
    big = 1e18
    expectations: list[Any] = [gxe.ExpectTableRowCountToBeBetween(min_value=0)]
    for c in NUMERIC + STRINGS + BOOLS + TEMPORAL:
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=c, mostly=0.0))
    for c in NUMERIC:
        if c == "all_null":
            continue
        expectations += [
            gxe.ExpectColumnMinToBeBetween(column=c, min_value=-big, max_value=big),
            gxe.ExpectColumnMaxToBeBetween(column=c, min_value=-big, max_value=big),
            gxe.ExpectColumnMeanToBeBetween(column=c, min_value=-big, max_value=big),
            gxe.ExpectColumnStdevToBeBetween(column=c, min_value=0, max_value=big),
            gxe.ExpectColumnUniqueValueCountToBeBetween(column=c, min_value=0, max_value=big),
            gxe.ExpectColumnQuantileValuesToBeBetween(
                column=c,
                quantile_ranges={
                    "quantiles": [0.01, 0.25, 0.5, 0.75, 0.99],
                    "value_ranges": [[-big, big]] * 5,
                },
            ),
        ]
    for c in STRINGS:
        expectations += [
            gxe.ExpectColumnValueLengthsToBeBetween(column=c, min_value=0, max_value=10_000),
            gxe.ExpectColumnUniqueValueCountToBeBetween(column=c, min_value=0, max_value=big),
        ]
    return expectations


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="DuckDB table size")
    ap.add_argument("--runs", type=int, default=5, help="runs per contender (median reported)")
    ap.add_argument("--ref-runs", type=int, default=3, help="runs of Soda Core and GX")
    ap.add_argument("--pg-rows", type=int, default=1_000_000, help="0 skips PostgreSQL")
    ap.add_argument("--gx-pg-rows", type=int, help="rows for GX vs tidegauge on PostgreSQL "
                    "(default: --pg-rows; 0 skips)")  # fmt: skip
    ap.add_argument("--skip-ref", action="store_true", help="skip Soda Core and GX")
    ap.add_argument("--ref-worker", choices=["soda", "gx"], help=argparse.SUPPRESS)
    ap.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--pg-url", help=argparse.SUPPRESS)
    ap.add_argument("--pg-schema", default="bench", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.ref_worker == "soda":
        print(json.dumps(soda_worker(args.parquet, args.runs)))
        return
    if args.ref_worker == "gx":
        done = gx_worker(args.parquet, args.runs, pg_url=args.pg_url, pg_schema=args.pg_schema)
        print(json.dumps(done, default=str))
        return

    sys.path.insert(0, str(HERE.parent))
    t0 = time.perf_counter()
    db, parquet = ensure_duckdb(args.rows)
    setup = time.perf_counter() - t0
    profile = tidegauge_profile(db, args.runs, categorical=False, hand=True)
    hand = profile.pop("handwritten")
    full = tidegauge_profile(db, max(args.runs // 2, 1), categorical=True, hand=False)
    out: dict[str, Any] = {
        "table": {"rows": args.rows, "columns": 20, "setup_seconds": round(setup, 2)},
        "duckdb": {
            "tidegauge_field_health": profile,
            "handwritten_single_scan": hand,
            "ratio": profile["median_seconds"] / hand["median_seconds"],
            "ratio_scan_only": profile["field_health_scan_median_seconds"] / hand["median_seconds"],
            "target_ratio": 1.2,
            "tidegauge_with_categorical": {
                k: full[k] for k in ("median_seconds", "queries", "points")
            },
        },
    }
    if not args.skip_ref:
        out["soda_core"] = run_ref("soda", parquet, args.ref_runs)
        gx = run_ref("gx", parquet, args.ref_runs)
        if "median_seconds" in gx:
            gx["engine"] = (
                "DuckDB through duckdb-engine (GX has no DuckDB support of its own: see "
                "workarounds), on the reference venv's DuckDB; not interleaved with tidegauge"
            )
            gx["ratio_gx_over_tidegauge"] = gx["median_seconds"] / profile["median_seconds"]
            gx["coverage"] = GX_COVERAGE
        out["great_expectations"] = gx
        gx_pg_rows = args.pg_rows if args.gx_pg_rows is None else args.gx_pg_rows
        if gx_pg_rows:
            out["great_expectations_postgres"] = postgres_gx(gx_pg_rows, args.ref_runs)
    if args.pg_rows:
        out["postgres"] = postgres_profile(args.pg_rows, max(args.runs // 2, 3))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
