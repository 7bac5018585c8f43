"""A new store is created from the declared schema and stamped at the head; it must be the
same store, table for table, as one built by replaying every migration."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from tests.servers import scratch_database
from tidegauge.store.engine import head_revision, is_current, make_engine, migrate


@contextmanager
def _fresh_url(kind: str, tmp_path: Any, tag: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/{tag}.db"
        return
    with scratch_database(kind, f"tg_fresh_{tag}") as url:
        yield url


KINDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(params=KINDS)
def two_urls(request, tmp_path) -> Iterator[tuple[str, str]]:
    with (
        _fresh_url(request.param, tmp_path, "created") as created,
        _fresh_url(request.param, tmp_path, "replayed") as replayed,
    ):
        yield created, replayed


def shape(engine: Engine) -> dict[str, Any]:
    """Every table's columns (name, type, nullability, default), keys and indexes."""
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in insp.get_columns(table)
            ],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], str(f.get("options")))
                for f in insp.get_foreign_keys(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table)
            ),
        }
    return out


def test_created_store_equals_replayed_migrations(two_urls):
    created, replayed = (make_engine(u) for u in two_urls)
    try:
        migrate(created)
        migrate(replayed, replay=True)
        assert is_current(created) and is_current(replayed)
        a, b = shape(created), shape(replayed)
        assert sorted(a) == sorted(b)
        for table in a:
            assert a[table] == b[table], table
        with created.connect() as c:
            assert c.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == (
                head_revision()
            )
    finally:
        created.dispose()
        replayed.dispose()


def test_a_new_store_opens_without_alembic(tmp_path):
    code = (
        "import sys; from tidegauge.store.store import Store; "
        f"Store.open('sqlite:///{tmp_path}/new.db').close(); "
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_partly_built_store_is_migrated_not_recreated(tmp_path):
    """Tables of ours but no revision (a half-finished old migration): alembic decides."""
    engine = make_engine(f"sqlite:///{tmp_path}/half.db")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE tables (id INTEGER PRIMARY KEY)"))
    try:
        with pytest.raises(Exception, match="dropped_at"):
            migrate(engine)  # the migrations meet the half-built table, as they always did
        assert [c["name"] for c in inspect(engine).get_columns("tables")] == ["id"]
    finally:
        engine.dispose()
