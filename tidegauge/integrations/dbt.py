"""Read dbt artefacts into a lineage graph, test results and run events.

``manifest.json`` (schema v4–v12, i.e. dbt-core 1.0 onward) gives models, sources, seeds,
snapshots, exposures, tests, owners and tags; ``catalog.json``, ``run_results.json`` and
``sources.json`` are read from beside it when present. Column lineage comes from each model's
compiled SQL, qualified against what is known of its parents' columns (catalog, then the
parents' own lineage output, then declared columns), walking models in dependency order so
lineage stitches across models.

A manifest that is not valid JSON or lacks what dbt always writes raises
:class:`DbtArtifactError` naming the file and the problem; nothing partial is returned.

Across schema versions the reader relies only on what every version from v4 writes: ``nodes``
(``sources``, ``exposures`` and the later ``metrics``, ``groups``, ``semantic_models``,
``saved_queries``, ``unit_tests`` may be absent; unknown keys are ignored), ``depends_on`` for
table lineage, and the SQL under either spelling (``raw_sql``/``compiled_sql`` up to dbt-core
1.2, ``raw_code``/``compiled_code`` from 1.3). The compiled SQL is parsed in the sqlglot dialect
of ``metadata.adapter_type``, so column lineage needs no warehouse connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from tidegauge.core.impact import COMPLETE_COLUMN_SOURCES
from tidegauge.core.lineage import (
    LineageGraph,
    Node,
    NodeColumn,
    NodeKind,
    Origin,
)
from tidegauge.core.sql_lineage import SqlLineage, column_lineage

SUPPORTED_MANIFEST_VERSIONS = tuple(range(4, 13))
# the dbt-core releases that wrote the schemas tidegauge no longer reads, for the error message
_OLD_MANIFESTS = {1: "0.19", 2: "0.20", 3: "0.21"}

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


_RELATION_KINDS = {
    "model": NodeKind.MODEL,
    "seed": NodeKind.SEED,
    "snapshot": NodeKind.SNAPSHOT,
}


class DbtArtifactError(ValueError):
    """A dbt artefact is missing, malformed, truncated or of an unsupported version."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DbtTest:
    """A data test from the manifest; generic ones carry their type, column and params."""

    unique_id: str
    name: str
    test_type: str  # not_null, unique, accepted_values, relationships, ... or "singular"
    namespace: str | None
    node_id: str | None  # the model/source/seed it is attached to
    column: str | None
    params: Mapping[str, Any]
    severity: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DbtTestResult:
    """One test outcome from ``run_results.json``; the lead turns these into ``rule`` alerts."""

    test_id: str
    test_name: str
    test_type: str
    node_id: str | None
    table: str | None  # schema.table of the tested node
    column: str | None
    status: str  # pass, fail, warn, error, skipped
    failures: int | None
    message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    execution_time: float | None
    severity: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error", "warn")


@dataclass(frozen=True, slots=True)
class DbtRunEvent:
    """A model, seed or snapshot that did not build: a root-cause candidate for incidents."""

    node_id: str
    table: str | None
    resource_type: str
    status: str  # error or skipped
    message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    execution_time: float | None


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    source_id: str
    table: str | None
    status: str  # pass, warn, error, runtime error
    max_loaded_at: datetime | None
    snapshotted_at: datetime | None
    age_seconds: float | None
    message: str | None = None


@dataclass(slots=True)
class DbtProject:
    """Everything read from one set of dbt artefacts."""

    manifest_path: Path
    schema_version: int
    dbt_version: str
    project_name: str
    adapter_type: str
    generated_at: datetime | None
    graph: LineageGraph
    tests: tuple[DbtTest, ...] = ()
    test_results: tuple[DbtTestResult, ...] = ()
    run_events: tuple[DbtRunEvent, ...] = ()
    source_freshness: tuple[SourceFreshness, ...] = ()
    lineage_errors: dict[str, str] = field(default_factory=dict)
    artefacts: tuple[str, ...] = ()  # which files were read

    @property
    def failed_tests(self) -> tuple[DbtTestResult, ...]:
        return tuple(r for r in self.test_results if r.failed)


