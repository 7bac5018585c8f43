"""Column lineage of a dbt project from each model's SQL.

Models are walked in dependency order, each one's compiled SQL qualified against what is
known of its parents' columns (catalog, then the parents' own lineage output, then declared
columns), so lineage stitches across models. A ``dbt parse`` manifest without compiled code
still gives column lineage when a model's jinja is only ref/source/config/var
(:func:`render_raw`); anything else falls back to table-level lineage from ``depends_on``.
"""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any

from tidegauge.core.impact import COMPLETE_COLUMN_SOURCES
from tidegauge.core.lineage import Node, NodeColumn, NodeKind, Origin
from tidegauge.core.sql_lineage import SqlLineage, column_lineage
from tidegauge.integrations.dbt_artifacts import DbtArtifactError
from tidegauge.integrations.dbt_nodes import RELATION_KINDS, ManifestNodes


class GraphBuilder(ManifestNodes):
    """The manifest's nodes (:class:`ManifestNodes`) plus column lineage from their SQL."""

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
                    code = sql_of(raw, "compiled") or sql_of(raw, "raw") or ""
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
        sql = sql_of(raw, "compiled")
        origin = "compiled_code"
        if not sql:
            sql = render_raw(raw, self.dbt_nodes)
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


def sql_of(raw: Mapping[str, Any], stage: str) -> str | None:
    """``raw``/``compiled`` SQL by either name: ``*_code`` from dbt-core 1.3, ``*_sql`` before."""
    for key in (f"{stage}_code", f"{stage}_sql"):
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def render_raw(raw: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Render a model's raw SQL when its jinja is only ref/source/config/var/is_incremental.

    Lets a ``dbt parse`` manifest (no compiled code, no warehouse connection) still give
    column lineage. Anything else (macros, loops over the database) gives ``None``.
    """
    text = sql_of(raw, "raw")
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
            if n.get("name") == name and n.get("resource_type") in RELATION_KINDS:
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
