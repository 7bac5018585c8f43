"""Several processes opening a fresh store at the same moment: one migrates, the others
wait for it and find the schema current (no "table alembic_version already exists")."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tests.hardening.pg import scratch_database
from tests.servers import require_server
from tidegauge.store.store import Store

pytestmark = pytest.mark.slow

PROCESSES = 4


def open_at_once(url: str, gate: Path) -> list[subprocess.CompletedProcess[str]]:
    """Children import tidegauge, say they are ready, and open the store when told."""
    gate.mkdir()
    code = textwrap.dedent(
        f"""
        import os, sys, time
        from pathlib import Path
        from tidegauge.store.store import Store
        gate = Path({str(gate)!r})
        (gate / f"ready-{{os.getpid()}}").touch()
        while not (gate / "go").exists():
            time.sleep(0.005)
        Store.open({url!r}).close()
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env={**os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    deadline = time.monotonic() + 120
    while len(list(gate.glob("ready-*"))) < PROCESSES and time.monotonic() < deadline:
        time.sleep(0.02)
    (gate / "go").touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def check(url: str, gate: Path) -> None:
    results = open_at_once(url, gate)
    failures = [r.stderr.strip().splitlines()[-1] for r in results if r.returncode]
    assert failures == []
    store = Store.open(url)
    try:
        assert "alembic_version" in inspect(store.engine).get_table_names()
        assert "outbox" in inspect(store.engine).get_table_names()
    finally:
        store.close()


@pytest.mark.parametrize("attempt", range(2))
def test_fresh_sqlite_store_opened_by_several_processes_at_once(tmp_path, attempt):
    check(f"sqlite:///{tmp_path / 'state.db'}", tmp_path / "gate")


@pytest.mark.postgres
def test_fresh_postgres_store_opened_by_several_processes_at_once(tmp_path):
    require_server("postgres")
    with scratch_database() as url:
        check(url, tmp_path / "gate")