# ------------------------------------------------------------------------------ reading files


def read_artifact(path: Path | str) -> dict[str, Any]:
    """Load one JSON artefact; syntax errors name the line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DbtArtifactError(p, "file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DbtArtifactError(p, f"cannot read file: {exc}") from exc
    if not text.strip():
        raise DbtArtifactError(p, "file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DbtArtifactError(
            p, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} (truncated?)"
        ) from exc
    if not isinstance(data, dict):
        raise DbtArtifactError(p, f"expected a JSON object, got {type(data).__name__}")
    return data


def _schema_version(path: Path, data: Mapping[str, Any], kind: str) -> int:
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        raise DbtArtifactError(path, "no 'metadata' object: not a dbt artefact")
    url = meta.get("dbt_schema_version")
    if not isinstance(url, str) or f"/{kind}/v" not in url:
        raise DbtArtifactError(
            path, f"metadata.dbt_schema_version is {url!r}, not a dbt {kind} schema"
        )
    tail = url.rsplit("/v", 1)[-1].removesuffix(".json")
    if not tail.isdigit():
        raise DbtArtifactError(path, f"cannot read the version in {url!r}")
    return int(tail)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


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


# ------------------------------------------------------------------------------ the manifest


def load_dbt_project(
    manifest_path: Path | str,
    *,
    column_level: bool = True,
    read_siblings: bool = True,
    resolve_columns: ColumnResolver | None = None,
) -> DbtProject:
    """Read ``manifest.json`` and, when beside it, catalog, run results and source freshness.

    ``resolve_columns`` is asked for the columns of seeds and sources the catalog does not
    cover (see :class:`~tidegauge.integrations.dbt_columns.StarColumns`), so that models
    selecting ``*`` from them get complete column lists.

    Raises :class:`DbtArtifactError` for a missing, malformed, truncated or unsupported
    manifest (or a malformed sibling artefact); never returns a partial graph.
    """
    path = Path(manifest_path)
    manifest = read_artifact(path)
    version = _schema_version(path, manifest, "manifest")
    if version < SUPPORTED_MANIFEST_VERSIONS[0]:
        raise DbtArtifactError(
            path,
            f"manifest schema v{version} was written by dbt-core "
            f"{_OLD_MANIFESTS.get(version, '< 1.0')}; tidegauge reads manifests from "
            "dbt-core 1.0 on (schema v4–v12): regenerate it with dbt-core >= 1.0 "
            "(`dbt parse` is enough)",
        )
    # a schema newer than v12 is read all the same: every version so far only added keys
    if not isinstance(manifest.get("nodes"), dict):
        raise DbtArtifactError(path, "'nodes' is missing or not an object")
    for key in ("sources", "exposures"):  # optional: absent in trimmed or partial manifests
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            raise DbtArtifactError(path, f"'{key}' is not an object")
    meta = manifest["metadata"]
    artefacts = ["manifest.json"]

    catalog: dict[str, Any] | None = None
    run_results: dict[str, Any] | None = None
    sources_json: dict[str, Any] | None = None
    if read_siblings:
        folder = path.parent
        if (folder / "catalog.json").exists():
            catalog = read_artifact(folder / "catalog.json")
            _schema_version(folder / "catalog.json", catalog, "catalog")
            artefacts.append("catalog.json")
        if (folder / "run_results.json").exists():
            run_results = read_artifact(folder / "run_results.json")
            _schema_version(folder / "run_results.json", run_results, "run-results")
            artefacts.append("run_results.json")
        if (folder / "sources.json").exists():
            sources_json = read_artifact(folder / "sources.json")
            _schema_version(folder / "sources.json", sources_json, "sources")
            artefacts.append("sources.json")

    builder = _GraphBuilder(path, manifest, catalog, resolve_columns)
    try:
        builder.build_nodes()
        if column_level:
            builder.build_column_lineage()
        tests = builder.tests()
    except (KeyError, TypeError, AttributeError) as exc:
        raise DbtArtifactError(path, f"unexpected manifest structure: {exc!r}") from exc

    test_results: list[DbtTestResult] = []
    run_events: list[DbtRunEvent] = []
    if run_results is not None:
        test_results, run_events = _read_run_results(
            path.parent / "run_results.json", run_results, builder, {t.unique_id: t for t in tests}
        )
    freshness = (
        _read_sources_json(path.parent / "sources.json", sources_json, builder)
        if sources_json is not None
        else []
    )
    return DbtProject(
        manifest_path=path,
        schema_version=version,
        dbt_version=str(meta.get("dbt_version") or ""),
        project_name=str(meta.get("project_name") or ""),
        adapter_type=str(meta.get("adapter_type") or ""),
        generated_at=_parse_time(meta.get("generated_at")),
        graph=builder.graph,
        tests=tuple(tests),
        test_results=tuple(test_results),
        run_events=tuple(run_events),
        source_freshness=tuple(freshness),
        lineage_errors=dict(builder.lineage_errors),
        artefacts=tuple(artefacts),
    )


#: node -> (its columns, where they came from), or None when unknown
ColumnResolver = Callable[[Node], tuple[tuple[NodeColumn, ...], str] | None]


class _GraphBuilder:
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
            kind = _RELATION_KINDS.get(str(rtype))
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

    # -- column lineage

    def _order(self) -> list[str]:
        deps: dict[str, set[str]] = {}
        for uid, raw in self.dbt_nodes.items():
            if raw.get("resource_type") in ("model", "snapshot"):
                deps[uid] = {
                    d for d in (raw.get("depends_on") or {}).get("nodes") or () if d != uid
                }
        try:
            order = list(TopologicalSorter(deps).static_order())
        except CycleError as exc:
            raise DbtArtifactError(self.path, f"dependency cycle: {exc.args[1]}") from exc
        return [u for u in order if u in deps]

    def build_column_lineage(self) -> None:
        known: dict[str, list[str]] = {}  # node id -> columns, as downstream models see them
        for node in self.graph.nodes:
            if node.columns:
                known[node.id] = [c.name for c in node.columns]
        for uid in self._order():
            raw = self.dbt_nodes[uid]
            lineage, sql_origin = self._lineage_for(uid, raw, known)
            if lineage is None:
                continue
            if lineage.column_level:
                self._add_edges(uid, lineage)
                if uid not in self.catalog and lineage.outputs_complete:
                    known[uid] = list(lineage.output_columns)
                    # a star expanded over a parent whose column list is only what the YAML
                    # declares may hide columns: usable for lineage, not for "column removed"
                    # checks. A parent with no columns known was not expanded at all, so the
                    # outputs are complete only when the star never reached them (a CTE that
                    # renames every column, as jaffle_shop's staging models do).
                    code = _sql_of(raw, "compiled") or _sql_of(raw, "raw") or ""
                    partial = "*" in code and any(
                        d in known
                        and self.graph.node(d).meta.get("columns_from")
                        not in COMPLETE_COLUMN_SOURCES
                        for d in (raw.get("depends_on") or {}).get("nodes") or ()
                        if d in self.graph and d != uid
                    )
                    self.graph.set_columns(
                        uid,
                        (NodeColumn(c) for c in lineage.output_columns),
                        "sql_partial" if partial else "sql",
                    )
            else:
                for src in lineage.sources:
                    sid = self._resolve_table(src, uid)
                    if sid is not None:
                        self.graph.add_edge(sid, uid, Origin.SQL)
            if lineage.error:
                self.lineage_errors[uid] = lineage.error
                self.graph.set_lineage_error(uid, lineage.error)
            if sql_origin != "compiled_code":
                self.graph.update_meta(uid, lineage_sql=sql_origin)

    def _lineage_for(
        self, uid: str, raw: Mapping[str, Any], known: Mapping[str, list[str]]
    ) -> tuple[SqlLineage | None, str]:
        sql = _sql_of(raw, "compiled")
        origin = "compiled_code"
        if not sql:
            sql = _render_raw(raw, self.dbt_nodes)
            origin = "rendered raw_code"
            if sql is None:
                reason = (
                    "no compiled_code in the manifest (run `dbt compile`) and raw_code uses "
                    "jinja beyond ref/source/config; table-level lineage from depends_on only"
                )
                self.lineage_errors[uid] = reason
                self.graph.set_lineage_error(uid, reason)
                return None, "depends_on"
        if (raw.get("language") or "sql") != "sql":
            reason = f"{raw.get('language')} model: table-level lineage from depends_on only"
            self.lineage_errors[uid] = reason
            self.graph.set_lineage_error(uid, reason)
            return None, "depends_on"
        schema: dict[str, list[str]] = {}
        for dep in (raw.get("depends_on") or {}).get("nodes") or ():
            node = self.graph.get(dep)
            cols = known.get(dep)
            if node is None or cols is None or not node.schema or not node.table:
                continue
            key = ".".join(p for p in (node.database, node.schema, node.table) if p)
            schema[key] = cols
        lineage = column_lineage(
            sql,
            schema=schema,
            dialect=self.dialect,
            default_catalog=raw.get("database"),
            default_schema=raw.get("schema"),
        )
        return lineage, origin

    def _resolve_table(self, name: str, reader: str) -> str | None:
        low = name.lower()
        uid = self.relations.get(low)
        if uid is None and low.count(".") == 2:
            short = low.split(".", 1)[1]
            if short not in self.ambiguous:
                uid = self.relations.get(short)
        if uid is None and low.count(".") >= 1:
            # a table the project reads without declaring it as a source
            parts = low.split(".")
            node = Node(
                id=f"table:{low}",
                kind=NodeKind.TABLE,
                name=parts[-1],
                schema=parts[-2],
                table=parts[-1],
                database=parts[-3] if len(parts) >= 3 else None,
                origins=(Origin.SQL,),
            )
            return self.graph.add_node(node).id
        return uid

    def _add_edges(self, uid: str, lineage: SqlLineage) -> None:
        ids: dict[str, str | None] = {}
        for src in lineage.sources:
            sid = ids[src] = self._resolve_table(src, uid)
            if sid is not None:
                self.graph.add_edge(sid, uid, Origin.SQL)
        for e in lineage.edges:
            sid = ids.get(e.source_table) or self._resolve_table(e.source_table, uid)
            if sid is None:
                continue
            self.graph.add_column_edge(
                sid, e.source_column, uid, e.target_column, e.kind, Origin.DBT
            )

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


def _sql_of(raw: Mapping[str, Any], stage: str) -> str | None:
    """``raw``/``compiled`` SQL by either name: ``*_code`` from dbt-core 1.3, ``*_sql`` before."""
    for key in (f"{stage}_code", f"{stage}_sql"):
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _render_raw(raw: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Render a model's raw SQL when its jinja is only ref/source/config/var/is_incremental.

    Lets a ``dbt parse`` manifest (no compiled code, no warehouse connection) still give
    column lineage. Anything else (macros, loops over the database) gives ``None``.
    """
    text = _sql_of(raw, "raw")
    if text is None:
        return None
    if "{" not in text:
        return text
    import jinja2
    import jinja2.sandbox

    deps = [nodes[d] for d in (raw.get("depends_on") or {}).get("nodes") or () if d in nodes]

    def rel(n: Mapping[str, Any]) -> str:
        name = n.get("relation_name")
        if not name:
            raise LookupError(f"{n.get('unique_id')} has no relation")
        return str(name)

    def ref(*args: str, **kwargs: Any) -> str:
        name = args[-1]
        for n in deps:
            if n.get("name") == name and n.get("resource_type") in _RELATION_KINDS:
                return rel(n)
        raise LookupError(f"ref({name!r}) not among depends_on")

    def source(source_name: str, table_name: str) -> str:
        for n in deps:
            if n.get("source_name") == source_name and n.get("name") == table_name:
                return rel(n)
        raise LookupError(f"source({source_name!r}, {table_name!r}) not among depends_on")

    def var(name: str, default: Any = None) -> Any:
        if default is None:
            raise LookupError(f"var({name!r}) has no default")
        return default

    env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)
    env.globals.update(
        ref=ref, source=source, var=var, config=lambda *a, **k: "", is_incremental=lambda: False
    )
    try:
        return env.from_string(text).render()
    except (jinja2.TemplateError, LookupError, TypeError):
        return None


