"""``tidegauge lineage`` and ``tidegauge impact``: who is upstream/downstream, what a change breaks.

Exit codes: 0 fine; 1 ``impact`` found a removed or type-changed column used downstream;
2 could not check: bad input (unknown or ambiguous table, unreadable manifest), or ``impact``
could not resolve the columns of a changed model, with a message, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tidegauge.cli.common import CliState, console, errors, fail, print_json

if TYPE_CHECKING:
    from rich.tree import Tree

    from tidegauge.core.impact import ImpactReport
    from tidegauge.core.lineage import LineageGraph, LineageResult, NodeKind


def load_graph(manifest: Path | None, state: CliState | None = None) -> LineageGraph:
    """The graph ``lineage`` queries: ``--manifest``, else the project's stored graph."""
    from tidegauge.integrations.dbt import DbtArtifactError, load_dbt_project

    if manifest is None:
        if state is not None and state.config_path.exists():
            from tidegauge.store.lineage import load_graph as stored_graph

            graph = stored_graph(state.store)
            if graph is not None:
                return graph
            project = state.project
            if project.dbt is not None:
                manifest = project.resolve(project.dbt.manifest)
        if manifest is None:
            fail("no lineage yet: run `tidegauge run` (or pass --manifest path/to/manifest.json)")
    try:
        return load_dbt_project(manifest).graph
    except DbtArtifactError as e:
        fail(str(e))


