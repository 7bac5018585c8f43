"""Web benchmark: pages and API on a store of 5,000 tables and 1 million metric points.

    .venv/bin/python bench/web.py [--tables 5000] [--points-per-table 200] [--clients 50]

Prints JSON: p50/p95 server time of the overview, a table page and an incident page (in
process, through the ASGI app; table pages are measured on tables not viewed before, so the
band model is fitted on every request), and API latency percentiles at ``--clients`` concurrent
clients against uvicorn in a subprocess on loopback (a bounded httpx load generator: at most
``--requests`` requests or ``--seconds`` seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.core.lineage import LineageGraph, Node, NodeKind, Origin
from tidegauge.steps.lineage import save_graph, table_node_id
from tidegauge.store import schema as s
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def build(path: Path, n_tables: int, per_table: int) -> dict[str, Any]:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    store = Store.open(f"sqlite:///{path}")
    rng = random.Random(7)
    started = time.perf_counter()
    hours = per_table - per_table // 25
    with store.engine.begin() as c:
        c.execute(insert(s.tables), [
            {"id": i + 1, "warehouse": "main", "database": "", "schema": f"schema_{i % 50:02d}",
             "name": f"table_{i:05d}", "kind": "table", "row_count": rng.randint(1000, 10**7),
             "bytes": rng.randint(10**5, 10**10), "first_seen": NOW - timedelta(days=30),
             "last_seen": NOW, "tags": [], "owner": f"team-{i % 20}@example.com"}
            for i in range(n_tables)])
        c.execute(insert(s.columns), [
            {"table_id": t + 1, "name": f"col_{k}", "data_type": "VARCHAR", "family": "string",
             "nullable": True, "ordinal": k, "tags": []}
            for t in range(n_tables) for k in range(5)])
        for run in range(8):
            c.execute(insert(s.runs).values(id=run + 1, started_at=NOW - timedelta(hours=6 * run),
                                            finished_at=NOW - timedelta(hours=6 * run),
                                            as_of=NOW, status="success", stats={}))
        batch: list[dict[str, Any]] = []
        start = NOW - timedelta(hours=hours)
        for t in range(1, n_tables + 1):
            amp = rng.uniform(100, 1000)
            for h in range(hours):
                at = start + timedelta(hours=h)
                batch.append({"table_id": t, "column_name": "", "segment": "",
                              "metric": "bucket_row_count", "bucket_start": at,
                              "bucket_seconds": 3600, "collected_at": NOW, "run_id": 1,
                              "value": amp * (1.5 + (h % 24) / 24) + rng.gauss(0, amp / 20)})
            for k in range(per_table - hours):
                at = NOW - timedelta(hours=6 * k)
                batch.append({"table_id": t, "column_name": "", "segment": "",
                              "metric": "max_timestamp", "bucket_start": at, "bucket_seconds": 0,
                              "collected_at": NOW, "run_id": 1,
                              "value": (at - timedelta(hours=rng.uniform(0, 30))).timestamp()})
            if len(batch) >= 50_000:
                c.execute(insert(s.metric_points), batch)
                batch = []
        if batch:
            c.execute(insert(s.metric_points), batch)
        n_inc = 200
        c.execute(insert(s.incidents), [
            {"id": i + 1, "status": "open" if i % 3 else "fixed", "severity": "high",
             "kind": "volume", "table_id": 1 + i * (n_tables // n_inc), "title": f"volume drop {i}",
             "summary": "rows dropped", "data_time": NOW - timedelta(hours=1),
             "detected_at": NOW - timedelta(minutes=i), "updated_at": NOW,
             "impact": {"tables": [f"schema_{(i + k) % 50:02d}.table_{(i * 7 + k) % n_tables:05d}"
                                   for k in range(5)], "columns": [], "exposures": [],
                        "owners": []}, "root_cause": []}
            for i in range(n_inc)])
        alerts = []
        for a in range(2000):
            t = 1 + (a * 37) % n_tables
            alerts.append({"id": a + 1, "fingerprint": f"fp{a}", "kind": "volume", "table_id": t,
                           "metric": "bucket_row_count", "observed": 10.0, "expected": 500.0,
                           "lower": 400.0, "upper": 600.0,
                           "data_time": NOW - timedelta(hours=1 + a % 100),
                           "detected_at": NOW - timedelta(hours=a % 48), "severity": "high",
                           "title": f"volume anomaly {a}", "explanation": {"text": "low"},
                           "incident_id": 1 + a % n_inc if a < 400 else None})
        c.execute(insert(s.alerts), alerts)
        c.execute(insert(s.incident_events), [
            {"incident_id": 1 + i % n_inc, "at": NOW, "type": "alert", "text": "alert",
             "details": {}}
            for i in range(1000)])
    g = LineageGraph()
    for i in range(n_tables):
        fqn = f"schema_{i % 50:02d}.table_{i:05d}"
        g.add_node(Node(table_node_id("main", fqn), NodeKind.TABLE, f"table_{i:05d}",
                        f"schema_{i % 50:02d}", f"table_{i:05d}"))
    for i in range(1, n_tables):
        parent = rng.randrange(max(0, i - 50), i)
        g.add_edge(table_node_id("main", f"schema_{parent % 50:02d}.table_{parent:05d}"),
                   table_node_id("main", f"schema_{i % 50:02d}.table_{i:05d}"), Origin.SQL)
    save_graph(store, g, NOW)
    store.close()
    return {"tables": n_tables, "metric_points": n_tables * per_table,
            "build_seconds": round(time.perf_counter() - started, 1)}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))] * 1000, 1)


def summary(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "p50_ms": pct(xs, 0.5), "p95_ms": pct(xs, 0.95),
            "p99_ms": pct(xs, 0.99), "mean_ms": round(statistics.mean(xs) * 1000, 1)}


def bench_pages(path: Path, n_tables: int, repeats: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from tidegauge.web.server import create_app

    store = Store.open(f"sqlite:///{path}")
    app = create_app(Project(name="bench"), store, clock=Clock.fixed(NOW))
    out: dict[str, Any] = {}
    rng = random.Random(1)
    with TestClient(app) as client:
        def timed(url: str) -> float:
            t0 = time.perf_counter()
            r = client.get(url)
            dt = time.perf_counter() - t0
            assert r.status_code == 200, (url, r.status_code)
            return dt

        timed("/")  # first request: imports, template compilation
        out["overview"] = summary([timed("/") for _ in range(repeats)])
        tables = rng.sample(range(1, n_tables + 1), repeats)
        out["table_page_first_view"] = summary([timed(f"/tables/{t}") for t in tables])
        out["table_page_repeat_view"] = summary([timed(f"/tables/{t}") for t in tables])
        incidents = [rng.randint(1, 200) for _ in range(repeats)]
        out["incident_page"] = summary([timed(f"/incidents/{i}") for i in incidents])
    store.close()
    return out


SERVER = """
import sys, uvicorn
sys.path.insert(0, {root!r})
from tidegauge.config import Project
from tidegauge.store.store import Store
from tidegauge.web.server import create_app
store = Store.open({url!r})
uvicorn.run(create_app(Project(name="bench"), store), host="127.0.0.1", port={port},
            log_level="warning", access_log=False)
