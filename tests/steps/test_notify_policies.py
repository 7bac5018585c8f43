"""Channel policies through the real pipeline stage: alert budget → digest, re-notify."""

import time
from datetime import UTC, datetime

from tests.run_context import run_context
from tidegauge.config import load_project
from tidegauge.core.model import Alert, AlertKind, Incident, TableInfo, TableRef
from tidegauge.steps.notify import notify_incidents
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def project_with(tmp_path, recorder, extra: str):
    (tmp_path / "tidegauge.yml").write_text(
        f"""
store: {{url: "sqlite:///state.db"}}
channels:
  - name: hook
    type: webhook
    url: {recorder.url()}
{extra}
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    return project, Store.open(project.store_url())


def open_incident(store, name: str) -> int:
    ref = TableRef("main", "raw", name)
    tid = store.upsert_table(TableInfo(ref), NOW)
    aid = store.alerts.add(
        Alert(
            AlertKind.VOLUME, ref, "bucket_row_count", NOW, NOW, title=f"volume drop in raw.{name}"
        ),
        tid,
        None,
    )
    iid = store.incidents.create(
        Incident(AlertKind.VOLUME, ref, f"volume drop in raw.{name}", NOW, NOW), tid, aid
    )
    store.alerts.set_incident([aid], iid)
    return iid


def test_budget_turns_the_rest_into_one_digest(tmp_path, recorder):
    project, store = project_with(tmp_path, recorder, "    max_messages_per_hour: 1")
    ids = [open_incident(store, n) for n in ("orders", "payments", "shows")]
    ctx = run_context(project, store, NOW, run_id=1)
    ctx.report.incidents_opened = ids
    notify_incidents(ctx)
    bodies = [r.json()["message"] for r in recorder.requests]
    assert len(bodies) == 2
    assert bodies[0]["incident_id"] == ids[0]
    digest = bodies[1]
    assert digest["incident_id"] is None
    assert "raw.payments" in str(digest) and "raw.shows" in str(digest)
    # the same run again sends nothing more
    notify_incidents(ctx)
    assert len(recorder.requests) == 2


def test_open_incident_is_renotified_after_the_policy(tmp_path, recorder):
    project, store = project_with(tmp_path, recorder, "    renotify_after: 1s")
    iid = open_incident(store, "orders")
    first = run_context(project, store, NOW, run_id=1)
    first.report.incidents_opened = [iid]
    notify_incidents(first)
    assert len(recorder.requests) == 1
    notify_incidents(run_context(project, store, NOW, run_id=2))
    assert len(recorder.requests) == 1  # too soon
    time.sleep(1.2)
    notify_incidents(run_context(project, store, NOW, run_id=3))
    assert len(recorder.requests) == 2
    assert recorder.requests[1].json()["message"]["incident_id"] == iid
