"""``serve``: the web UI and REST API, with monitors running on schedule."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from tidegauge.cli.common import CliState, console

if TYPE_CHECKING:
    from tidegauge.web.server import serve_blocking

__all__ = ["register", "serve_blocking"]


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
        port: int = typer.Option(8765, "--port", min=1, max=65535),
        no_scheduler: bool = typer.Option(
            False, "--no-scheduler", help="serve only; do not run monitors on schedule"
        ),
        workers: int = typer.Option(
            1,
            "--workers",
            min=1,
            max=64,
            help="server processes (uvicorn workers); monitors still run in one process only",
        ),
    ) -> None:
        """Serve the web UI and REST API (OpenAPI at /openapi.json) and run monitors."""
        from tidegauge.web.server import serve_blocking

        state: CliState = ctx.obj
        project, store = state.project, state.store
        console.print(
            f"[bold green]tidegauge[/] serving {project.name} at http://{host}:{port}/"
            + (
                ""
                if no_scheduler
                else f"  (runs every {project.defaults.bucket.seconds // 60} min)"
            )
            + (f"  [{workers} workers]" if workers > 1 else ""),
            highlight=False,
        )
        serve_blocking(project, store, host, port, scheduler=not no_scheduler, workers=workers)
