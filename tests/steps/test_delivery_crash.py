"""The outbox under SIGKILL: a message written before a crash still goes out, exactly once
per delivery attempt key, and a sender killed mid-request is retried with the same key."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

from tests.notifiers.servers import Reply
from tidegauge.config import load_project
from tidegauge.core.model import Alert, AlertKind, Incident, TableInfo, TableRef
from tidegauge.steps.notify import deliver
from tidegauge.store.outbox import OutboxRepo
from tidegauge.store.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def setup_project(tmp_path, recorder):
    (tmp_path / "tidegauge.yml").write_text(
        f"""
store: {{url: "sqlite:///state.db"}}
channels:
  - name: hook
    type: webhook
    url: {recorder.url()}
    timeout_seconds: 30
"""
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    ref = TableRef("main", "raw", "orders")
    tid = store.upsert_table(TableInfo(ref), NOW)
    aid = store.alerts.add(
        Alert(
            AlertKind.VOLUME,
            ref,
            "bucket_row_count",
            NOW,
            NOW,
            observed=10.0,
            expected=100.0,
            title="volume drop",
        ),
        tid,
        None,
    )
    assert aid is not None
    iid = store.incidents.create(Incident(AlertKind.VOLUME, ref, "volume drop", NOW, NOW), tid, aid)
    store.alerts.set_incident([aid], iid)
    return project, store, iid


def child(tmp_path, body: str) -> subprocess.Popen:
    code = textwrap.dedent(
        f"""
        import os, signal
        from datetime import UTC, datetime, timedelta
        from tidegauge.config import load_project
        from tidegauge.store.store import Store
        from tidegauge.store.outbox import OutboxRepo
        from tidegauge.steps.notify import enqueue_incident, deliver
        project = load_project({str(tmp_path / "tidegauge.yml")!r})
        store = Store.open(project.store_url())
        """
    ) + textwrap.dedent(body)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.Popen([sys.executable, "-c", code], env=env)


def test_killed_after_outbox_write_still_delivers_once(tmp_path, recorder):
    project, store, iid = setup_project(tmp_path, recorder)
    proc = child(
        tmp_path,
        f"""
        enqueue_incident(project, store, OutboxRepo(store), {iid}, datetime.now(UTC))
        os.kill(os.getpid(), signal.SIGKILL)  # dies before any send
        """,
    )
    assert proc.wait(timeout=120) == -signal.SIGKILL
    rows = OutboxRepo(store).rows(incident_id=iid)
    assert [r["status"] for r in rows] == ["pending"]
    assert recorder.requests == []

    assert deliver(project, store, holder="next-run")["sent"] == 1
    assert deliver(project, store, holder="again")["sent"] == 0
    assert len(recorder.requests) == 1
    assert OutboxRepo(store).rows(incident_id=iid)[0]["status"] == "sent"


def test_killed_mid_send_is_retried_with_the_same_idempotency_key(tmp_path, recorder):
    project, store, iid = setup_project(tmp_path, recorder)
    from tidegauge.steps.notify import enqueue_incident

    enqueue_incident(project, store, OutboxRepo(store), iid, NOW)
    recorder.reply(Reply(hang=20.0))  # the first request stalls: the sender is killed in it
    proc = child(
        tmp_path,
        """
        deliver(project, store, holder="doomed", lease=timedelta(seconds=1))
        """,
    )
    deadline = time.monotonic() + 60
    while not recorder.requests:
        assert time.monotonic() < deadline, "the child never sent"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(1.5)  # the dead sender's claim expires

    assert deliver(project, store, holder="survivor", lease=timedelta(seconds=30))["sent"] == 1
    assert deliver(project, store, holder="survivor")["sent"] == 0
    keys = [r.headers["idempotency-key"] for r in recorder.requests]
    assert len(keys) == 2 and keys[0] == keys[1]  # the receiver can drop the repeat
    assert OutboxRepo(store).rows(incident_id=iid)[0]["status"] == "sent"
