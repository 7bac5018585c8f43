"""The read API answers the same from a PostgreSQL or MariaDB store as from SQLite: the hot
reads (pages of ids joined to their rows, correlated health counts) are portable SQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.servers import MYSQL_URL, require_server
from tests.web.conftest import Seeded, make_client, seed
from tidegauge.store.store import Store


@contextmanager
def scratch_mariadb() -> Iterator[str]:
    name = f"tg_web_{uuid.uuid4().hex[:10]}"
    base = "mysql+pymysql://" + MYSQL_URL.split("://", 1)[1]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE `{name}`"))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE `{name}`"))
        admin.dispose()


def answers(seeded: Seeded) -> dict[str, object]:
    urls = [
        "/api/v1/tables?limit=3&offset=1",
        "/api/v1/tables?q=orders",
        f"/api/v1/tables/{seeded.orders}",
        f"/api/v1/tables/{seeded.customers}",
        "/api/v1/alerts?limit=1&offset=1",
        "/api/v1/alerts",
        f"/api/v1/alerts/{seeded.volume_alert}",
        "/api/v1/incidents?open=true",
        f"/api/v1/incidents/{seeded.incident}",
    ]
    out: dict[str, object] = {}
    with make_client(seeded) as c:
        for url in urls:
            r = c.get(url)
            assert r.status_code == 200, (url, r.text)
            out[url] = r.json()
    return out


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def test_read_api_matches_sqlite(kind: str, tmp_path: Path) -> None:
    require_server(kind)
    local = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        expected = answers(seed(local))
    finally:
        local.close()
    if kind == "postgres":
        from tests.hardening.pg import scratch_database as scratch
    else:
        scratch = scratch_mariadb
    with scratch() as url:
        store = Store.open(url)
        try:
            got = answers(seed(store))
        finally:
            store.close()
    assert got == expected
