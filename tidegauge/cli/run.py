"""``run`` and ``backtest``: one monitoring run, or a replay of stored history."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tidegauge.cli.common import CliState, console, fail, print_json
from tidegauge.core.clock import Clock, parse_instant
from tidegauge.runner import run as run_once


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        ctx: typer.Context,
        now: str | None = typer.Option(
            None, "--now", help="run as if it were this ISO timestamp (replays, backtests)"
        ),
        table: list[str] = typer.Option([], "--table", "-t", help="only these tables"),
        no_notify: bool = typer.Option(False, "--no-notify", help="detect but send nothing"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable report"),
    ) -> None:
        """One monitoring run: collect, detect, group into incidents, notify."""
        state: CliState = ctx.obj
        try:
            clock = Clock.fixed(parse_instant(now)) if now else Clock()
        except ValueError as e:
            fail(str(e))
        project = state.project
        if not project.warehouses:
            fail(f"{state.config_path}: no warehouses configured")
        if as_json or not console.is_terminal:
            report = run_once(project, state.store, clock, only=table or None,
                              notify=not no_notify)
        else:
            with Progress(
                TextColumn("[bold]collect[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("", total=None)

                def progress(name: str, done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total, description=name)

                report = run_once(project, state.store, clock, only=table or None,
                                  progress=progress, notify=not no_notify)
        data = report.as_dict()
        if as_json:
            print_json(data)
        else:
            console.print(
                f"run {report.run_id} as of {report.as_of:%Y-%m-%d %H:%M} UTC: "
                f"{report.tables} tables, {report.points:,} points, "
                f"{len(report.alerts)} new alerts, {len(report.incidents_opened)} new incidents "
                f"({report.seconds:.1f}s)"
            )
            for name, err in {**report.warehouse_errors, **report.failed_tables}.items():
                console.print(f"[yellow]! {name}: {err}[/]", highlight=False)
        if report.warehouse_errors and not report.tables:
            raise typer.Exit(1)
