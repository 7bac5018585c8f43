"""Secrets never leave: the warehouse password, the webhook URL (whose path is the secret)
and signing secret, and the API tokens are absent from logs (DEBUG, during a failed
connection and a failed delivery), CLI output, ``status --json``, the store, API responses
and ``/openapi.json``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.notifiers.servers import HttpRecorder, Reply
from tests.test_pipeline import END, build_warehouse
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.store.outbox import OutboxRepo
from tidegauge.store.store import Store
from tidegauge.web.server import create_app

pytestmark = pytest.mark.slow

PASSWORD = "pw-Sup3rS3cret-0xDEADBEEF"
HOOK_PATH = "hook-T0kenInThePath-777"
SIGNING = "sign-Shh-9f8e7d6c5b4a"
ADMIN = "adm-" + "A1" * 16
READ = "rd-" + "R2" * 16
SECRETS = (PASSWORD, HOOK_PATH, SIGNING, ADMIN, READ)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.fixture
def project_dir(tmp_path: Path, recorder: HttpRecorder) -> Path:
    build_warehouse(tmp_path / "w.duckdb")
    # a PostgreSQL warehouse nobody listens for (port 1): the connection fails
    (tmp_path / "tidegauge.yml").write_text(
        """
warehouses:
  - {type: duckdb, path: w.duckdb}
  - {type: postgres, name: pg, host: 127.0.0.1, port: 1, user: tg,
      password: "${TG_PG_PASSWORD}", connect_timeout: 2}
store: {url: "sqlite:///state.db"}
tables:
  - match: "*"
    field_health: false
    categorical: false
channels:
  - name: hook
    type: webhook
    url: "${TG_HOOK_URL}"
    secret: "${TG_HOOK_SECRET}"
    timeout_seconds: 5
web:
  admin_tokens: ["${TG_ADMIN}"]
  read_tokens: ["${TG_READ}"]
"""
    )
    return tmp_path


@pytest.fixture
def env(monkeypatch, recorder: HttpRecorder) -> dict[str, str]:
    values = {
        "TG_PG_PASSWORD": PASSWORD,
        "TG_HOOK_URL": recorder.url(f"/{HOOK_PATH}"),
        "TG_HOOK_SECRET": SIGNING,
        "TG_ADMIN": ADMIN,
        "TG_READ": READ,
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def test_no_secret_in_logs_store_or_api(project_dir, env, recorder, caplog):
    # every delivery fails: an error page that echoes the secret path back
    recorder.reply(*[Reply(status=500, body=b"boom at ", echo_path=True) for _ in range(20)])
    caplog.set_level(logging.DEBUG)
    project = load_project(project_dir / "tidegauge.yml")
    store = Store.open(project.store_url())
    report = run(project, store, Clock.fixed(END))
    assert "pg" in report.warehouse_errors  # the connection failed
    assert report.notifications.get("retry", 0) + report.notifications.get("failed", 0) >= 1
    assert recorder.requests  # and the webhook was tried

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert leaks(logged) == []
    assert leaks(json.dumps(report.as_dict(), default=str)) == []
    for row in OutboxRepo(store).rows():
        assert leaks(str(row)) == []
    assert leaks(json.dumps(store.runs(), default=str)) == []

    client = TestClient(create_app(project, store))
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert client.get("/api/v1/runs").status_code == 401
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and leaks(spec.text) == []
    for path in spec.json()["paths"]:
        if "{" in path:
            continue
        r = client.get(path, headers=auth)
        assert leaks(r.text) == [], path
    for iid in [i["id"] for i in store.incidents.list()]:
        r = client.get(f"/api/v1/incidents/{iid}", headers=auth)
        assert r.status_code == 200 and leaks(r.text) == []
    run_id = report.run_id
    assert leaks(client.get(f"/api/v1/runs/{run_id}", headers=auth).text) == []
    # and the pages of the UI
    for page in ("/", "/incidents", "/tables", "/runs", "/settings"):
        r = client.get(page, headers=auth)
        assert leaks(r.text) == [], page


def test_no_secret_in_cli_output(project_dir, env, recorder):
    recorder.reply(*[Reply(status=500, body=b"boom at ", echo_path=True) for _ in range(20)])
    config = str(project_dir / "tidegauge.yml")
    cli = [sys.executable, "-m", "tidegauge.cli.main", "--config", config]
    environ = {**os.environ, **env, "PYTHONPATH": os.getcwd(), "COLUMNS": "200"}
    for args in (
        ["run", "--now", END.isoformat(), "--json"],
        ["run", "--now", END.isoformat()],
        ["status", "--json"],
        ["status"],
        ["discover"],
        ["validate"],
        ["plan"],
        ["incidents"],
        ["alerts"],
    ):
        p = subprocess.run(cli + args, env=environ, capture_output=True, text=True, timeout=300)
        assert leaks(p.stdout + p.stderr) == [], (args, p.stdout[-500:], p.stderr[-500:])
