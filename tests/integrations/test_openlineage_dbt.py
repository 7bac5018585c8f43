"""One table, one node: dbt's own OpenLineage events, tidegauge's ingest and tidegauge's emit.

``dbt-ol build`` (OpenLineage's dbt integration, ``openlineage-dbt``) builds the jaffle fixture
with dbt-duckdb and sends its events to tidegauge's endpoint on loopback; ``tidegauge run``
then reads the same warehouse and manifest and emits its own RunEvent to that same endpoint.
The stored graph must hold each table once, and tidegauge must name each table exactly as
dbt's integration does, so a consumer such as Marquez joins them too.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from tests.fixtures.dbtkit import JAFFLE_PROJECT
from tests.fixtures.openlineage_spec import spec_errors
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.runner import run
from tidegauge.steps.lineage import load_graph
from tidegauge.store import schema as s
from tidegauge.store.store import Store
from tidegauge.web.server import create_app

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

DBT_OL = Path(sys.executable).with_name("dbt-ol")


def _serve(app: object) -> tuple[uvicorn.Server, threading.Thread, socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))  # type: ignore[arg-type]
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return srv, thread, sock, sock.getsockname()[1]


def test_dbt_openlineage_ingest_and_emit_meet_in_one_node(tmp_path: Path) -> None:
    if not DBT_OL.exists():
        pytest.fail("dbt-ol is missing: install the dev extra (openlineage-dbt)")
    project_dir = tmp_path / "jaffle"
    shutil.copytree(JAFFLE_PROJECT, project_dir)
    warehouse = tmp_path / "jaffle.duckdb"
    (project_dir / "profiles.yml").write_text(
        "jaffle:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: '{warehouse}'\n      threads: 1\n"
    )
    tg = tmp_path / "tidegauge"
    tg.mkdir()
    store = Store.open(f"sqlite:///{tg / 'state.db'}")
    srv, thread, sock, port = _serve(create_app(_bare_project(tg), store))
    try:
        env = {
            **os.environ,
            "PATH": f"{DBT_OL.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "DBT_PROFILES_DIR": str(project_dir),
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "OPENLINEAGE_URL": f"http://127.0.0.1:{port}",
            "OPENLINEAGE_NAMESPACE": "dbt",
        }
        for var in [k for k in env if k.startswith("OPENLINEAGE__")]:
            env.pop(var)  # nothing from the machine may redirect the events
        proc = subprocess.run(
            [str(DBT_OL), "build"],
            cwd=project_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "Emitted" in proc.stderr + proc.stdout

        (tg / "tidegauge.yml").write_text(
            f"name: shop\nstore: {{url: 'sqlite:///state.db'}}\n"
            f"warehouses: [{{type: duckdb, name: main, path: '{warehouse}'}}]\n"
            f"dbt: {{manifest: '{project_dir / 'target' / 'manifest.json'}'}}\n"
            f"openlineage: {{url: 'http://127.0.0.1:{port}'}}\n"
        )
        project = load_project(tg / "tidegauge.yml")
        report = run(project, store, Clock.fixed(datetime.now(UTC)))
        assert report.failed_tables == {}
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()

    with store.engine.connect() as c:
        payloads = [r.payload for r in c.execute(select(s.lineage_events.c.payload))]
    ours = [p for p in payloads if "tidegauge" in p["producer"]]
    dbts = [p for p in payloads if "integration/dbt" in p["producer"]]
    assert len(ours) == 1 and len(dbts) >= 10
    assert spec_errors(ours[0]) == []

    # the names: every model dbt's integration wrote is named the same by tidegauge
    dbt_names = {(d["namespace"], d["name"]) for p in dbts for d in p.get("outputs") or ()}
    our_names = {(d["namespace"], d["name"]) for d in ours[0]["inputs"]}
    assert f"duckdb://{warehouse}" in {ns for ns, _ in dbt_names}
    assert dbt_names and dbt_names <= our_names, (dbt_names - our_names, our_names)

    # the graph: one node per table, whichever producer named it
    graph = load_graph(store)
    assert graph is not None
    relations = [n for n in graph.nodes if n.kind.is_relation and n.table]
    counts = Counter((n.schema or "").lower() + "." + (n.table or "").lower() for n in relations)
    assert [k for k, c in counts.items() if c > 1] == []
    for ns, name in dbt_names:
        model = name.rsplit(".", 1)[-1]
        assert graph.node(f"openlineage:{ns}/{name}").id == f"model.jaffle.{model}"
    orders = graph.node("model.jaffle.orders")
    assert {h.node.id for h in graph.upstream(orders, depth=1).nodes} >= {
        "model.jaffle.stg_orders",
        "model.jaffle.stg_payments",
    }


def _bare_project(root: Path):  # type: ignore[no-untyped-def]
    from tidegauge.config import Project

    return Project(root=root)
