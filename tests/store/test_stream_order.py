"""Detection's history read (``bulk.stream_points``) hands each table its points series by
series, oldest first, however they were written; and the fast point constructor detection and
collection use builds the same frozen point as ``MetricPoint(...)``."""

import dataclasses
import random
from datetime import timedelta

import pytest

from tests.store.test_bulk import _tables
from tests.store.test_store import NOW, store  # noqa: F401  (the sqlite/postgres fixture)
from tidegauge.core.model import MetricPoint, new_point
from tidegauge.store import bulk


def test_stream_points_groups_series_in_key_then_time_order(store):  # noqa: F811
    infos, ids = _tables(store, 2)
    run_id = store.start_run(as_of=NOW, now=NOW, holder="x")
    rng = random.Random(7)
    series = [
        ("null_rate", "c0", None),
        ("null_rate", "c1", None),
        ("mean", "c1", None),
        ("bucket_row_count", None, None),
        ("value_count", "c0", "b"),
        ("value_count", "c0", "a"),
    ]
    for info, tid in zip(infos, ids, strict=True):
        points = [
            MetricPoint(info.ref, m, NOW - timedelta(hours=h), float(h + i), c, seg, 3600)
            for i, (m, c, seg) in enumerate(series)
            for h in range(12)
        ]
        rng.shuffle(points)  # stored in no particular order, over two writes
        for part in (points[:30], points[30:]):
            bulk.write_collected(store, run_id, NOW, [bulk.TableWrite(tid, "ok", points=part)])

    refs = {tid: info.ref for info, tid in zip(infos, ids, strict=True)}
    since = NOW - timedelta(hours=8)
    streamed = dict(bulk.stream_points(store, refs, [bulk.PointFilter(since)]))
    assert set(streamed) == set(ids)
    for tid in ids:
        got = streamed[tid]
        expected = sorted(
            (p for p in got),
            key=lambda p: (p.metric, p.column or "", p.segment or "", p.bucket_start),
        )
        assert got == expected
        assert len(got) == len(series) * 9  # hours 0..8 of each series
        assert got == store.points(tid, since=since)


def test_new_point_is_the_dataclass_point():
    infos = _infos()
    args = (infos.ref, "mean", NOW, 1.5, "c0", None, 3600)
    fast, slow = new_point(*args), MetricPoint(*args)
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert dataclasses.astuple(fast) == dataclasses.astuple(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.value = 2.0  # type: ignore[misc]
    assert new_point(infos.ref, "mean", NOW, 1.5, "c0", None, 60) != slow


def _infos():
    from tidegauge.core.model import TableInfo, TableRef

    return TableInfo(TableRef("wh", "sch", "t"), columns=())