def register(app: typer.Typer) -> None:
    @app.command()
    def lineage(
        ctx: typer.Context,
        table: str = typer.Argument(
            ..., help="schema.table, db.schema.table, a dbt unique_id or an unambiguous name"
        ),
        column: str | None = typer.Option(None, "--column", "-C", help="follow one column"),
        upstream: bool = typer.Option(False, "--upstream", help="only what TABLE is built from"),
        downstream: bool = typer.Option(False, "--downstream", help="only what is built from it"),
        depth: int | None = typer.Option(None, "--depth", min=1, help="hops to follow"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
        manifest: Path | None = typer.Option(
            None, "--manifest", help="dbt manifest.json (catalog etc. read from beside it)"
        ),
    ) -> None:
        """Show table or column lineage, upstream and downstream, with owners and exposures."""
        from tidegauge.core.lineage import LineageLookupError

        if upstream and downstream:
            fail("--upstream and --downstream are exclusive; give neither for both")
        graph = load_graph(manifest, ctx.obj)
        directions = (
            ["upstream"]
            if upstream
            else ["downstream"]
            if downstream
            else [
                "upstream",
                "downstream",
            ]
        )
        try:
            root = graph.resolve(table)
            results = {
                d: (graph.upstream if d == "upstream" else graph.downstream)(root, column, depth)
                for d in directions
            }
            impact = graph.impact(root, column) if "downstream" in directions else None
        except LineageLookupError as e:
            fail(str(e))
        if as_json:
            payload: dict[str, Any] = {
                "node": root.id,
                "table": root.display,
                "kind": root.kind.value,
                "column": column,
                "owners": list(root.owners),
                "lineage_error": root.lineage_error,
            }
            for d, res in results.items():
                payload[d] = res.as_dict()
            if impact is not None:
                payload["impact"] = impact.as_dict()
            print_json(payload)
            return
        title = f"[bold]{root.display}[/]" + (f".[cyan]{column}[/]" if column else "")
        console.print(f"{title}  [dim]{root.kind.value} {root.id}[/]")
        if root.owners:
            console.print(f"owners: {', '.join(root.owners)}")
        if root.lineage_error:
            console.print(f"[yellow]column lineage incomplete:[/] {root.lineage_error}")
        for res in results.values():
            console.print(_tree(res))
        if impact is not None:
            console.print(
                f"impact: {len(impact.tables)} tables, {len(impact.columns)} columns, "
                f"{len(impact.exposures)} exposures"
                + (f" ({', '.join(impact.exposures)})" if impact.exposures else "")
                + (f"; owners: {', '.join(impact.owners)}" if impact.owners else "")
            )

    @app.command()
    def impact(
        ctx: typer.Context,
        manifest: Path = typer.Option(..., "--manifest", help="manifest.json of the change"),
        base_manifest: Path = typer.Option(
            ..., "--base-manifest", help="manifest.json of the base branch (production)"
        ),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
        offline: bool = typer.Option(
            False, "--offline", help="resolve `select *` from the base catalog only"
        ),
    ) -> None:
        """CI check: what a dbt change breaks downstream.

        Columns behind `select *` come from the base catalog.json, else the columns tidegauge
        stores, else the warehouse. Exit codes: 0 safe; 1 breaking (a removed or type-changed
        column is still used downstream); 2 could not check (a changed model's columns could
        not be resolved, or unreadable input)."""
        from tidegauge.core.impact import compare_graphs
        from tidegauge.integrations.dbt import DbtArtifactError, load_dbt_project
        from tidegauge.integrations.dbt_columns import StarColumns

        store, warehouses = (None, []) if offline else _production(ctx.obj)
        # production (store, warehouse) has the base branch's seeds and sources, so both
        # sides are resolved; the change's side also from the base catalog
        stars = StarColumns(None, store, warehouses)
        try:
            base = load_dbt_project(base_manifest, resolve_columns=stars)
            stars.base, stars.used = base, {}
            new = load_dbt_project(manifest, resolve_columns=stars)
        except DbtArtifactError as e:
            fail(str(e))
        finally:
            stars.close()
        report = compare_graphs(new.graph, base.graph)
        if as_json:
            print_json({**report.as_dict(), "columns_resolved_from": stars.used})
        else:
            _print_report(report)
        if report.breaking:
            raise typer.Exit(1)
        if not report.checked:
            raise typer.Exit(2)


def _production(state: CliState | None) -> tuple[Any, list[Any]]:
    """The store and warehouses of the tidegauge project here, when there is one."""
    if state is None or not state.config_path.exists():
        return None, []
    from tidegauge.warehouses.base import WarehouseError
    from tidegauge.warehouses.registry import open_warehouse
    from tidegauge.yamlsource import ConfigError

    try:
        project = state.project
        return state.store, [open_warehouse(w) for w in project.warehouses]
    except (ConfigError, WarehouseError) as e:
        # the check still runs from the base catalog; a broken project file is said, not fatal
        errors.print(
            f"[yellow]note:[/] {state.config_path} not used: {e}", highlight=False, soft_wrap=True
        )
        return None, []


def _label(graph_kind: NodeKind, display: str, owners: tuple[str, ...]) -> str:
    from tidegauge.core.lineage import NodeKind

    kind = "[magenta]exposure[/] " if graph_kind is NodeKind.EXPOSURE else ""
    who = f" [dim]{', '.join(owners)}[/]" if owners else ""
    return f"{kind}{display}{who}"


def _tree(res: LineageResult) -> Tree:
    """Render a traversal as a tree; a node reached twice is expanded only the first time."""
    from rich.tree import Tree

    arrow = "⬆ upstream" if res.direction == "upstream" else "⬇ downstream"
    tree = Tree(f"[bold]{arrow}[/]")
    if res.column is None:
        children: dict[str, list[str]] = {}
        for s, t in res.edges:
            a, b = (s, t) if res.direction == "downstream" else (t, s)
            children.setdefault(a, []).append(b)
        by_id = {h.node.id: h.node for h in res.nodes}
        seen: set[str] = set()

        def add(parent: Tree, nid: str) -> None:

            for child in sorted(dict.fromkeys(children.get(nid, ()))):
                node = by_id.get(child)
                if node is None:
                    continue
                label = _label(node.kind, node.display, node.owners)
                if child in seen:
                    parent.add(f"{label} [dim](see above)[/]")
                    continue
                seen.add(child)
                add(parent.add(label), child)

        add(tree, res.root.id)
        return tree
    col_children: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for e in res.column_edges:
        if res.direction == "downstream":
            key, child = (e.source, e.source_column), (e.target, e.target_column, e.kind.value)
        else:
            key, child = (e.target, e.target_column), (e.source, e.source_column, e.kind.value)
        col_children.setdefault(key, []).append(child)
    names = {h.node.id: h.node.display for h in res.columns} | {
        h.node.id: h.node.display for h in res.nodes
    }
    seen_cols: set[tuple[str, str]] = set()

    def add_col(parent: Tree, key: tuple[str, str]) -> None:

        for nid, col, kind in sorted(set(col_children.get(key, ()))):
            style = "" if kind == "direct" else "[dim]"
            end = "" if kind == "direct" else "[/]"
            label = f"{style}{names.get(nid, nid)}.[cyan]{col}[/cyan] ({kind}){end}"
            if (nid, col) in seen_cols:
                parent.add(label + " [dim](see above)[/]")
                continue
            seen_cols.add((nid, col))
            add_col(parent.add(label), (nid, col))

    add_col(tree, (res.root.id, res.column.lower()))
    without_columns = [h for h in res.nodes if h.node.id not in {c.node.id for c in res.columns}]
    for h in without_columns:
        tree.add(_label(h.node.kind, h.node.display, h.node.owners) + " [dim](table-level)[/]")
    return tree


def _print_report(report: ImpactReport) -> None:
    from rich.table import Table

    if not report.changed_nodes and not report.column_changes:
        console.print("No model changes.")
        return
    if report.changed_nodes:
        t = Table(title="Changed nodes")
        t.add_column("change")
        t.add_column("node")
        t.add_column("table")
        for c in report.changed_nodes:
            t.add_row(c.kind.value, c.node_id, c.table)
        console.print(t)
    if report.column_changes:
        t = Table(title="Column changes")
        for name in ("table", "column", "change", "types", "used downstream by", "exposures"):
            t.add_column(name)
        for cc in report.column_changes:
            types = f"{cc.old_type} → {cc.new_type}" if cc.kind.value == "type_changed" else ""
            used = "\n".join(
                f"{u.table}.{u.column}" + ("" if u.direct else " (indirect)") for u in cc.used_by
            )
            t.add_row(
                cc.table,
                cc.column,
                f"[red]{cc.kind.value}[/]" if cc.breaking else cc.kind.value,
                types,
                used or "-",
                ", ".join(cc.exposures) or "-",
            )
        console.print(t)
    for r in report.removed_nodes_in_use:
        console.print(f"[red]removed but still used:[/] {r.node_id}")
    if report.exposures:
        console.print(f"exposures hit: {', '.join(report.exposures)}")
    if report.owners:
        console.print(f"owners to tell: {', '.join(report.owners)}")
    for n in report.notes:
        console.print(f"[yellow]note:[/] {n}")
    if report.breaking:
        console.print("[bold red]BREAKING:[/] a removed or changed column is used downstream.")
    elif not report.checked:
        console.print(
            "[bold yellow]COULD NOT CHECK:[/] the columns of "
            + ", ".join(u.table for u in report.unresolved)
            + " are not known (no base catalog.json, stored columns or reachable warehouse "
            "has them); run `dbt docs generate` on the base branch or `tidegauge run` first."
        )
    else:
        console.print("[green]No downstream use of removed or changed columns.[/]")
