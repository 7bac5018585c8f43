"""``schema``, ``validate``, ``plan`` and ``apply``: monitors as code.

``plan`` diffs the declared monitors (project file, ``monitors/*.yml``, dbt ``meta`` and dbt
tests) against the store's ``monitors`` table, with each new or changed monitor's predicted
alerts per week replayed over the stored history; ``apply`` writes the diff.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from tidegauge.cli.common import CliState, console, errors, fail, print_json


def project_schema() -> dict[str, Any]:
    """The JSON Schema of the project file (``root`` is internal and left out)."""
    from tidegauge.config import Project

    schema = Project.model_json_schema()
    schema.get("properties", {}).pop("root", None)
    schema["title"] = "tidegauge project file"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _rate(bt: dict[str, Any] | None) -> str:
    if not bt:
        return "no history"
    if bt.get("alerts_per_week") is None:
        return str(bt.get("note") or "n/a")
    return f"{bt['alerts_per_week']:g}/week"


def register(app: typer.Typer) -> None:
    @app.command()
    def schema() -> None:
        """Print the JSON Schema of the project file (for editor completion)."""
        print_json(project_schema())

    @app.command()
    def validate(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Check the project file, monitors/*.yml and dbt monitors; exit 2 on errors."""
        from rich.markup import escape

        from tidegauge.yamlsource import ConfigError

        state: CliState = ctx.obj
        try:
            project = state.project
        except ConfigError as e:
            if as_json:
                print_json({"valid": False, "errors": str(e).splitlines(), "warnings": []})
                raise typer.Exit(2) from None
            fail(str(e))
        from tidegauge.monitors import declared_monitors

        problems = [w for w in project.monitor_warnings if "manifest not found" not in w]
        warnings = [w for w in project.monitor_warnings if w not in problems]
        monitors = declared_monitors(project)
        if as_json:
            print_json(
                {
                    "valid": not problems,
                    "errors": problems,
                    "warnings": warnings,
                    "monitors": len(monitors),
                }
            )
        else:
            for w in warnings:
                errors.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
            for p in problems:
                errors.print(f"[bold red]error:[/] {escape(p)}", highlight=False, soft_wrap=True)
            if not problems:
                console.print(f"{state.config_path}: valid — {len(monitors)} monitor(s)")
        if problems:
            raise typer.Exit(2)

    @app.command()
    def plan(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
        days: float = typer.Option(90, "--days", min=1, help="backtest window in days"),
    ) -> None:
        """Show the monitors to create, change and delete, with backtested alert rates."""
        from rich.markup import escape
        from rich.table import Table

        from tidegauge.sdk import compute_plan

        state: CliState = ctx.obj
        result = compute_plan(state.project, state.store, backtest_days=days)
        if as_json:
            print_json(result.as_dict())
            return
        for w in result.warnings:
            errors.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
        if result.empty:
            console.print(f"no changes: {len(result.unchanged)} monitor(s) up to date")
            return
        t = Table("", "monitor", "type", "table", "source", "predicted alerts", "changes")
        signs = {"create": "[green]+[/]", "change": "[yellow]~[/]", "delete": "[red]-[/]"}
        for c in result.changes:
            t.add_row(
                signs[c.action],
                c.name,
                c.kind,
                c.table or "",
                c.source,
                _rate(c.backtest) if c.action != "delete" else "",
                ", ".join(f"{k}" for k in c.changes) if c.changes else "",
            )
        console.print(t)
        console.print(
            f"{result.count('create')} to create, {result.count('change')} to "
            f"change, {result.count('delete')} to delete, "
            f"{len(result.unchanged)} unchanged"
        )

    @app.command()
    def apply(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Write the declared monitors to the store (idempotent)."""
        from rich.markup import escape

        from tidegauge.sdk import apply_plan

        state: CliState = ctx.obj
        result = apply_plan(state.project, state.store)
        if as_json:
            print_json(result.as_dict())
            return
        for w in result.warnings:
            errors.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
        console.print(
            f"applied: {result.count('create')} created, {result.count('change')} "
            f"changed, {result.count('delete')} deleted, "
            f"{len(result.unchanged)} unchanged"
        )


def dumps(data: Any) -> str:
    return json.dumps(data, default=str)
