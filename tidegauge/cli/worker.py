"""``worker``: a Celery worker that runs chunks of other processes' runs (fan-out)."""

from __future__ import annotations

import os

import typer

from tidegauge.cli.common import CliState, fail


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        ctx: typer.Context,
        concurrency: int = typer.Option(
            1,
            "--concurrency",
            min=1,
            max=256,
            help="worker processes (tables run one at a time in each)",
        ),
        loglevel: str = typer.Option("INFO", "--loglevel", help="DEBUG, INFO, WARNING, ERROR"),
        hostname: str | None = typer.Option(
            None, "--hostname", "-n", help="the worker's name (default celery@<host>)"
        ),
    ) -> None:
        """Take chunks of tables from `execution.broker` and collect them into the shared store.

        Start as many as you like, on this host or others, with the same project file;
        `tidegauge run` with `execution.type: celery` sends them the work.
        """
        from tidegauge.fanout.celery_engine import make_app, worker_argv
        from tidegauge.fanout.chunks import CONFIG_ENV, preload, require_shared_store

        state: CliState = ctx.obj
        project = state.project
        if project.execution.type != "celery":
            fail(
                f"{state.config_path}: execution.type is {project.execution.type}; "
                "set it to celery for runs to send work to workers"
            )
        require_shared_store(project)
        _check_store(project.store_url())
        os.environ[CONFIG_ENV] = str(state.config_path.resolve())
        app = make_app(project.execution)
        preload(project)
        app.worker_main(
            worker_argv(project, concurrency=concurrency, loglevel=loglevel, hostname=hostname)
        )


def _check_store(url: str) -> None:
    """Fail now, clearly, when the store is unreachable. Workers never migrate it: the
    coordinating run does, before it sends any work (several workers starting at once
    would race to create the same tables)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from tidegauge.store.store import Store

    store = Store.open(url, migrate_schema=False)
    try:
        with store.engine.connect() as c:
            c.execute(text("SELECT 1"))
    except SQLAlchemyError as e:
        cause = getattr(e, "orig", None) or e
        fail(f"store unreachable: {type(cause).__name__}: {str(cause).strip()}")
    finally:
        store.close()
