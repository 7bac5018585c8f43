"""Detection over a real collected warehouse: every alert says where it stood in the run's
family of tests, timestamps get no distinct-count test, and the chart band of a series is the
band live detection judges it against."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.steps.test_detect_chunks import _collected
from tests.test_pipeline import END
from tidegauge.steps import detect
from tidegauge.steps.detect import detect_tables, series_detector
from tidegauge.web import bands


@pytest.mark.slow
def test_alerts_explain_the_run_family_and_timestamps_get_no_distinct_count(tmp_path, monkeypatch):
    ctx, collected = _collected(tmp_path, field_health=True)
    scored: list[tuple[str, str | None]] = []
    real = detect._fdr

    def spy(cands):
        scored.extend((c.metric, c.column) for c in cands)
        return real(cands)

    monkeypatch.setattr(detect, "_fdr", spy)
    alerts = detect_tables(ctx, collected)
    assert ("distinct_count", "created_at") not in scored  # a timestamp's distinct count
    assert not any(m in ("mean", "distinct_count") and c == "id" for m, c in scored)
    assert ("bucket_row_count", None) in scored
    series = [a["alert"] for a in alerts if a["alert"].metric == "bucket_row_count"]
    assert series, "the drop in raw.orders alerts"
    for a in series:
        mt = a.explanation["multiple_testing"]
        assert mt["method"] == "Benjamini-Hochberg"
        assert mt["tests_this_run"] >= len(scored) // 2  # learning points are not tests
        assert mt["adjusted_p"] <= mt["fdr"]
        assert f"of {mt['tests_this_run']:,} tests this run" in mt["text"]
    ctx.store.close()


@pytest.mark.slow
def test_chart_bands_are_the_live_detection_bands(tmp_path):
    ctx, collected = _collected(tmp_path, field_health=False)
    project, store = ctx.project, ctx.store
    orders = next(c for c in collected if c.info.ref.fqn == "raw.orders")
    key = ("bucket_row_count", "", "")
    shown = bands.banded(store, orders.table_id, [key], END, project=project)[0]
    start = bands.walk_start(store, END)  # where every chart's walk of the series starts
    since = start - bands.TRAINING
    pts = [
        p
        for p in store.points(orders.table_id, metric="bucket_row_count", since=since)
        if p.value is not None
    ]
    stamps = [p.bucket_start for p in pts]
    det = series_detector(project, orders.settings, "bucket_row_count", None, stamps[0], END)
    assert shown.band_from is not None
    live = det.evaluate(stamps, [p.value for p in pts], test_from=start)
    by_time = {d.timestamp: d for d in live}
    compared = 0
    for t, lo, hi in zip(shown.times, shown.lower, shown.upper, strict=True):
        d = by_time.get(t)
        if d is None or d.lower is None or lo is None:
            continue
        assert (lo, hi) == pytest.approx((d.lower, d.upper), rel=1e-9)
        compared += 1
    assert compared >= 100
    assert np.isfinite(shown.upper[-1] or np.nan)
    store.close()


def test_a_day_of_duplicated_keys_alerts_and_a_clean_key_does_not():
    from datetime import datetime

    from tidegauge.core.detectors.proportion import RatePoint, evaluate_rates
    from tidegauge.monitors.tuning import metric_settings

    t0 = datetime(2026, 1, 1)
    rng = np.random.default_rng(4)
    rows = rng.poisson(300, 24 * 30).astype(float)
    pts = [RatePoint(t0 + timedelta(hours=i), 0.0, r) for i, r in enumerate(rows)]
    hist, clean = pts[:-24], pts[-24:]
    dup = [RatePoint(p.timestamp, 0.08, p.rows) for p in clean]  # 8% of order_id repeated
    settings = metric_settings("duplicate_rate")
    assert settings.direction.value == "up"
    found = evaluate_rates(hist, dup, settings, "duplicate_rate")
    assert all(d.is_anomaly for d in found)
    assert not any(d.is_anomaly for d in evaluate_rates(hist, clean, settings, "duplicate_rate"))
