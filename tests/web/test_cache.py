"""The read API's response cache: repeated reads are served from memory, and any write to the
store — through the API, through the Store in this process, from another process, on SQLite
or PostgreSQL — shows in the very next response."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.web.conftest import NOW, Seeded, make_client, seed
from tidegauge.config import Project, WebConfig
from tidegauge.core.model import IncidentStatus
from tidegauge.store.engine import make_engine
from tidegauge.store.store import Store
from tidegauge.web.cache import Entry, ResponseCache, RunCache
from tidegauge.web.generation import PostgresGeneration, SqliteGeneration, for_engine

JSON = {"Content-Type": "application/json"}


def cached(client: TestClient, url: str) -> dict:
    """GET twice: the first computes, the second must come from the cache unchanged."""
    first = client.get(url)
    assert first.status_code == 200, first.text
    second = client.get(url)
    assert second.headers["x-cache"] == "hit"
    assert second.content == first.content
    return second.json()


def test_repeated_reads_are_served_from_memory(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/api/v1/alerts")
    assert r.headers["x-cache"] == "miss"
    hit = client.get("/api/v1/alerts")
    assert hit.headers["x-cache"] == "hit" and hit.content == r.content
    # a cached answer still carries the security headers and is never stored by browsers
    assert hit.headers["x-frame-options"] == "DENY"
    assert hit.headers["cache-control"] == "no-store"
    # the query string is part of the key
    assert client.get("/api/v1/alerts?limit=1").headers["x-cache"] == "miss"


def test_feedback_shows_in_the_next_response(client: TestClient, seeded: Seeded) -> None:
    url = f"/api/v1/alerts/{seeded.volume_alert}"
    assert cached(client, url)["feedback"] is None
    listed = cached(client, "/api/v1/alerts?feedback=none")
    assert seeded.volume_alert in [a["id"] for a in listed["items"]]
    r = client.post(f"{url}/feedback", json={"value": "expected"}, headers=JSON)
    assert r.status_code == 200
    after = client.get(url)
    assert after.headers["x-cache"] == "miss" and after.json()["feedback"] == "expected"
    listed = client.get("/api/v1/alerts?feedback=none").json()
    assert seeded.volume_alert not in [a["id"] for a in listed["items"]]


def test_status_change_and_note_show_in_the_next_response(
    client: TestClient, seeded: Seeded
) -> None:
    url = f"/api/v1/incidents/{seeded.incident}"
    assert cached(client, url)["status"] == "open"
    assert cached(client, "/api/v1/incidents?open=true")["total"] == 1
    table = cached(client, f"/api/v1/tables/{seeded.orders}")
    assert table["health"] == "critical" and table["open_incidents"] == 1
    r = client.post(f"{url}/status", json={"status": "fixed"}, headers=JSON)
    assert r.status_code == 200
    assert client.get(url).json()["status"] == "fixed"
    assert client.get("/api/v1/incidents?open=true").json()["total"] == 0
    table = client.get(f"/api/v1/tables/{seeded.orders}").json()
    assert table["open_incidents"] == 0
    client.post(f"{url}/notes", json={"text": "backfilled"}, headers=JSON)
    timeline = client.get(url).json()["timeline"]
    assert timeline[-1]["text"] == "backfilled"


def test_a_run_written_beside_the_server_shows_next(client: TestClient, seeded: Seeded) -> None:
    before = cached(client, "/api/v1/runs")
    total = cached(client, "/api/v1/tables")["total"]
    # a run writing through its own Store (its own connections), as `tidegauge run` does
    store = seeded.store
    run_id = store.start_run(as_of=NOW, now=NOW, holder="cli")
    store.finish_run(run_id, "success", {"tables": 5}, NOW)
    runs = client.get("/api/v1/runs").json()
    assert len(runs) == len(before) + 1 and runs[0]["id"] == run_id
    from tidegauge.core.model import TableInfo, TableRef

    store.upsert_table(TableInfo(TableRef("main", "raw", "refunds")), NOW)
    assert client.get("/api/v1/tables").json()["total"] == total + 1  # the memoised count too


def test_a_write_from_another_process_shows_next(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    url = f"/api/v1/alerts/{seeded.null_alert}"
    assert cached(client, url)["feedback"] is None
    code = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "c.execute(\"UPDATE alerts SET feedback = 'false_positive' WHERE id = ?\", "
        "(int(sys.argv[2]),))\n"
        "c.commit()\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "state.db"), str(seeded.null_alert)],
        check=True,
        timeout=60,
    )
    assert client.get(url).json()["feedback"] == "false_positive"


def test_errors_are_never_cached(client: TestClient, seeded: Seeded) -> None:
    for _ in range(2):
        r = client.get("/api/v1/alerts/999999")
        assert r.status_code == 404 and r.headers["x-cache"] == "miss"
        r = client.get("/api/v1/alerts?limit=0")
        assert r.status_code == 422 and r.headers["x-cache"] == "miss"


def test_tokens_are_checked_before_the_cache(seeded: Seeded) -> None:
    project = Project(name="shop", web=WebConfig(read_tokens=["r" * 24], admin_tokens=["a" * 24]))
    with make_client(seeded, project) as c:
        url = f"/api/v1/incidents/{seeded.incident}"
        assert c.get(url, headers={"Authorization": f"Bearer {'r' * 24}"}).status_code == 200
        hit = c.get(url, headers={"Authorization": f"Bearer {'a' * 24}"})
        assert hit.headers["x-cache"] == "hit"
        assert c.get(url).status_code == 401
        assert c.get(url, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        # a read token still cannot write, cached reads or not
        r = c.post(
            f"{url}/status",
            json={"status": "fixed"},
            headers={**JSON, "Authorization": f"Bearer {'r' * 24}"},
        )
        assert r.status_code == 403


def test_clock_dependent_answers_expire() -> None:
    now = [0.0]
    cache = ResponseCache(max_age=10.0, clock=lambda: now[0])
    entry = Entry(200, (), b"{}", at=0.0)
    cache.put(1, ("/api/v1/tables", b""), entry)  # not kept: generation 1 not seen yet
    assert cache.get(1, ("/api/v1/tables", b""), 10.0) is None
    cache.put(1, ("/api/v1/tables", b""), entry)
    cache.put(1, ("/api/v1/alerts", b""), entry)
    now[0] = 11.0
    assert cache.get(1, ("/api/v1/tables", b""), 10.0) is None  # older than max_age
    assert cache.get(1, ("/api/v1/alerts", b""), None) is entry  # no clock in this answer
    assert cache.get(2, ("/api/v1/alerts", b""), None) is None  # a write: all gone


def test_an_answer_computed_before_a_write_is_not_kept() -> None:
    cache = ResponseCache()
    key = ("/api/v1/runs", b"")
    assert cache.get(1, key, None) is None
    assert cache.get(2, key, None) is None  # another request saw a write meanwhile
    cache.put(1, key, Entry(200, (), b"old", at=0.0))  # the slow one finishes
    assert cache.get(2, key, None) is None
    assert cache.memo(1, "n", lambda: 5) == 5 and cache.memo(2, "n", lambda: 6) == 6
    assert cache.memo(2, "n", lambda: 7) == 6


def test_cache_stays_within_its_byte_budget() -> None:
    cache = ResponseCache(max_bytes=10_000)
    cache.get(1, ("/x", b""), None)
    for i in range(50):
        cache.put(1, (f"/api/v1/alerts/{i}", b""), Entry(200, (), b"x" * 1000, at=0.0))
    assert 0 < len(cache) <= 10
    assert cache.get(1, ("/api/v1/alerts/49", b""), None) is not None  # newest kept
    assert cache.get(1, ("/api/v1/alerts/0", b""), None) is None


def test_sqlite_generation_moves_on_commit_only(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        run_id = store.start_run(as_of=NOW, now=NOW, holder="t")
        gen = for_engine(store.engine)
        assert isinstance(gen, SqliteGeneration)
        g0 = gen.read()
        store.runs(limit=5)  # reads change nothing
        assert gen.read() == g0
        with store.engine.connect() as c:
            c.execute(text("UPDATE runs SET status = 'x' WHERE id = :id"), {"id": run_id})
            assert gen.read() == g0  # not committed yet
            c.commit()
        assert gen.read() != g0
        gen.close()
        assert gen.read() is None
    finally:
        store.close()


def test_in_memory_store_is_not_cached() -> None:
    # no second connection can see an in-memory database, so no generation can be read
    assert for_engine(make_engine("sqlite://")) is None
    assert for_engine(make_engine("sqlite:///:memory:")) is None


@pytest.fixture
def pg_seeded() -> Iterator[Seeded]:
    from tests.servers import require_server

    require_server("postgres")
    from tests.hardening.pg import scratch_database

    with scratch_database() as url:
        store = Store.open(url)
        try:
            yield seed(store)
        finally:
            store.close()


@pytest.mark.postgres
def test_postgres_store_write_shows_next(pg_seeded: Seeded) -> None:
    gen = for_engine(pg_seeded.store.engine)
    assert isinstance(gen, PostgresGeneration)
    g0 = gen.read()
    pg_seeded.store.incidents.add_event(pg_seeded.incident, "note", "x", NOW)
    assert gen.read() != g0
    # the snapshot is cluster-wide: other databases' writes make misses, so a hit cannot be
    # promised on a shared server; what is promised is that a write is never hidden
    with make_client(pg_seeded) as c:
        url = f"/api/v1/incidents/{pg_seeded.incident}"
        for _ in range(3):
            assert c.get(url).json()["status"] == "open"
        pg_seeded.store.incidents.set_status(pg_seeded.incident, IncidentStatus.FIXED, NOW)
        assert c.get(url).json()["status"] == "fixed"


def test_run_cache_computes_only_what_is_missing_and_drops_the_least_recently_used(
    seeded: Seeded,
) -> None:
    cache = RunCache(max_entries=100, max_weight=10)
    asked: list[list[tuple[str]]] = []

    def compute(missing: list[tuple[str]]) -> dict[tuple[str], str]:
        asked.append(missing)
        return {k: k[0] * 4 for k in missing}  # each value weighs 4

    store = seeded.store
    assert cache.get_many(store, [("a",), ("b",)], compute, weight=len) == {
        ("a",): "aaaa",
        ("b",): "bbbb",
    }
    assert cache.get_many(store, [("a",)], compute, weight=len) == {("a",): "aaaa"}
    assert asked == [[("a",), ("b",)]]  # kept, asked once, in one call
    cache.get_many(store, [("c",)], compute, weight=len)  # 12 > 10: "b" goes, "a" was used
    cache.get_many(store, [("a",), ("b",)], compute, weight=len)
    assert asked[1:] == [[("c",)], [("b",)]]
    # another store at the same run keeps its own values
    other = Store.open("sqlite://")
    try:
        seed(other)
        cache.get_many(other, [("a",)], compute, weight=len)
        assert asked[-1] == [("a",)]
    finally:
        other.close()
