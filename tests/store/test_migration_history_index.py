"""Revision 0002 upgrades a store built at 0001 (before the covering history index) with
its points intact, and downgrades again.

The 0001 store is rebuilt as 0001 created it before 0002 existed: today's schema with
metric_points' plain ``ix_metric_points_table_bucket`` (table_id, bucket_start) instead of
``ix_metric_points_table_time``. On SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import (
    Engine,
    Index,
    MetaData,
    insert,
    inspect,
    select,
    text,
)

from tests.servers import scratch_database
from tidegauge.core.model import MetricPoint, TableRef
from tidegauge.store import schema as s
from tidegauge.store.engine import MIGRATIONS, make_engine, migrate
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
OLD, NEW = "ix_metric_points_table_bucket", "ix_metric_points_table_time"


def schema_at_0001() -> MetaData:
    old = MetaData(naming_convention=s.metadata.naming_convention)
    for table in s.metadata.sorted_tables:
        table.to_metadata(old)
    points = old.tables["metric_points"]
    for ix in list(points.indexes):
        if ix.name == NEW:
            points.indexes.discard(ix)
    Index(OLD, points.c.table_id, points.c.bucket_start)
    return old


def alembic(engine: Engine, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def empty_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/old.db"
        return
    with scratch_database(request.param, "tg_mig") as url:
        yield url


def points_rows(engine: Engine) -> set[tuple[object, ...]]:
    mp = s.metric_points
    with engine.connect() as c:
        rows = c.execute(
            select(
                mp.c.table_id,
                mp.c.metric,
                mp.c.column_name,
                mp.c.segment,
                mp.c.bucket_start,
                mp.c.bucket_seconds,
                mp.c.value,
            )
        ).all()
    return {(r[0], r[1], r[2], r[3], r[4].replace(tzinfo=None), r[5], r[6]) for r in rows}


def metric_points_indexes(engine: Engine) -> dict[str, tuple[tuple[str | None, ...], bool]]:
    insp = inspect(engine)
    out = {
        i["name"]: (tuple(i["column_names"]), bool(i["unique"]))
        for i in insp.get_indexes("metric_points")
        if i["name"]
    }
    for u in insp.get_unique_constraints("metric_points"):
        out[u["name"] or ""] = (tuple(u["column_names"]), True)
    return out


def test_a_0001_store_upgrades_with_its_points(empty_url):
    engine = make_engine(empty_url)
    schema_at_0001().create_all(engine)
    alembic(engine, "stamp", "0001")
    with engine.begin() as c:
        c.execute(
            insert(s.tables),
            [
                {
                    "id": i,
                    "warehouse": "main",
                    "database": "",
                    "schema": "shop",
                    "name": f"t{i}",
                    "first_seen": NOW,
                    "last_seen": NOW,
                    "tags": [],
                }
                for i in (1, 2)
            ],
        )
        c.execute(
            insert(s.metric_points),
            [
                {
                    "table_id": tid,
                    "column_name": col,
                    "segment": seg,
                    "metric": metric,
                    "bucket_start": NOW - timedelta(hours=h),
                    "bucket_seconds": 3600,
                    "value": float(tid * 1000 + h),
                    "collected_at": NOW,
                    "run_id": 1,
                }
                for tid in (1, 2)
                for h in range(48)
                for metric, col, seg in [
                    ("bucket_row_count", "", ""),
                    ("null_rate", "a", ""),
                    ("value_count", "s", "paid"),
                ]
            ],
        )
    before = points_rows(engine)
    assert OLD in metric_points_indexes(engine)
    assert NEW not in metric_points_indexes(engine)

    migrate(engine)

    assert points_rows(engine) == before
    indexes = metric_points_indexes(engine)
    assert OLD not in indexes
    assert indexes[NEW] == (("table_id", "bucket_start"), False)
    if engine.dialect.name == "postgresql":  # the index alone answers history reads
        with engine.connect() as c:
            ddl: str = c.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": NEW}
            ).scalar_one()
        assert ddl.endswith("INCLUDE (metric, column_name, segment, bucket_seconds, value)")
    if engine.dialect.name != "mysql":  # MariaDB's reflected types differ from the declared
        with engine.connect() as c:
            assert compare_metadata(MigrationContext.configure(c), s.metadata) == []
    # a second upgrade is a no-op; upserts and reads work on the upgraded store
    migrate(engine)
    store = Store(engine)
    ref = TableRef("main", "shop", "t1")
    store.upsert_points(
        1,
        [MetricPoint(ref, "bucket_row_count", NOW - timedelta(hours=1), 7.0, bucket_seconds=3600)],
        run_id=2,
        now=NOW,
    )
    got = store.points(1, metric="bucket_row_count", since=NOW - timedelta(hours=2))
    assert [(p.bucket_start, p.value) for p in got] == [
        (NOW - timedelta(hours=2), 1002.0),
        (NOW - timedelta(hours=1), 7.0),
        (NOW, 1000.0),
    ]
    assert len(points_rows(engine)) == len(before)
    engine.dispose()


def test_downgrade_and_upgrade_again(empty_url):
    engine = make_engine(empty_url)
    migrate(engine)
    alembic(engine, "downgrade", "0001")
    assert OLD in metric_points_indexes(engine)
    assert NEW not in metric_points_indexes(engine)
    migrate(engine)
    assert NEW in metric_points_indexes(engine)
    assert OLD not in metric_points_indexes(engine)
    engine.dispose()
