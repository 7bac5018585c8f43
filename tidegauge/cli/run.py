"""``run`` and ``backtest``: one monitoring run, or a replay of stored history.

``tidegauge run`` exits with:

* 0: every table, warehouse and notification went through;
* 1: the run failed (no warehouse reachable, or the metadata store went away);
* 2: bad usage or configuration (nothing ran);
* 3: partial: some tables, warehouses or notifications failed, or the dbt manifest could
  not be read, while the rest completed (the report lists what).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from tidegauge.cli.common import CliState, console, fail, print_json

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

    from tidegauge.core.clock import Clock
    from tidegauge.runner import RunReport


class Sensitivity(StrEnum):
    """The choices of ``--sensitivity`` (the detectors' own enum loads numpy, which
    ``tidegauge --help`` should not)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 3


def exit_code(report: RunReport) -> int:
    """The documented exit code of a finished run (see the module docstring)."""
    if report.warehouse_errors and not report.tables:
        return EXIT_FAILED
    return EXIT_PARTIAL if report.partial else EXIT_OK


def store_outage(state: CliState, e: DBAPIError) -> str:
    """One paragraph saying the store went away, without credentials or a traceback."""
    url = state.store.engine.url.render_as_string(hide_password=True)
    first = str(e.orig).strip().splitlines()[0] if str(e.orig).strip() else type(e.orig).__name__
    return (
        f"the metadata store ({url}) failed during the run: {first}. The run was stopped "
        "and recorded as failed (or will be by the next run if the store stays away), and "
        "its table leases were released; run again once the store is reachable."
    )


def register(app: typer.Typer) -> None:
    register_backtest(app)

    @app.command()
    def run(
        ctx: typer.Context,
        now: str | None = typer.Option(
            None, "--now", help="run as if it were this ISO timestamp (replays, backtests)"
        ),
        table: list[str] = typer.Option(
            [], "--table", "-t", help="only these tables (schema.table; repeatable)"
        ),
        no_notify: bool = typer.Option(False, "--no-notify", help="detect but send nothing"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable report"),
    ) -> None:
        """One monitoring run: collect, detect, group into incidents, notify."""
        from sqlalchemy.exc import DBAPIError

        from tidegauge.core.clock import Clock, parse_instant

        state: CliState = ctx.obj
        try:
            clock = Clock.fixed(parse_instant(now)) if now else Clock()
        except ValueError as e:
            fail(str(e))
        project = state.project
        if not project.warehouses and not project.streams:
            fail(f"{state.config_path}: no warehouses configured")
        try:
            report = _run(state, clock, table, no_notify, as_json)
        except DBAPIError as e:
            fail(store_outage(state, e), code=EXIT_FAILED)
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
            for problem in report.problems:
                console.print(f"[yellow]! {problem}[/]", highlight=False)
            undelivered = report.notifications.get("failed", 0)
            if undelivered:
                console.print(
                    f"[yellow]! {undelivered} notification(s) could not be delivered: "
                    "see `tidegauge outbox --failed`[/]",
                    highlight=False,
                )
        if not report.warehouse_errors:  # else every pattern would look wrong
            _check_names(state, table)
        code = exit_code(report)
        if code:
            raise typer.Exit(code)


def _run(
    state: CliState, clock: Clock, table: list[str], no_notify: bool, as_json: bool
) -> RunReport:
    from tidegauge.runner import run as run_once

    project = state.project
    if as_json or not console.is_terminal:
        return run_once(project, state.store, clock, only=table or None, notify=not no_notify)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

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

        return run_once(
            project,
            state.store,
            clock,
            only=table or None,
            progress=progress,
            notify=not no_notify,
        )


def _check_names(state: CliState, wanted: list[str]) -> None:
    """Say so when a --table, include, tables: match, route or monitor names nothing the
    warehouses have: a typo used to run zero tables and exit 0 without a word. An unknown
    --table is an error (exit 2); the project file's patterns are warnings."""
    from tidegauge.cli.common import known_tables, warn
    from tidegauge.cli.matches import unknown_tables, unmatched_patterns

    known = known_tables(state.store)
    for message in unmatched_patterns(state.project, known):
        warn(message)
    bad = unknown_tables(wanted, known)
    if bad:
        fail("; ".join(bad))


def register_backtest(app: typer.Typer) -> None:
    @app.command()
    def backtest(
        ctx: typer.Context,
        days: int = typer.Option(90, "--days", min=1, max=3650, help="how far back to replay"),
        sensitivity: Sensitivity | None = typer.Option(None, "--sensitivity"),
        now: str | None = typer.Option(None, "--now", help="replay as of this ISO timestamp"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """How many alerts each monitor (and each channel) would have raised in stored history."""
        from rich.table import Table

        from tidegauge.core.clock import Clock, parse_instant
        from tidegauge.core.detectors.base import Sensitivity as DetectorSensitivity
        from tidegauge.steps.backtest import backtest_project

        state: CliState = ctx.obj
        try:
            at = parse_instant(now) if now else Clock().now()
        except ValueError as e:
            fail(str(e))
        result = backtest_project(
            state.project,
            state.store,
            at,
            days=days,
            sensitivity=None if sensitivity is None else DetectorSensitivity(sensitivity.value),
        )
        if as_json:
            print_json(result)
            return
        console.print(
            f"replayed {days} days: [bold]{result['alerts']}[/] alerts "
            f"({result['alerts_per_week']}/week)"
        )
        t = Table("table", "monitor", "alerts", "tested")
        for m in sorted(result["monitors"], key=lambda m: -m["alerts"])[:40]:
            name = f"{m['column']}.{m['metric']}" if m["column"] else m["metric"]
            t.add_row(m["table"], name, str(m["alerts"]), str(m["tested_points"]))
        console.print(t)
        for ch, n in result["channels"].items():
            console.print(f"channel {ch}: {n} alerts")
