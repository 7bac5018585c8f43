"""Integer adjacency lists over a lineage graph, so traversals run on lists and bytearrays.

Rebuilt lazily by :class:`~tidegauge.core.lineage.LineageGraph` after a mutation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tidegauge.core.lineage_model import EdgeKind, NodeKind

if TYPE_CHECKING:
    from tidegauge.core.lineage import LineageGraph


class LineageIndex:
    """Integer adjacency lists, rebuilt lazily after a mutation, so traversals stay in lists.

    Nodes and columns are numbered in the sorted order of their display names: a traversal
    marks what it reaches in a bytearray and ``itertools.compress`` yields the sorted names
    without a sort.
    """

    __slots__ = (
        "col_display",
        "col_down",
        "col_down_all",
        "col_ids",
        "col_keys",
        "col_of_node",
        "col_up",
        "display",
        "down",
        "exposure_names",
        "ids",
        "is_exposure",
        "is_relation",
        "owned",
        "pos",
        "table_has_cols",
        "up",
    )

    def __init__(self, graph: LineageGraph) -> None:
        nodes = graph._nodes
        self.ids: list[str] = sorted(nodes, key=lambda i: (nodes[i].display, i))
        self.pos: dict[str, int] = {nid: i for i, nid in enumerate(self.ids)}
        self.display: list[str] = [nodes[i].display for i in self.ids]
        self.is_relation = bytes(1 if nodes[i].kind.is_relation else 0 for i in self.ids)
        self.is_exposure = bytes(1 if nodes[i].kind is NodeKind.EXPOSURE else 0 for i in self.ids)
        self.exposure_names: list[str] = [nodes[i].name for i in self.ids]
        self.owned: list[tuple[int, tuple[str, ...]]] = [
            (p, nodes[i].owners)
            for p, i in enumerate(self.ids)
            if nodes[i].owners and nodes[i].kind is not NodeKind.JOB
        ]
        n = len(self.ids)
        down: list[set[int]] = [set() for _ in range(n)]
        up: list[set[int]] = [set() for _ in range(n)]
        for s, t in graph._edges:
            si, ti = self.pos[s], self.pos[t]
            down[si].add(ti)
            up[ti].add(si)
        self.down: list[list[int]] = [sorted(x) for x in down]
        self.up: list[list[int]] = [sorted(x) for x in up]

        keys: set[tuple[int, str]] = set()
        for nid, node in nodes.items():
            p = self.pos[nid]
            keys.update((p, c.name.lower()) for c in node.columns)
        for s, sc, t, tc, _kind in graph._col_edges:
            keys.add((self.pos[s], sc))
            keys.add((self.pos[t], tc))
        self.col_keys: list[tuple[int, str]] = sorted(keys)  # node order is display order
        self.col_ids: dict[tuple[int, str], int] = {k: i for i, k in enumerate(self.col_keys)}
        self.col_display: list[str] = [f"{self.display[p]}.{c}" for p, c in self.col_keys]
        self.col_of_node: list[list[int]] = [[] for _ in range(n)]
        for i, (p, _c) in enumerate(self.col_keys):
            self.col_of_node[p].append(i)
        m = len(self.col_keys)
        self.col_down: list[list[tuple[int, bool]]] = [[] for _ in range(m)]
        self.col_up: list[list[tuple[int, bool]]] = [[] for _ in range(m)]
        all_down: list[set[int]] = [set() for _ in range(m)]
        self.table_has_cols: set[tuple[int, int]] = set()
        for s, sc, t, tc, kind in graph._col_edges:
            si, ti = self.pos[s], self.pos[t]
            a, b = self.col_ids[(si, sc)], self.col_ids[(ti, tc)]
            direct = kind is EdgeKind.DIRECT
            self.col_down[a].append((b, direct))
            self.col_up[b].append((a, direct))
            all_down[a].add(b)
            self.table_has_cols.add((si, ti))
        # Filters, join keys and group keys feed every column of a model: m sources x n
        # columns edges. Route such shared sources through one virtual node per model
        # (ids >= number of columns) so reachability walks m + n edges instead.
        preds: dict[int, set[int]] = {}
        for a, outs in enumerate(all_down):
            for b in outs:
                preds.setdefault(b, set()).add(a)
        for p_node, cols in enumerate(self.col_of_node):
            if len(cols) < 2 or any(c not in preds for c in cols):
                continue
            common = set.intersection(*(preds[c] for c in cols))
            if len(common) < 2:
                continue
            virtual = len(all_down)
            all_down.append(set(cols))
            for a in common:
                all_down[a].difference_update(cols)
                all_down[a].add(virtual)
            del p_node
        self.col_down_all: list[list[int]] = [list(x) for x in all_down]


ONLY_REACHED = bytes([0, 1] + [0] * 254)  # marks: 0 unseen, 1 reached, 2 start


def and_bytes(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    n = len(a)
    return (int.from_bytes(a, "little") & int.from_bytes(b, "little")).to_bytes(n, "little")


def reach(adj: list[list[int]], starts: Iterable[int], size: int) -> bytearray:
    """Mark everything reachable from ``starts`` (excluded unless reached again)."""
    seen = bytearray(size)
    stack = list(starts)
    for s in stack:
        seen[s] = 2
    while stack:
        u = stack.pop()
        for v in adj[u]:
            if not seen[v]:
                seen[v] = 1
                stack.append(v)
    return seen
