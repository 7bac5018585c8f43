"""OpenLineage in (HTTP endpoint, official client) and out (quality facets, emitter)."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import uvicorn
from fastapi import FastAPI
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    output_statistics_output_dataset,
    schema_dataset,
)
from openlineage.client.generated.data_quality_assertions_dataset import (
    DataQualityAssertionsDatasetFacet,
)
from openlineage.client.generated.data_quality_metrics_input_dataset import (
    DataQualityMetricsInputDatasetFacet,
)
from openlineage.client.transport.http import HttpConfig, HttpTransport

from tidegauge.core.lineage import EdgeKind, NodeKind
from tidegauge.integrations.openlineage import (
    DQ_ASSERTIONS_URL,
    DQ_METRICS_URL,
    Assertion,
    ColumnMetrics,
    DatasetQuality,
    InMemoryLineageRecorder,
    InvalidEvent,
    OpenLineageEmitter,
    build_quality_event,
    parse_run_event,
)
from tidegauge.web.routes.openlineage import router

NS = "duckdb://warehouse"


@pytest.fixture
def server() -> Iterator[tuple[str, InMemoryLineageRecorder]]:
    """A real uvicorn server on a free loopback port with an in-memory recorder."""
    app = FastAPI()
    app.include_router(router)
    recorder = InMemoryLineageRecorder()
    app.state.lineage_recorder = recorder
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", recorder
    srv.should_exit = True
    thread.join(timeout=10)
    sock.close()


def official_event(run_id: str, state: RunState = RunState.COMPLETE) -> RunEvent:
    lineage = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            "revenue": column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        NS,
                        "warehouse.main.orders",
                        "amount",
                        transformations=[
                            column_lineage_dataset.Transformation(
                                type="DIRECT", subtype="AGGREGATION"
                            )
                        ],
                    ),
                    column_lineage_dataset.InputField(
                        NS,
                        "warehouse.main.orders",
                        "status",
                        transformations=[
                            column_lineage_dataset.Transformation(type="INDIRECT", subtype="FILTER")
                        ],
                    ),
                ]
            )
        }
    )
    schema = schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name="revenue", type="DECIMAL")]
    )
    stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=42)
    return RunEvent(
        eventType=state,
        eventTime=datetime(2024, 5, 1, 12, 0, tzinfo=UTC).isoformat(),
        run=Run(runId=run_id),
        job=Job(namespace="spark", name="daily_revenue"),
        producer="https://example.com/spark-job",
        inputs=[InputDataset(NS, "warehouse.main.orders")],
        outputs=[
            OutputDataset(
                NS,
                "warehouse.mart.daily_revenue",
                facets={"schema": schema, "columnLineage": lineage},
                outputFacets={"outputStatistics": stats},
            )
        ],
    )


@pytest.mark.slow
def test_official_client_events_land_in_the_graph(server) -> None:  # type: ignore[no-untyped-def]
    url, recorder = server
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=url)))
    run_id = str(uuid.uuid4())
    client.emit(official_event(run_id, RunState.START))
    client.emit(official_event(run_id))
    client.emit(official_event(run_id))  # delivered twice: recorded once
    assert len(recorder.events) == 2
    g = recorder.graph
    out = g.resolve("mart.daily_revenue")
    assert out.kind is NodeKind.TABLE and out.column("revenue").data_type == "DECIMAL"
    # the job sits between its datasets; column lineage also links the datasets directly
    assert {h.node.display for h in g.upstream(out, depth=1).nodes} == {
        "daily_revenue",
        "main.orders",
    }
    assert g.node("openlineage-job:spark/daily_revenue").kind is NodeKind.JOB
    up = {(e.source_column, e.kind) for e in g.upstream(out, "revenue").column_edges}
    assert up == {("amount", EdgeKind.DIRECT), ("status", EdgeKind.INDIRECT)}
    assert g.impact("main.orders", "status").columns == ("mart.daily_revenue.revenue",)
    assert [v.row_count for v in recorder.volumes] == [42, 42]


@pytest.mark.slow
def test_endpoint_rejects_bad_bodies_and_stores_nothing(server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    url, recorder = server
    ep = f"{url}/api/v1/lineage"
    r = httpx.post(ep, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not JSON" in r.json()["detail"]
    good = json.loads(json.dumps(official_event(str(uuid.uuid4())), default=_attrs))
    for field, reason in [
        ("eventTime", "eventTime"),
        ("producer", "producer"),
        ("run", "run"),
        ("job", "job"),
        ("schemaURL", "schemaURL"),
    ]:
        body = {k: v for k, v in good.items() if k != field}
        r = httpx.post(ep, json=body)
        assert r.status_code == 400 and reason in r.json()["detail"], r.text
    r = httpx.post(ep, json=dict(good, run={"runId": "not-a-uuid"}))
    assert r.status_code == 400 and "UUID" in r.json()["detail"]
    assert recorder.events == [] and len(recorder.graph) == 0
    r = httpx.post(ep, json=good)
    assert r.status_code == 201 and r.json()["status"] == "recorded"
    r = httpx.post(ep, json=good)
    assert r.status_code == 200 and r.json()["status"] == "duplicate"


def _attrs(o: object) -> object:
    from openlineage.client.serde import Serde

    return Serde.to_dict(o)


def test_parse_requires_the_spec_fields_but_not_event_type() -> None:
    body = {
        "eventTime": "2024-05-01T12:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "n", "name": "j"},
        "producer": "p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    ev = parse_run_event(body)
    assert ev.event_type is None and ev.inputs == ()
    assert parse_run_event(json.dumps(body)).key == ev.key
    with pytest.raises(InvalidEvent, match="eventType"):
        parse_run_event(dict(body, eventType="EXPLODED"))
    with pytest.raises(InvalidEvent, match=r"job\.name"):
        parse_run_event(dict(body, job={"namespace": "n"}))
    with pytest.raises(InvalidEvent, match="rowCount"):
        parse_run_event(
            dict(
                body,
                outputs=[
                    {
                        "namespace": "n",
                        "name": "a.b",
                        "outputFacets": {"outputStatistics": {"rowCount": -1}},
                    }
                ],
            )
        )


def test_quality_event_matches_the_official_facet_schemas() -> None:
    ev = build_quality_event(
        [
            DatasetQuality(
                NS,
                "warehouse.main.orders",
                row_count=1000,
                columns={
                    "amount": ColumnMetrics(null_count=3, distinct_count=870, min=0.5, max=999.0)
                },
                assertions=[
                    Assertion("not_null", False, column="amount", severity="error", actual="3")
                ],
            )
        ],
        run_id=str(uuid.uuid4()),
    )
    facets = ev["inputs"][0]["inputFacets"]
    m = facets["dataQualityMetrics"]
    assert m["_schemaURL"] == DQ_METRICS_URL
    assert m["_schemaURL"] == DataQualityMetricsInputDatasetFacet._get_schema()
    assert facets["dataQualityAssertions"]["_schemaURL"] == DQ_ASSERTIONS_URL
    assert DataQualityAssertionsDatasetFacet._get_schema() == DQ_ASSERTIONS_URL
    assert m["rowCount"] == 1000 and m["columnMetrics"]["amount"]["nullCount"] == 3
    assert parse_run_event(ev).run_id == ev["run"]["runId"]  # our own events are valid


@pytest.mark.slow
def test_emitter_posts_to_an_openlineage_endpoint(server) -> None:  # type: ignore[no-untyped-def]
    url, recorder = server
    ev = build_quality_event([DatasetQuality(NS, "warehouse.main.orders", row_count=5)])
    with OpenLineageEmitter(url) as emitter:
        emitter.emit(ev)
    (got,) = recorder.events
    assert got.job_name == "tidegauge.run"
    assert got.raw["inputs"][0]["inputFacets"]["dataQualityMetrics"]["rowCount"] == 5
