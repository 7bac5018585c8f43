"""Walking a lineage graph: what is upstream or downstream of a table or a column, and
what an alert's impact is.

The walks run on a :class:`~tidegauge.core.lineage_index.LineageIndex` (integer adjacency
lists) and the graph's nodes by id; :class:`~tidegauge.core.lineage.LineageGraph` builds the
index and calls these. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import compress

from tidegauge.core.lineage_index import ONLY_REACHED, LineageIndex, and_bytes, reach
from tidegauge.core.lineage_model import (
    ColumnEdge,
    ColumnHop,
    Direction,
    EdgeKind,
    LineageResult,
    Node,
    TableHop,
    UnknownNodeError,
)
from tidegauge.core.model import Impact


def walk(
    nodes: Mapping[str, Node],
    idx: LineageIndex,
    root: Node,
    column: str | None,
    depth: int | None,
    direction: Direction,
) -> LineageResult:
    """What ``root`` (or its ``column``) reaches ``direction``-wards, up to ``depth`` hops."""
    adj = idx.down if direction == "downstream" else idx.up
    cadj = idx.col_down if direction == "downstream" else idx.col_up
    r = idx.pos[root.id]
    limit = depth if depth is not None else len(idx.ids) + 1
    ids = idx.ids

    hops: list[TableHop] = []
    edges: list[tuple[str, str]] = []
    col_hops: list[ColumnHop] = []
    col_edges: list[ColumnEdge] = []

    if column is None:
        seen = {r}
        frontier = [r]
        d = 0
        while frontier and d < limit:
            d += 1
            nxt: list[int] = []
            for u in frontier:
                for v in adj[u]:
                    edges.append(_oriented(ids[u], ids[v], direction))
                    if v not in seen:
                        seen.add(v)
                        nxt.append(v)
                        hops.append(TableHop(nodes[ids[v]], d))
            frontier = nxt
    else:
        col = column.lower()
        start = idx.col_ids.get((r, col))
        if start is None and root.columns and root.column(col) is None:
            raise UnknownNodeError(
                column,
                f"{root.display} has no column {column!r}; it has: "
                + ", ".join(c.name for c in root.columns),
            )
        if start is not None:
            direct_of: dict[int, bool] = {start: True}
            depth_of: dict[int, int] = {start: 0}
            frontier = [start]
            d = 0
            while frontier and d < limit:
                d += 1
                nxt = []
                for u in frontier:
                    du = direct_of[u]
                    for v, direct in cadj[u]:
                        path_direct = du and direct
                        a, b = idx.col_keys[u], idx.col_keys[v]
                        s, t = (a, b) if direction == "downstream" else (b, a)
                        col_edges.append(
                            ColumnEdge(
                                ids[s[0]],
                                s[1],
                                ids[t[0]],
                                t[1],
                                EdgeKind.DIRECT if direct else EdgeKind.INDIRECT,
                            )
                        )
                        if v not in depth_of:
                            depth_of[v] = d
                            direct_of[v] = path_direct
                            nxt.append(v)
                        elif path_direct and not direct_of[v]:
                            direct_of[v] = True
                frontier = nxt
            seen_nodes: dict[int, int] = {}
            for c, dd in depth_of.items():
                if c == start:
                    continue
                n_i, name = idx.col_keys[c]
                col_hops.append(ColumnHop(nodes[ids[n_i]], name, dd, direct_of[c]))
                if n_i != r and (n_i not in seen_nodes or seen_nodes[n_i] > dd):
                    seen_nodes[n_i] = dd
            hops = [TableHop(nodes[ids[i]], dd) for i, dd in seen_nodes.items()]
            edges = sorted({(e.source, e.target) for e in col_edges if e.source != e.target})
        hops.extend(
            columnless_tail(nodes, idx, r, {h.node.id for h in hops}, adj, limit, direction)
        )
        hops.sort(key=lambda h: (h.depth, h.node.id))
    return LineageResult(
        root, column, direction, tuple(hops), tuple(col_hops), tuple(edges), tuple(col_edges)
    )


def columnless_tail(
    nodes: Mapping[str, Node],
    idx: LineageIndex,
    root: int,
    reached: set[str],
    adj: list[list[int]],
    limit: int,
    direction: Direction,
) -> list[TableHop]:
    """Table-level neighbours a column walk cannot rule out.

    From the root and every table the column walk reached, follow table edges that carry
    no column edges at all (exposures, SQL that could not be parsed, OpenLineage jobs
    without a columnLineage facet): we do not know which columns they read, so they count
    as reached, as does everything beyond them.
    """
    ids = idx.ids
    has = idx.table_has_cols
    start = [root, *(idx.pos[i] for i in reached)]
    depth: dict[int, int] = dict.fromkeys(start, 0)
    out: list[TableHop] = []
    frontier = start
    blind: set[int] = set()
    d = 0
    while frontier and d < limit:
        d += 1
        nxt: list[int] = []
        for u in frontier:
            for v in adj[u]:
                pair = (u, v) if direction == "downstream" else (v, u)
                if v in depth or (u not in blind and pair in has):
                    continue
                depth[v] = d
                blind.add(v)
                nxt.append(v)
                out.append(TableHop(nodes[ids[v]], d))
        frontier = nxt
    return out


def impact_of(
    nodes: Mapping[str, Node], idx: LineageIndex, root: Node, column: str | None = None
) -> Impact:
    """Who and what is hit downstream of ``root`` (or of one of its columns).

    Without a column: every downstream table and exposure, their owners, and every
    downstream column that reads any column of ``root``. With a column: the columns
    that read it (directly or as a filter/join/group key), their tables, and the
    tables and exposures beyond edges whose column lineage is unknown.
    """
    r = idx.pos[root.id]
    n_nodes, n_cols = len(idx.ids), len(idx.col_down_all)  # columns + virtual nodes
    if column is None:
        tables = reach(idx.down, [r], n_nodes)
        cols = reach(idx.col_down_all, idx.col_of_node[r], n_cols)
    else:
        start = idx.col_ids.get((r, column.lower()))
        if start is None and root.columns and root.column(column) is None:
            raise UnknownNodeError(
                column,
                f"{root.display} has no column {column!r}; it has: "
                + ", ".join(c.name for c in root.columns),
            )
        cols = reach(idx.col_down_all, [] if start is None else [start], n_cols)
        tables = bytearray(n_nodes)
        for c in compress(range(len(idx.col_keys)), cols):
            if cols[c] == 1:
                tables[idx.col_keys[c][0]] = 1
        reached = {idx.ids[i] for i in compress(range(n_nodes), tables)}
        reached.discard(root.id)
        for hop in columnless_tail(nodes, idx, r, reached, idx.down, n_nodes + 1, "downstream"):
            tables[idx.pos[hop.node.id]] = 1
    tables[r] = 0
    tables = tables.translate(ONLY_REACHED)
    cols = cols.translate(ONLY_REACHED)
    rel = list(compress(idx.display, and_bytes(tables, idx.is_relation)))
    exposures = sorted(compress(idx.exposure_names, and_bytes(tables, idx.is_exposure)))
    owners: set[str] = set()
    for i, who in idx.owned:
        if tables[i]:
            owners.update(who)
    col_names = list(compress(idx.col_display, cols))
    return Impact(
        tables=tuple(dict.fromkeys(rel)),
        columns=tuple(col_names),
        exposures=tuple(exposures),
        owners=tuple(sorted(owners)),
    )


def _oriented(u: str, v: str, direction: Direction) -> tuple[str, str]:
    return (u, v) if direction == "downstream" else (v, u)
