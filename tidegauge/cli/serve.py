"""``serve``: the web UI and REST API, with monitors running on schedule."""

from __future__ import annotations

import typer

from tidegauge.cli.common import CliState, console

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
        port: int = typer.Option(8765, "--port", min=1, max=65535),
        schedule: bool = typer.Option(
            True,
            "--schedule/--no-schedule",
            help="run monitors on schedule in this process (a run starts at once), or serve only",
        ),
        no_scheduler: bool = typer.Option(
            False, "--no-scheduler", hidden=True, help="old spelling of --no-schedule"
        ),
        workers: int = typer.Option(
            1,
            "--workers",
            min=1,
            max=64,
            help="server processes (uvicorn workers); monitors still run in one process only",
        ),
    ) -> None:
        """Serve the web UI and REST API (OpenAPI at /openapi.json); with --schedule (the
        default) also run monitors: one run at once, then one per bucket."""
        from tidegauge.web.server import serve_blocking

        state: CliState = ctx.obj
        project, store = state.project, state.store
        scheduled = schedule and not no_scheduler
        every = project.defaults.bucket.seconds // 60
        console.print(
            f"tidegauge serving {project.name} at http://{host}:{port}/"
            + (f" with {workers} workers" if workers > 1 else ""),
            highlight=False,
        )
        console.print(
            f"scheduler on: a warehouse run starts now, then every {every} min "
            "(--no-schedule serves only)"
            if scheduled
            else "scheduler off: no warehouse runs from this process (`tidegauge run` runs one)",
            highlight=False,
        )
        serve_blocking(project, store, host, port, scheduler=scheduled, workers=workers)
