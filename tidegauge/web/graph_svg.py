"""Lineage graphs as server-side SVG: a layered left-to-right layout.

Layers come from the longest path from the graph's sources (so every edge points right),
the order within a layer from a few barycentre sweeps (fewer crossings), and edges are
cubic curves with an arrowhead. Node states (``root``, ``hit``, ``upstream``, ``normal``)
map to CSS classes, so the incident blast radius uses the same health colours as the rest
of the UI. All text is escaped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

NODE_W = 190
NODE_H = 44
GAP_X = 70
GAP_Y = 16
MARGIN = 16
MAX_LABEL = 26


@dataclass(frozen=True)
class GraphNode:
    id: str
    label: str
    kind: str = "table"
    state: str = "normal"  # root | hit | upstream | normal
    href: str | None = None
    detail: str = ""


def layers_of(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering; a cycle (which lineage should not have) is cut where found."""
    succ: dict[str, list[str]] = defaultdict(list)
    indeg = dict.fromkeys(nodes, 0)
    for a, b in edges:
        if a in indeg and b in indeg and a != b:
            succ[a].append(b)
            indeg[b] += 1
    layer = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if indeg[n] == 0]
    seen: set[str] = set()
    while True:
        while ready:
            n = ready.pop()
            seen.add(n)
            for m in succ[n]:
                layer[m] = max(layer[m], layer[n] + 1)
                indeg[m] -= 1
                if indeg[m] == 0:
                    ready.append(m)
        rest = [n for n in nodes if n not in seen]
        if not rest:
            return layer
        ready = [rest[0]]  # break a cycle
        indeg[rest[0]] = 0


def _order(
    layers: dict[str, int], edges: list[tuple[str, str]], nodes: list[str]
) -> list[list[str]]:
    n_layers = max(layers.values(), default=0) + 1
    cols: list[list[str]] = [[] for _ in range(n_layers)]
    for n in nodes:
        cols[layers[n]].append(n)
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        if a in layers and b in layers:
            preds[b].append(a)
            succs[a].append(b)
    for sweep in range(4):
        forward = sweep % 2 == 0
        rng = range(1, n_layers) if forward else range(n_layers - 2, -1, -1)
        for li in rng:
            ref = cols[li - 1] if forward else cols[li + 1]
            pos = {n: i for i, n in enumerate(ref)}
            nbrs = preds if forward else succs

            def bary(n: str, pos: dict[str, int] = pos, nbrs: dict[str, list[str]] = nbrs) -> float:
                ps = [pos[m] for m in nbrs[n] if m in pos]
                return sum(ps) / len(ps) if ps else float("inf")

            cols[li].sort(key=bary)
    return cols


def _short(text: str, n: int = MAX_LABEL) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def lineage_svg(
    nodes: list[GraphNode], edges: list[tuple[str, str]], *, title: str = "lineage"
) -> Markup:
    if not nodes:
        return Markup("")
    ids = [n.id for n in nodes]
    by_id = {n.id: n for n in nodes}
    edges = [(a, b) for a, b in edges if a in by_id and b in by_id and a != b]
    cols = _order(layers_of(ids, edges), edges, ids)
    tallest = max(len(c) for c in cols)
    height = MARGIN * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y
    width = MARGIN * 2 + len(cols) * NODE_W + (len(cols) - 1) * GAP_X
    pos: dict[str, tuple[float, float]] = {}
    for li, col in enumerate(cols):
        col_h = len(col) * NODE_H + (len(col) - 1) * GAP_Y
        y0 = (height - col_h) / 2
        for i, nid in enumerate(col):
            pos[nid] = (MARGIN + li * (NODE_W + GAP_X), y0 + i * (NODE_H + GAP_Y))
    parts = [
        f'<svg class="lineage" viewBox="0 0 {width} {height:.0f}" width="{width}" '
        f'height="{height:.0f}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path class="arrowhead" '
        'd="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    for a, b in edges:
        (ax, ay), (bx, by) = pos[a], pos[b]
        x1, y1 = ax + NODE_W, ay + NODE_H / 2
        x2, y2 = bx, by + NODE_H / 2
        if x2 <= x1:  # same layer or backwards (cycle): route around
            x2 = bx + NODE_W / 2
            y2 = by if by > ay else by + NODE_H
        mid = (x1 + x2) / 2
        hot = by_id[a].state in ("root", "hit") and by_id[b].state in ("root", "hit")
        cls = "edge hot" if hot else "edge"
        parts.append(
            f'<path class="{cls}" d="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} '
            f'{mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" marker-end="url(#arrow)"/>'
        )
    for n in nodes:
        x, y = pos[n.id]
        tip = f"{n.label} ({n.kind})" + (f" — {n.detail}" if n.detail else "")
        g = [
            f'<g class="node {escape(n.state)} kind-{escape(n.kind)}">',
            f"<title>{escape(tip)}</title>",
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="8"/>',
            f'<text class="node-label" x="{x + 12:.1f}" y="{y + 19:.1f}">'
            f"{escape(_short(n.label))}</text>",
            f'<text class="node-kind" x="{x + 12:.1f}" y="{y + 34:.1f}">'
            f"{escape(_short(n.detail or n.kind, 30))}</text>",
            "</g>",
        ]
        body = "".join(g)
        if n.href:
            body = f'<a href="{escape(n.href)}">{body}</a>'
        parts.append(body)
    parts.append("</svg>")
    return Markup("".join(parts))
