"""A server without tokens is safe from the web pages its user visits: cross-origin and
non-JSON writes are refused, the Host header is checked (DNS rebinding), bodies are bounded
before and during decompression, and odd input (NUL bytes, deep JSON, huge ids) gets a
4xx, never a 500. Run against a real ``tidegauge serve`` on loopback where it matters."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tidegauge.config import Project, WebConfig
from tidegauge.integrations.openlineage import InMemoryLineageRecorder
from tidegauge.store.store import Store
from tidegauge.web.guard import json_too_deep
from tidegauge.web.server import create_app


def event(name: str = "j") -> dict[str, Any]:
    return {
        "eventTime": "2024-05-01T12:00:00Z",
        "eventType": "COMPLETE",
        "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"},
        "job": {"namespace": "n", "name": name},
        "producer": "p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }


@pytest.fixture
def app(tmp_path) -> tuple[TestClient, InMemoryLineageRecorder]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    recorder = InMemoryLineageRecorder()
    project = Project(name="t", web=WebConfig(base_url="https://tide.example.com"))
    client = TestClient(
        create_app(project, store, lineage_recorder=recorder, ingest_rate=(100.0, 1000)),
        raise_server_exceptions=False,
    )
    return client, recorder


def test_cross_origin_writes_are_refused_without_tokens(app):
    client, recorder = app
    body = json.dumps(event()).encode()
    # the reported attack: a page elsewhere posts text/plain (no CORS preflight needed)
    r = client.post(
        "/api/v1/lineage",
        content=body,
        headers={"content-type": "text/plain", "origin": "https://evil.example"},
    )
    assert r.status_code == 403
    # from another origin even with the right type; and not JSON even without an origin
    r = client.post(
        "/api/v1/lineage",
        content=body,
        headers={"content-type": "application/json", "origin": "https://evil.example"},
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/lineage",
        content=body,
        headers={"content-type": "text/plain", "referer": "https://evil.example/page"},
    )
    assert r.status_code == 403
    r = client.post("/api/v1/lineage", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = client.post(
        "/api/v1/incidents/1/notes",
        content=b'{"text": "x"}',
        headers={"content-type": "application/json", "origin": "null"},
    )
    assert r.status_code == 403
    assert recorder.events == []
    # the same origin (and a client that sends no origin, like curl) may write
    same = {"content-type": "application/json", "origin": "http://testserver"}
    assert client.post("/api/v1/lineage", content=body, headers=same).status_code == 201
    assert len(recorder.events) == 1


def test_the_host_header_is_checked(app):
    client, _ = app
    for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example"):
        r = client.get("/api/v1/runs", headers={"host": host})
        assert r.status_code == 400, host
        assert "web.base_url" in r.json()["detail"]
    for host in ("127.0.0.1:8765", "localhost", "[::1]:8765", "tide.example.com"):
        assert client.get("/api/v1/runs", headers={"host": host}).status_code == 200, host


def test_nul_bytes_and_deep_json_are_refused_not_crashed(app):
    client, _ = app
    assert client.get("/api/v1/tables", params={"q": "a\x00b"}).status_code == 422
    assert client.get("/api/v1/alerts?kind=%00").status_code == 422
    assert client.get("/tables?q=%00").status_code == 422
    deep = b"[" * 100_000 + b"]" * 100_000
    r = client.post("/api/v1/lineage", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "deeper" in r.json()["detail"]
    r = client.post(
        "/api/v1/alerts/1/feedback", content=deep, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    # brackets inside strings are no nesting; a real event still goes through
    assert not json_too_deep(json.dumps({"a": "[" * 10_000}).encode())
    ok = event("x[[[[")
    assert client.post("/api/v1/lineage", json=ok).status_code == 201


def test_bodies_are_bounded_before_and_during_decompression(app):
    client, _ = app
    # a declared length over the limit is refused unread
    r = client.post(
        "/api/v1/alerts/1/feedback",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    # gzip and deflate bodies inflate, within the limit
    body = json.dumps(event("zipped")).encode()
    for encoding, packed in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        r = client.post(
            "/api/v1/lineage",
            content=packed,
            headers={"content-type": "application/json", "content-encoding": encoding},
        )
        assert r.status_code in (200, 201), (encoding, r.text)
    r = client.post(
        "/api/v1/lineage",
        content=b"not gzip",
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 400
    r = client.post(
        "/api/v1/lineage",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "br"},
    )
    assert r.status_code == 415


def gzip_of_zeros(size: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1024 * 1024)
    out = [z.compress(chunk) for _ in range(size // len(chunk))]
    out.append(z.flush())
    return b"".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tidegauge(tmp_path: Path, *args: str) -> list[str]:
    cfg = str(tmp_path / "tidegauge.yml")
    return [sys.executable, "-m", "tidegauge.cli.main", "-c", cfg, *args]


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A real `tidegauge serve` on loopback, without tokens."""
    (tmp_path / "tidegauge.yml").write_text('store: {url: "sqlite:///state.db"}\n')
    port = free_port()
    proc = subprocess.Popen(
        tidegauge(tmp_path, "serve", "--port", str(port), "--no-scheduler"),
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/api/v1/runs", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("tidegauge serve did not come up")
        yield url, proc
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_gzip_bomb_and_rebinding_against_a_real_server(served):
    url, proc = served
    before = peak_rss_mb(proc.pid)
    bomb = gzip_of_zeros(1024 * 1024 * 1024)  # 1 GiB of zeros in about 1 MB
    assert len(bomb) < 2 * 1024 * 1024
    r = httpx.post(
        url + "/api/v1/lineage",
        content=bomb,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
        timeout=60,
    )
    assert r.status_code == 413
    # the server inflated at most the 16 MiB limit, not the gigabyte
    assert peak_rss_mb(proc.pid) - before < 100
    # a DNS-rebinding page reaches this port under its own name: refused
    r = httpx.get(url + "/api/v1/runs", headers={"host": "attacker.example:8765"})
    assert r.status_code == 400
    assert httpx.get(url + "/api/v1/runs").status_code == 200


def test_serving_beyond_loopback_without_tokens_needs_the_flag(tmp_path):
    from typer.testing import CliRunner

    from tidegauge.cli.main import app

    (tmp_path / "tidegauge.yml").write_text('store: {url: "sqlite:///state.db"}\n')
    result = CliRunner().invoke(
        app, ["-c", str(tmp_path / "tidegauge.yml"), "serve", "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2
    assert "--allow-remote-without-auth" in result.output


@pytest.mark.slow
def test_the_flag_serves_beyond_loopback_with_a_warning(tmp_path):
    (tmp_path / "tidegauge.yml").write_text('store: {url: "sqlite:///state.db"}\n')
    port = free_port()
    proc = subprocess.Popen(
        tidegauge(
            tmp_path,
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--no-scheduler",
            "--allow-remote-without-auth",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/runs", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert r.status_code == 200
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert "warning" in stderr and "without tokens" in stderr
