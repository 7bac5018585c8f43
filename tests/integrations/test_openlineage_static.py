"""Static lineage (spec 2-0-2): JobEvents and DatasetEvents sent by the official client's own
HTTP transport to the endpoint under uvicorn on loopback, recorded like RunEvents."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    StaticDataset,
)
from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpConfig, HttpTransport

from tests.integrations.test_openlineage import server  # noqa: F401  (the uvicorn fixture)
from tidegauge.core.lineage import EdgeKind, NodeKind

NS = "postgres://db.internal:5432"
WHEN = datetime(2024, 5, 2, 8, 0, tzinfo=UTC).isoformat()


def _schema(*cols: tuple[str, str]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in cols]
    )


def dataset_event() -> DatasetEvent:
    return DatasetEvent(
        eventTime=WHEN,
        producer="https://example.com/catalog-sync",
        dataset=StaticDataset(
            NS,
            "shop.public.customers",
            facets={"schema": _schema(("id", "BIGINT"), ("email", "TEXT"))},
        ),
    )


def job_event() -> JobEvent:
    lineage = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            "customer_email": column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(NS, "shop.public.customers", "email")
                ]
            )
        }
    )
    return JobEvent(
        eventTime=WHEN,
        producer="https://example.com/airflow",
        job=Job(namespace="airflow", name="marts.customer_emails"),
        inputs=[InputDataset(NS, "shop.public.customers")],
        outputs=[
            OutputDataset(
                NS,
                "shop.marts.customer_emails",
                facets={"schema": _schema(("customer_email", "TEXT")), "columnLineage": lineage},
            )
        ],
    )


@pytest.mark.slow
def test_static_events_from_the_official_client_are_recorded(server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    url, recorder = server
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=url)))
    client.emit(dataset_event())
    client.emit(job_event())
    client.emit(job_event())  # a retry: recorded once
    assert [e.kind for e in recorder.events] == ["DatasetEvent", "JobEvent"]
    assert recorder.events[1].run_id is None and recorder.volumes == []
    g = recorder.graph
    customers = g.resolve("public.customers")
    assert customers.kind is NodeKind.TABLE
    assert [(c.name, c.data_type) for c in customers.columns] == [
        ("id", "BIGINT"),
        ("email", "TEXT"),
    ]
    job = g.node("openlineage-job:airflow/marts.customer_emails")
    assert job.kind is NodeKind.JOB
    out = g.resolve("marts.customer_emails")
    assert {h.node.id for h in g.upstream(out, depth=1).nodes} >= {job.id}
    assert [(e.source_column, e.kind) for e in g.upstream(out, "customer_email").column_edges] == [
        ("email", EdgeKind.DIRECT)
    ]
    assert g.impact("public.customers", "email").columns == (
        "marts.customer_emails.customer_email",
    )


@pytest.mark.slow
def test_errors_name_the_event_type_and_the_field(server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    url, recorder = server
    ep = f"{url}/api/v1/lineage"
    job = Serde.to_dict(job_event())
    body = {**job, "job": {"namespace": "airflow"}}
    r = httpx.post(ep, json=body)
    assert r.status_code == 400
    assert r.json()["detail"] == "JobEvent: missing or empty required field job.name"
    body = {**job, "outputs": [{"namespace": NS}]}
    r = httpx.post(ep, json=body)
    assert r.status_code == 400
    assert r.json()["detail"] == "JobEvent: missing or empty required field outputs[0].name"
    ds = Serde.to_dict(dataset_event())
    r = httpx.post(ep, json={**ds, "dataset": {"name": "shop.public.customers"}})
    assert r.status_code == 400
    assert r.json()["detail"] == "DatasetEvent: missing or empty required field dataset.namespace"
    r = httpx.post(ep, json={k: v for k, v in ds.items() if k != "dataset"})
    assert r.status_code == 400 and r.json()["detail"].startswith("DatasetEvent: ")
    assert "dataset" in r.json()["detail"]
    r = httpx.post(ep, json={**ds, "eventTime": "yesterday"})
    assert r.status_code == 400 and r.json()["detail"].startswith("DatasetEvent: eventTime")
    assert recorder.events == []