# ------------------------------------------------------------------------------ run results


def _timing(result: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    start = end = None
    for t in result.get("timing") or ():
        s, e = _parse_time(t.get("started_at")), _parse_time(t.get("completed_at"))
        if s and (start is None or s < start):
            start = s
        if e and (end is None or e > end):
            end = e
    return start, end


def _read_run_results(
    path: Path,
    data: Mapping[str, Any],
    builder: _GraphBuilder,
    tests: Mapping[str, DbtTest],
) -> tuple[list[DbtTestResult], list[DbtRunEvent]]:
    results = data.get("results")
    if not isinstance(results, list):
        raise DbtArtifactError(path, "'results' is missing or not a list")
    test_results: list[DbtTestResult] = []
    events: list[DbtRunEvent] = []
    for r in results:
        if not isinstance(r, dict) or "unique_id" not in r or "status" not in r:
            raise DbtArtifactError(path, f"a result lacks unique_id or status: {str(r)[:200]}")
        uid = str(r["unique_id"])
        status = str(r["status"]).lower()
        start, end = _timing(r)
        failures = r.get("failures")
        if uid.startswith("test."):
            t = tests.get(uid)
            test_results.append(
                DbtTestResult(
                    test_id=uid,
                    test_name=t.name if t else uid.split(".")[2],
                    test_type=t.test_type if t else "unknown",
                    node_id=t.node_id if t else None,
                    table=builder.table_of(t.node_id) if t else None,
                    column=t.column if t else None,
                    status=status,
                    failures=int(failures) if isinstance(failures, int | float) else None,
                    message=r.get("message"),
                    started_at=start,
                    completed_at=end,
                    execution_time=r.get("execution_time"),
                    severity=t.severity if t else "error",
                    params=dict(t.params) if t else {},
                )
            )
        elif uid.split(".", 1)[0] in _RELATION_KINDS and status in ("error", "skipped"):
            events.append(
                DbtRunEvent(
                    node_id=uid,
                    table=builder.table_of(uid),
                    resource_type=uid.split(".", 1)[0],
                    status=status,
                    message=r.get("message"),
                    started_at=start,
                    completed_at=end,
                    execution_time=r.get("execution_time"),
                )
            )
    return test_results, events


def _read_sources_json(
    path: Path, data: Mapping[str, Any], builder: _GraphBuilder
) -> list[SourceFreshness]:
    results = data.get("results")
    if not isinstance(results, list):
        raise DbtArtifactError(path, "'results' is missing or not a list")
    out: list[SourceFreshness] = []
    for r in results:
        if not isinstance(r, dict) or "unique_id" not in r:
            raise DbtArtifactError(path, f"a result lacks unique_id: {str(r)[:200]}")
        uid = str(r["unique_id"])
        age = r.get("max_loaded_at_time_ago_in_s")
        out.append(
            SourceFreshness(
                source_id=uid,
                table=builder.table_of(uid),
                status=str(r.get("status") or ""),
                max_loaded_at=_parse_time(r.get("max_loaded_at")),
                snapshotted_at=_parse_time(r.get("snapshotted_at")),
                age_seconds=float(age) if isinstance(age, int | float) else None,
                message=r.get("error") or r.get("message"),
            )
        )
    return out


def graph_from_manifest(manifest_path: Path | str) -> LineageGraph:
    """Just the lineage graph (what ``tidegauge lineage --manifest`` uses)."""
    return load_dbt_project(manifest_path).graph
