"""Soda Core and Great Expectations on the benchmark table, each in a venv of its own.

Neither is a tidegauge dependency: ``make bench-collect`` creates ``bench/.venv-soda`` and
``bench/.venv-gx`` with uv (``python bench/reference_tools.py --setup soda|gx``), and
``bench/collect.py`` runs each tool's worker in its venv on a copy of the same rows (a
Parquet export loaded by the venv's own DuckDB, whose file format may differ). Each worker
prints one JSON line: median seconds, the SQL statements the tool sent, its checks, and the
peak RSS of its process.

* Soda Core: ``soda-core-duckdb`` (which pins its own DuckDB).
* GX has no DuckDB support of its own: through duckdb-engine it only gets rows with its
  persisted-connection mode turned on (recorded under ``workarounds``).
  ``great_expectations_postgres`` runs GX on its supported PostgreSQL path against
  tidegauge on the same PostgreSQL table, rounds interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"

#: what each reference venv holds (the make target and a direct run install the same)
PACKAGES = {
    "soda": ["soda-core-duckdb>=3.5,<4"],
    # soda-core-duckdb's duckdb<1.1 breaks the duckdb-engine reflection GX relies on, hence
    # a venv per tool; SQLAlchemy 2.0.36+ reflects pg_collation, which DuckDB lacks;
    # marshmallow 4 no longer casts numpy booleans in GX's result schema (storing a quantile
    # expectation's result fails), GX allows any marshmallow>=3.18; psycopg2 is GX's
    # PostgreSQL driver.
    "gx": [
        "great_expectations>=1,<2",
        "duckdb-engine",
        "duckdb==1.3.2",
        "sqlalchemy==2.0.35",
        "marshmallow>=3.18,<4",
        "psycopg2-binary",
    ],
}
PROBES = {
    "soda": "import soda.scan",
    "gx": "import great_expectations, psycopg2, duckdb_engine\n"
    "from importlib.metadata import version\n"
    "assert int(version('marshmallow').split('.')[0]) < 4",
}


def venv(tool: str) -> Path:
    return HERE / f".venv-{tool}"


def ensure_venv(tool: str) -> str | None:
    """Create ``bench/.venv-<tool>`` with uv; return what failed, or None."""
    py = venv(tool) / "bin" / "python"
    uv = Path(sys.executable).parent / "uv"
    try:
        if not py.exists():
            subprocess.run(
                [str(uv), "venv", "-q", "--python", "3.11", str(venv(tool))],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
        if subprocess.run([str(py), "-c", PROBES[tool]], capture_output=True).returncode:
            subprocess.run(
                [str(uv), "pip", "install", "-q", "--python", str(py), *PACKAGES[tool]],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
    except subprocess.CalledProcessError as e:
        return f"could not install {' '.join(PACKAGES[tool])} from PyPI: {e.stderr.strip()[-800:]}"
    return None


def run_ref(tool: str, parquet: Path | None, runs: int, *extra: str) -> dict[str, Any]:
    """Run ``tool``'s worker in its venv; its JSON answer, or ``{"error": ...}``."""
    err = ensure_venv(tool)
    if err:
        return {"error": err}
    where = ["--parquet", str(parquet)] if parquet else []
    proc = subprocess.run(
        [str(venv(tool) / "bin" / "python"), __file__, "--worker", tool, *where,
         "--runs", str(runs), *extra],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout).strip()[-1500:]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: reset by exec, unlike ``ru_maxrss``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _columns() -> tuple[list[str], list[str], list[str], list[str]]:
    sys.path.insert(0, str(HERE))
    from collect import BOOLS, NUMERIC, STRINGS, TEMPORAL

    return NUMERIC, STRINGS, BOOLS, TEMPORAL


def _ref_db(parquet: Path, tool: str) -> Path:
    """The Parquet rows in a DuckDB file written by this venv's own DuckDB."""
    import duckdb

    db = parquet.with_suffix(f".{tool}.duckdb")
    if not db.exists():
        # built beside, then renamed: a build cut short never leaves a file without the table
        part = db.with_suffix(".partial")
        for stale in (part, Path(f"{part}.wal")):
            stale.unlink(missing_ok=True)
        con = duckdb.connect(str(part))
        con.execute("CREATE SCHEMA bench")
        con.execute(f"CREATE TABLE bench.events AS SELECT * FROM read_parquet('{parquet}')")
        con.close()
        part.replace(db)
    return db


def soda_worker(parquet: Path, runs: int) -> dict[str, Any]:
    from soda.execution.query.query import Query
    from soda.scan import Scan

    db = _ref_db(parquet, "soda")
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
    NUMERIC, STRINGS, BOOLS, TEMPORAL = _columns()
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
            "checks": len(checks) - 1, "version": _version("soda-core"),
            "peak_rss_mb": round(peak_rss_mb(), 1)}  # fmt: skip


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
        schema, db = "bench", _ref_db(parquet, "gx")
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
            "versions": versions, "workarounds": workarounds,
            "peak_rss_mb": round(peak_rss_mb(), 1)}  # fmt: skip


def _gx_raised(info: dict[str, Any]) -> bool:
    """GX nests exception info per metric id (or not, depending on the failure)."""
    if info.get("raised_exception"):
        return True
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _gx_expectations(gxe: Any) -> list[Any]:
    """GX expectations covering the same metrics (a fresh list per suite: GX owns them)."""
    big = 1e18
    NUMERIC, STRINGS, BOOLS, TEMPORAL = _columns()
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
    from collect import NOW, ensure_duckdb

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
        "bench/.venv-gx); medians of the rounds",
        "coverage": GX_COVERAGE,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--setup", choices=sorted(PACKAGES), help="create the tool's venv")
    ap.add_argument("--worker", choices=sorted(PACKAGES), help=argparse.SUPPRESS)
    ap.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--runs", type=int, default=3, help=argparse.SUPPRESS)
    ap.add_argument("--pg-url", help=argparse.SUPPRESS)
    ap.add_argument("--pg-schema", default="bench", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.setup:
        err = ensure_venv(args.setup)
        if err:
            # the benchmark reports it; installing is not the benchmark's failure
            print(f"bench: {err}", file=sys.stderr)
        return
    if args.worker == "soda":
        print(json.dumps(soda_worker(args.parquet, args.runs)))
    elif args.worker == "gx":
        done = gx_worker(args.parquet, args.runs, pg_url=args.pg_url, pg_schema=args.pg_schema)
        print(json.dumps(done, default=str))


if __name__ == "__main__":
    main()
