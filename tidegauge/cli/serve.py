"""``serve``: the web UI and REST API, with monitors running on schedule.

Without ``web`` tokens everyone who can reach the server may change things, so it listens
beyond loopback only when asked to with ``--allow-remote-without-auth``, and then says so.
"""

from __future__ import annotations

import ipaddress

import typer

from tidegauge.cli.common import CliState, console, errors, fail


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (``localhost``, 127/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


__all__ = ["is_loopback", "register"]


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
        allow_remote_without_auth: bool = typer.Option(
            False,
            "--allow-remote-without-auth",
            help="listen beyond loopback although no web tokens are configured (anyone who "
            "can reach the port can then change things)",
        ),
    ) -> None:
        """Serve the web UI and REST API (OpenAPI at /openapi.json); with --schedule (the
        default) also run monitors: one run at once, then one per bucket."""
        from tidegauge.web.deps import auth_enabled
        from tidegauge.web.server import serve_blocking

        state: CliState = ctx.obj
        project, store = state.project, state.store
        if not is_loopback(host) and not auth_enabled(project):
            if not allow_remote_without_auth:
                fail(
                    f"--host {host} would let anyone on the network read and change this "
                    "tidegauge: no web.admin_tokens or web.read_tokens are configured. Add "
                    "tokens to the project file, or pass --allow-remote-without-auth to do "
                    "it anyway."
                )
            errors.print(
                f"[bold yellow]warning:[/] serving on {host} without tokens: anyone who can "
                "reach this port can read and change everything.",
                highlight=False,
            )
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
