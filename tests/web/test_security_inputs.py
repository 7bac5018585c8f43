"""Numbers past 64 bits, NUL characters and odd bodies get a 404 or 422, never a 500, on
both store engines (OverflowError on SQLite and "bigint out of range" on PostgreSQL were
the 500s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.hardening.pg import scratch_database
from tests.servers import require_server
from tests.web.conftest import seed
from tidegauge.config import Project
from tidegauge.store.store import Store
from tidegauge.web.server import create_app

BIG = 2**63 - 1
PATHS = [
    "/api/v1/tables/{}",
    "/api/v1/tables/{}/columns",
    "/api/v1/tables/{}/metrics",
    "/api/v1/alerts/{}",
    "/api/v1/incidents/{}",
    "/api/v1/runs/{}",
    "/tables/{}",
    "/alerts/{}",
    "/incidents/{}",
]
LISTS = ["/api/v1/tables", "/api/v1/alerts", "/api/v1/incidents", "/tables", "/alerts"]


@pytest.fixture(params=["sqlite", "postgres"])
def client(request, tmp_path) -> Iterator[TestClient]:
    if request.param == "sqlite":
        store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
        seed(store)
        yield TestClient(create_app(Project(name="t"), store), raise_server_exceptions=False)
        store.close()
        return
    require_server("postgres")
    with scratch_database() as url:
        store = Store.open(url)
        seed(store)
        try:
            yield TestClient(create_app(Project(name="t"), store), raise_server_exceptions=False)
        finally:
            store.close()


@pytest.mark.parametrize("path", PATHS)
def test_ids_at_and_past_64_bits(client, path):
    assert client.get(path.format(BIG)).status_code == 404
    for value in (BIG + 1, 10**30, -(2**63)):
        r = client.get(path.format(value))
        assert r.status_code == 422, (value, r.status_code, r.text[:200])


def test_offsets_and_query_ids_past_64_bits(client):
    for path in LISTS:
        assert client.get(path, params={"offset": 2**31 - 1}).status_code == 200, path
        for value in (BIG, BIG + 1):
            assert client.get(path, params={"offset": value}).status_code == 422, path
    for path in ("/api/v1/alerts", "/api/v1/incidents", "/api/v1/monitors"):
        assert client.get(path, params={"table_id": BIG}).status_code in (200, 404), path
        assert client.get(path, params={"table_id": BIG + 1}).status_code == 422, path
    assert client.get("/lineage", params={"incident": BIG + 1}).status_code == 422


def test_nul_characters_anywhere_are_422(client):
    for url in ("/api/v1/tables?q=a%00", "/api/v1/alerts?kind=%00x", "/tables?schema=%00"):
        assert client.get(url).status_code == 422, url
    r = client.post(
        "/api/v1/incidents/1/notes",
        content=b'{"text": "a\\u0000b"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/incidents/1/notes",
        content=b'{"text": "fine"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code in (201, 404)


def test_declared_error_responses_are_in_openapi(client):
    spec = client.get("/openapi.json").json()
    note = spec["paths"]["/api/v1/incidents/{incident_id}/notes"]["post"]["responses"]
    assert {"400", "413", "415", "422"} <= set(note)
    lineage = spec["paths"]["/api/v1/lineage"]["post"]["responses"]
    assert {"400", "413", "415"} <= set(lineage)
    table = spec["paths"]["/api/v1/tables/{table_id}"]["get"]
    (param,) = [p for p in table["parameters"] if p["name"] == "table_id"]
    assert param["schema"]["maximum"] == BIG
