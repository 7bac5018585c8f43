"""Reachability of the real servers tests use.

When a server is unreachable a test skips with the reason, except under ``CI=true``,
where unreachable means fail: CI can never go green by skipping.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SERVERS = {
    "postgres": ("127.0.0.1", 5432),
    "mysql": ("127.0.0.1", 3306),
    "redis": ("127.0.0.1", 6379),
    "rabbitmq": ("127.0.0.1", 5672),
}

POSTGRES_URL = os.environ.get(
    "TIDEGAUGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("TIDEGAUGE_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")


def reachable(kind: str, timeout: float = 1.0) -> bool:
    host, port = SERVERS[kind]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_server(kind: str) -> None:
    """Skip (or under CI=true, fail) when ``kind``'s server is not reachable."""
    if reachable(kind):
        return
    host, port = SERVERS[kind]
    reason = f"{kind} server not reachable at {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: unreachable servers fail the run)")
    pytest.skip(reason)


@contextmanager
def scratch_database(kind: str, prefix: str = "tg_test") -> Iterator[str]:
    """A new, empty PostgreSQL (``postgres``) or MariaDB (``mysql``) database for one test:
    its SQLAlchemy URL, dropped afterwards. Skips (fails under CI) when the server is away."""
    from sqlalchemy import create_engine, text

    require_server(kind)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    base = POSTGRES_URL if kind == "postgres" else MYSQL_URL
    driver = "postgresql+psycopg://" if kind == "postgres" else "mysql+pymysql://"
    admin_url = driver + base.split("://", 1)[1]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    quote = '"' if kind == "postgres" else "`"
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {quote}{name}{quote}"))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        force = " WITH (FORCE)" if kind == "postgres" else ""
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE {quote}{name}{quote}{force}"))
        admin.dispose()
