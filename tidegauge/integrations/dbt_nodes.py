"""The nodes of a dbt manifest as a lineage graph: models, seeds, snapshots, sources and
exposures, with their owners (``meta.owner``, a group's owner, an exposure's owner), tags,
columns (catalog first, then what the YAML declares) and table-level edges from
``depends_on``; and the tests the manifest declares.

:class:`ManifestNodes` holds what is read; column lineage from the models' SQL builds on it
in :mod:`tidegauge.integrations.dbt_column_lineage`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tidegauge.core.lineage import LineageGraph, Node, NodeColumn, NodeKind, Origin
from tidegauge.integrations.dbt_artifacts import DbtTest

# dbt adapter type -> sqlglot dialect
_DIALECTS = {
    "duckdb": "duckdb",
    "postgres": "postgres",
    "redshift": "redshift",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "databricks": "databricks",
    "spark": "spark",
    "trino": "trino",
    "athena": "athena",
    "sqlserver": "tsql",
    "fabric": "tsql",
    "synapse": "tsql",
    "mysql": "mysql",
    "clickhouse": "clickhouse",
    "oracle": "oracle",
    "sqlite": "sqlite",
    "glue": "spark",
    "hive": "hive",
    "impala": "hive",
    "presto": "presto",
    "starburst": "trino",
    "materialize": "materialize",
    "risingwave": "risingwave",
    "teradata": "teradata",
    "doris": "doris",
    "starrocks": "starrocks",
    "dremio": "dremio",
    "exasol": "exasol",
    "singlestore": "singlestore",
}


def dialect_of(adapter_type: str | None) -> str | None:
    """The sqlglot dialect for a dbt ``adapter_type`` (None: sqlglot's generic SQL)."""
    return _DIALECTS.get((adapter_type or "").lower())


RELATION_KINDS = {
    "model": NodeKind.MODEL,
    "seed": NodeKind.SEED,
    "snapshot": NodeKind.SNAPSHOT,
}


def _owners(*values: Any) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        if isinstance(v, str) and v.strip():
            out.append(v.strip())
        elif isinstance(v, list | tuple):
            out.extend(str(x).strip() for x in v if str(x).strip())
        elif isinstance(v, dict):
            who = v.get("email") or v.get("name")
            if who:
                out.append(str(who))
    return tuple(dict.fromkeys(out))


#: node -> (its columns, where they came from), or None when unknown
ColumnResolver = Callable[[Node], tuple[tuple[NodeColumn, ...], str] | None]


class ManifestNodes:
    """The manifest's nodes and tests, read into :attr:`graph`; relations by table name."""

    def __init__(
        self,
        path: Path,
        manifest: Mapping[str, Any],
        catalog: Mapping[str, Any] | None,
        resolve_columns: ColumnResolver | None = None,
    ) -> None:
        self.path = path
        self.resolve_columns = resolve_columns
        self.manifest = manifest
        self.dialect = dialect_of(manifest["metadata"].get("adapter_type"))
        self.graph = LineageGraph()
        self.lineage_errors: dict[str, str] = {}
        self.groups: dict[str, Mapping[str, Any]] = {}
        for g in (manifest.get("groups") or {}).values():
            self.groups[str(g["name"])] = g
        cat: dict[str, dict[str, Any]] = {}
        if catalog is not None:
            cat.update(catalog.get("nodes") or {})
            cat.update(catalog.get("sources") or {})
        self.catalog = cat
        self.relations: dict[str, str] = {}  # lowercase db.schema.table and schema.table -> id
        self.ambiguous: set[str] = set()
        self.dbt_nodes: dict[str, Mapping[str, Any]] = {}

    # -- nodes

    def _columns(self, uid: str, raw: Mapping[str, Any]) -> tuple[NodeColumn, ...]:
        declared: dict[str, Mapping[str, Any]] = {
            str(c.get("name") or k).lower(): c for k, c in (raw.get("columns") or {}).items()
        }
        cat = self.catalog.get(uid)
        out: list[NodeColumn] = []
        if cat is not None:
            cols = sorted((cat.get("columns") or {}).values(), key=lambda c: c.get("index") or 0)
            for c in cols:
                d = declared.get(str(c["name"]).lower(), {})
                out.append(
                    NodeColumn(str(c["name"]), c.get("type"), str(d.get("description") or ""))
                )
            return tuple(out)
        return tuple(
            NodeColumn(str(c.get("name") or k), c.get("data_type"), str(c.get("description") or ""))
            for k, c in (raw.get("columns") or {}).items()
        )

    def _columns_from(self, uid: str, raw: Mapping[str, Any]) -> str | None:
        if uid in self.catalog:
            return "catalog"
        return "declared" if raw.get("columns") else None

    def _register_relation(self, uid: str, database: str | None, schema: str, table: str) -> None:
        keys = [f"{schema}.{table}".lower()]
        if database:
            keys.insert(0, f"{database}.{schema}.{table}".lower())
        for k in keys:
            if k in self.relations and self.relations[k] != uid:
                self.ambiguous.add(k)
            else:
                self.relations[k] = uid

    def build_nodes(self) -> None:
        m = self.manifest
        for uid, raw in m["nodes"].items():
            rtype = raw.get("resource_type")
            kind = RELATION_KINDS.get(str(rtype))
            if kind is None:
                continue
            config = raw.get("config") or {}
            ephemeral = config.get("materialized") == "ephemeral"
            table = raw.get("alias") or raw.get("name")
            group = raw.get("group") or config.get("group")
            group_owner = (self.groups.get(group) or {}).get("owner") if group else None
            node = Node(
                id=uid,
                kind=kind,
                name=str(raw["name"]),
                schema=None if ephemeral else raw.get("schema"),
                table=None if ephemeral else table,
                database=raw.get("database"),
                owners=_owners(
                    (raw.get("meta") or {}).get("owner"),
                    (config.get("meta") or {}).get("owner"),
                    group_owner,
                ),
                tags=tuple(dict.fromkeys(raw.get("tags") or ())),
                group=group,
                meta={
                    **(raw.get("meta") or {}),
                    "resource_type": rtype,
                    "materialized": config.get("materialized"),
                    "package": raw.get("package_name"),
                    "path": raw.get("original_file_path"),
                    "columns_from": self._columns_from(uid, raw),
                },
                columns=self._columns(uid, raw),
                checksum=(raw.get("checksum") or {}).get("checksum") or None,
                description=str(raw.get("description") or ""),
                origins=(Origin.DBT,),
            )
            self.graph.add_node(node)
            self.dbt_nodes[uid] = raw
            if not ephemeral and raw.get("schema") and table:
                self._register_relation(uid, raw.get("database"), str(raw["schema"]), str(table))
        for uid, raw in (m.get("sources") or {}).items():
            table = raw.get("identifier") or raw.get("name")
            node = Node(
                id=uid,
                kind=NodeKind.SOURCE,
                name=str(raw["name"]),
                schema=raw.get("schema"),
                table=table,
                database=raw.get("database"),
                owners=_owners(
                    (raw.get("meta") or {}).get("owner"),
                    (raw.get("source_meta") or {}).get("owner"),
                    ((raw.get("config") or {}).get("meta") or {}).get("owner"),
                ),
                tags=tuple(dict.fromkeys(raw.get("tags") or ())),
                meta={
                    **(raw.get("source_meta") or {}),
                    **(raw.get("meta") or {}),
                    "resource_type": "source",
                    "source_name": raw.get("source_name"),
                    "loaded_at_field": raw.get("loaded_at_field"),
                    "package": raw.get("package_name"),
                    "columns_from": self._columns_from(uid, raw),
                },
                columns=self._columns(uid, raw),
                description=str(raw.get("description") or ""),
                origins=(Origin.DBT,),
            )
            self.graph.add_node(node)
            self.dbt_nodes[uid] = raw
            if raw.get("schema") and table:
                self._register_relation(uid, raw.get("database"), str(raw["schema"]), str(table))
        for uid, raw in (m.get("exposures") or {}).items():
            node = Node(
                id=uid,
                kind=NodeKind.EXPOSURE,
                name=str(raw.get("label") or raw["name"]),
                owners=_owners(raw.get("owner"), (raw.get("meta") or {}).get("owner")),
                tags=tuple(raw.get("tags") or ()),
                meta={
                    **(raw.get("meta") or {}),
                    "resource_type": "exposure",
                    "type": raw.get("type"),
                    "maturity": raw.get("maturity"),
                    "dbt_name": raw.get("name"),
                },
                url=raw.get("url"),
                description=str(raw.get("description") or ""),
                origins=(Origin.DBT,),
            )
            self.graph.add_node(node)
            self.dbt_nodes[uid] = raw
        for uid, raw in self.dbt_nodes.items():
            for dep in (raw.get("depends_on") or {}).get("nodes") or ():
                if dep in self.graph and dep != uid:
                    self.graph.add_edge(dep, uid, Origin.DBT)
        if self.resolve_columns is not None:
            self._resolve_leaf_columns(self.resolve_columns)

    def _resolve_leaf_columns(self, resolve: ColumnResolver) -> None:
        """Seeds and sources are where ``select *`` chains start; models get theirs from SQL."""
        for uid, raw in self.dbt_nodes.items():
            if uid in self.catalog or raw.get("resource_type") not in ("seed", "source"):
                continue
            got = resolve(self.graph.node(uid))
            if got is not None and got[0]:
                self.graph.set_columns(uid, got[0], got[1])

    def table_of(self, uid: str | None) -> str | None:
        node = self.graph.get(uid) if uid else None
        return node.fqn if node else None

    # -- tests

    def tests(self) -> list[DbtTest]:
        out: list[DbtTest] = []
        for uid, raw in self.manifest["nodes"].items():
            if raw.get("resource_type") != "test":
                continue
            tm = raw.get("test_metadata") or {}
            kwargs = dict(tm.get("kwargs") or {})
            column = raw.get("column_name") or kwargs.get("column_name")
            attached = raw.get("attached_node")
            if attached is None:
                deps = list((raw.get("depends_on") or {}).get("nodes") or ())
                attached = deps[-1] if len(deps) == 1 else None
            params = {k: v for k, v in kwargs.items() if k not in ("model", "column_name")}
            out.append(
                DbtTest(
                    unique_id=uid,
                    name=str(raw.get("name") or uid),
                    test_type=str(tm.get("name") or "singular"),
                    namespace=tm.get("namespace"),
                    node_id=attached,
                    column=str(column) if column else None,
                    params=params,
                    severity=str((raw.get("config") or {}).get("severity") or "error").lower(),
                    tags=tuple(raw.get("tags") or ()),
                )
            )
        return out