"""


async def load(base: str, clients: int, max_requests: int, seconds: float,
               n_tables: int) -> dict[str, Any]:
    rng = random.Random(2)
    urls = []
    for _ in range(max_requests):
        k = rng.randrange(6)
        urls.append([
            f"/api/v1/tables?limit=50&offset={rng.randrange(0, n_tables - 50)}",
            f"/api/v1/tables/{rng.randint(1, n_tables)}",
            f"/api/v1/alerts?limit=50&offset={rng.randrange(0, 1900)}",
            f"/api/v1/alerts/{rng.randint(1, 2000)}",
            "/api/v1/incidents?open=true&limit=20",
            f"/api/v1/incidents/{rng.randint(1, 200)}",
        ][k])
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    queue = iter(urls)
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        async def worker() -> None:
            nonlocal errors
            for url in queue:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    r = await http.get(url)
                except httpx.HTTPError as e:
                    errors += 1
                    kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1
                    kinds[str(r.status_code)] = kinds.get(str(r.status_code), 0) + 1

        t_start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t_start
    return {"clients": clients, **summary(latencies), "errors": errors, "error_kinds": kinds,
            "requests_per_second": round(len(latencies) / wall, 1)}


def bench_api(path: Path, n_tables: int, clients: int, max_requests: int,
              seconds: float) -> dict[str, Any]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = SERVER.format(root=str(Path(__file__).resolve().parents[1]),
                         url=f"sqlite:///{path}", port=port)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.2)
        asyncio.run(load(base, clients, 200, 10, n_tables))  # warm-up
        return asyncio.run(load(base, clients, max_requests, seconds, n_tables))
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", type=int, default=5000)
    ap.add_argument("--points-per-table", type=int, default=200)
    ap.add_argument("--db", type=Path, default=Path("/tmp/tidegauge-bench-web.db"))
    ap.add_argument("--reuse", action="store_true", help="keep an existing --db")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    result: dict[str, Any] = {"cpus": os.cpu_count()}
    if args.reuse and args.db.exists():
        result["store"] = {"tables": args.tables, "reused": str(args.db)}
    else:
        result["store"] = build(args.db, args.tables, args.points_per_table)
    result["pages_server_time"] = bench_pages(args.db, args.tables, args.repeats)
    result["api_loopback"] = bench_api(args.db, args.tables, args.clients, args.requests,
                                       args.seconds)
    result["targets"] = {"page_p95_ms": 200, "api_p99_ms": 100}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
