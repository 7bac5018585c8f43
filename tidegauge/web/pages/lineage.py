"""The lineage explorer and the blast-radius graphs incident pages draw."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from tidegauge.core.lineage import LineageGraph, LineageLookupError, LineageResult, Node
from tidegauge.store import browse
from tidegauge.store.lineage import load_graph
from tidegauge.store.store import Store
from tidegauge.web.cache import RunCache
from tidegauge.web.deps import MAX_ID, store_of
from tidegauge.web.graph_svg import GraphNode, lineage_svg
from tidegauge.web.pages.render import READ, render

router = APIRouter(include_in_schema=False)
_graph_cache = RunCache(max_entries=4)
MAX_GRAPH_NODES = 60

# --------------------------------------------------------------------------- lineage


def cached_graph(store: Store) -> LineageGraph | None:
    return _graph_cache.get(store, ("graph",), lambda: load_graph(store))


def _node_links(store: Store, nodes: list[Node]) -> dict[str, int]:
    return browse.table_ids_by_fqn(store, [n.key for n in nodes if n.key])


def build_graph(
    graph: LineageGraph,
    walks: list[LineageResult],
    *,
    root: Node,
    hit: set[str] = frozenset(),  # type: ignore[assignment]
    hit_state: str = "hit",
) -> tuple[list[GraphNode], list[tuple[str, str]], int]:
    seen: dict[str, Node] = {root.id: root}
    up_ids: set[str] = set()
    edges: list[tuple[str, str]] = []
    for w in walks:
        for h in w.nodes:
            if len(seen) >= MAX_GRAPH_NODES:
                break
            seen.setdefault(h.node.id, h.node)
            if w.direction == "upstream":
                up_ids.add(h.node.id)
        edges += [e for e in w.edges if e[0] in seen and e[1] in seen]
    total = 1 + sum(len(w.nodes) for w in walks)
    out = []
    for nid, n in seen.items():
        state = (
            "root"
            if nid == root.id
            else (
                hit_state
                if (n.key or "") in hit or n.display.lower() in hit
                else "upstream"
                if nid in up_ids
                else "normal"
            )
        )
        detail = n.kind.value + (f" · {', '.join(n.owners)}" if n.owners else "")
        out.append(
            GraphNode(
                nid,
                n.display,
                n.kind.value,
                state,
                href=f"/lineage?node={quote(n.id)}",
                detail=detail,
            )
        )
    return out, list(dict.fromkeys(edges)), total


def incident_graph(store: Store, inc: dict[str, Any]) -> tuple[Any, str | None]:
    graph = cached_graph(store)
    if graph is None:
        return None, "No lineage yet: it is built on each `tidegauge run`."
    try:
        root = graph.resolve(inc["table"] or "")
        down = graph.downstream(root)
        up = graph.upstream(root, depth=1)
    except LineageLookupError:
        return None, f"{inc['table']} is not in the lineage graph."
    hit = {t.lower() for t in (inc["impact"] or {}).get("tables", [])}
    nodes, edges, total = build_graph(graph, [up, down], root=root, hit=hit)
    note = None if total <= len(nodes) else f"Showing {len(nodes)} of {total} nodes."
    return lineage_svg(nodes, edges, title=f"Blast radius of incident #{inc['id']}"), note


def busiest_node(graph: LineageGraph) -> str | None:
    """The id of the table or model with the most lineage edges (ties: by name)."""
    degree: dict[str, int] = {}
    for source, target, _ in graph.edges:
        degree[source] = degree.get(source, 0) + 1
        degree[target] = degree.get(target, 0) + 1
    relations = [n for n in graph.nodes if n.kind.is_relation and n.id in degree]
    if not relations:
        return None
    return str(max(relations, key=lambda n: (degree[n.id], n.display)).id)


@router.get("/lineage", response_class=HTMLResponse, dependencies=READ)
def lineage_page(
    request: Request,
    node: Annotated[str | None, Query(max_length=400)] = None,
    direction: Annotated[Literal["both", "upstream", "downstream"], Query()] = "both",
    depth: Annotated[int, Query(ge=1, le=10)] = 2,
    incident: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    store = store_of(request)
    graph = cached_graph(store)
    ctx: dict[str, Any] = {
        "node": node or "",
        "direction": direction,
        "depth": depth,
        "incident": None,
        "svg": None,
        "error": None,
        "up": [],
        "down": [],
        "note": None,
        "has_graph": graph is not None,
        "active": "lineage",
        "suggestions": [],
        "links": {},
    }
    hit: set[str] = set()
    if incident is not None:
        inc = browse.get_incident(store, incident)
        if inc is None:
            raise HTTPException(404, f"There is no incident with id {incident}.")
        ctx["incident"] = inc
        hit = {t.lower() for t in (inc["impact"] or {}).get("tables", [])}
        node = node or inc["table"]
        ctx["node"] = node
        if incident and direction == "both" and depth == 2:
            depth = 10
    if graph is not None and not node:
        # open on something: the busiest neighbourhood, not a blank page asking for an id
        node = busiest_node(graph)
        if node is not None:
            ctx["note_open"] = "Opened on the most connected table; pick another below."
            ctx["suggestions"] = sorted(
                (n for n in graph.nodes if n.kind.is_relation), key=lambda n: n.display
            )[:40]
    if graph is None or not node:
        if graph is not None:
            ctx["suggestions"] = sorted(
                (n for n in graph.nodes if n.kind.is_relation), key=lambda n: n.display
            )[:40]
        return render(request, "lineage.html", ctx)
    try:
        root = graph.resolve(node)
    except LineageLookupError as e:
        ctx["error"] = str(e)
        ctx["suggestions"] = [graph.get(c) for c in e.candidates if graph.get(c)]
        return render(request, "lineage.html", ctx, 404)
    walks = []
    if direction in ("both", "upstream"):
        walks.append(graph.upstream(root, depth=depth))
    if direction in ("both", "downstream"):
        walks.append(graph.downstream(root, depth=depth))
    nodes, edges, total = build_graph(graph, walks, root=root, hit=hit)
    ctx.update(
        node=root.display,  # the name people know, never the internal id
        root=root,
        svg=lineage_svg(nodes, edges, title=f"Lineage of {root.display}"),
        note=None
        if total <= len(nodes)
        else f"Showing {len(nodes)} of {total} nodes; lower the depth to see the rest clearly.",
        up=[h for w in walks if w.direction == "upstream" for h in w.nodes],
        down=[h for w in walks if w.direction == "downstream" for h in w.nodes],
        links=_node_links(store, [root, *(h.node for w in walks for h in w.nodes)]),
    )
    return render(request, "lineage.html", ctx)
