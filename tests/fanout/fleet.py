"""Real Celery worker processes, a generated warehouse and a store fingerprint for the
fan-out tests and ``bench/fanout.py``.

Workers are ``tidegauge worker`` subprocesses, each the leader of its own process group,
so that a test can SIGKILL a worker with its pool children and the finalizer can always
tear the whole fleet down. Each fleet listens on its own queue, so stray tasks never leak
from one test to another.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tidegauge.store import schema as s
from tidegauge.store.store import Store

END = datetime(2026, 3, 10, 12, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def build_warehouse(path: Path, tables: int, *, days: int = 14, hours_after: int = 0) -> None:
    """``tables`` hourly tables ``raw.t_0000``…; ``raw.t_0000`` loses 90% of its rows in
    the 3 hours before END and ``analytics.v_0000`` reads it, so the drop has a downstream
    symptom. Tables differ in size and phase so no two series are the same. Rows run from
    ``days`` before END to ``hours_after`` hours after it (for runs later than END)."""
    import duckdb

    start = END - timedelta(days=days)
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA analytics")
    con.execute("BEGIN")
    for i in range(tables):
        drop = (
            "CASE WHEN hour_start >= TIMESTAMP '2026-03-10 09:00:00' "
            "AND hour_start < TIMESTAMP '2026-03-10 12:00:00' THEN 0.1 ELSE 1 END"
            if i == 0
            else "1"
        )
        con.execute(
            f"""
            CREATE TABLE raw.t_{i:04d} AS
            WITH hours AS (
                SELECT TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}' + h * INTERVAL 1 HOUR AS hour_start
                FROM range(0, {days * 24 + hours_after}) t(h)
            ), sized AS (
                SELECT hour_start,
                       CAST({20 + i % 7} + 10 * sin(2 * pi() * (hour(hour_start) - {i % 5}) / 24)
                            AS INTEGER) * {drop} AS n
                FROM hours
            )
            SELECT row_number() OVER () AS id,
                   hour_start + (r * 7 % 60) * INTERVAL 1 MINUTE AS created_at,
                   CASE WHEN r % 4 = 0 THEN 'paid' ELSE 'placed' END AS status,
                   (r % 97) * 1.5 AS amount
            FROM sized, range(0, CAST(n AS INTEGER)) x(r)
            """
        )
    con.execute("COMMIT")
    con.execute(
        "CREATE VIEW analytics.v_0000 AS "
        "SELECT id, created_at, status, amount FROM raw.t_0000 WHERE amount >= 0"
    )
    con.close()


def write_project(
    folder: Path,
    store_url: str,
    *,
    field_health: bool = False,
    execution: str | None = None,
    history_days: int = 14,
) -> Path:
    """A project over ``folder/w.duckdb``; ``execution`` is the YAML flow mapping."""
    path = folder / "tidegauge.yml"
    path.write_text(
        f"""
name: fanout
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "{store_url}"}}
defaults: {{history_days: {history_days}}}
tables:
  - match: "*"
    field_health: {str(field_health).lower()}
    categorical: false
  - match: "analytics.*"
    owner: analytics@example.com
{f"execution: {execution}" if execution else ""}
"""
    )
    return path


class Fleet:
    """``n`` worker processes for one project file, torn down by :meth:`stop`."""

    def __init__(self, config: Path, n: int, *, logs: Path) -> None:
        self.config, self.n, self.logs = config, n, logs
        self.tag = uuid.uuid4().hex[:8]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.names: list[str] = []

    def start(self) -> Fleet:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("TIDEGAUGE_CONFIG", None)
        self.logs.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            name = f"w{i}-{self.tag}@localhost"
            out = open(self.logs / f"worker{i}.log", "wb")  # noqa: SIM115 - the child owns it
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tidegauge.cli.main",
                        "--config",
                        str(self.config),
                        "worker",
                        "--concurrency",
                        "1",
                        "--loglevel",
                        "INFO",
                        "--hostname",
                        name,
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    cwd=str(self.config.parent),
                )
            )
            out.close()
            self.names.append(f"celery@{name}" if "@" not in name else name)
        return self

    def wait_ready(self, app: Any, timeout: float = 90.0) -> None:
        """Until every worker answers a ping (a broker round trip, not a sleep)."""
        deadline = time.monotonic() + timeout
        waiting = set(self.names)
        while waiting:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a worker exited with {p.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers {sorted(waiting)} never answered:\n{self.log_tail()}")
            for reply in app.control.ping(destination=sorted(waiting), timeout=1.0):
                waiting -= set(reply)

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(
            f"--- {f.name}\n{f.read_text(errors='replace')[-chars:]}"
            for f in sorted(self.logs.glob("worker*.log"))
        )

    def kill(self, i: int) -> None:
        """SIGKILL worker ``i`` and its pool children (its whole process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[i].pid, signal.SIGKILL)
        self.procs[i].wait(30)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(max(0.1, deadline - time.monotonic()))
            # whatever is left of the group (pool children included) goes now
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            if p.poll() is None:
                p.wait(30)


