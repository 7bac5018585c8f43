"""Retention: old hourly points rolled up to daily ones, the oldest removed, recent ones
untouched, and a second prune changes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.hardening.pg import scratch_database
from tests.servers import require_server
from tidegauge.cli.main import app
from tidegauge.core.model import MetricPoint, TableInfo, TableRef
from tidegauge.store import schema as s
from tidegauge.store.retention import Retention, prune, rollup_value
from tidegauge.store.store import Store
from tidegauge.yamlsource import ConfigError

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
DAYS = 200
REF = TableRef("main", "shop", "orders")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        st = Store.open(f"sqlite:///{tmp_path}/state.db")
        yield st
        st.close()
        return
    require_server("postgres")
    with scratch_database() as url:
        st = Store.open(url)
        yield st
        st.close()


def hourly_history(store: Store) -> int:
    """DAYS days of hourly points ending at NOW: volume, a rate, a categorical count and a
    row-count snapshot taken every hour."""
    tid = store.upsert_table(TableInfo(ref=REF), NOW)
    start = NOW.replace(minute=0) - timedelta(days=DAYS)
    points = []
    for h in range(DAYS * 24):
        at = start + timedelta(hours=h)
        points += [
            MetricPoint(REF, "bucket_row_count", at, float(100 + h % 24), bucket_seconds=3600),
            MetricPoint(REF, "null_rate", at, (h % 4) / 100, column="email", bucket_seconds=3600),
            MetricPoint(
                REF, "value_count", at, 10.0, column="status", segment="paid", bucket_seconds=3600
            ),
            MetricPoint(REF, "row_count", at + timedelta(minutes=5), float(h), bucket_seconds=0),
        ]
    store.upsert_points(tid, points, run_id=1, now=NOW)
    return tid


#: (metric, column, segment, bucket start, bucket seconds, value)
Point = tuple[str, str | None, str | None, datetime, int, Any]


def all_points(store: Store, tid: int) -> list[Point]:
    return sorted(
        (p.metric, p.column, p.segment, p.bucket_start, p.bucket_seconds, p.value)
        for p in store.points(tid)
    )


def test_prune_rolls_up_old_points_keeps_recent_ones_and_is_idempotent(store):
    tid = hourly_history(store)
    before = all_points(store, tid)
    fine_before = datetime(2025, 11, 1, tzinfo=UTC)  # NOW - 120 days, floored to the day
    keep_after = datetime(2025, 9, 2, tzinfo=UTC)  # NOW - 180 days, floored to the day

    report = prune(store, Retention(fine_days=120, keep_days=180), NOW)

    after = all_points(store, tid)
    recent = [p for p in before if p[3] >= fine_before]
    assert [p for p in after if p[3] >= fine_before] == recent  # untouched, to the value
    old = [p for p in after if p[3] < fine_before]
    assert min(p[3] for p in old) == keep_after  # older points are gone
    days = (fine_before - keep_after).days
    assert len(old) == 4 * days  # one point per series and day
    assert {p[4] for p in old} == {86400}
    assert all(p[3].hour == 0 and p[3].minute == 0 for p in old)
    by = {(p[0], p[3]): p[5] for p in old}
    day = datetime(2025, 10, 10, tzinfo=UTC)
    hourly = [p for p in before if p[0] == "bucket_row_count" and day <= p[3] < day + timedelta(1)]
    assert len(hourly) == 24
    assert by[("bucket_row_count", day)] == sum(p[5] for p in hourly)  # volumes add up
    assert by[("null_rate", day)] == pytest.approx(0.015)  # rates average
    assert by[("value_count", day)] == 240.0
    last_snapshot = max(
        (p for p in before if p[0] == "row_count" and p[3] < day + timedelta(1)), key=lambda p: p[3]
    )
    assert by[("row_count", day)] == last_snapshot[5]  # snapshots keep the day's last value
    assert report.tables == 1
    assert report.rolled_series_days == 4 * days
    assert report.inserted == 4 * days and report.deleted == 4 * days * 24
    assert report.expired == len([p for p in before if p[3] < keep_after])

    again = prune(store, Retention(fine_days=120, keep_days=180), NOW)
    assert (again.deleted, again.inserted, again.expired, again.rolled_series_days) == (0, 0, 0, 0)
    assert all_points(store, tid) == after


def test_detection_history_is_the_same_after_a_prune(store):
    tid = hourly_history(store)
    since = NOW - timedelta(days=43)
    before = store.points(
        tid, since=since, metrics=["bucket_row_count", "null_rate"], unsegmented=True
    )
    prune(store, Retention(), NOW)
    assert (
        store.points(tid, since=since, metrics=["bucket_row_count", "null_rate"], unsegmented=True)
        == before
    )


def test_keep_forever_only_rolls_up(store):
    tid = hourly_history(store)
    prune(store, Retention(fine_days=150, keep_days=None), NOW)
    with store.engine.connect() as c:
        oldest = c.execute(
            select(s.metric_points.c.bucket_start)
            .where(s.metric_points.c.table_id == tid)
            .order_by(s.metric_points.c.bucket_start)
            .limit(1)
        ).scalar_one()
    assert oldest.replace(tzinfo=UTC) == datetime(2025, 8, 13, tzinfo=UTC)  # NOW - 200 d, floored


def test_rollup_rules():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    pts = [(at, 1.0), (at, None), (at, 3.0)]
    assert rollup_value("bucket_row_count", pts) == 4.0
    assert rollup_value("max", pts) == 3.0
    assert rollup_value("min", pts) == 1.0
    assert rollup_value("p50", pts) == 2.0
    assert rollup_value("custom:revenue", pts) == 2.0
    assert rollup_value("null_rate", [(at, None)]) is None


def test_a_policy_that_cuts_into_detection_history_is_refused():
    with pytest.raises(ConfigError, match="detection reads 43 days"):
        Retention(fine_days=30).validate(history_days=30)
    with pytest.raises(ConfigError, match="detection reads 91 days"):
        Retention(fine_days=60).validate(history_days=90)
    with pytest.raises(ConfigError, match="keep_days at least fine_days"):
        Retention(fine_days=120, keep_days=90).validate()
    Retention().validate()


def test_cli_store_prune(tmp_path):
    (tmp_path / "tidegauge.yml").write_text("name: t\nstore:\n  url: sqlite:///state.db\n")
    st = Store.open(f"sqlite:///{tmp_path}/state.db")
    tid = hourly_history(st)
    st.close()
    runner = CliRunner()
    args = ["--config", str(tmp_path / "tidegauge.yml"), "store", "prune", "--now", NOW.isoformat()]
    r = runner.invoke(app, [*args, "--fine-days", "100", "--keep-days", "0", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["tables"] == 1 and out["expired"] == 0 and out["inserted"] == 4 * 100
    r = runner.invoke(app, [*args, "--fine-days", "10"])
    assert r.exit_code == 2
    assert "detection reads 43 days" in r.output
    assert "Traceback" not in r.output
    st = Store.open(f"sqlite:///{tmp_path}/state.db")
    # hourly since 2025-11-21 (100 days and 12 hours), one a day for the 100 days before
    assert len(st.points(tid, metric="bucket_row_count")) == 100 * 24 + 12 + 100
    st.close()


def test_cli_store_prune_applies_the_project_retention(tmp_path):
    (tmp_path / "tidegauge.yml").write_text(
        "name: t\nstore:\n  url: sqlite:///state.db\n  retention:\n    fine_days: 100\n"
        "    keep_days: null\n"
    )
    st = Store.open(f"sqlite:///{tmp_path}/state.db")
    tid = hourly_history(st)
    st.close()
    args = [
        "--config",
        str(tmp_path / "tidegauge.yml"),
        "store",
        "prune",
        "--now",
        NOW.isoformat(),
        "--json",
    ]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["expired"] == 0 and out["inserted"] == 4 * 100  # fine_days 100 from the file
    st = Store.open(f"sqlite:///{tmp_path}/state.db")
    assert len(st.points(tid, metric="bucket_row_count")) == 100 * 24 + 12 + 100
    st.close()


def test_a_retention_that_cuts_into_detection_history_names_file_and_key(tmp_path):
    cfg = tmp_path / "tidegauge.yml"
    cfg.write_text(
        "name: t\ndefaults:\n  history_days: 60\nstore:\n  retention:\n    fine_days: 50\n"
    )
    r = CliRunner().invoke(app, ["--config", str(cfg), "store", "prune"])
    assert r.exit_code == 2
    assert "tidegauge.yml" in r.output and "store.retention" in r.output
    assert "detection reads 61 days" in r.output and "Traceback" not in r.output
