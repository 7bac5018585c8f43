"""The demo end to end: every injected incident is found, explained, grouped with its
downstream symptoms, sent once to a real webhook receiver; clean tables stay quiet."""

from datetime import UTC, datetime

import pytest

from tidegauge.cli.demo import run_demo
from tidegauge.config import load_project
from tidegauge.store.store import Store

#: the demo's data end at the last full hour, so what a run tests (and where baselines are
#: refitted) moves with the time of day; pinned here so the test says the same at any hour.
#: 09:00 UTC on 2026-11-26 is the end at which the orders volume drop was once missed (one log
#: scale for night and peak counts); every end hour of that day was checked by hand (see the
#: note on issue 5)
END = datetime(2026, 11, 26, 9, tzinfo=UTC)


@pytest.mark.slow
def test_demo_finds_each_injected_incident_once(tmp_path, recorder):
    summary = run_demo(tmp_path, quiet=True, days=45, webhook_url=recorder.url(), end=END)
    missed = [f["injected"] for f in summary["injected"] if f["incident"] is None]
    assert missed == []
    found = {f["incident"] for f in summary["injected"]}
    # different injected problems are different incidents (the two on raw.orders included)
    assert len(found) == len(summary["injected"])

    store = Store.open(load_project(tmp_path / "tidegauge.yml").store_url())
    incidents = store.incidents.list()
    for inc in incidents:
        alerts = store.alerts.list(incident_id=inc["id"])
        assert alerts and all(a["explanation"].get("text") for a in alerts)
    # downstream symptoms sit under their cause: the orders volume drop reaches the views
    drop = next(f["incident"] for f in summary["injected"] if f["kind"] == "volume")
    tables = {a["table"] for a in store.alerts.list(incident_id=drop)}
    assert "raw.orders" in tables and any(t.startswith("analytics.") for t in tables)
    # clean tables never root an incident
    for clean in summary["clean_tables"]:
        assert not [i for i in incidents if i["table"] == clean], clean
    # few false incidents beyond the injected ones
    assert len(incidents) <= len(found) + 2, [i["title"] for i in incidents]
    # one message per incident
    ids = [r.json()["message"]["incident_id"] for r in recorder.requests]
    assert sorted(ids) == sorted(i["id"] for i in incidents)
