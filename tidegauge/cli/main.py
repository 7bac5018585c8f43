"""The ``tidegauge`` command: one module per command group, registered here.

Start-up is kept to the CLI framework itself: command modules import their heavy
dependencies (pydantic models, SQLAlchemy, DuckDB, FastAPI) inside the commands, so
``tidegauge --help`` and ``--version`` stay fast (``make bench-cli`` measures it, and
tests/cli/test_startup.py checks which modules a bare import loads).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer._click.core import Context as ClickContext
from typer.core import TyperGroup

from tidegauge.cli import (
    alerts,
    breaker,
    demo,
    incidents,
    lineage,
    monitors,
    outbox,
    project,
    run,
    serve,
    store,
    streams,
    worker,
)
from tidegauge.cli.common import CliState, ProjectFileMissing, fail

# the errors a user can cause, by module and class: checked by name so that importing the
# CLI does not import the modules that define them (if a module is not loaded, none of its
# errors can have been raised)
_EXPECTED = (
    ("tidegauge.yamlsource", "ConfigError"),
    ("tidegauge.warehouses.base", "WarehouseError"),
    ("tidegauge.core.schedule", "ScheduleError"),
)


def expected_error(e: BaseException) -> bool:
    """Whether ``e`` is a usage or warehouse error: one clear line, never a traceback."""
    if isinstance(e, ProjectFileMissing):
        return True
    for module, name in _EXPECTED:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(e, getattr(loaded, name)):
            return True
    return False


class _Group(TyperGroup):
    """Expected errors become one clear line and exit 2, never a traceback."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            if expected_error(e):
                fail(str(e))
            raise


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("tidegauge")
        except PackageNotFoundError:  # a source checkout that was never installed
            v = "unknown (not installed)"
        sys.stdout.write(f"tidegauge {v}\n")
        raise typer.Exit()


app = typer.Typer(
    cls=_Group,
    name="tidegauge",
    help="Data observability: learn normal from history, group what breaks, tell the owner once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help: rich's help renderer alone costs twice the import of typer, and --help
    # must stay within that (make bench-cli); command output still uses rich
    rich_markup_mode=None,
)


@app.callback()
def _global(
    ctx: typer.Context,
    config: Path = typer.Option(
        Path("tidegauge.yml"), "--config", "-c", help="project file", envvar="TIDEGAUGE_CONFIG"
    ),
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="print the version and exit",
    ),
) -> None:
    ctx.obj = CliState(config_path=config)


for module in (
    project,
    run,
    alerts,
    incidents,
    lineage,
    monitors,
    breaker,
    serve,
    demo,
    store,
    streams,
    worker,
    outbox,
):
    module.register(app)


def main() -> None:
    """Entry point: clean messages for expected errors, never a traceback."""
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        if expected_error(e):
            fail(str(e))
        raise


if __name__ == "__main__":
    main()
