"""PostgreSQL helpers for fault tests: find *this process's* backends and kill them.

Other sessions share the server, so a test never terminates by application name alone: it
matches the client ports of the sockets this process holds (``/proc/self``) as well.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.servers import POSTGRES_URL


def own_ports() -> set[int]:
    """Local TCP ports of the sockets this process has open."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[9] in inodes:
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def admin() -> Any:
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True)


def terminate(
    con: Any,
    *,
    application: str | None = "tidegauge",
    datname: str | None = None,
    query_like: str | None = None,
    ports: set[int] | None = None,
) -> list[int]:
    """Terminate this process's backends that match; returns their pids."""
    clauses = ["pid <> pg_backend_pid()", "client_port = ANY(%(ports)s)"]
    params: dict[str, Any] = {"ports": sorted(ports if ports is not None else own_ports())}
    if application is not None:
        clauses.append("application_name = %(app)s")
        params["app"] = application
    if datname is not None:
        clauses.append("datname = %(db)s")
        params["db"] = datname
    if query_like is not None:
        clauses.append("state = 'active' AND query LIKE %(q)s")
        params["q"] = f"%{query_like}%"
    where = " AND ".join(clauses)
    rows = con.execute(
        f"SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where}", params
    ).fetchall()
    return [r[0] for r in rows if r[1]]


@contextmanager
def terminator(query_like: str, every: float = 0.02) -> Iterator[list[int]]:
    """Kill, for the block's duration, every backend of ours running a query with ``query_like``."""
    killed: list[int] = []
    stop = threading.Event()
    con = admin()

    def loop() -> None:
        while not stop.is_set():
            killed.extend(terminate(con, query_like=query_like))
            stop.wait(every)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield killed
    finally:
        stop.set()
        t.join(10)
        con.close()


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh PostgreSQL database (for a store), dropped afterwards; yields its URL."""
    name = f"tgstore_{uuid.uuid4().hex[:10]}"
    con = admin()
    con.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.close()
