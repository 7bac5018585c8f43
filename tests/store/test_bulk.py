"""Chunk-wide store reads and writes (tidegauge.store.bulk) on SQLite and PostgreSQL: each
gives what the per-table call gives, leases are never given to two holders, a chunk's
writes are idempotent, and the number of statements does not grow with the tables."""

import threading
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event, func, select

from tests.store.test_store import NOW, store  # noqa: F401  (the sqlite/postgres fixture)
from tidegauge.core.model import ColumnInfo, MetricPoint, TableInfo, TableRef, TypeFamily
from tidegauge.store import bulk
from tidegauge.store import schema as s


def _tables(store, n, *, columns=2):  # noqa: F811
    infos = [
        TableInfo(
            TableRef("wh", "sch", f"t{i:04d}"),
            columns=tuple(
                ColumnInfo(f"c{j}", "INTEGER", TypeFamily.INTEGER, ordinal=j)
                for j in range(columns)
            ),
        )
        for i in range(n)
    ]
    return infos, store.upsert_tables(infos, NOW)


@contextmanager
def _statements(store):  # noqa: F811
    """SQL statements sent to the store inside the block (an executemany counts once)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def test_leases_chunk_skips_held_takes_expired_and_renews_own(store):  # noqa: F811
    ttl = timedelta(minutes=30)
    assert store.acquire_lease("collect:2", "other", ttl, NOW)
    assert store.acquire_lease("collect:3", "stale", ttl, NOW - timedelta(hours=1))
    assert store.acquire_lease("collect:4", "me", ttl, NOW - timedelta(minutes=5))
    names = [f"collect:{i}" for i in range(1, 6)]
    held = bulk.acquire_leases(store, names, "me", ttl, NOW)
    assert held == {"collect:1", "collect:3", "collect:4", "collect:5"}
    assert not bulk.acquire_leases(store, names, "third", ttl, NOW)  # all taken now
    bulk.release_leases(store, names, "me")
    assert bulk.acquire_leases(store, names, "third", ttl, NOW) == held  # "other" keeps 2
    with store.engine.connect() as c:
        holders = dict(c.execute(select(s.leases.c.name, s.leases.c.holder)).all())
    assert holders["collect:2"] == "other"


def test_two_holders_racing_for_overlapping_chunks_never_share_a_lease(store):  # noqa: F811
    names = [f"collect:{i}" for i in range(600)]  # more than one IN list per call
    sets = {"a": names[:450], "b": names[150:]}
    got: dict[str, set[str]] = {}
    start = threading.Barrier(2)

    def take(holder: str) -> None:
        start.wait()
        got[holder] = bulk.acquire_leases(store, sets[holder], holder, timedelta(minutes=5), NOW)

    threads = [threading.Thread(target=take, args=(h,)) for h in sets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not got["a"] & got["b"]
    assert got["a"] | got["b"] == set(names)


def test_chunk_reads_match_the_per_table_reads(store):  # noqa: F811
    infos, ids = _tables(store, 3)
    a, b, c = ids
    run1 = store.start_run(as_of=NOW - timedelta(hours=1), now=NOW, holder="x")
    run2 = store.start_run(as_of=NOW, now=NOW, holder="y")
    store.finish_run(run1, "success", {}, NOW)
    pts = [
        MetricPoint(
            infos[0].ref, "bucket_row_count", NOW - timedelta(hours=h), 10.0, bucket_seconds=3600
        )
        for h in range(3)
    ]
    write = bulk.TableWrite(a, "ok", points=pts, schema=list(infos[0].columns))
    bulk.write_collected(store, run1, NOW - timedelta(hours=1), [write])
    bulk.write_collected(store, run2, NOW, [bulk.TableWrite(b, "ok")])

    assert bulk.last_buckets(store, ids) == {a: store.last_bucket(a)} == {a: NOW}
    assert bulk.previous_runs_as_of(store, ids, NOW) == {a: NOW - timedelta(hours=1)}
    assert bulk.tables_collected(store, ids, NOW, other_than=999) == {b}
    assert bulk.tables_collected(store, ids, NOW, other_than=run2) == set()
    # a killed run, once reclaimed as failed, no longer counts: its tables are collected
    # (and detected on) again by the run that completes it
    store.finish_run(run2, "failed", {}, NOW, "interrupted")
    assert bulk.tables_collected(store, ids, NOW, other_than=999) == set()
    snaps = bulk.latest_snapshots(store, ids)
    assert set(snaps) == {a} and snaps[a].columns == store.latest_snapshot(a)
    streamed = dict(
        bulk.stream_points(
            store,
            {t: i.ref for i, t in zip(infos, ids, strict=True)},
            [bulk.PointFilter(NOW - timedelta(hours=1), frozenset({"bucket_row_count"}))],
        )
    )
    assert streamed == {a: store.points(a, since=NOW - timedelta(hours=1))}
    assert c not in streamed


def test_write_collected_twice_stores_each_point_and_snapshot_once(store):  # noqa: F811
    infos, (tid,) = _tables(store, 1)
    run_id = store.start_run(as_of=NOW, now=NOW, holder="x")
    cols = list(infos[0].columns)
    pts = [MetricPoint(infos[0].ref, "row_count", NOW, 5.0)]
    for value in (5.0, 7.0):
        pts = [MetricPoint(infos[0].ref, "row_count", NOW, value)]
        prev = bulk.latest_snapshots(store, [tid]).get(tid)
        bulk.write_collected(
            store,
            run_id,
            NOW,
            [
                bulk.TableWrite(
                    tid,
                    "ok",
                    points=pts,
                    schema=cols,
                    previous_fingerprint=prev.fingerprint if prev else None,
                )
            ],
        )
    with store.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(s.schema_snapshots)).scalar() == 1
        assert c.execute(select(func.count()).select_from(s.run_tables)).scalar() == 1
    assert [p.value for p in store.points(tid)] == [7.0]


def test_statements_per_chunk_do_not_grow_with_its_tables(store):  # noqa: F811
    counts = []
    for n in (5, 120):
        infos, ids = _tables(store, n)
        names = [f"collect:{t}" for t in ids]
        refs = {t: i.ref for i, t in zip(infos, ids, strict=True)}
        run_id = store.start_run(as_of=NOW, now=NOW, holder="x")
        with _statements(store) as seen:
            bulk.acquire_leases(store, names, "me", timedelta(minutes=5), NOW)
            bulk.tables_collected(store, ids, NOW, other_than=run_id)
            bulk.last_buckets(store, ids)
            bulk.latest_snapshots(store, ids)
            bulk.write_collected(
                store,
                run_id,
                NOW,
                [
                    bulk.TableWrite(
                        t,
                        "ok",
                        points=[MetricPoint(i.ref, "row_count", NOW, 1.0)],
                        schema=list(i.columns),
                        ledger=[
                            {
                                "run_id": run_id,
                                "table_id": t,
                                "monitor": "freshness",
                                "at": NOW,
                                "seconds": 0.0,
                            }
                        ],
                    )
                    for i, t in zip(infos, ids, strict=True)
                ],
            )
            list(bulk.stream_points(store, refs, [bulk.PointFilter(NOW - timedelta(days=1))]))
            bulk.release_leases(store, names, "me")
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


def test_upsert_tables_records_many_tables_and_only_changed_columns(store):  # noqa: F811
    n = 520  # more than one statement's worth
    infos, ids = _tables(store, n, columns=3)
    assert len(set(ids)) == n
    assert [c.name for c in store.columns(ids[-1])] == ["c0", "c1", "c2"]
    changed = list(infos)
    changed[7] = TableInfo(
        infos[7].ref,
        columns=(
            ColumnInfo("c0", "BIGINT", TypeFamily.INTEGER, ordinal=0),
            ColumnInfo("c9", "TEXT", TypeFamily.STRING, ordinal=1),
        ),
    )
    with _statements(store) as seen:
        again = store.upsert_tables(changed, NOW + timedelta(hours=1))
    assert again == ids
    assert [(c.name, c.data_type) for c in store.columns(ids[7])] == [
        ("c0", "BIGINT"),
        ("c9", "TEXT"),
    ]
    assert [c.name for c in store.columns(ids[8])] == ["c0", "c1", "c2"]
    writes = [
        q
        for q in seen
        if q.lstrip()
        .upper()
        .startswith(("INSERT INTO COLUMNS", "UPDATE COLUMNS", "DELETE FROM COLUMNS"))
    ]
    assert len(writes) <= 3 * 2  # one delete, update and insert per 500 tables at most


def test_a_recomputed_window_replaces_its_categorical_values_and_keeps_the_rest(store):  # noqa: F811
    """A replayed or re-checked window stores what the last collection found, never the
    union of two collections: a value ranked into ``__other__`` by a month-long window and
    named by a three-hour one must not be stored twice for the same bucket."""
    infos, (tid,) = _tables(store, 1)
    ref = infos[0].ref
    run_id = store.start_run(as_of=NOW, now=NOW, holder="x")
    hours = [NOW - timedelta(hours=h) for h in (4, 3, 2, 1)]

    def counts(bucket, values):
        return [
            MetricPoint(ref, "value_count", bucket, n, "status", value, 3600)
            for value, n in values.items()
        ]

    first = [p for b in hours for p in counts(b, {"paid": 5.0, "__other__": 2.0})]
    first += [MetricPoint(ref, "null_rate", b, 0.1, "status", None, 3600) for b in hours]
    first += [MetricPoint(ref, "bucket_row_count", b, 9.0, None, "region=eu", 3600) for b in hours]
    bulk.write_collected(store, run_id, NOW, [bulk.TableWrite(tid, "ok", points=first)])

    since = hours[2]  # the last two buckets are collected again, and name other values
    again = [p for b in hours[2:] for p in counts(b, {"paid": 5.0, "refunded": 2.0})]
    replaced = [bulk.Replaced("value_count", since, NOW)]
    for _ in range(2):  # and once more, as a replayed chunk would
        bulk.write_collected(
            store, run_id, NOW, [bulk.TableWrite(tid, "ok", points=again, replaced=replaced)]
        )

    stored = {(p.bucket_start, p.segment) for p in store.points(tid, metric="value_count")}
    assert (
        stored
        == {
            *((b, v) for b in hours[:2] for v in ("paid", "__other__")),  # outside: untouched
            *((b, v) for b in hours[2:] for v in ("paid", "refunded")),  # inside: replaced
        }
    )
    # other families in the window are untouched (they are upserted, not replaced)
    assert len(store.points(tid, metric="null_rate")) == 4
    assert len([p for p in store.points(tid) if p.segment == "region=eu"]) == 4

    # a segments window replaces segmented points only
    bulk.write_collected(
        store,
        run_id,
        NOW,
        [bulk.TableWrite(tid, "ok", replaced=[bulk.Replaced("segments", since, NOW)])],
    )
    assert len([p for p in store.points(tid) if p.segment == "region=eu"]) == 2
    assert len(store.points(tid, metric="value_count")) == 8
    assert len(store.points(tid, metric="null_rate")) == 4


def test_raw_executemany_stores_what_the_orm_path_stores(store):  # noqa: F811
    """Points written through the driver's executemany read back exactly (timestamps in
    UTC, floats, '' for no column or segment), on SQLite and PostgreSQL."""
    infos, (tid,) = _tables(store, 1)
    ref = infos[0].ref
    run_id = store.start_run(as_of=NOW, now=NOW, holder="x")
    pts = [
        MetricPoint(ref, "null_rate", NOW - timedelta(hours=h), h / 7, "c0", None, 3600)
        for h in range(1, 50)
    ] + [MetricPoint(ref, "row_count", NOW, 12.0)]
    bulk.write_collected(store, run_id, NOW, [bulk.TableWrite(tid, "ok", points=pts)])
    back = store.points(tid)
    assert sorted(back, key=lambda p: (p.metric, p.bucket_start)) == sorted(
        pts, key=lambda p: (p.metric, p.bucket_start)
    )
    assert all(p.bucket_start.tzinfo is not None for p in back)


def test_raw_executemany_stores_the_orm_paths_rows_byte_for_byte(store):  # noqa: F811
    """The chunk writer (timestamps converted column by column, each distinct one once) and
    SQLAlchemy's own executemany (``Store.upsert_points``) store the same raw rows: the
    same text for every timestamp on SQLite, the same values on PostgreSQL."""
    from sqlalchemy import text

    infos, (raw_tid, orm_tid) = _tables(store, 2)
    run_id = store.start_run(as_of=NOW, now=NOW, holder="x")
    now = NOW + timedelta(microseconds=123457)  # the wall clock, not a whole second

    def points(ref):
        return [
            MetricPoint(ref, m, NOW - timedelta(hours=h, microseconds=h), h / 3, c, None, 3600)
            for h in range(1, 30)
            for m, c in (("null_rate", "c0"), ("mean", "c1"))
        ] + [
            MetricPoint(ref, "row_count", now, 12.0),
            MetricPoint(ref, "value_count", NOW, 2.0, "c0", "x"),
        ]

    pts = points(infos[0].ref)
    bulk.write_collected(store, run_id, now, [bulk.TableWrite(raw_tid, "ok", points=pts)])
    store.upsert_points(orm_tid, points(infos[1].ref), run_id=run_id, now=now)
    cols = "column_name, segment, metric, bucket_start, bucket_seconds, value, collected_at, run_id"
    with store.engine.connect() as c:
        rows = {
            tid: sorted(
                tuple(r)
                for r in c.execute(
                    text(f"SELECT {cols} FROM metric_points WHERE table_id = :t"), {"t": tid}
                )
            )
            for tid in (raw_tid, orm_tid)
        }
    assert len(rows[raw_tid]) == len(pts)
    assert rows[raw_tid] == rows[orm_tid]
