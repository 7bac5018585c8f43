"""The lineage graph's vocabulary: node and edge kinds, nodes, columns, traversal results.

Plain frozen data that :class:`~tidegauge.core.lineage.LineageGraph` stores and returns (and
the store round-trips through :meth:`Node.to_record`); everything here is importable from
:mod:`tidegauge.core.lineage` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

RECORDS_VERSION = 1


class NodeKind(StrEnum):
    MODEL = "model"
    SOURCE = "source"
    SEED = "seed"
    SNAPSHOT = "snapshot"
    EXPOSURE = "exposure"
    TABLE = "table"
    VIEW = "view"
    JOB = "job"

    @property
    def is_relation(self) -> bool:
        """Whether nodes of this kind are tables or views in a warehouse."""
        return self not in (NodeKind.EXPOSURE, NodeKind.JOB)


class EdgeKind(StrEnum):
    """How a source column reaches a target column."""

    DIRECT = "direct"  # the value flows into the column
    INDIRECT = "indirect"  # it decides which rows or groups exist (WHERE, JOIN ON, GROUP BY...)


class Origin(StrEnum):
    """Where a node or an edge was learned from."""

    DBT = "dbt"
    SQL = "sql"
    VIEW = "view"
    QUERY_HISTORY = "query_history"
    OPENLINEAGE = "openlineage"


class LineageLookupError(LookupError):
    """A name given by a user does not resolve to exactly one node."""

    def __init__(self, name: str, message: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.candidates = candidates


class UnknownNodeError(LineageLookupError):
    pass


class AmbiguousNodeError(LineageLookupError):
    pass


@dataclass(frozen=True, slots=True)
class NodeColumn:
    name: str
    data_type: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """A table, view, dbt node, exposure or job.

    ``id`` is the dbt ``unique_id`` for dbt nodes, else a stable id chosen by the integration
    (``table:db.schema.name``, ``openlineage:namespace/name``...). ``schema`` and ``table``
    (the relation identifier, i.e. the dbt alias or source identifier) keep their original
    case; matching uses :attr:`key`, which is lowercase.
    """

    id: str
    kind: NodeKind
    name: str
    schema: str | None = None
    table: str | None = None
    database: str | None = None
    owners: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    group: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    columns: tuple[NodeColumn, ...] = ()
    checksum: str | None = None
    url: str | None = None
    description: str = ""
    origins: tuple[Origin, ...] = ()
    lineage_error: str | None = None

    @property
    def fqn(self) -> str | None:
        """``schema.table`` in original case, for relations."""
        if self.schema and self.table:
            return f"{self.schema}.{self.table}"
        return None

    @property
    def key(self) -> str | None:
        """Lowercase ``schema.table``: what nodes from different origins are matched on."""
        fqn = self.fqn
        return fqn.lower() if fqn else None

    @property
    def display(self) -> str:
        return self.fqn or self.name

    def column(self, name: str) -> NodeColumn | None:
        low = name.lower()
        for col in self.columns:
            if col.name.lower() == low:
                return col
        return None

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.name,
            "schema": self.schema,
            "table": self.table,
            "database": self.database,
            "owners": list(self.owners),
            "tags": list(self.tags),
            "group": self.group,
            "meta": dict(self.meta),
            "columns": [
                {"name": c.name, "data_type": c.data_type, "description": c.description}
                for c in self.columns
            ],
            "checksum": self.checksum,
            "url": self.url,
            "description": self.description,
            "origins": [o.value for o in self.origins],
            "lineage_error": self.lineage_error,
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Node:
        return cls(
            id=str(rec["id"]),
            kind=NodeKind(rec["kind"]),
            name=str(rec["name"]),
            schema=rec.get("schema"),
            table=rec.get("table"),
            database=rec.get("database"),
            owners=tuple(rec.get("owners") or ()),
            tags=tuple(rec.get("tags") or ()),
            group=rec.get("group"),
            meta=dict(rec.get("meta") or {}),
            columns=tuple(
                NodeColumn(str(c["name"]), c.get("data_type"), str(c.get("description") or ""))
                for c in rec.get("columns") or ()
            ),
            checksum=rec.get("checksum"),
            url=rec.get("url"),
            description=str(rec.get("description") or ""),
            origins=tuple(Origin(o) for o in rec.get("origins") or ()),
            lineage_error=rec.get("lineage_error"),
        )


@dataclass(frozen=True, slots=True)
class ColumnEdge:
    source: str
    source_column: str
    target: str
    target_column: str
    kind: EdgeKind
    origins: tuple[Origin, ...] = ()


@dataclass(frozen=True, slots=True)
class TableHop:
    node: Node
    depth: int


@dataclass(frozen=True, slots=True)
class ColumnHop:
    node: Node
    column: str
    depth: int
    direct: bool  # reached through direct edges only

    @property
    def display(self) -> str:
        return f"{self.node.display}.{self.column}"


Direction = Literal["upstream", "downstream"]


@dataclass(frozen=True, slots=True)
class LineageResult:
    """What a traversal reached, in breadth-first order, and the edges it walked."""

    root: Node
    column: str | None
    direction: Direction
    nodes: tuple[TableHop, ...]
    columns: tuple[ColumnHop, ...]
    edges: tuple[tuple[str, str], ...]
    column_edges: tuple[ColumnEdge, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root.id,
            "root_table": self.root.display,
            "column": self.column,
            "direction": self.direction,
            "nodes": [
                {
                    "id": h.node.id,
                    "kind": h.node.kind.value,
                    "name": h.node.display,
                    "depth": h.depth,
                    "owners": list(h.node.owners),
                }
                for h in self.nodes
            ],
            "columns": [
                {
                    "node": h.node.id,
                    "table": h.node.display,
                    "column": h.column,
                    "depth": h.depth,
                    "direct": h.direct,
                }
                for h in self.columns
            ],
            "edges": [{"source": s, "target": t} for s, t in self.edges],
            "column_edges": [
                {
                    "source": e.source,
                    "source_column": e.source_column,
                    "target": e.target,
                    "target_column": e.target_column,
                    "kind": e.kind.value,
                }
                for e in self.column_edges
            ],
        }
