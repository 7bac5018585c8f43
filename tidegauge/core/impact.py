"""Pre-merge impact of a dbt change: compare the graph of a new manifest with a base one.

Finds the changed models (checksum), the removed and type-changed columns, and every
downstream model, column and exposure that still uses them. ``breaking`` is true when a
removed or type-changed column (or a removed model) is used downstream.

A use is found in the *new* graph (the downstream SQL as it will be after the merge still
reads the column) or in the *base* graph for downstream nodes the change did not touch.

A removal is only visible when the new column list is complete. A changed node (or one
downstream of a change) whose columns could not be resolved is listed in
:attr:`ImpactReport.unresolved`: the check could not be made there, which a CI job must not
read as "safe".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tidegauge.core.lineage import ColumnHop, LineageGraph, LineageLookupError, Node, NodeKind


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"
    TYPE_CHANGED = "type_changed"


@dataclass(frozen=True, slots=True)
class NodeChange:
    node_id: str
    table: str
    kind: ChangeKind


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A node the change could have removed columns from, whose new columns are not all known."""

    node_id: str
    table: str
    columns_from: str | None  # declared, sql_partial, or None (nothing known)


@dataclass(frozen=True, slots=True)
class ColumnUse:
    node_id: str
    table: str
    column: str
    direct: bool
    owners: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ColumnChange:
    node_id: str
    table: str
    column: str
    kind: ChangeKind
    old_type: str | None = None
    new_type: str | None = None
    used_by: tuple[ColumnUse, ...] = ()
    exposures: tuple[str, ...] = ()

    @property
    def breaking(self) -> bool:
        return self.kind in (ChangeKind.REMOVED, ChangeKind.TYPE_CHANGED) and bool(
            self.used_by or self.exposures
        )


