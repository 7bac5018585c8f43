"""What detection spends on a series that cannot be tested yet: nothing. A series with fewer
complete points than ``min_history`` before its last point would only be told "learning"
at every tested point, so the seasonal model is not built for it at all; a long enough
series still is, and its alerts are the model's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from tests.run_context import run_context
from tidegauge.config import load_project
from tidegauge.runner import discover
from tidegauge.steps import detect
from tidegauge.steps.collect import collect_tables
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _two_runs(root, tables: int):
    con = duckdb.connect(str(root / "w.duckdb"))
    for i in range(tables):
        con.execute(f"CREATE TABLE t_{i} AS SELECT range AS id FROM range({i + 1})")
    con.close()
    (root / "tidegauge.yml").write_text(
        'warehouses: [{type: duckdb, path: w.duckdb}]\nstore: {url: "sqlite:///state.db"}\n'
        'tables: [{match: "*", field_health: false, categorical: false}]\n'
    )
    project = load_project(root / "tidegauge.yml")
    store = Store.open(project.store_url())
    found = discover(project, store, NOW)
    for now in (NOW - timedelta(hours=1), NOW):
        ctx = run_context(project, store, now)
        collected = collect_tables(ctx, found)
    return ctx, collected  # the second run's, as of NOW


def test_short_series_do_not_build_the_model(tmp_path, monkeypatch):
    ctx, collected = _two_runs(tmp_path, tables=5)
    built: list[str] = []
    real = detect.series_detector

    def counting(*args, **kwargs):
        built.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(detect, "series_detector", counting)
    alerts = detect.detect_tables(ctx, collected)
    assert built == []
    assert [a for a in alerts if a["kind"].value != "schema_change"] == []
    assert not ctx.report.failed_tables
    # with min_history lowered to one point, the same two-point series do reach the model
    monkeypatch.setattr(
        detect,
        "detector_settings",
        lambda *a, **k: real_settings(*a, **k).with_(min_history=1),
    )
    detect.detect_tables(ctx, collected)
    assert len(built) >= 5


real_settings = detect.detector_settings  # type: ignore[attr-defined]  # the name the step looks up, patched above