def fingerprint(store: Store, *, points: bool = True) -> dict[str, Any]:
    """Everything a run stores, by natural keys (no ids, no wall-clock times); with
    ``points=False`` the points are only counted (benchmarks store millions)."""
    t, p, a, i = s.tables, s.metric_points, s.alerts, s.incidents
    with store.engine.connect() as c:
        names = {
            r.id: f"{r.schema}.{r.name}" for r in c.execute(select(t.c.id, t.c.schema, t.c.name))
        }
        if points:
            listed: Any = sorted(
                (
                    names[r.table_id],
                    r.column_name,
                    r.segment,
                    r.metric,
                    r.bucket_start.replace(tzinfo=None),
                    r.bucket_seconds,
                    None if r.value is None else round(r.value, 9),
                )
                for r in c.execute(select(p))
            )
        else:
            listed = [c.execute(select(func.count()).select_from(p)).scalar()]
        alert_key = {
            r.id: (
                r.kind,
                names[r.table_id],
                r.column_name,
                r.segment,
                r.metric,
                r.data_time.replace(tzinfo=None),
            )
            for r in c.execute(select(a))
        }
        alerts = sorted(
            (
                *alert_key[r.id],
                r.severity,
                r.title,
                None if r.observed is None else round(r.observed, 9),
            )
            for r in c.execute(select(a))
        )
        members: dict[int, list[Any]] = {}
        for r in c.execute(select(a.c.id, a.c.incident_id)):
            if r.incident_id is not None:
                members.setdefault(r.incident_id, []).append(alert_key[r.id])
        incidents = sorted(
            (
                r.kind,
                names[r.table_id],
                r.column_name,
                r.status,
                r.severity,
                r.data_time.replace(tzinfo=None),
                tuple(sorted(members.get(r.id, []))),
                alert_key.get(r.root_alert_id),
                tuple(sorted((r.impact or {}).get("tables", []))),
            )
            for r in c.execute(select(i))
        )
        ledger = Counter(
            (names[r.table_id], r.monitor)
            for r in c.execute(select(s.cost_ledger.c.table_id, s.cost_ledger.c.monitor))
            if r.table_id is not None
        )
        snapshots = Counter(
            names[r.table_id] for r in c.execute(select(s.schema_snapshots.c.table_id))
        )
        events = sorted(
            (names[r.table_id], r.change, r.column_name, r.old_value, r.new_value)
            for r in c.execute(select(s.schema_events))
        )
    return {
        "points": listed,
        "alerts": alerts,
        "incidents": incidents,
        "ledger": ledger,
        "snapshots": snapshots,
        "schema_events": events,
    }


def diff(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """What differs between two fingerprints, part by part (empty when equal)."""
    out: dict[str, dict[str, Any]] = {}
    for k in left:
        if left[k] != right[k]:
            if isinstance(left[k], Counter):
                out[k] = {
                    "only_left": dict(left[k] - right[k]),
                    "only_right": dict(right[k] - left[k]),
                }
            else:
                lset, rset = set(left[k]), set(right[k])
                out[k] = {
                    "only_left": sorted(lset - rset, key=str)[:10],
                    "only_right": sorted(rset - lset, key=str)[:10],
                    "sizes": (len(left[k]), len(right[k])),
                }
    return out
