"""A channel that stays down longer than its retry budget: tidegauge keeps trying for the
configured time (not a count of attempts), then gives up loudly (incident timeline, run
status and exit code, ``tidegauge status``, the UI, the fallback channel), and
``tidegauge outbox --retry`` delivers once the receiver is back. Time moves through an
injected clock; nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.notifiers.servers import HttpRecorder, Reply
from tests.test_pipeline import END, build_warehouse
from tidegauge.cli.main import app
from tidegauge.cli.run import EXIT_PARTIAL, exit_code
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.steps.notify import UNDELIVERED, deliver
from tidegauge.store.outbox import OutboxRepo
from tidegauge.store.store import Store
from tidegauge.web.server import create_app

pytestmark = pytest.mark.slow

DOWN = Reply(503, b"maintenance", headers={"Retry-After": "60"})


@pytest.fixture
def pager() -> Iterator[HttpRecorder]:
    server = HttpRecorder().start()
    try:
        yield server
    finally:
        server.stop()


def cli(tmp_path, *args: str):
    return CliRunner().invoke(app, ["--config", str(tmp_path / "tidegauge.yml"), *args])


def hook_project(tmp_path, url: str, hook_rest: str):
    """A project over a small DuckDB warehouse whose one route goes to the webhook ``hook``
    at ``url``; ``hook_rest`` ends that channel's settings (and may add channels)."""
    build_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "sqlite:///state.db"}}
tables:
  - match: "*"
    field_health: false
    categorical: false
channels:
  - name: hook
    type: webhook
    url: {url}
{hook_rest}routes:
  - channels: [hook]
"""
    )
    return load_project(tmp_path / "tidegauge.yml")


def test_channel_down_past_its_budget_is_reported_then_requeued(tmp_path, recorder, pager):
    project = hook_project(
        tmp_path,
        recorder.url(),
        f"""    retry_for: 10m
    fallback: pager
  - name: pager
    type: webhook
    url: {pager.url("/pager")}
""",
    )
    store = Store.open(project.store_url())
    recorder.default = DOWN
    t = [datetime.now(UTC).replace(microsecond=0)]
    wall = Clock(lambda: t[0])

    first = run(project, store, Clock.fixed(END), wall=wall)
    incidents = first.incidents_opened
    assert incidents, "the fixture warehouse has a volume drop"
    assert first.notifications == {"sent": 0, "retry": len(incidents), "failed": 0}
    assert exit_code(first) == 0 and store.runs()[0]["status"] == "success"

    # 9 minutes later, still down: within the 10 minute budget it only retries
    for _ in range(9):
        t[0] += timedelta(minutes=1, seconds=1)
        counts = deliver(project, store, holder="serve", clock=wall)
        assert counts["failed"] == 0
    tries = len(recorder.requests)
    assert tries >= 9 * len(incidents)  # Retry-After 60 s: one try per minute each
    assert all(r["status"] == "pending" for r in OutboxRepo(store).rows())
    assert pager.requests == []

    # past the budget: the run that finds it exhausted says so in every place
    t[0] += timedelta(minutes=2)
    late = run(project, store, Clock.fixed(END), wall=wall)
    assert late.notifications["failed"] == len(incidents)
    assert exit_code(late) == EXIT_PARTIAL
    assert store.runs()[0]["status"] == "partial"
    failed = OutboxRepo(store).rows(status="failed")
    assert sorted(r["incident_id"] for r in failed) == sorted(incidents)
    assert all("still failing after 10m" in r["last_error"] for r in failed)
    for iid in incidents:
        inc = store.incidents.get(iid)
        assert inc is not None
        events = [e for e in inc["timeline"] if e["type"] == UNDELIVERED]
        assert len(events) == 1 and "could not deliver to hook" in events[0]["text"]
        assert "passed to pager" in events[0]["text"]
    # the fallback channel got each incident once, saying what happened
    assert len(pager.requests) == len(incidents)
    assert all(b"Undelivered to hook" in r.body for r in pager.requests)

    status = cli(tmp_path, "status", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["undelivered_notifications"] == len(incidents)
    assert "could not be delivered" in cli(tmp_path, "status").stdout
    page = TestClient(create_app(project, store)).get(f"/incidents/{incidents[0]}")
    assert page.status_code == 200 and "could not deliver to hook" in page.text

    # nothing more happens on its own: a failed row is not retried by later passes
    t[0] += timedelta(hours=1)
    assert deliver(project, store, holder="serve", clock=wall)["sent"] == 0
    assert len(recorder.requests) == tries + len(incidents)

    # the receiver is back: list the failures, requeue one, then the rest
    recorder.default = Reply(200)
    listed = cli(tmp_path, "outbox", "--failed", "--json")
    assert listed.exit_code == 0, listed.output
    ids = [r["id"] for r in json.loads(listed.stdout)]
    assert len(ids) == len(incidents)
    before = len(recorder.requests)
    one = cli(tmp_path, "outbox", "--retry", str(ids[0]))
    assert one.exit_code == 0, one.output
    assert "requeued 1 delivery" in one.stdout and "sent 1" in one.stdout
    assert len(recorder.requests) == before + 1
    rest = cli(tmp_path, "outbox", "--all", "--json")
    assert rest.exit_code == 0, rest.output
    assert json.loads(rest.stdout)["requeued"] == ids[1:]
    assert len(recorder.requests) == before + len(incidents)
    assert OutboxRepo(store).rows(status="failed") == []
    # the requeued deliveries carry the same idempotency key as the failed tries
    keys = {r.headers["idempotency-key"] for r in recorder.requests}
    assert len(keys) == len(incidents)
    again = cli(tmp_path, "outbox", "--retry", str(ids[0]))
    assert again.exit_code == 2 and "only failed deliveries" in again.output


def test_fallback_must_name_another_channel(tmp_path):
    from tidegauge.yamlsource import ConfigError

    (tmp_path / "tidegauge.yml").write_text(
        """
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/h", fallback: nowhere}
"""
    )
    with pytest.raises((ConfigError, ValueError), match="fallback 'nowhere'"):
        load_project(tmp_path / "tidegauge.yml")


def test_quiet_hours_hold_does_not_spend_the_retry_budget(tmp_path, recorder):
    """A message held through 7 quiet hours, to a receiver that is down, is retried for its
    whole ``retry_for`` from the first try after the hold, not from when it was queued."""
    project = hook_project(
        tmp_path,
        recorder.url(),
        """    retry_for: 30m
    quiet_hours: {start: "22:00", end: "06:00"}
