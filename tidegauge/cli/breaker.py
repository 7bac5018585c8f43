"""``breaker``: exit non-zero when a pipeline's input tables must not be used.

Exit 0: every table passes (or could not be judged and the breaker fails open).
Exit 1: a table has an open alert at or above the level, is older than ``--max-age``, or
could not be judged and the breaker fails closed (the default for ``--level block``).
"""

from __future__ import annotations

from datetime import timedelta

import typer

from tidegauge.cli.common import CliState, console, errors, fail, print_json


def register(app: typer.Typer) -> None:
    @app.command()
    def breaker(
        ctx: typer.Context,
        tables: list[str] = typer.Argument(..., help="schema.table names to guard"),
        level: str = typer.Option(
            "block", "--level", help="warn: medium+ open alerts trip; block: high+"
        ),
        max_age: str | None = typer.Option(
            None, "--max-age", help="trip when the newest data is older (30m, 6h, 2d)"
        ),
        fail_open: bool | None = typer.Option(
            None,
            "--fail-open/--fail-closed",
            help="when tidegauge cannot answer; default closed for block, open for warn",
        ),
        now: str | None = typer.Option(None, "--now", help="judge as of this ISO time"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Circuit breaker: exit 1 when any monitor of TABLES has an open alert at or above
        the level (learned monitors included), or the data is older than --max-age."""
        from rich.markup import escape

        from tidegauge.config import parse_duration
        from tidegauge.core.clock import parse_instant
        from tidegauge.sdk import BreakerLevel, check_breaker
        from tidegauge.store.store import Store

        if level not in ("warn", "block"):
            fail(f"--level must be warn or block, not '{level}'")
        try:
            age: timedelta | None = parse_duration(max_age) if max_age else None
            at = parse_instant(now) if now else None
        except ValueError as e:
            fail(str(e))
        state: CliState = ctx.obj
        lvl = BreakerLevel(level)
        opened = (lvl is BreakerLevel.WARN) if fail_open is None else fail_open
        project = state.project  # an invalid project file is a usage error (exit 2)
        store: Store | None
        try:
            store, error = state.store, None
        except Exception as e:  # unreachable store: the fail-open/closed setting decides
            store, error = None, f"store unavailable: {type(e).__name__}: {e}"
        from tidegauge.monitors import declared_monitors

        result = check_breaker(
            store,
            tables,
            level=lvl,
            max_age=age,
            fail_open=opened,
            now=at,
            monitors=declared_monitors(project),
            store_error=error,
        )
        for c in result.unanswered:
            why = escape(f"cannot judge {c.table}: {c.error}")
            errors.print(
                f"[yellow]warning:[/] {why} — failing {'open' if opened else 'closed'}",
                highlight=False,
                soft_wrap=True,
            )
        if as_json:
            print_json(result.as_dict())
        else:
            console.print(escape(result.summary()), highlight=False, soft_wrap=True)
            console.print(
                "[bold red]breaker tripped[/]"
                if result.tripped
                else "[green]breaker closed: go ahead[/]"
            )
        raise typer.Exit(1 if result.tripped else 0)
