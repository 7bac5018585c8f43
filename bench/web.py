"""Web benchmark: pages and API on a store of 5,000 tables and 1 million metric points.

    .venv/bin/python bench/web.py [--tables 5000] [--points-per-table 200] [--clients 50]
                                  [--workers 1,2]

Prints JSON: p50/p95 server time of the overview, a table page and an incident page (in
process, through the ASGI app; table pages are measured on tables not viewed before, so the
band model is fitted on every request), and API latency percentiles at ``--clients``
concurrent clients against ``tidegauge serve`` (uvicorn, ``--workers`` processes, each count
in turn) in a subprocess on loopback.

The API load is closed loop: each client holds one keep-alive connection and sends its next
request as soon as the previous answer has been read, at most ``--requests`` requests or
``--seconds`` seconds in all. Latency is from writing a request to reading the last byte of
its answer. The URLs are a random mix of six read endpoints (table and alert lists at random
offsets, tables, alerts and incidents by random id, the open-incident list), drawn with a
fixed seed; the warm-up before it uses other URLs, so the response cache starts cold. The
generator is raw asyncio sockets with a minimal HTTP/1.1 reader, so that it takes little of
the CPU the server needs (``generator_cpu_share`` reports how much it took); it runs on the
same machine, and ``loadavg`` says what else did.
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
        c.execute(
            insert(s.tables),
            [
                {
                    "id": i + 1,
                    "warehouse": "main",
                    "database": "",
                    "schema": f"schema_{i % 50:02d}",
                    "name": f"table_{i:05d}",
                    "kind": "table",
                    "row_count": rng.randint(1000, 10**7),
                    "bytes": rng.randint(10**5, 10**10),
                    "first_seen": NOW - timedelta(days=30),
                    "last_seen": NOW,
                    "tags": [],
                    "owner": f"team-{i % 20}@example.com",
                }
                for i in range(n_tables)
            ],
        )
        c.execute(
            insert(s.columns),
            [
                {
                    "table_id": t + 1,
                    "name": f"col_{k}",
                    "data_type": "VARCHAR",
                    "family": "string",
                    "nullable": True,
                    "ordinal": k,
                    "tags": [],
                }
                for t in range(n_tables)
                for k in range(5)
            ],
        )
        for run in range(8):
            c.execute(
                insert(s.runs).values(
                    id=run + 1,
                    started_at=NOW - timedelta(hours=6 * run),
                    finished_at=NOW - timedelta(hours=6 * run),
                    as_of=NOW,
                    status="success",
                    stats={},
                )
            )
        batch: list[dict[str, Any]] = []
        start = NOW - timedelta(hours=hours)
        for t in range(1, n_tables + 1):
            amp = rng.uniform(100, 1000)
            for h in range(hours):
                at = start + timedelta(hours=h)
                batch.append(
                    {
                        "table_id": t,
                        "column_name": "",
                        "segment": "",
                        "metric": "bucket_row_count",
                        "bucket_start": at,
                        "bucket_seconds": 3600,
                        "collected_at": NOW,
                        "run_id": 1,
                        "value": amp * (1.5 + (h % 24) / 24) + rng.gauss(0, amp / 20),
                    }
                )
            for k in range(per_table - hours):
                at = NOW - timedelta(hours=6 * k)
                batch.append(
                    {
                        "table_id": t,
                        "column_name": "",
                        "segment": "",
                        "metric": "max_timestamp",
                        "bucket_start": at,
                        "bucket_seconds": 0,
                        "collected_at": NOW,
                        "run_id": 1,
                        "value": (at - timedelta(hours=rng.uniform(0, 30))).timestamp(),
                    }
                )
            if len(batch) >= 50_000:
                c.execute(insert(s.metric_points), batch)
                batch = []
        if batch:
            c.execute(insert(s.metric_points), batch)
        n_inc = 200
        c.execute(
            insert(s.incidents),
            [
                {
                    "id": i + 1,
                    "status": "open" if i % 3 else "fixed",
                    "severity": "high",
                    "kind": "volume",
                    "table_id": 1 + i * (n_tables // n_inc),
                    "title": f"volume drop {i}",
                    "summary": "rows dropped",
                    "data_time": NOW - timedelta(hours=1),
                    "detected_at": NOW - timedelta(minutes=i),
                    "updated_at": NOW,
                    "impact": {
                        "tables": [
                            f"schema_{(i + k) % 50:02d}.table_{(i * 7 + k) % n_tables:05d}"
                            for k in range(5)
                        ],
                        "columns": [],
                        "exposures": [],
                        "owners": [],
                    },
                    "root_cause": [],
                }
                for i in range(n_inc)
            ],
        )
        alerts = []
        for a in range(2000):
            t = 1 + (a * 37) % n_tables
            alerts.append(
                {
                    "id": a + 1,
                    "fingerprint": f"fp{a}",
                    "kind": "volume",
                    "table_id": t,
                    "metric": "bucket_row_count",
                    "observed": 10.0,
                    "expected": 500.0,
                    "lower": 400.0,
                    "upper": 600.0,
                    "data_time": NOW - timedelta(hours=1 + a % 100),
                    "detected_at": NOW - timedelta(hours=a % 48),
                    "severity": "high",
                    "title": f"volume anomaly {a}",
                    "explanation": {"text": "low"},
                    "incident_id": 1 + a % n_inc if a < 400 else None,
                }
            )
        c.execute(insert(s.alerts), alerts)
        c.execute(
            insert(s.incident_events),
            [
                {
                    "incident_id": 1 + i % n_inc,
                    "at": NOW,
                    "type": "alert",
                    "text": "alert",
                    "details": {},
                }
                for i in range(1000)
            ],
        )
    g = LineageGraph()
    for i in range(n_tables):
        fqn = f"schema_{i % 50:02d}.table_{i:05d}"
        g.add_node(
            Node(
                table_node_id("main", fqn),
                NodeKind.TABLE,
                f"table_{i:05d}",
                f"schema_{i % 50:02d}",
                f"table_{i:05d}",
            )
        )
    for i in range(1, n_tables):
        parent = rng.randrange(max(0, i - 50), i)
        g.add_edge(
            table_node_id("main", f"schema_{parent % 50:02d}.table_{parent:05d}"),
            table_node_id("main", f"schema_{i % 50:02d}.table_{i:05d}"),
            Origin.SQL,
        )
    save_graph(store, g, NOW)
    store.close()
    return {
        "tables": n_tables,
        "metric_points": n_tables * per_table,
        "build_seconds": round(time.perf_counter() - started, 1),
    }


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))] * 1000, 1)


def summary(xs: list[float]) -> dict[str, float]:
    return {
        "n": len(xs),
        "p50_ms": pct(xs, 0.5),
        "p95_ms": pct(xs, 0.95),
        "p99_ms": pct(xs, 0.99),
        "mean_ms": round(statistics.mean(xs) * 1000, 1),
    }


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
import sys
sys.path.insert(0, {root!r})
from tidegauge.config import Project
from tidegauge.web.server import serve_blocking
from tidegauge.store.store import Store
serve_blocking(Project(name="bench"), Store.open({url!r}), "127.0.0.1", {port}, scheduler=False,
               workers={workers}, access_log=False)
"""


