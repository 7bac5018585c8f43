"""A point's chart band is the same whatever range, page or API call shows it.

The live detector's walk is path-dependent (where it starts decides its refits, its transform
and the points it flags), so a chart that walked from its own range's start showed one band at
a time on the 2d chart and another on the 30d chart. Charts now slice one walk per series from
:func:`tidegauge.web.bands.walk_start`; these tests hold that, and that the ranges and column
pages of a table share those walks instead of walking again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import NOW, Seeded
from tidegauge.core.detectors.seasonal import evaluate_batch
from tidegauge.web import bands
from tidegauge.web.pages.tables import RANGE_DAYS

Band = tuple[float | None, float | None, float | None]


def _bands(client: TestClient, table: int, metric: str, days: int, **query: str) -> dict[Any, Band]:
    r = client.get(f"/api/v1/tables/{table}/metrics/{metric}", params={"days": days, **query})
    assert r.status_code == 200, r.text
    return {p["at"]: (p["expected"], p["lower"], p["upper"]) for p in r.json()["points"]}


@pytest.mark.parametrize(
    ("table", "metric", "query"),
    [("orders", "bucket_row_count", {}), ("customers", "null_rate", {"column": "email"})],
)
def test_a_point_has_the_same_band_on_every_range(
    client: TestClient, seeded: Seeded, table: str, metric: str, query: dict[str, str]
) -> None:
    tid = getattr(seeded, table)
    widest = _bands(client, tid, metric, 30, **query)
    assert sum(b[1] is not None for b in widest.values()) > 300  # a band over most points
    for days in (2, 7, 14):
        shown = _bands(client, tid, metric, days, **query)
        assert len(shown) == days * 24
        banded = {t: b for t, b in shown.items() if b[1] is not None}
        assert len(banded) >= days * 24 - 1
        assert banded == {t: widest[t] for t in banded}, days


def test_an_incident_window_shows_the_table_pages_band(seeded: Seeded) -> None:
    key = ("bucket_row_count", "", "")
    now = NOW + timedelta(minutes=5)
    page = bands.banded(seeded.store, seeded.orders, [key], now, display=timedelta(days=30))[0]
    # the incident page's window: three days before the alert to a day after it
    end = NOW - timedelta(days=4)
    incident = bands.banded(
        seeded.store, seeded.orders, [key], end, display=timedelta(days=4, hours=7)
    )[0]
    on_page = dict(zip(page.times, zip(page.lower, page.upper, strict=True), strict=True))
    compared = 0
    for t, lo, hi in zip(incident.times, incident.lower, incident.upper, strict=True):
        if lo is not None:
            assert (lo, hi) == on_page[t], t
            compared += 1
    assert compared > 24 * 4


def test_the_walk_starts_at_the_widest_range_before_the_latest_run(seeded: Seeded) -> None:
    later = NOW + timedelta(days=3, minutes=20)  # the clock moves on, no run since
    start = bands.walk_start(seeded.store, later)
    assert start == NOW - bands.WIDEST  # the run's data time, not the clock
    # so every range a table page offers, at any later clock, starts after it
    assert later - timedelta(days=30) >= start
    assert timedelta(days=max(RANGE_DAYS)) == bands.WIDEST  # the widest range a page offers


def test_ranges_and_column_pages_walk_each_series_once(
    client: TestClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[int] = []
    real = evaluate_batch

    def counting(*args: Any, **kwargs: Any) -> Any:
        res = real(*args, **kwargs)
        walked.append(len(res.seasonality))  # one per series walked
        return res

    monkeypatch.setattr("tidegauge.web.bands.evaluate_batch", counting)
    url = f"/tables/{seeded.customers}"
    assert client.get(url, params={"days": 30}).status_code == 200
    # its rows per hour, and email's null rate (charted because it alerted)
    assert sum(walked) == 2
    for days in (2, 7, 14, 30):
        assert client.get(url, params={"days": days}).status_code == 200
    assert sum(walked) == 2  # the other ranges slice the same walks
    for days in (2, 7, 14, 30):  # so do the column's page and its ranges
        assert client.get(url, params={"column": "email", "days": days}).status_code == 200
    assert sum(walked) == 2
