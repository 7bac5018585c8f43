"""A PostgreSQL database with ``ENCODING 'SQL_ASCII'`` holds names in any bytes. UTF-8
names are decoded (and queried back), others are left out and named in a warning; no
name is ever stored as ``b'...'`` or reported as dropped."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.hardening.pg import admin
from tests.servers import POSTGRES_URL, require_server
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.store import Store

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 4, 0, 30, tzinfo=UTC)


@pytest.fixture
def ascii_db() -> Iterator[str]:
    import psycopg

    require_server("postgres")
    name = f"tgascii_{uuid.uuid4().hex[:8]}"
    con = admin()
    con.execute(
        f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 "
        "LC_COLLATE 'C' LC_CTYPE 'C'"
    )
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE SCHEMA s")
            for table in (b"plain", "naïve".encode(), b"caf\xe9"):
                db.execute(
                    b'CREATE TABLE s."' + table + b'" AS SELECT g AS id, '
                    b"TIMESTAMP '2026-03-03 00:00' + g * INTERVAL '1 minute' AS created_at "
                    b"FROM generate_series(1, 100) g"
                )
        yield url
    finally:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        con.close()


def test_sql_ascii_names_are_decoded_or_reported(tmp_path, ascii_db, caplog):
    (tmp_path / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: postgres, name: pg, url: "{ascii_db}", include: [s]}}]
store: {{url: "sqlite:///state.db"}}
tables: [{{match: "*", field_health: false, categorical: false}}]
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    with caplog.at_level(logging.WARNING):
        report = run(project, store, Clock.fixed(NOW), notify=False)
        again = run(project, store, Clock.fixed(NOW), notify=False)
    names = sorted(t.ref.fqn for t in store.tables())
    assert names == ["s.naïve", "s.plain"]
    assert not any("b'" in n for n in names)
    assert report.failed_tables == {} and again.failed_tables == {}
    # the UTF-8 name was queried back: its rows were counted
    naive = store.find_table("s.naïve")
    assert naive is not None
    assert any(p.metric == "row_count" and p.value == 100 for p in store.points(naive.id))
    warned = [r.getMessage() for r in caplog.records if "not valid UTF-8" in r.getMessage()]
    assert warned and "s.caf\\xe9" in warned[0]