def api_urls(n: int, n_tables: int, seed: int) -> list[str]:
    """A random mix of the six read endpoints: lists at random offsets and random ids."""
    rng = random.Random(seed)
    urls = []
    for _ in range(n):
        k = rng.randrange(6)
        urls.append(
            [
                f"/api/v1/tables?limit=50&offset={rng.randrange(0, n_tables - 50)}",
                f"/api/v1/tables/{rng.randint(1, n_tables)}",
                f"/api/v1/alerts?limit=50&offset={rng.randrange(0, 1900)}",
                f"/api/v1/alerts/{rng.randint(1, 2000)}",
                "/api/v1/incidents?open=true&limit=20",
                f"/api/v1/incidents/{rng.randint(1, 200)}",
            ][k]
        )
    return urls


def process_cpu_seconds(root_pid: int) -> dict[int, float]:
    """User + system CPU of a process and of each live child (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == root_pid or int(fields[1]) == root_pid:
            out[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    return out


async def load(port: int, urls: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """Closed loop: ``clients`` keep-alive connections, each sending its next request as soon
    as the previous answer is read, until the URLs run out or ``seconds`` pass.

    Raw asyncio streams and a minimal HTTP/1.1 reader: a full client library costs more CPU
    per request than the server's cached path, and it runs on the same cores.
    """
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    hits = 0
    queue = iter(urls)
    deadline = time.monotonic() + seconds
    host = f"127.0.0.1:{port}"

    async def worker() -> None:
        nonlocal hits
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for url in queue:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                writer.write(f"GET {url} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"x-cache" and value.strip() == b"hit":
                        hits += 1
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                status = head[9:12].decode()
                if status != "200":
                    kinds[status] = kinds.get(status, 0) + 1
        except (OSError, asyncio.IncompleteReadError) as e:
            kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
        finally:
            writer.close()

    cpu0, t_start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - t_start
    return {
        "clients": clients,
        **summary(latencies),
        "errors": sum(kinds.values()),
        "error_kinds": kinds,
        "requests_per_second": round(len(latencies) / wall, 1),
        "cache_hit_share": round(hits / max(1, len(latencies)), 3),
        "seconds": round(wall, 1),
        "generator_cpu_share": round((time.process_time() - cpu0) / wall, 3),
    }


def bench_api(
    path: Path, n_tables: int, clients: int, max_requests: int, seconds: float, workers: int
) -> dict[str, Any]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = SERVER.format(
        root=str(Path(__file__).resolve().parents[1]),
        url=f"sqlite:///{path}",
        port=port,
        workers=workers,
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.2)
        # warm-up on other URLs than the measured ones: code paths and SQLite's page cache,
        # not the response cache
        asyncio.run(load(port, api_urls(500, n_tables, seed=99), clients, 15))
        cpu0 = process_cpu_seconds(proc.pid)
        out = asyncio.run(load(port, api_urls(max_requests, n_tables, seed=2), clients, seconds))
        cpu1 = process_cpu_seconds(proc.pid)
        used = {pid: cpu1[pid] - cpu0.get(pid, 0.0) for pid in cpu1}
        out["server_cpu_ms_per_request"] = round(sum(used.values()) * 1000 / max(1, out["n"]), 2)
        # how the work split between processes (uneven keep-alive connections show here)
        out["server_cpu_share_per_process"] = sorted(
            (round(v / max(1e-9, sum(used.values())), 2) for v in used.values() if v > 0),
            reverse=True,
        )
        out["workers"] = workers
        out["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
        out["generator"] = "python asyncio raw sockets, keep-alive, closed loop"
        return out
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
    ap.add_argument(
        "--workers",
        default="1",
        help="uvicorn worker processes; a comma-separated list runs each in turn",
    )
    ap.add_argument("--api-only", action="store_true", help="skip the page timings")
    args = ap.parse_args()
    result: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
    }
    if args.reuse and args.db.exists():
        result["store"] = {"tables": args.tables, "reused": str(args.db)}
    else:
        result["store"] = build(args.db, args.tables, args.points_per_table)
    if not args.api_only:
        result["pages_server_time"] = bench_pages(args.db, args.tables, args.repeats)
    result["api_loopback"] = [
        bench_api(args.db, args.tables, args.clients, args.requests, args.seconds, int(w))
        for w in str(args.workers).split(",")
    ]
    result["targets"] = {"page_p95_ms": 200, "api_p99_ms": 100}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
