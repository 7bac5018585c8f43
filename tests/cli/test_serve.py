"""``serve`` says plainly whether its scheduler runs the warehouse, and it is a flag."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("flag", "said"),
    [
        ("--no-schedule", "scheduler off: no warehouse runs"),
        ("--schedule", "scheduler on: a warehouse run starts now, then every 60 min"),
    ],
)
def test_serve_announces_its_scheduler(tmp_path: Path, flag: str, said: str) -> None:
    import duckdb

    duckdb.connect(str(tmp_path / "w.duckdb")).close()
    (tmp_path / "tidegauge.yml").write_text(
        'warehouses: [{type: duckdb, path: w.duckdb}]\nstore: {url: "sqlite:///state.db"}\n'
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tidegauge.cli.main", "serve", "--port", str(port), flag],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("serve did not answer within 120 s")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert said in out, out
    assert f"http://127.0.0.1:{port}/" in out
