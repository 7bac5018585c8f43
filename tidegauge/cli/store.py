"""``store prune``: roll old metric history up to daily points and drop what is too old."""

from __future__ import annotations

import typer

from tidegauge.cli.common import CliState, console, fail, print_json

store_app = typer.Typer(help="Maintenance of the metadata store.", no_args_is_help=True)


@store_app.command("prune")
def prune_command(
    ctx: typer.Context,
    fine_days: int | None = typer.Option(
        None,
        "--fine-days",
        min=1,
        help="keep hourly (finer than daily) points this many days "
        "(default: the project's store.retention.fine_days)",
    ),
    keep_days: int | None = typer.Option(
        None,
        "--keep-days",
        min=0,
        help="delete every point older than this, 0: keep forever "
        "(default: the project's store.retention.keep_days)",
    ),
    now: str | None = typer.Option(None, "--now", help="prune as of this ISO time"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Roll metric points older than --fine-days up to one point per day and series; delete
    points older than --keep-days (both default to the project's ``store.retention``).
    Table by table in short transactions: safe to stop and run again, and to run while
    runs and the web server use the store."""
    from tidegauge.core.clock import Clock, parse_instant
    from tidegauge.store.retention import Retention, prune

    state: CliState = ctx.obj
    try:
        at = parse_instant(now) if now else Clock().now()
    except ValueError as e:
        fail(str(e))
    conf = state.project.store.retention
    keep = conf.keep_days if keep_days is None else (keep_days or None)
    policy = Retention(fine_days=conf.fine_days if fine_days is None else fine_days, keep_days=keep)
    policy.validate(state.project.defaults.history_days)
    report = prune(state.store, policy, at)
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{report.tables} tables: {report.rolled_series_days} series-days rolled up "
        f"({report.deleted} points → {report.inserted}), {report.expired} expired points "
        f"deleted, in {report.seconds:.1f} s",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