@dataclass(frozen=True, slots=True)
class ImpactReport:
    changed_nodes: tuple[NodeChange, ...]
    column_changes: tuple[ColumnChange, ...]
    downstream_models: tuple[str, ...]
    downstream_columns: tuple[str, ...]
    exposures: tuple[str, ...]
    owners: tuple[str, ...]
    removed_nodes_in_use: tuple[NodeChange, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    # changed (or downstream of a change) nodes whose new column list is incomplete
    unresolved: tuple[Unresolved, ...] = ()

    @property
    def breaking(self) -> bool:
        return bool(self.removed_nodes_in_use) or any(c.breaking for c in self.column_changes)

    @property
    def checked(self) -> bool:
        """Every node a removal could hide in had a complete column list."""
        return not self.unresolved

    def as_dict(self) -> dict[str, Any]:
        return {
            "breaking": self.breaking,
            "checked": self.checked,
            "unresolved": [
                {"node": u.node_id, "table": u.table, "columns_from": u.columns_from}
                for u in self.unresolved
            ],
            "changed_nodes": [
                {"node": c.node_id, "table": c.table, "change": c.kind.value}
                for c in self.changed_nodes
            ],
            "column_changes": [
                {
                    "node": c.node_id,
                    "table": c.table,
                    "column": c.column,
                    "change": c.kind.value,
                    "old_type": c.old_type,
                    "new_type": c.new_type,
                    "breaking": c.breaking,
                    "used_by": [
                        {
                            "node": u.node_id,
                            "table": u.table,
                            "column": u.column,
                            "direct": u.direct,
                            "owners": list(u.owners),
                        }
                        for u in c.used_by
                    ],
                    "exposures": list(c.exposures),
                }
                for c in self.column_changes
            ],
            "removed_nodes_in_use": [
                {"node": c.node_id, "table": c.table} for c in self.removed_nodes_in_use
            ],
            "downstream_models": list(self.downstream_models),
            "downstream_columns": list(self.downstream_columns),
            "exposures": list(self.exposures),
            "owners": list(self.owners),
            "notes": list(self.notes),
        }


#: where a node's column list is all of its columns (``meta["columns_from"]``): a column missing
#: from it was removed. ``declared`` (YAML) and ``sql_partial`` (an unexpanded star) are not.
COMPLETE_COLUMN_SOURCES = frozenset({"catalog", "sql", "base_catalog", "store", "warehouse"})

_COMPARED = (NodeKind.MODEL, NodeKind.SNAPSHOT, NodeKind.SEED, NodeKind.SOURCE)


_SYNONYMS = {
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "long": "bigint",
    "text": "varchar",
    "string": "varchar",
    "character varying": "varchar",
    "bool": "boolean",
    "float8": "double",
    "double precision": "double",
    "float4": "real",
    "numeric": "decimal",
    "timestamp without time zone": "timestamp",
    "timestamptz": "timestamp with time zone",
}


def _norm_type(t: str | None) -> str | None:
    """Compare types loosely: catalog and declared spellings differ (``INT`` vs ``integer``)."""
    if not t:
        return None
    low = " ".join(t.lower().split())
    base, paren, rest = low.partition("(")
    base = _SYNONYMS.get(base.strip(), base.strip())
    return base + (paren + rest.replace(" ", "") if paren else "")


def compare_graphs(new: LineageGraph, base: LineageGraph) -> ImpactReport:
    """What changed from ``base`` to ``new`` and who downstream is hit."""
    changed: list[NodeChange] = []
    col_changes: list[ColumnChange] = []
    removed_in_use: list[NodeChange] = []
    notes: list[str] = []
    hit_models: set[str] = set()
    hit_columns: set[str] = set()
    hit_exposures: set[str] = set()
    owners: set[str] = set()

    base_nodes = {n.id: n for n in base.nodes if n.kind in _COMPARED}
    new_nodes = {n.id: n for n in new.nodes if n.kind in _COMPARED}
    affected = _affected(new, base_nodes, new_nodes)
    unresolved: list[Unresolved] = []

    for nid, old in base_nodes.items():
        now = new_nodes.get(nid)
        if now is None:
            change = NodeChange(nid, old.display, ChangeKind.REMOVED)
            changed.append(change)
            users = [h.node for h in base.downstream(old, depth=1).nodes if h.node.id in new]
            if users:
                removed_in_use.append(change)
                for u in users:
                    _collect(new, new.node(u.id), hit_models, hit_exposures, owners)
            continue
        if old.checksum != now.checksum and old.checksum and now.checksum:
            changed.append(NodeChange(nid, now.display, ChangeKind.MODIFIED))
        old_from, new_from = old.meta.get("columns_from"), now.meta.get("columns_from")
        # a removal is only visible when the new column list is complete (catalog, SQL, or
        # a star resolved from elsewhere), and types only compare between like sources
        # (declared vs actual types differ)
        complete = new_from in COMPLETE_COLUMN_SOURCES
        same_source = old_from == new_from
        if not complete and old.kind is not NodeKind.SOURCE and nid in affected:
            unresolved.append(Unresolved(nid, now.display, new_from))
            notes.append(
                f"{now.display}: columns could not be resolved in the new manifest "
                f"({new_from or 'none known'}); removals not checked"
            )
        if not old.columns or not now.columns:
            continue
        for col in old.columns:
            kind: ChangeKind | None = None
            cur = now.column(col.name)
            if cur is None:
                if complete:
                    kind = ChangeKind.REMOVED
            elif same_source and (
                _norm_type(col.data_type)
                and _norm_type(cur.data_type)
                and _norm_type(col.data_type) != _norm_type(cur.data_type)
            ):
                kind = ChangeKind.TYPE_CHANGED
            if kind is None:
                continue
            uses = _uses(new, base, nid, col.name)
            for use in uses:
                hit_columns.add(f"{use.table}.{use.column}")
                hit_models.add(use.table)
                owners.update(use.owners)
            exposures = _exposures_of(new, {use.node_id for use in uses} | {nid})
            hit_exposures.update(exposures)
            for e in exposures:
                exp_node = new.get(e)
                if exp_node is not None:
                    owners.update(exp_node.owners)
            col_changes.append(
                ColumnChange(
                    node_id=nid,
                    table=now.display,
                    column=col.name,
                    kind=kind,
                    old_type=col.data_type,
                    new_type=cur.data_type if cur else None,
                    used_by=tuple(uses),
                    exposures=tuple(sorted(_exposure_names(new, exposures))),
                )
            )
    for nid, now in new_nodes.items():
        if nid not in base_nodes:
            changed.append(NodeChange(nid, now.display, ChangeKind.ADDED))
    # everything downstream of a modified model is worth a look, even when not breaking
    for c in changed:
        if c.kind is ChangeKind.MODIFIED:
            for h in new.downstream(c.node_id).nodes:
                if h.node.kind is NodeKind.EXPOSURE:
                    hit_exposures.add(h.node.id)
                    owners.update(h.node.owners)
                elif h.node.kind.is_relation:
                    hit_models.add(h.node.display)
                    owners.update(h.node.owners)
    return ImpactReport(
        changed_nodes=tuple(sorted(changed, key=lambda c: (c.kind.value, c.node_id))),
        column_changes=tuple(col_changes),
        downstream_models=tuple(sorted(hit_models)),
        downstream_columns=tuple(sorted(hit_columns)),
        exposures=tuple(sorted(_exposure_names(new, hit_exposures))),
        owners=tuple(sorted(owners)),
        removed_nodes_in_use=tuple(removed_in_use),
        notes=tuple(notes),
        unresolved=tuple(unresolved),
    )


def _affected(
    new: LineageGraph, base_nodes: dict[str, Node], new_nodes: dict[str, Node]
) -> set[str]:
    """Nodes whose columns the change can alter: changed or added ones and all downstream.

    Seeds and sources count when their checksum moved (a new CSV header); an unchanged node
    over unchanged parents has the columns it had, checked or not.
    """
    roots = [
        nid
        for nid, now in new_nodes.items()
        if nid not in base_nodes or (now.checksum or None) != (base_nodes[nid].checksum or None)
    ]
    out = set(roots)
    for nid in roots:
        out.update(h.node.id for h in new.downstream(nid).nodes)
    return out


def _uses(new: LineageGraph, base: LineageGraph, nid: str, column: str) -> list[ColumnUse]:
    """Downstream columns that read ``nid.column``, in the new graph or, for untouched
    downstream nodes, in the base graph."""
    found: dict[tuple[str, str], ColumnUse] = {}
    for h in _column_hops(new, nid, column):
        found[(h.node.id, h.column)] = ColumnUse(
            h.node.id, h.node.display, h.column, h.direct, h.node.owners
        )
    if nid in base:
        for h in _column_hops(base, nid, column):
            now = new.get(h.node.id)
            if now is None or (h.node.checksum and now.checksum != h.node.checksum):
                continue  # removed or rewritten downstream: the new graph is the truth
            key = (now.id, h.column)
            if key not in found:
                found[key] = ColumnUse(now.id, now.display, h.column, h.direct, now.owners)
    return sorted(found.values(), key=lambda u: (u.table, u.column))


def _column_hops(graph: LineageGraph, nid: str, column: str) -> tuple[ColumnHop, ...]:
    if nid not in graph:
        return ()
    try:
        return graph.downstream(nid, column).columns
    except LineageLookupError:
        return ()  # the column is gone from this graph and nothing reads it here


def _exposures_of(graph: LineageGraph, node_ids: set[str]) -> set[str]:
    out: set[str] = set()
    for nid in node_ids:
        if nid not in graph:
            continue
        for h in graph.downstream(nid, depth=1).nodes:
            if h.node.kind is NodeKind.EXPOSURE:
                out.add(h.node.id)
    return out


def _exposure_names(graph: LineageGraph, ids: set[str]) -> list[str]:
    names = []
    for i in ids:
        n = graph.get(i)
        names.append(n.name if n else i)
    return sorted(names)


def _collect(
    graph: LineageGraph, node: Node, models: set[str], exposures: set[str], owners: set[str]
) -> None:
    if node.kind is NodeKind.EXPOSURE:
        exposures.add(node.id)
    else:
        models.add(node.display)
    owners.update(node.owners)
    for h in graph.downstream(node).nodes:
        if h.node.kind is NodeKind.EXPOSURE:
            exposures.add(h.node.id)
        elif h.node.kind.is_relation:
            models.add(h.node.display)
        owners.update(h.node.owners)
