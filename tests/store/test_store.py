"""The store on SQLite and PostgreSQL: migrations match the schema, writes are idempotent."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from tests.servers import POSTGRES_URL, require_server
from tidegauge.core.model import (
    Alert,
    AlertKind,
    ColumnInfo,
    Feedback,
    Incident,
    IncidentStatus,
    MetricPoint,
    TableInfo,
    TableRef,
    TypeFamily,
)
from tidegauge.store.schema import metadata
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        st = Store.open(f"sqlite:///{tmp_path}/state.db")
        yield st
        st.close()
        return
    require_server("postgres")
    name = f"tg_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    st = Store.open(url)
    yield st
    st.close()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrated_schema_matches_declared(tmp_path):
    """Replaying every migration gives the declared schema (a new store is created from
    the declared schema directly: tests/store/test_fresh_store.py compares the two)."""
    from tidegauge.store.engine import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path}/replayed.db")
    migrate(engine, replay=True)
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), metadata)
    engine.dispose()
    assert diff == []


def test_migrate_twice_is_a_no_op(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    Store.open(url).close()
    Store.open(url).close()


def _table(store):
    info = TableInfo(
        TableRef("main", "shop", "orders"),
        columns=(ColumnInfo("id", "INTEGER", TypeFamily.INTEGER, False, 1),),
    )
    return store.upsert_table(info, NOW)


def test_table_upsert_and_drop(store):
    tid = _table(store)
    assert _table(store) == tid
    assert store.find_table("shop.orders").id == tid
    assert store.find_table("orders").id == tid
    assert store.mark_dropped("main", set(), NOW) == [tid]
    assert store.tables() == []
    assert store.tables(include_dropped=True)[0].dropped_at == NOW


def test_points_upsert_is_idempotent(store):
    tid = _table(store)
    ref = TableRef("main", "shop", "orders")
    pts = [
        MetricPoint(ref, "bucket_row_count", NOW - timedelta(hours=i), float(i), None, None, 3600)
        for i in range(5)
    ]
    store.upsert_points(tid, pts, run_id=None, now=NOW)
    pts[0] = MetricPoint(ref, "bucket_row_count", NOW, 42.0, None, None, 3600)
    store.upsert_points(tid, pts, run_id=None, now=NOW)
    got = store.points(tid, metric="bucket_row_count")
    assert len(got) == 5 and got[-1].value == 42.0 and got[-1].bucket_start == NOW
    assert store.last_bucket(tid) == NOW


def test_alert_once_and_feedback(store):
    tid = _table(store)
    a = Alert(
        AlertKind.VOLUME,
        TableRef("main", "shop", "orders"),
        "bucket_row_count",
        NOW,
        NOW,
        observed=1.0,
        expected=100.0,
    )
    aid = store.alerts.add(a, tid, None)
    assert aid is not None
    same = Alert(
        AlertKind.VOLUME,
        TableRef("main", "shop", "orders"),
        "bucket_row_count",
        NOW,
        NOW + timedelta(hours=1),
    )
    assert store.alerts.add(same, tid, None) is None
    assert NOW in store.alerts.flagged_times(tid)[f"{tid}|bucket_row_count||"]
    store.alerts.set_feedback(aid, Feedback.EXPECTED, NOW)
    assert store.alerts.flagged_times(tid) == {}
    assert store.alerts.feedback_for(tid)[f"{tid}|bucket_row_count||"] == [(NOW, "expected")]


def test_incident_lifecycle(store):
    tid = _table(store)
    a = Alert(AlertKind.VOLUME, TableRef("main", "shop", "orders"), "bucket_row_count", NOW, NOW)
    aid = store.alerts.add(a, tid, None)
    inc = Incident(AlertKind.VOLUME, TableRef("main", "shop", "orders"), "drop", NOW, NOW)
    iid = store.incidents.create(inc, tid, aid)
    store.alerts.set_incident([aid], iid)
    got = store.incidents.get(iid)
    assert got["alerts"] == [aid] and got["status"] == "open"
    store.incidents.set_status(iid, IncidentStatus.FIXED, NOW, note="backfilled")
    got = store.incidents.get(iid)
    assert got["status"] == "fixed"
    assert [e["type"] for e in got["timeline"]] == ["status", "note"]
    assert store.incidents.open() == []


def test_lease_excludes_second_holder(store):
    assert store.acquire_lease("run", "a", timedelta(minutes=1), NOW)
    assert not store.acquire_lease("run", "b", timedelta(minutes=1), NOW)
    assert store.acquire_lease("run", "a", timedelta(minutes=1), NOW)
    assert store.acquire_lease("run", "b", timedelta(minutes=1), NOW + timedelta(minutes=2))


def test_outbox_enqueue_once_and_claim_once(store):
    from tidegauge.store.outbox import OutboxRepo

    ob = OutboxRepo(store)
    assert ob.enqueue(
        dedup_key="k", channel="c", incident_id=None, action="trigger", payload={}, now=NOW
    )
    assert not ob.enqueue(
        dedup_key="k", channel="c", incident_id=None, action="trigger", payload={}, now=NOW
    )
    first = ob.claim("p1", NOW, timedelta(minutes=5))
    assert len(first) == 1
    assert ob.claim("p2", NOW, timedelta(minutes=5)) == []
    # a claimant that died: its claim expires and another takes the row
    assert len(ob.claim("p2", NOW + timedelta(minutes=6), timedelta(minutes=5))) == 1
    ob.mark_sent(first[0]["id"], NOW)
    assert ob.claim("p3", NOW + timedelta(hours=1), timedelta(minutes=5)) == []


def test_rediscovery_rewrites_only_changed_tables_and_keeps_ids(store):
    from sqlalchemy import event

    infos = [
        TableInfo(TableRef("wh", "s", f"t{i}"), row_count=10, last_modified=NOW) for i in range(30)
    ]
    ids = store.upsert_tables(infos, NOW)
    later = NOW + timedelta(hours=1)
    grown = TableInfo(TableRef("wh", "s", "t7"), row_count=11, last_modified=later)
    again = [*infos[:7], grown, *infos[8:], TableInfo(TableRef("wh", "s", "new"))]
    upserts: list[int] = []

    def count(_conn, _cursor, statement, parameters, _context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO TABLES"):
            upserts.append(len(parameters) if executemany else 1)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        ids2 = store.upsert_tables(again, later)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert ids2[:30] == ids and ids2[30] not in ids
    assert sum(upserts) == 2  # the grown table and the new one; 29 unchanged ones are not
    by_name = {t.ref.name: t for t in store.tables()}
    assert by_name["t7"].row_count == 11 and by_name["t7"].last_modified == later
    assert by_name["t3"].row_count == 10 and by_name["t3"].last_modified == NOW
    assert {t.last_seen for t in by_name.values()} == {later}  # every table was seen now
    # a dropped table that comes back is written again (no longer dropped)
    store.mark_dropped("wh", set(ids2) - {ids[0]}, later)
    store.upsert_tables(infos[:1], later)
    assert "t0" in {t.ref.name for t in store.tables()}
