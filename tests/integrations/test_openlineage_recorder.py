"""Official OpenLineage client → tidegauge's own app → the store: graph, events, volumes."""

import socket
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import uvicorn
from openlineage.client import OpenLineageClient
from openlineage.client.transport.http import HttpConfig, HttpTransport

from tests.integrations.test_openlineage import official_event
from tidegauge.config import Project
from tidegauge.core.lineage import NodeKind
from tidegauge.core.model import TableInfo, TableRef
from tidegauge.steps.lineage import load_graph
from tidegauge.store.store import Store
from tidegauge.web.server import create_app


@pytest.mark.slow
def test_events_from_the_official_client_reach_the_store(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/state.db")
    # the output dataset is a table tidegauge already knows: its rowCount becomes a point
    tid = store.upsert_table(
        TableInfo(TableRef("main", "mart", "daily_revenue")), datetime.now(UTC)
    )
    app = create_app(Project(root=tmp_path), store)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        client = OpenLineageClient(
            transport=HttpTransport(HttpConfig(url=f"http://127.0.0.1:{port}"))
        )
        run_id = str(uuid.uuid4())
        client.emit(official_event(run_id))
        client.emit(official_event(run_id))  # a retry of the same event: stored once
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()

    assert app.state.lineage_recorder.events() == 1
    graph = load_graph(store)
    assert graph is not None
    out = graph.resolve("mart.daily_revenue")
    assert graph.node("openlineage-job:spark/daily_revenue").kind is NodeKind.JOB
    assert "main.orders" in {h.node.display for h in graph.upstream(out).nodes}
    points = store.points(tid, metric="row_count")
    assert [p.value for p in points] == [42.0]