""",
    )
    store = Store.open(project.store_url())
    recorder.default = DOWN
    t = [datetime(2030, 1, 7, 23, 0, tzinfo=UTC)]
    wall = Clock(lambda: t[0])
    first = run(project, store, Clock.fixed(END), wall=wall)
    incidents = first.incidents_opened
    assert incidents, "the fixture warehouse has a volume drop"
    rows = OutboxRepo(store).rows()
    assert rows and all(r["next_attempt_at"] == datetime(2030, 1, 8, 6, tzinfo=UTC) for r in rows)
    assert recorder.requests == []

    # the hold ends: the first tries fail; 29 minutes on, well past queue time + 30m,
    # the rows are still being retried
    t[0] = datetime(2030, 1, 8, 6, 0, 5, tzinfo=UTC)
    assert deliver(project, store, holder="serve", clock=wall)["failed"] == 0
    assert len(recorder.requests) == len(rows)
    for _ in range(29):
        t[0] += timedelta(minutes=1)
        assert deliver(project, store, holder="serve", clock=wall)["failed"] == 0
    pending = OutboxRepo(store).rows()
    assert all(r["status"] == "pending" for r in pending)
    assert all(r["first_try_at"] == datetime(2030, 1, 8, 6, 0, 5, tzinfo=UTC) for r in pending)

    # 30 minutes after the first try the budget is spent, and it says so
    t[0] = datetime(2030, 1, 8, 6, 30, 6, tzinfo=UTC)
    assert deliver(project, store, holder="serve", clock=wall)["failed"] == len(rows)
    failed = OutboxRepo(store).rows(status="failed")
    assert all("still failing after 30m" in r["last_error"] for r in failed)

    # a requeue starts a fresh budget from its own first try
    OutboxRepo(store).requeue(None, t[0])
    assert all(r["first_try_at"] is None for r in OutboxRepo(store).rows())
    t[0] += timedelta(minutes=1)
    assert deliver(project, store, holder="serve", clock=wall)["failed"] == 0
