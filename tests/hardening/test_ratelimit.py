"""The OpenLineage ingest endpoint: a per-client token bucket answers 429 with Retry-After
once a client has used its burst, other clients are unaffected, and writes need an admin
token when tokens are configured."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tidegauge.config import Project, WebConfig
from tidegauge.integrations.openlineage import InMemoryLineageRecorder
from tidegauge.store.store import Store
from tidegauge.web.ratelimit import TokenBucket
from tidegauge.web.server import create_app


def event() -> dict[str, Any]:
    return {
        "eventTime": "2024-05-01T12:00:00Z",
        "eventType": "COMPLETE",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "n", "name": "j"},
        "producer": "p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }


def app_with(tmp_path, web: WebConfig | None = None, rate: tuple[float, int] = (0.5, 5)):
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    project = Project(name="t", web=web or WebConfig())
    return TestClient(
        create_app(project, store, lineage_recorder=InMemoryLineageRecorder(), ingest_rate=rate)
    )


def test_ingest_burst_then_429_per_client(tmp_path):
    client = app_with(tmp_path)
    codes = [client.post("/api/v1/lineage", json=event()).status_code for _ in range(5)]
    assert codes == [201] * 5
    r = client.post("/api/v1/lineage", json=event())
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert "too many requests" in r.json()["detail"]
    # a made-up token is no new client: rotating them does not get around the limit
    for i in range(20):
        fake = {"Authorization": f"Bearer made-up-{i}"}
        assert client.post("/api/v1/lineage", json=event(), headers=fake).status_code == 429
    # reads are never limited
    assert client.get("/api/v1/runs").status_code == 200


def test_a_verified_token_has_its_own_bucket(tmp_path):
    client = app_with(tmp_path, WebConfig(admin_tokens=["a" * 32, "b" * 32]), rate=(0.5, 3))
    a, b = ({"Authorization": "Bearer " + t * 32} for t in "ab")
    codes = [client.post("/api/v1/lineage", json=event(), headers=a).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    assert client.post("/api/v1/lineage", json=event(), headers=b).status_code == 201
    # wrong tokens from the same address share the address's bucket (and get 401 or 429)
    wrong = [
        client.post(
            "/api/v1/lineage", json=event(), headers={"Authorization": f"Bearer x{i}"}
        ).status_code
        for i in range(6)
    ]
    assert wrong[:3] == [401, 401, 401] and set(wrong[3:]) == {429}


def test_login_is_throttled_per_address(tmp_path):
    client = app_with(tmp_path, WebConfig(admin_tokens=["a" * 32]))
    page = client.get("/login")
    csrf = page.cookies.get("tidegauge_csrf") or client.cookies.get("tidegauge_csrf")
    codes = [
        client.post(
            "/login", data={"token": f"guess-{i}", "csrf_token": csrf, "next": "/"}
        ).status_code
        for i in range(50)
    ]
    assert codes[:10] == [401] * 10
    assert codes.count(429) >= 39  # 50 guesses no longer take 0.7 s: ~1 per 5 s after 10


def test_ingest_needs_an_admin_token(tmp_path):
    client = app_with(
        tmp_path, WebConfig(admin_tokens=["a" * 32], read_tokens=["r" * 32]), rate=(100.0, 100)
    )
    assert client.post("/api/v1/lineage", json=event()).status_code == 401
    read = {"Authorization": "Bearer " + "r" * 32}
    assert client.post("/api/v1/lineage", json=event(), headers=read).status_code == 403
    admin = {"Authorization": "Bearer " + "a" * 32}
    assert client.post("/api/v1/lineage", json=event(), headers=admin).status_code == 201


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    b = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [b.take("c") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("c") == 0.5
    now[0] = 0.5
    assert b.take("c") == 0.0
    now[0] = 100.0  # never more than the burst
    assert [b.take("c") for _ in range(4)][-1] > 0
    # the client table is bounded
    small = TokenBucket(rate=1.0, burst=1, max_clients=10, clock=lambda: now[0])
    for i in range(100):
        small.take(f"k{i}")
    assert len(small._buckets) <= 10
