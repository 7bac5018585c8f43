"""Lineage: the graph from warehouse tables, view SQL, dbt artefacts and OpenLineage events.

The merged graph is rebuilt each run (cheap next to collection) and saved in the store,
where the CLI, the API and incident grouping read it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from tidegauge.core.lineage import LineageGraph, Node, NodeColumn, NodeKind, Origin
from tidegauge.core.model import Alert, AlertKind, Severity, TableInfo, TableKind, TableRef
from tidegauge.core.sql_lineage import column_lineage, statements_lineage
from tidegauge.store.lineage import add_root_cause_event, load_records
from tidegauge.store.lineage import load_graph as load_graph  # saved by the store; re-exported
from tidegauge.store.lineage import save_graph as save_graph
from tidegauge.store.store import Store
from tidegauge.warehouses.base import WarehouseError

if TYPE_CHECKING:
    from tidegauge.steps.context import DiscoverResult, RunContext

log = logging.getLogger("tidegauge.lineage")


def table_node_id(warehouse: str, fqn: str) -> str:
    return f"table:{warehouse}:{fqn}"


def warehouse_graph(
    tables: dict[str, list[TableInfo]],
    views: dict[str, dict[str, str]],
    dialects: dict[str, str],
    history: dict[str, list[str]] | None = None,
    owners: Callable[[str], tuple[tuple[str, ...], tuple[str, ...]]] | None = None,
) -> LineageGraph:
    """Tables as nodes; view definitions parsed into table and column edges.

    ``owners(fqn)`` gives a table's (owners, tags) from config, so impact names people.
    """
    g = LineageGraph()
    by_key: dict[str, str] = {}
    schema_cols: dict[str, dict[str, str]] = {}
    for wh, infos in tables.items():
        for info in infos:
            nid = table_node_id(wh, info.ref.fqn)
            who, tags = owners(info.ref.fqn) if owners else ((), ())
            g.add_node(
                Node(
                    id=nid,
                    owners=who,
                    tags=tags,
                    kind=NodeKind.VIEW if info.kind is TableKind.VIEW else NodeKind.TABLE,
                    name=info.ref.name,
                    schema=info.ref.schema,
                    table=info.ref.name,
                    columns=tuple(NodeColumn(c.name, c.data_type) for c in info.columns),
                    origins=(Origin.VIEW,),
                )
            )
            by_key[info.ref.fqn.lower()] = nid
            schema_cols[info.ref.fqn.lower()] = {c.name: c.data_type for c in info.columns}
    for wh, statements in (history or {}).items():
        for sql in statements:
            for lin in statements_lineage(sql, schema=schema_cols, dialect=dialects.get(wh)):
                target = by_key.get(".".join((lin.target or "").split(".")[-2:]))
                if target is None:
                    continue
                for src in lin.sources:
                    sid = by_key.get(".".join(src.split(".")[-2:]))
                    if sid is not None:
                        g.add_edge(sid, target, Origin.QUERY_HISTORY)
                for e in lin.edges:
                    sid = by_key.get(".".join(e.source_table.split(".")[-2:]))
                    if sid is not None:
                        g.add_column_edge(
                            sid,
                            e.source_column,
                            target,
                            e.target_column,
                            e.kind,
                            Origin.QUERY_HISTORY,
                        )
    for wh, defs in views.items():
        for fqn, sql in defs.items():
            target = by_key.get(fqn.lower())
            if target is None:
                continue
            lin = column_lineage(
                sql, schema=schema_cols, dialect=dialects.get(wh), default_schema=fqn.split(".")[0]
            )
            if lin.error:
                g.set_lineage_error(target, lin.error)
            for src in lin.sources:
                sid = by_key.get(".".join(src.split(".")[-2:]))
                if sid is not None:
                    g.add_edge(sid, target, Origin.VIEW)
            for e in lin.edges:
                sid = by_key.get(".".join(e.source_table.split(".")[-2:]))
                if sid is not None:
                    g.add_column_edge(
                        sid, e.source_column, target, e.target_column, e.kind, Origin.VIEW
                    )
    return g


def refresh_lineage(ctx: RunContext, found: DiscoverResult) -> LineageGraph:
    """Build the merged graph for this run and persist it.

    dbt test failures in ``run_results.json`` become ``rule`` alerts (added to
    ``ctx.external``, which detection stores); models that failed to build become
    root-cause events.
    """
    from tidegauge.steps.discover import connect

    project, store, now = ctx.project, ctx.store, ctx.now

    views: dict[str, dict[str, str]] = {}
    history: dict[str, list[str]] = {}
    dialects: dict[str, str] = {}
    for cfg in project.warehouses:
        if cfg.name not in found.tables:
            continue
        try:
            # the connection discovery kept open for this run, else one of its own
            kept = found.connections.get(cfg.name)
            wh = kept if kept is not None else connect(cfg)
            try:
                dialects[cfg.name] = wh.DIALECT
                views[cfg.name] = {ref.fqn: sql for ref, sql in wh.view_definitions().items()}
                history[cfg.name] = wh.query_history()
            finally:
                if kept is None:
                    wh.close()
        except WarehouseError as e:
            log.warning("view definitions of %s: %s", cfg.name, e)

    # owners and tags come from the ``tables:`` entries that match: merged once per set of
    # them, not per table (at 10,000 tables the per-table merge cost more than the graph)
    merged: dict[tuple[int, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def owners(fqn: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        low = fqn.lower()
        key = tuple(i for i, e in enumerate(project.tables) if fnmatchcase(low, e.match.lower()))
        hit = merged.get(key)
        if hit is None:
            st = project.settings_for(fqn)
            hit = merged[key] = ((st.owner,) if st.owner else ()), tuple(st.tags)
        return hit

    graph = warehouse_graph(found.tables, views, dialects, history, owners)
    if project.dbt is not None:
        from tidegauge.integrations.dbt import DbtArtifactError, load_dbt_project

        try:
            dbt = load_dbt_project(project.resolve(project.dbt.manifest))
        except DbtArtifactError as e:
            log.error("%s", e)
        else:
            graph.merge(dbt.graph)
            ctx.external.extend(_dbt_results(store, dbt, found, now))
    stored = load_records(store)
    if stored is not None:
        # events recorded from OpenLineage live in the stored graph's openlineage part: only
        # that part is rebuilt as a graph
        graph.merge(LineageGraph.from_records(_only_origin(stored, Origin.OPENLINEAGE)))
    save_graph(store, graph, now, stored=stored)
    return graph


def _dbt_results(
    store: Store, dbt: Any, found: DiscoverResult, now: datetime
) -> list[tuple[int, Alert]]:
    by_fqn = {key.split(":", 1)[1].lower(): (key, tid) for key, tid in found.table_ids.items()}
    for ev in dbt.run_events:
        at = ev.completed_at or ev.started_at or now
        row = {
            "key": f"dbt:{ev.node_id}:{at.isoformat()}",
            "kind": "dbt_run_failed",
            "node": ev.node_id,
            "at": at,
            "details": {
                "table": (ev.table or "").lower(),
                "status": ev.status,
                "text": f"dbt {ev.resource_type} `{ev.node_id}` {ev.status}: "
                f"{(ev.message or '').strip()[:300]}",
            },
        }
        add_root_cause_event(store, row)
    out: list[tuple[int, Alert]] = []
    for res in dbt.test_results:
        if not res.failed or not res.table:
            continue
        hit = by_fqn.get(res.table.lower())
        if hit is None:
            continue
        key, tid = hit
        wh, fqn = key.split(":", 1)
        schema, name = fqn.split(".", 1)
        at = res.completed_at or now
        out.append(
            (
                tid,
                Alert(
                    kind=AlertKind.RULE,
                    table=TableRef(wh, schema, name),
                    metric=f"dbt_test:{res.test_name}",
                    column=res.column,
                    data_time=at,
                    detected_at=now,
                    observed=float(res.failures) if res.failures is not None else None,
                    expected=0.0,
                    severity=Severity.HIGH if res.status in ("fail", "error") else Severity.LOW,
                    title=f"dbt test {res.test_name} {res.status} on {fqn}",
                    explanation={
                        "text": (res.message or f"dbt test {res.test_name}: {res.status}"),
                        "test_id": res.test_id,
                        "status": res.status,
                        "failures": res.failures,
                    },
                ),
            )
        )
    return out


def _only_origin(records: Mapping[str, Any], origin: Origin) -> dict[str, Any]:
    """The part of a graph's records (:meth:`LineageGraph.to_records`) that ``origin``
    contributed: its nodes, and the edges and aliases among them."""
    keep_nodes = [n for n in records.get("nodes", []) if origin.value in n.get("origins", [])]
    ids = {n["id"] for n in keep_nodes}
    return {
        **records,
        "nodes": keep_nodes,
        "edges": [
            e for e in records.get("edges", []) if e.get("source") in ids and e.get("target") in ids
        ],
        "column_edges": [
            e
            for e in records.get("column_edges", [])
            if e.get("source") in ids and e.get("target") in ids
        ],
        "aliases": {k: v for k, v in (records.get("aliases") or {}).items() if v in ids},
    }
