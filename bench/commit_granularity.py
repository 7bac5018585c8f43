"""Commit granularity of collection: one store transaction per table vs the shipped policy
(commit once 0.5 s of collection has accumulated), as JSON.

A kill -9 loses what was collected and not yet committed. Committing per table bounds that at
one table; the shipped policy bounds it at one table or half a second of small tables' work
(writes are idempotent, so a recovery run stores what an uninterrupted run would). This
measures what per-table commits cost on the metadata-only path (many small tables, where the
batching matters), in one process, the two policies alternating, CPU seconds and wall
seconds each, on a SQLite store (the demo's and most single-machine installs') or a fresh
PostgreSQL database.

    .venv/bin/python -m bench.commit_granularity [--tables 2000] [--repeat 3] [--store postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.scale import build_duckdb

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


PG_SERVER = os.environ.get("TIDEGAUGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _fresh_pg(name: str) -> str:
    """A new, empty PostgreSQL database on the test server; its URL."""
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')
    server = PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{server}/{name}"


def one_run(
    workdir: Path, target: Path, per_table: bool, hour: int, engine: str = "sqlite"
) -> dict[str, float]:
    import tidegauge.steps.collect as collect
    from tidegauge.config import load_project
    from tidegauge.core.clock import Clock
    from tidegauge.runner import run
    from tidegauge.store.store import Store

    policy = "table" if per_table else "batch"
    store_url = (
        _fresh_pg(f"tg_commit_{policy}_{hour}")
        if engine == "postgresql"
        else f"sqlite:///{workdir / f'state-{policy}-{hour}.db'}"
    )
    (workdir / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: {target}}}]
store: {{url: "{store_url}"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
"""
    )
    project = load_project(workdir / "tidegauge.yml")
    store = Store.open(project.store_url())
    shipped = collect.COMMIT_AFTER_SECONDS
    collect.COMMIT_AFTER_SECONDS = 0.0 if per_table else shipped
    try:
        start, cpu = time.perf_counter(), time.process_time()
        report = run(project, store, Clock.fixed(NOW + timedelta(hours=hour)), notify=False)
        out = {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu}
    finally:
        collect.COMMIT_AFTER_SECONDS = shipped
        store.close()
    assert report.tables > 0 and not report.failed_tables
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tables", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        workdir = Path(d)
        target = workdir / "w.duckdb"
        build_duckdb(target, args.tables)
        runs: dict[str, list[dict[str, float]]] = {"batched": [], "per_table": []}
        for i in range(args.repeat):
            for name in ("batched", "per_table"):  # alternating: load drifts affect both
                runs[name].append(one_run(workdir, target, name == "per_table", i, args.store))
    med: dict[str, Any] = {
        name: {k: round(statistics.median(r[k] for r in rs), 2) for k in ("wall", "cpu")}
        for name, rs in runs.items()
    }
    print(
        json.dumps(
            {
                "tables": args.tables,
                "store": args.store,
                "repeat": args.repeat,
                "median_seconds": med,
                "per_table_over_batched_cpu": round(
                    med["per_table"]["cpu"] / med["batched"]["cpu"], 2
                ),
                "per_table_over_batched_wall": round(
                    med["per_table"]["wall"] / med["batched"]["wall"], 2
                ),
                "load_average": round(os.getloadavg()[0], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
