"""Streams inside a run: poll every stream, store its alerts, and put topics in lineage.

:func:`poll_streams` is what ``tidegauge run`` (once) and ``tidegauge watch`` (every
interval) call; its alerts have the shape the run's grouping step takes, so a topic problem
becomes the root of its sink tables' symptoms (topics are upstream of their sinks).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tidegauge.core.lineage import LineageGraph, LineageLookupError, Node, NodeKind, Origin
from tidegauge.core.model import Alert
from tidegauge.streams.detect import topic_alerts
from tidegauge.streams.poll import SCHEMA, StreamReport, poll_stream
from tidegauge.streams.reconcile import reconcile

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store
    from tidegauge.streams.config import KafkaStreamConfig

log = logging.getLogger("tidegauge.streams")


def topic_node_id(cfg: KafkaStreamConfig, topic: str) -> str:
    """The OpenLineage dataset id (namespace ``kafka://host:port``, name = topic), as
    :mod:`tidegauge.integrations.openlineage` names datasets, so Flink, Spark or Kafka
    Connect events about the topic land on this node."""
    return f"openlineage:{cfg.namespace}/{topic}"


def add_topics(project: Project, graph: LineageGraph, topics: dict[str, list[str]]) -> None:
    """Topics as nodes (``topics``: stream name → topic names), upstream of their sinks."""
    for cfg in project.streams:
        names = set(topics.get(cfg.name, ())) | {s.topic for s in cfg.sinks}
        for topic in sorted(names):
            graph.add_node(
                Node(
                    id=topic_node_id(cfg, topic),
                    kind=NodeKind.TABLE,
                    name=topic,
                    schema=SCHEMA,
                    table=topic,
                    meta={"namespace": cfg.namespace, "ol_name": topic, "stream": cfg.name},
                    origins=(Origin.OPENLINEAGE,),
                )
            )
        for sink in cfg.sinks:
            try:
                target = graph.resolve(sink.table).id
            except LineageLookupError as e:
                log.warning("stream '%s': sink %s: %s", cfg.name, sink.table, e)
                continue
            graph.add_edge(topic_node_id(cfg, sink.topic), target, Origin.OPENLINEAGE)


def poll_streams(
    project: Project,
    store: Store,
    now: datetime,
    run_id: int | None,
    *,
    graph: LineageGraph | None = None,
    errors: dict[str, str] | None = None,
) -> tuple[list[StreamReport], list[dict[str, Any]]]:
    """Poll every stream once; (reports, stored alerts as the grouping step takes them).

    A stream that fails is in its report's ``error`` (and in ``errors`` as
    ``stream:<name>``); the others go on.
    """
    reports: list[StreamReport] = []
    alerts: list[dict[str, Any]] = []
    for cfg in project.streams:
        rep = poll_stream(cfg, store, now, run_id)
        reports.append(rep)
        if rep.problems and errors is not None:  # named, while the rest of the poll stands
            errors[f"stream:{cfg.name}:payload"] = "; ".join(rep.problems)
        if rep.error is not None:
            if errors is not None:
                errors[f"stream:{cfg.name}"] = rep.error
            continue
        found: list[tuple[Alert, int]] = []
        for tr in rep.topics:
            try:
                found += [
                    (a, tr.table_id)
                    for a in topic_alerts(cfg, store, tr, now, project.defaults.sensitivity)
                ]
            except Exception as e:  # one topic's detection failing never stops the others
                log.exception("stream detection failed for %s", tr.ref.fqn)
                if errors is not None:
                    errors[f"stream:{cfg.name}:{tr.topic}"] = f"detection failed: {e}"
        found += reconcile(project, store, cfg, now, run_id, errors)
        ids = store.alerts.add_many(found, run_id)
        alerts += [
            {
                "id": a.id,
                "table_id": tid,
                "table": a.table,
                "kind": a.kind,
                "column": a.column,
                "data_time": a.data_time,
                "severity": a.severity,
                "alert": a,
            }
            for (a, tid), aid in zip(found, ids, strict=True)
            if aid is not None
        ]
    if graph is not None and project.streams:
        from tidegauge.steps.lineage import save_graph

        add_topics(project, graph, {r.name: [t.topic for t in r.topics] for r in reports})
        save_graph(store, graph, now)  # the CLI, API and UI read topics from the saved graph
    return reports, alerts
