"""Store scale: metric-history reads and writes on PostgreSQL at 100 million points, as JSON.

    .venv/bin/python -m bench.store_history [--points 100000000] [--compare 1000000]
        [--samples 200] [--url postgresql://postgres@127.0.0.1:5432/postgres] [--keep]

Builds a store in a throwaway database (``tidegauge_bench_store``, dropped and recreated)
through the real migrations, then fills ``metric_points`` server-side. Every table has 10
series (3 table-level, 5 column metrics over 3 columns, 2 categorical ``value_count``
series whose segment is the value); half the points belong to *recent* tables with
``--buckets`` hourly buckets (1,000: 42 days, about what detection reads), half to *old*
tables with ``--long-buckets`` (10,000: 417 days, history never pruned). 100M points =
5,000 recent tables + 500 old ones. Points are written bucket by bucket, as hourly runs
write them, so one table's points are spread over the heap as in a real store.
Secondary indexes and constraints are dropped for the load and rebuilt from their own
definitions afterwards, so the figures are those of whatever the migrations declare.
``VACUUM ANALYZE`` closes the build, as autovacuum would on a store that mostly grows.

Measured per call, as medians (and p90) over ``--samples`` random tables of each kind,
each table read once per measure so that no read is served by an earlier read of the same
table (the server's caches are not dropped: the machine is shared):

* ``detect_read`` — the call detection makes (``steps/detect.py``): every unsegmented series
  of the detection kinds over 43 days;
* ``root_cause_read`` — ``value_count`` points of a table over 29 days (``steps/group.py``);
* ``recent_read`` — every point of the last 2 days (``steps/detect_other.py``);
* ``table_page_read`` — the table page / metrics API store reads (``store/browse.py``): the
  table's series keys with their counts, then two series over 14 + 28 days;
* ``chunk_read`` — detection's batch read (``store/bulk.py`` ``stream_points``, with the
  filters ``steps/detect.py`` passes) of ``--chunk`` tables, per table;
* ``upsert_run`` — one run's points for one table (a new hourly bucket plus the previous
  bucket rechecked: 20 points) through ``Store.upsert_points``;
* ``prune_first`` / ``prune_next_day`` — when ``tidegauge.store.retention`` exists: one old
  table's first prune (default policy), then, after a VACUUM, the next day's.

With ``--compare N`` the same is measured on a second store of N points (default 1M) and
the ratio big/small of each median is reported: flat (≈1) means the history scales.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tidegauge.core.model import MetricPoint, TableRef
from tidegauge.store import schema as s
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
HISTORY_DAYS = 43  # steps/detect.py: max(defaults.history_days, 42) + 1
DB = "tidegauge_bench_store"

#: (metric, column, segment, bucket_seconds, scale) of the 10 series every table has
SERIES = [
    ("bucket_row_count", "", "", 3600, 5000.0),
    ("row_count", "", "", 0, 1.0e6),
    ("last_modified", "", "", 0, 0.0),
    ("null_rate", "amount", "", 3600, 0.02),
    ("mean", "amount", "", 3600, 120.0),
    ("null_rate", "customer_id", "", 3600, 0.001),
    ("distinct_count", "customer_id", "", 3600, 3000.0),
    ("empty_rate", "status", "", 3600, 0.01),
    ("value_count", "status", "paid", 3600, 4000.0),
    ("value_count", "status", "refunded", 3600, 200.0),
]

# table ids 1..n_old have points in every bucket; n_old+1..n_all only from bucket :recent on
LOAD = """
INSERT INTO metric_points
  (table_id, column_name, segment, metric, bucket_start, bucket_seconds, value,
   collected_at, run_id)
SELECT t.id, s.col, s.seg, s.metric,
       CAST(:start AS timestamptz) + b.i * interval '1 hour', s.secs,
       CASE WHEN s.metric = 'last_modified'
            THEN extract(epoch FROM CAST(:start AS timestamptz) + b.i * interval '1 hour')
            ELSE s.scale * (1 + 0.3 * sin(b.i * pi() / 12) + 0.05 * random()) END,
       CAST(:start AS timestamptz) + (b.i + 1) * interval '1 hour', b.i + 1
FROM generate_series(CAST(:b0 AS int), CAST(:b1 AS int)) AS b(i)
CROSS JOIN LATERAL generate_series(
  1, CASE WHEN b.i >= CAST(:recent AS int) THEN CAST(:n_all AS int) ELSE CAST(:n_old AS int) END
) AS t(id)
CROSS JOIN LATERAL (VALUES {values}) AS s(metric, col, seg, secs, scale)
"""


def _values() -> str:
    return ", ".join(
        f"('{m}', '{c}', '{g}', {secs}, CAST({scale!r} AS float8))"
        for m, c, g, secs, scale in SERIES
    )


def _admin(url: str) -> Engine:
    return create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


def _db_url(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{name}"


def _secondary(c: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """metric_points' constraints (but the primary key) and indexes not backing one."""
    cons = c.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'metric_points'::regclass AND contype <> 'p' ORDER BY contype DESC"
        )
    ).all()
    idx = c.execute(
        text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = 'metric_points'::regclass AND NOT x.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)"
        )
    ).all()
    return [(r[0], r[1]) for r in cons], [(r[0], r[1]) for r in idx]


