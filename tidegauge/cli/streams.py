"""``streams`` and ``watch``: what the streams look like, and watching them continuously."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer

from tidegauge.cli.common import CliState, console, fail, print_json


def register(app: typer.Typer) -> None:
    @app.command()
    def streams(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Topics, partitions, rates, consumer groups, lag and status, as last polled."""
        from rich.table import Table

        from tidegauge.streams.views import streams_summary

        state: CliState = ctx.obj
        if not state.project.streams:
            fail(f"{state.config_path}: no streams configured (add a streams: entry)")
        data = streams_summary(state.project, state.store)
        if as_json:
            print_json(data)
            return
        for s in data:
            console.print(f"[bold]{s['name']}[/] {s['bootstrap_servers']}", highlight=False)
            if s["error"]:
                console.print(f"[red]! {s['error']}[/]", highlight=False)
            t = Table(
                "topic", "partitions", "msg/s", "last message", "group", "lag", "lag s", "status"
            )
            for topic in s["topics"]:
                rows = topic["groups"] or [None]
                for i, g in enumerate(rows):
                    t.add_row(
                        topic["topic"] + (" (deleted)" if topic["dropped"] else "")
                        if i == 0
                        else "",
                        _num(topic["partitions"]) if i == 0 else "",
                        _num(topic["rate_per_second"]) if i == 0 else "",
                        (topic["last_message_at"] or "")[:19] if i == 0 else "",
                        g["group"] if g else "",
                        _num(g["lag"]) if g else "",
                        _num(g["lag_seconds"]) if g else "",
                        g["status"] if g else "",
                    )
            console.print(t)

    @app.command()
    def watch(
        ctx: typer.Context,
        interval: str = typer.Option("30s", "--interval", help="time between stream polls"),
        no_notify: bool = typer.Option(False, "--no-notify", help="detect but send nothing"),
        passes: int | None = typer.Option(None, "--passes", min=1, help="stop after N polls"),
    ) -> None:
        """Poll streams every interval, and run tables when their schedule is due, until stopped."""
        from tidegauge.config import parse_duration
        from tidegauge.streams.watch import watch as watch_loop

        state: CliState = ctx.obj
        try:
            every = parse_duration(interval)
        except ValueError as e:
            fail(str(e))
        project = state.project
        if not project.streams and not project.warehouses:
            fail(f"{state.config_path}: nothing to watch (no streams, no warehouses)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())

        def show(kind: str, rep: Any) -> None:
            console.print(
                f"{kind} pass {rep.run_id} as of {rep.as_of:%H:%M:%S}: "
                f"{len(rep.alerts)} new alerts ({rep.seconds:.1f}s)",
                highlight=False,
            )
            for name, err in rep.warehouse_errors.items():
                console.print(f"[yellow]! {name}: {err}[/]", highlight=False)

        try:
            watch_loop(
                project,
                state.store,
                interval=every,
                stop=stop,
                on_report=show,
                notify=not no_notify,
                max_passes=passes,
            )
        except KeyboardInterrupt:
            stop.set()


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
