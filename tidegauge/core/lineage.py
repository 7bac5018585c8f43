"""The lineage graph: tables, dbt nodes and jobs, with table- and column-level edges.

Pure data and graph algorithms, no I/O. Integrations (dbt, OpenLineage, view definitions,
query history) fill a :class:`LineageGraph`; the store persists it with :meth:`to_records`
and reloads it with :meth:`from_records`; detectors, incidents and the CLI ask it who is
upstream or downstream of a table or a column and what an alert's impact is.
The walks themselves are in :mod:`tidegauge.core.lineage_walk`, over the integer index of
:mod:`tidegauge.core.lineage_index`.

Nodes from different origins that name the same warehouse table (a dbt model and the
OpenLineage dataset a Spark job wrote, say) are merged into one node, so lineage from
several origins stitches together.

>>> g = LineageGraph()
>>> _ = g.add_node(Node("source.shop.raw.orders", NodeKind.SOURCE, "orders", "raw", "orders"))
>>> _ = g.add_node(Node("model.shop.revenue", NodeKind.MODEL, "revenue", "mart", "revenue",
...                     owners=("@ana",)))
>>> g.add_column_edge("raw.orders", "amount", "revenue", "total", EdgeKind.DIRECT, Origin.DBT)
>>> g.impact("raw.orders", "amount").as_dict()["columns"]
['mart.revenue.total']
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from tidegauge.core.lineage_index import LineageIndex
from tidegauge.core.lineage_model import (
    RECORDS_VERSION,
    AmbiguousNodeError,
    ColumnEdge,
    ColumnHop,
    Direction,
    EdgeKind,
    LineageLookupError,
    LineageResult,
    Node,
    NodeColumn,
    NodeKind,
    Origin,
    TableHop,
    UnknownNodeError,
)
from tidegauge.core.lineage_walk import impact_of, walk
from tidegauge.core.model import Impact

__all__ = [
    "RECORDS_VERSION",
    "AmbiguousNodeError",
    "ColumnEdge",
    "ColumnHop",
    "Direction",
    "EdgeKind",
    "LineageGraph",
    "LineageLookupError",
    "LineageResult",
    "Node",
    "NodeColumn",
    "NodeKind",
    "Origin",
    "TableHop",
    "UnknownNodeError",
]


class LineageGraph:
    """Nodes and table/column edges from any number of origins, with fast traversals."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._alias: dict[str, str] = {}  # merged-away id (lowercase) -> canonical id
        self._lower_ids: dict[str, str] = {}
        self._edges: dict[tuple[str, str], set[Origin]] = {}
        self._col_edges: dict[tuple[str, str, str, str, EdgeKind], set[Origin]] = {}
        self._by_key: dict[str, list[str]] = {}
        self._index: LineageIndex | None = None

    # ------------------------------------------------------------------ building

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return isinstance(node_id, str) and self._canonical(node_id) is not None

    @property
    def nodes(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    @property
    def edges(self) -> Iterator[tuple[str, str, tuple[Origin, ...]]]:
        for (s, t), origins in self._edges.items():
            yield s, t, tuple(sorted(origins))

    @property
    def column_edges(self) -> Iterator[ColumnEdge]:
        for (s, sc, t, tc, kind), origins in self._col_edges.items():
            yield ColumnEdge(s, sc, t, tc, kind, tuple(sorted(origins)))

    def node(self, node_id: str) -> Node:
        """The node with this id (or an id merged into it); ``KeyError`` if unknown."""
        canon = self._canonical(node_id)
        if canon is None:
            raise KeyError(node_id)
        return self._nodes[canon]

    def get(self, node_id: str) -> Node | None:
        canon = self._canonical(node_id)
        return self._nodes[canon] if canon else None

    def _canonical(self, node_id: str) -> str | None:
        if node_id in self._nodes:
            return node_id
        low = node_id.lower()
        return self._alias.get(low) or self._lower_ids.get(low)

    def add_node(self, node: Node) -> Node:
        """Add a node, or merge it into the node it duplicates; returns the stored node.

        A node duplicates another when the ids match, or when both are relations with the
        same ``schema.table`` (and database, when both know it) and at least one of them is
        a plain ``table``/``view`` (two different dbt nodes never merge).
        """
        self._index = None
        canon = self._canonical(node.id)
        if canon is None and node.kind.is_relation and node.key:
            for other_id in self._by_key.get(node.key, ()):
                other = self._nodes[other_id]
                same_db = (
                    not other.database
                    or not node.database
                    or other.database.lower() == node.database.lower()
                )
                generic = node.kind in (NodeKind.TABLE, NodeKind.VIEW) or other.kind in (
                    NodeKind.TABLE,
                    NodeKind.VIEW,
                )
                if same_db and generic:
                    canon = other_id
                    break
        if canon is None:
            self._nodes[node.id] = node
            self._lower_ids[node.id.lower()] = node.id
            if node.key:
                self._by_key.setdefault(node.key, []).append(node.id)
            return node
        existing = self._nodes[canon]
        merged = _merge_nodes(existing, node)
        if merged.kind is not existing.kind and existing.kind in (NodeKind.TABLE, NodeKind.VIEW):
            # a dbt node replaces a plain table: the dbt id becomes canonical
            merged = replace(merged, id=node.id)
            self._rename(canon, node.id)
            canon = node.id
        elif node.id.lower() != canon.lower():
            self._alias[node.id.lower()] = canon
        self._nodes[canon] = merged
        return merged

    def _rename(self, old: str, new: str) -> None:
        node = self._nodes.pop(old)
        self._nodes[new] = node
        del self._lower_ids[old.lower()]
        self._lower_ids[new.lower()] = new
        self._alias[old.lower()] = new
        for k, v in list(self._alias.items()):
            if v == old:
                self._alias[k] = new
        if node.key:
            ids = self._by_key[node.key]
            ids[ids.index(old)] = new
        self._edges = {
            (new if s == old else s, new if t == old else t): o for (s, t), o in self._edges.items()
        }
        self._col_edges = {
            (new if s == old else s, sc, new if t == old else t, tc, k): o
            for (s, sc, t, tc, k), o in self._col_edges.items()
        }

    def set_lineage_error(self, node_id: str, reason: str | None) -> None:
        """Record why a node only has table-level lineage (unparseable SQL, no compile...)."""
        canon = self._require(node_id)
        self._nodes[canon] = replace(self._nodes[canon], lineage_error=reason)

    def set_columns(
        self, node_id: str, columns: Iterable[NodeColumn], source: str | None = None
    ) -> None:
        """Replace a node's columns (keeping known types and descriptions of the same names);
        ``source`` (``catalog``, ``sql``, ``declared``...) is kept in ``meta["columns_from"]``."""
        canon = self._require(node_id)
        node = self._nodes[canon]
        out = []
        for c in columns:
            old = node.column(c.name)
            if old is not None:
                c = NodeColumn(
                    c.name, c.data_type or old.data_type, c.description or old.description
                )
            out.append(c)
        meta = {**node.meta, "columns_from": source} if source else node.meta
        self._nodes[canon] = replace(node, columns=tuple(out), meta=meta)
        self._index = None

    def update_meta(self, node_id: str, **values: Any) -> None:
        canon = self._require(node_id)
        node = self._nodes[canon]
        self._nodes[canon] = replace(node, meta={**node.meta, **values})

    def add_columns(self, node_id: str, columns: Iterable[NodeColumn]) -> None:
        canon = self._require(node_id)
        node = self._nodes[canon]
        self._nodes[canon] = _merge_nodes(node, replace(node, columns=tuple(columns)))
        self._index = None

    def _require(self, node_id: str) -> str:
        canon = self._canonical(node_id)
        if canon is None:
            canon = self.resolve(node_id).id
        return canon

    def add_edge(self, source: str, target: str, origin: Origin) -> None:
        """Table-level edge: ``target`` is built from (or, for exposures, reads) ``source``."""
        s, t = self._require(source), self._require(target)
        if s == t:
            return
        self._edges.setdefault((s, t), set()).add(origin)
        self._index = None

    def add_column_edge(
        self,
        source: str,
        source_column: str,
        target: str,
        target_column: str,
        kind: EdgeKind,
        origin: Origin,
    ) -> None:
        """Column-level edge; also adds the table-level edge it implies."""
        s, t = self._require(source), self._require(target)
        if s == t and source_column.lower() == target_column.lower():
            return
        key = (s, source_column.lower(), t, target_column.lower(), kind)
        self._col_edges.setdefault(key, set()).add(origin)
        if s != t:
            self._edges.setdefault((s, t), set()).add(origin)
        self._index = None

    def merge(self, other: LineageGraph) -> None:
        """Add every node and edge of ``other`` (from another origin) into this graph."""
        for node in other._nodes.values():
            self.add_node(node)
        for (s, t), origins in other._edges.items():
            for o in origins:
                self.add_edge(s, t, o)
        for (s, sc, t, tc, kind), origins in other._col_edges.items():
            for o in origins:
                self.add_column_edge(s, sc, t, tc, kind, o)

    # ------------------------------------------------------------------ names

    def resolve(self, name: str) -> Node:
        """Find the node a user means.

        Accepts an id (``model.shop.customers``), ``db.schema.table``, ``schema.table``,
        ``source_name.table`` for dbt sources, or a bare name (``customers``) when exactly
        one node has it. Raises :class:`AmbiguousNodeError` listing the candidates, or
        :class:`UnknownNodeError` with close matches.
        """
        raw = name.strip().strip('"`')
        canon = self._canonical(raw)
        if canon is not None:
            return self._nodes[canon]
        low = raw.lower().replace('"', "").replace("`", "")
        parts = low.split(".")
        found: list[Node] = []
        if len(parts) == 3:
            db = parts[0]
            found = [
                n
                for nid in self._by_key.get(f"{parts[1]}.{parts[2]}", ())
                if (n := self._nodes[nid]).database is None or n.database.lower() == db
            ]
        elif len(parts) == 2:
            found = [self._nodes[nid] for nid in self._by_key.get(low, ())]
            if not found:
                found = [
                    n
                    for n in self._nodes.values()
                    if n.kind is NodeKind.SOURCE
                    and str(n.meta.get("source_name", "")).lower() == parts[0]
                    and n.name.lower() == parts[1]
                ]
        elif len(parts) == 1:
            found = [
                n
                for n in self._nodes.values()
                if n.name.lower() == low or (n.table is not None and n.table.lower() == low)
            ]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            cands = tuple(sorted(n.id for n in found))
            raise AmbiguousNodeError(
                name,
                f"{name!r} is ambiguous; it matches {len(cands)} nodes: {', '.join(cands)}. "
                "Use a qualified name (schema.table or a dbt unique_id).",
                cands,
            )
        names = {n.id for n in self._nodes.values()} | {
            k for n in self._nodes.values() for k in (n.name, n.fqn) if k
        }
        close = tuple(difflib.get_close_matches(raw, sorted(names), n=5, cutoff=0.6))
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownNodeError(name, f"no table or dbt node named {name!r}.{hint}", close)

    # ------------------------------------------------------------------ traversal

    def _idx(self) -> LineageIndex:
        if self._index is None:
            self._index = LineageIndex(self)
        return self._index

    def _as_node(self, ref: str | Node) -> Node:
        return self.resolve(ref) if isinstance(ref, str) else self.node(ref.id)

    def upstream(
        self, ref: str | Node, column: str | None = None, depth: int | None = None
    ) -> LineageResult:
        """Everything ``ref`` (or its ``column``) is built from, up to ``depth`` hops."""
        root = self._as_node(ref)
        return walk(self._nodes, self._idx(), root, column, depth, "upstream")

    def downstream(
        self, ref: str | Node, column: str | None = None, depth: int | None = None
    ) -> LineageResult:
        """Everything built from ``ref`` (or its ``column``), up to ``depth`` hops."""
        root = self._as_node(ref)
        return walk(self._nodes, self._idx(), root, column, depth, "downstream")

    def impact(self, table: str | Node, column: str | None = None) -> Impact:
        """Who and what is hit downstream of ``table`` (or of one of its columns).

        Without a column: every downstream table and exposure, their owners, and every
        downstream column that reads any column of ``table``. With a column: the columns
        that read it (directly or as a filter/join/group key), their tables, and the
        tables and exposures beyond edges whose column lineage is unknown.
        """
        root = self._as_node(table)
        return impact_of(self._nodes, self._idx(), root, column)

    # ------------------------------------------------------------------ records

    def to_records(self) -> dict[str, Any]:
        """Plain dicts and lists (JSON-ready) that :meth:`from_records` turns back into a graph."""
        return {
            "version": RECORDS_VERSION,
            "nodes": [n.to_record() for n in self._nodes.values()],
            "edges": [
                {"source": s, "target": t, "origins": sorted(o.value for o in origins)}
                for (s, t), origins in self._edges.items()
            ],
            "column_edges": [
                {
                    "source": s,
                    "source_column": sc,
                    "target": t,
                    "target_column": tc,
                    "kind": kind.value,
                    "origins": sorted(o.value for o in origins),
                }
                for (s, sc, t, tc, kind), origins in self._col_edges.items()
            ],
            "aliases": dict(self._alias),
        }

    @classmethod
    def from_records(cls, records: Mapping[str, Any]) -> LineageGraph:
        """Rebuild a graph saved with :meth:`to_records`; ``ValueError`` if they are not valid."""
        version = records.get("version")
        if version != RECORDS_VERSION:
            raise ValueError(f"unsupported lineage records version {version!r}")
        g = cls()
        try:
            for rec in records["nodes"]:
                node = Node.from_record(rec)
                g._nodes[node.id] = node
                g._lower_ids[node.id.lower()] = node.id
                if node.key:
                    g._by_key.setdefault(node.key, []).append(node.id)
            for alias, canon in dict(records.get("aliases") or {}).items():
                if canon not in g._nodes:
                    raise ValueError(f"alias {alias!r} points at unknown node {canon!r}")
                g._alias[str(alias)] = str(canon)
            for e in records["edges"]:
                s, t = str(e["source"]), str(e["target"])
                if s not in g._nodes or t not in g._nodes:
                    raise ValueError(f"edge {s!r} -> {t!r} names an unknown node")
                g._edges[(s, t)] = {Origin(o) for o in e["origins"]}
            for e in records["column_edges"]:
                s, t = str(e["source"]), str(e["target"])
                if s not in g._nodes or t not in g._nodes:
                    raise ValueError(f"column edge {s!r} -> {t!r} names an unknown node")
                key = (s, str(e["source_column"]), t, str(e["target_column"]), EdgeKind(e["kind"]))
                g._col_edges[key] = {Origin(o) for o in e["origins"]}
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed lineage records: {exc!r}") from exc
        return g


def _merge_nodes(a: Node, b: Node) -> Node:
    """Combine what two origins know about one node; ``a`` wins on conflicts."""
    cols: dict[str, NodeColumn] = {c.name.lower(): c for c in a.columns}
    for c in b.columns:
        old = cols.get(c.name.lower())
        if old is None:
            cols[c.name.lower()] = c
        elif old.data_type is None and c.data_type is not None:
            cols[c.name.lower()] = replace(old, data_type=c.data_type)
    kind = a.kind
    if a.kind in (NodeKind.TABLE, NodeKind.VIEW) and b.kind not in (NodeKind.TABLE, NodeKind.VIEW):
        kind = b.kind
    return replace(
        a,
        kind=kind,
        name=a.name if kind is a.kind else b.name,
        schema=a.schema or b.schema,
        table=a.table or b.table,
        database=a.database or b.database,
        owners=tuple(dict.fromkeys((*a.owners, *b.owners))),
        tags=tuple(dict.fromkeys((*a.tags, *b.tags))),
        group=a.group or b.group,
        meta={**b.meta, **a.meta},
        columns=tuple(cols.values()),
        checksum=a.checksum or b.checksum,
        url=a.url or b.url,
        description=a.description or b.description,
        origins=tuple(dict.fromkeys((*a.origins, *b.origins))),
        lineage_error=a.lineage_error if a.lineage_error is not None else b.lineage_error,
    )