class Shape:
    def __init__(self, points: int, buckets: int, long_buckets: int) -> None:
        per = len(SERIES)
        self.buckets, self.long_buckets = buckets, long_buckets
        self.n_old = max(1, points // 2 // (per * long_buckets))
        self.n_recent = max(1, (points - self.n_old * per * long_buckets) // (per * buckets))
        self.n_all = self.n_old + self.n_recent

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables_recent": self.n_recent,
            "buckets_recent": self.buckets,
            "tables_old": self.n_old,
            "buckets_old": self.long_buckets,
            "series_per_table": len(SERIES),
            "points_built": len(SERIES)
            * (self.n_recent * self.buckets + self.n_old * self.long_buckets),
        }


def build(admin_url: str, name: str, shape: Shape) -> dict[str, Any]:
    admin = _admin(admin_url)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    store = Store.open(_db_url(admin_url, name))
    with store.engine.begin() as c:
        for lo in range(0, shape.n_all, 5000):
            c.execute(
                insert(s.tables),
                [
                    {
                        "id": i,
                        "warehouse": "main",
                        "database": "",
                        "schema": f"s{i % 50:02d}",
                        "name": f"t_{i:05d}",
                        "kind": "table",
                        "first_seen": NOW,
                        "last_seen": NOW,
                        "tags": [],
                    }
                    for i in range(lo + 1, min(lo + 5000, shape.n_all) + 1)
                ],
            )
        c.execute(
            text("SELECT setval(pg_get_serial_sequence('tables', 'id'), :n)"), {"n": shape.n_all}
        )
        cons, idx = _secondary(c)
        for cname, _ in cons:
            c.execute(text(f'ALTER TABLE metric_points DROP CONSTRAINT "{cname}"'))
        for iname, _ in idx:
            c.execute(text(f'DROP INDEX "{iname}"'))
    phases["schema_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    start = NOW - timedelta(hours=shape.long_buckets)
    recent = shape.long_buckets - shape.buckets
    load = text(LOAD.format(values=_values()))
    b0 = 0
    with store.engine.connect() as c:
        c.execute(text("SET synchronous_commit = off"))
        while b0 < shape.long_buckets:
            per_bucket = len(SERIES) * (shape.n_all if b0 >= recent else shape.n_old)
            b1 = min(b0 + max(1, 2_000_000 // per_bucket), shape.long_buckets)
            if b0 < recent < b1:
                b1 = recent
            c.execute(
                load,
                {
                    "start": start,
                    "b0": b0,
                    "b1": b1 - 1,
                    "recent": recent,
                    "n_all": shape.n_all,
                    "n_old": shape.n_old,
                },
            )
            c.commit()
            b0 = b1
    phases["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with store.engine.connect() as c:
        c.execute(text("SET maintenance_work_mem = '1GB'"))
        for _, ddl in idx:
            c.execute(text(ddl))
            c.commit()
        for cname, ddl in cons:
            c.execute(text(f'ALTER TABLE metric_points ADD CONSTRAINT "{cname}" {ddl}'))
            c.commit()
    phases["index_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE metric_points"))
        c.execute(text("VACUUM ANALYZE tables"))
    phases["vacuum_analyze_s"] = time.perf_counter() - t0
    store.close()
    return {
        "phases": {k: round(v, 1) for k, v in phases.items()},
        "build_s": round(sum(phases.values()), 1),
    }


def sizes(store: Store) -> dict[str, Any]:
    with store.engine.connect() as c:
        rows = c.execute(
            text("SELECT reltuples::bigint FROM pg_class WHERE oid = 'metric_points'::regclass")
        ).scalar_one()
        total, heap, indexes = c.execute(
            text(
                "SELECT pg_total_relation_size('metric_points'), "
                "pg_relation_size('metric_points'), "
                "pg_indexes_size('metric_points')"
            )
        ).one()
        per_index = c.execute(
            text(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid), "
                "pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = 'metric_points'::regclass ORDER BY 1"
            )
        ).all()
    gb = 1024**3
    return {
        "points_estimate": int(rows),
        "total_gb": round(total / gb, 3),
        "heap_gb": round(heap / gb, 3),
        "indexes_gb": round(indexes / gb, 3),
        "bytes_per_point": round(total / max(rows, 1), 1),
        "index_gb": {name: round(size / gb, 3) for name, size, _ in per_index},
        "index_ddl": {name: ddl.split(" USING ", 1)[-1] for name, _, ddl in per_index},
    }


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in seconds)
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
        "n": len(ms),
    }


def explain(store: Store, call: Callable[[], Any]) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the last statement on metric_points ``call`` runs."""
    seen: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: Any) -> None:
        if "metric_points" in statement:
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", grab)
    try:
        call()
    finally:
        event.remove(store.engine, "before_cursor_execute", grab)
    statement, params = seen[-1]
    with store.engine.connect() as c:
        plan = c.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", params
        ).scalar_one()
    nodes: list[str] = []

    def walk(n: dict[str, Any]) -> None:
        label = n["Node Type"]
        if "Index Name" in n:
            label += f" on {n['Index Name']}"
        nodes.append(label)
        for child in n.get("Plans", []):
            walk(child)

    root = plan[0]["Plan"]
    walk(root)
    return {
        "nodes": nodes,
        "rows": root.get("Actual Rows"),
        "buffers_hit": root.get("Shared Hit Blocks"),
        "buffers_read": root.get("Shared Read Blocks"),
        "heap_fetches": _find(root, "Heap Fetches"),
        "server_ms": round(plan[0]["Execution Time"], 2),
    }


def _find(node: dict[str, Any], key: str) -> Any:
    if key in node:
        return node[key]
    for child in node.get("Plans", []):
        v = _find(child, key)
        if v is not None:
            return v
    return None


def measure(url: str, shape: Shape, samples: int, seed: int, chunk: int) -> dict[str, Any]:
    from tidegauge.monitors.tuning import SERIES_KINDS
    from tidegauge.store import browse

    store = Store.open(url)
    rng = random.Random(seed)
    kinds = list(SERIES_KINDS)
    pools = {
        "recent": list(range(shape.n_old + 1, shape.n_all + 1)),
        "old": list(range(1, shape.n_old + 1)),
    }
    cursors = {}
    for kind, pool in pools.items():
        rng.shuffle(pool)
        cursors[kind] = itertools.cycle(pool)

    def tables(kind: str) -> list[int]:
        return [next(cursors[kind]) for _ in range(samples)]

    def timed(fn: Callable[[int], int], kind: str) -> dict[str, float]:
        out = []
        for tid in tables(kind):
            t0 = time.perf_counter()
            n = fn(tid)
            out.append(time.perf_counter() - t0)
            assert n, f"nothing read or written for table {tid}"
        return summary(out)

    since = NOW - timedelta(days=HISTORY_DAYS)

    def detect(tid: int) -> int:
        return len(store.points(tid, since=since, metrics=kinds, unsegmented=True))

    def root_cause(tid: int) -> int:
        return len(
            store.points(
                tid,
                metric="value_count",
                since=NOW - timedelta(days=29),
                until=NOW + timedelta(seconds=1),
            )
        )

    def recent(tid: int) -> int:
        return len(store.points(tid, since=NOW - timedelta(days=2)))

    def table_page(tid: int) -> int:
        keys = browse.series_keys(store, tid)
        wanted = [("bucket_row_count", "", ""), ("null_rate", "amount", "")]
        got = browse.series_points(store, tid, wanted, since=NOW - timedelta(days=14 + 28))
        return len(keys) * sum(len(v) for v in got.values())

    def upsert(tid: int) -> int:
        ref = TableRef("main", f"s{tid % 50:02d}", f"t_{tid:05d}")
        pts = [
            MetricPoint(
                table=ref,
                metric=m,
                bucket_start=NOW - timedelta(hours=h),
                value=1.0,
                column=c or None,
                segment=g or None,
                bucket_seconds=secs,
            )
            for m, c, g, secs, _ in SERIES
            for h in (0, 1)
        ]
        return store.upsert_points(tid, pts, run_id=10**6, now=NOW)

    reads = {
        "detect_read": detect,
        "root_cause_read": root_cause,
        "recent_read": recent,
        "table_page_read": table_page,
    }
    detect(pools["recent"][0])  # connect, compile
    result: dict[str, Any] = {
        "points_per_call": {
            "detect_read": {k: detect(pools[k][0]) for k in pools},
            "root_cause_read": root_cause(pools["recent"][0]),
            "recent_read": recent(pools["recent"][0]),
        }
    }
    for name, fn in reads.items():
        result[name] = {kind: timed(fn, kind) for kind in pools}
    result["explain"] = {
        f"{name}_{kind}": explain(store, lambda fn=fn, kind=kind: fn(next(cursors[kind])))
        for name, fn in reads.items()
        for kind in pools
    }
    result["store"] = sizes(store)
    result["chunk_read"] = _chunk_read(store, pools, cursors, chunk)
    # writes last: they leave heap pages not all-visible until the next vacuum
    result["upsert_run"] = {kind: timed(upsert, kind) for kind in pools}
    result["prune"] = _prune(store, list(dict.fromkeys(tables("old")[: max(3, samples // 10)])))
    store.close()
    return result


def _chunk_read(
    store: Store, pools: dict[str, list[int]], cursors: dict[str, Any], chunk: int
) -> dict[str, Any]:
    """Detection's batch read (``store.bulk.stream_points``, when it exists): the points of
    ``chunk`` tables in one streamed statement, with the filters detection passes."""
    try:
        from tidegauge.config import Project
        from tidegauge.steps.detect import series_read
        from tidegauge.steps.detect_other import categories_read, updates_read
        from tidegauge.store.bulk import stream_points
    except ImportError as e:
        return {"skipped": f"no batch read here ({e})"}
    filters = [series_read(Project(), NOW), categories_read(NOW), *updates_read(NOW)]
    out: dict[str, Any] = {"tables_per_chunk": chunk}
    for kind, pool in pools.items():
        size = min(chunk, len(pool))
        per_table, points = [], 0
        for _ in range(2):
            refs = {
                tid: TableRef("main", "s", f"t_{tid:05d}")
                for tid in (next(cursors[kind]) for _ in range(size))
            }
            t0 = time.perf_counter()
            points = sum(len(pts) for _, pts in stream_points(store, refs, filters))
            per_table.append((time.perf_counter() - t0) / len(refs))
        out[kind] = {**summary(per_table), "per": "table", "points_per_chunk": points}
    refs = {tid: TableRef("main", "s", "t") for tid in pools["old"][:chunk]}
    out["explain_old"] = explain(store, lambda: sum(1 for _ in stream_points(store, refs, filters)))
    return out


def _prune(store: Store, ids: list[int]) -> dict[str, Any]:
    try:
        from tidegauge.store.retention import Retention, prune
    except ImportError:
        return {"skipped": "no tidegauge.store.retention"}
    out: dict[str, Any] = {"tables": len(ids)}
    for label, at in (("prune_first", NOW), ("prune_next_day", NOW + timedelta(days=1))):
        if label == "prune_next_day":  # as autovacuum would after a first prune's deletes
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM metric_points"))
        times, report = [], None
        for tid in ids:
            t0 = time.perf_counter()
            report = prune(store, Retention(), at, tables=[tid])
            times.append(time.perf_counter() - t0)
        out[label] = {**summary(times), "last": report.as_dict() if report else None}
    return out


def one(admin_url: str, name: str, points: int, args: argparse.Namespace) -> dict[str, Any]:
    shape = Shape(points, args.buckets, args.long_buckets)
    built: dict[str, Any] = {"reused": True}
    if not (args.reuse and _exists(admin_url, name)):
        built = build(admin_url, name, shape)
    out = {
        **shape.as_dict(),
        "build": built,
        **measure(_db_url(admin_url, name), shape, args.samples, args.seed, args.chunk),
    }
    if not args.keep:
        admin = _admin(admin_url)
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return out


def _exists(admin_url: str, name: str) -> bool:
    admin = _admin(admin_url)
    with admin.connect() as c:
        found = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    admin.dispose()
    return found is not None


MEASURES = ("detect_read", "root_cause_read", "recent_read", "table_page_read", "upsert_run")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--points", type=int, default=100_000_000)
    ap.add_argument(
        "--compare",
        type=int,
        default=1_000_000,
        help="also measure a store of this many points (0: skip)",
    )
    ap.add_argument("--buckets", type=int, default=1000, help="hourly buckets, recent tables")
    ap.add_argument("--long-buckets", type=int, default=10000, help="… and old tables")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--chunk", type=int, default=200, help="tables per batch read")
    ap.add_argument(
        "--url",
        default=os.environ.get(
            "TIDEGAUGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    ap.add_argument("--db", default=DB, help="bench database name (dropped and recreated)")
    ap.add_argument("--keep", action="store_true", help="keep the bench databases")
    ap.add_argument("--reuse", action="store_true", help="measure existing bench databases")
    ap.add_argument("--only", choices=["big", "small"], help="build and measure one store")
    args = ap.parse_args()
    started = time.perf_counter()
    out: dict[str, Any] = {
        "bench": "store_history",
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "now": NOW.isoformat(),
        "load_average_at_start": os.getloadavg(),
    }
    if args.only != "small":
        out["big"] = one(args.url, args.db, args.points, args)
    if args.compare and args.only != "big":
        out["small"] = one(args.url, args.db + "_small", args.compare, args)
    if "big" in out and "small" in out:
        out["ratio_big_over_small"] = {
            m: {
                k: round(out["big"][m][k]["median_ms"] / out["small"][m][k]["median_ms"], 2)
                for k in ("recent", "old")
            }
            for m in MEASURES
        }
    out["load_average_at_end"] = os.getloadavg()
    out["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
