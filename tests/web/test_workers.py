"""``tidegauge serve --workers N``: several uvicorn processes on one store and one port, each
with its own response cache, and a write through any of them visible through all."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import seed
from tidegauge.store.store import Store

SERVER = """
import sys
from tidegauge.config import Project, WebConfig
from tidegauge.store.store import Store
from tidegauge.web.server import serve_blocking
project = Project(name="w", web=WebConfig(admin_tokens=["a" * 24]))
serve_blocking(project, Store.open(sys.argv[1]), "127.0.0.1", int(sys.argv[2]),
               scheduler=False, workers=2)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker_pids(parent: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == parent:
                out.add(int(entry.name))
    return out


@pytest.mark.slow
def test_two_workers_share_the_store_and_see_each_others_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store.open(url)
    seeded = seed(store)
    store.close()
    port = _free_port()
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, url, str(port)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {'a' * 24}"}
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.3)
        assert len(_worker_pids(proc.pid)) >= 2  # uvicorn's workers under the supervisor
        with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
            url_inc = f"/api/v1/incidents/{seeded.incident}"
            assert http.get("/api/v1/alerts").status_code == 200
            assert httpx.get(base + url_inc, timeout=30).status_code == 401  # tokens hold
            # new connections spread over the workers; warm every cache with the old state
            for _ in range(12):
                with httpx.Client(base_url=base, headers=auth, timeout=30) as one:
                    assert one.get(url_inc).json()["status"] == "open"
            r = http.post(f"{url_inc}/status", json={"status": "fixed"})
            assert r.status_code == 200
            for _ in range(12):
                with httpx.Client(base_url=base, headers=auth, timeout=30) as one:
                    assert one.get(url_inc).json()["status"] == "fixed"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
