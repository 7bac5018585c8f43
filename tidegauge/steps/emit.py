"""Emit: each run as an OpenLineage RunEvent with data-quality facets, when configured.

Every collected table becomes an input dataset with ``dataQualityMetrics`` (row count and
per-column null/distinct/min/max of its latest bucket) and ``dataQualityAssertions`` (one per
alert raised on it in this run, failed). Datasets are named by OpenLineage's naming spec for
the engine (``postgres://host:port`` + ``database.schema.table`` and so on, see
:mod:`tidegauge.core.openlineage_naming`), so a consumer such as Marquez joins them with
the same tables seen by dbt, Spark or Airflow. A lineage server that is down never fails the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tidegauge.config import Project
from tidegauge.core.model import TableRef
from tidegauge.store.store import Store

if TYPE_CHECKING:
    from tidegauge.steps.collect import CollectedTable
    from tidegauge.steps.context import RunContext

log = logging.getLogger("tidegauge.emit")


def dataset_namer(project: Project) -> Callable[[TableRef], tuple[str, str]]:
    """``ref -> (namespace, name)`` through each warehouse adapter (none is connected)."""
    from tidegauge.warehouses.registry import open_warehouse

    adapters: dict[str, Any] = {}

    def name(ref: TableRef) -> tuple[str, str]:
        if ref.warehouse not in adapters:
            adapters[ref.warehouse] = open_warehouse(project.warehouse(ref.warehouse))
        ns, dataset = adapters[ref.warehouse].openlineage_dataset(ref)
        return str(ns), str(dataset)

    return name


def quality_datasets(
    project: Project,
    store: Store,
    collected: Sequence[CollectedTable],
    alerts: list[dict[str, Any]],
) -> list[Any]:
    from tidegauge.integrations.openlineage import Assertion, ColumnMetrics, DatasetQuality

    out = []
    names = dataset_namer(project)
    for entry in collected:
        ref = entry.info.ref
        latest: dict[tuple[str | None, str], float | None] = {}
        last = store.last_bucket(entry.table_id)
        for p in store.points(entry.table_id, since=last, unsegmented=True) if last else []:
            latest[(p.column, p.metric)] = p.value
        columns = {}
        for col in entry.info.columns:
            got = {
                m: latest.get((col.name, m)) for m in ("null_count", "distinct_count", "min", "max")
            }
            if any(x is not None for x in got.values()):
                nulls, distinct = got["null_count"], got["distinct_count"]
                columns[col.name] = ColumnMetrics(
                    null_count=int(nulls) if nulls is not None else None,
                    distinct_count=int(distinct) if distinct is not None else None,
                    min=got["min"],
                    max=got["max"],
                )
        rows = latest.get((None, "bucket_row_count"))
        assertions = [
            Assertion(
                assertion=str(a["kind"]),
                success=False,
                column=a["column"],
                severity=str(a["severity"]),
                name=str(a["alert"].metric),
            )
            for a in alerts
            if a["table_id"] == entry.table_id
        ]
        namespace, name = names(ref)
        out.append(
            DatasetQuality(
                namespace,
                name,
                row_count=int(rows) if rows is not None else None,
                columns=columns,
                assertions=assertions,
            )
        )
    return out


def emit_run(
    ctx: RunContext, collected: Sequence[CollectedTable], alerts: list[dict[str, Any]]
) -> bool:
    """POST this run's RunEvent to ``openlineage.url``; False (logged) when it fails."""
    project = ctx.project
    url = project.openlineage.url
    if not url or not collected:
        return False
    import httpx

    from tidegauge.integrations.openlineage import OpenLineageEmitter, build_quality_event

    event = build_quality_event(
        quality_datasets(project, ctx.store, collected, alerts),
        job_namespace=project.openlineage.namespace,
        job_name=f"{project.name}.run",
        event_time=ctx.now,
    )
    try:
        with OpenLineageEmitter(url, api_key=project.openlineage.api_key) as emitter:
            emitter.emit(event)
    except httpx.HTTPError as e:
        log.warning("OpenLineage emission to %s failed: %s", url.split("?")[0], type(e).__name__)
        return False
    return True
