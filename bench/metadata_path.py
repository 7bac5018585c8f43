"""The metadata-only path: ``list_tables()`` over many tables, per engine, as JSON.

Creates N small tables (5 columns, 10 rows each) in a throwaway schema on every
reachable engine through the same harness the tests use, times discovery (tables,
columns, row-count/size/last-modified statistics, no scans) and drops the schema.

    .venv/bin/python -m bench.metadata_path [--tables 1000] [--engines duckdb,postgres]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlglot import exp

from tests.engines import KINDS, Engine, open_engine
from tests.servers import reachable

COLUMNS = {
    "id": "int",
    "name": "text",
    "amount": "decimal",
    "created_at": "timestamp",
    "flag": "bool",
}


def rows(table: int) -> list[tuple[Any, ...]]:
    start = datetime(2024, 1, 1)
    return [
        (i, f"t{table}-r{i}", Decimal(f"{i}.50"), start + timedelta(hours=i), i % 2 == 0)
        for i in range(10)
    ]


def build(engine: Engine, n: int) -> float:
    start = time.perf_counter()
    statements: list[exp.Expression] = []
    for t in range(n):
        name = f"t_{t:05d}"
        defs = [
            exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=exp.DataType.build(_type(p)))
            for c, p in COLUMNS.items()
        ]
        statements.append(
            exp.Create(this=exp.Schema(this=engine.table(name), expressions=defs), kind="TABLE")
        )
        values = exp.values(
            [
                tuple(engine.literal(v, p) for v, p in zip(r, COLUMNS.values(), strict=True))
                for r in rows(t)
            ]
        )
        statements.append(exp.insert(values, engine.table(name)))
    engine.admin_run(*statements)
    return time.perf_counter() - start


def _type(portable: str) -> str:
    from tests.engines import PORTABLE_TYPES

    return PORTABLE_TYPES[portable]


def measure(kind: str, n: int, repeat: int) -> dict[str, Any]:
    if kind in ("postgres", "mysql") and not reachable(kind):
        return {"engine": kind, "skipped": f"{kind} server not reachable"}
    with tempfile.TemporaryDirectory() as tmp, open_engine(kind, Path(tmp)) as engine:
        setup = build(engine, n)
        wh = engine.warehouse
        wh.connect()
        times, tables = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            tables = wh.list_tables()
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        wh.view_definitions()
        views_s = time.perf_counter() - start
        ours = [t for t in tables if t.ref.schema == engine.schema]
        return {
            "engine": kind,
            "server": getattr(wh, "server_version", None),
            "tables": len(ours),
            "columns": sum(len(t.columns) for t in ours),
            "with_row_count": sum(t.row_count is not None for t in ours),
            "with_bytes": sum(t.bytes is not None for t in ours),
            "with_last_modified": sum(t.last_modified is not None for t in ours),
            "list_tables_s_median": round(statistics.median(times), 4),
            "list_tables_s_min": round(min(times), 4),
            "per_table_ms": round(statistics.median(times) / max(1, len(ours)) * 1000, 3),
            "view_definitions_s": round(views_s, 4),
            "setup_s": round(setup, 2),
            "capabilities": {
                "METADATA_ROW_COUNT": wh.METADATA_ROW_COUNT,
                "METADATA_FRESHNESS": wh.METADATA_FRESHNESS,
            },
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default=",".join(KINDS))
    args = parser.parse_args(argv)
    results = [measure(k, args.tables, args.repeat) for k in args.engines.split(",") if k]
    print(
        json.dumps(
            {
                "benchmark": "metadata_path",
                "tables_per_engine": args.tables,
                "machine": {"python": platform.python_version(), "cpus": _cpus()},
                "results": results,
            },
            indent=2,
        )
    )
    return 0


def _cpus() -> int | None:
    import os

    return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
