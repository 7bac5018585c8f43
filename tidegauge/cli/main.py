"""The ``tidegauge`` command: one module per command group, registered here."""

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
from tidegauge.cli.common import CliState, fail
from tidegauge.warehouses.base import WarehouseError
from tidegauge.yamlsource import ConfigError


class _Group(TyperGroup):
    """Expected errors become one clear line and exit 2, never a traceback."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, WarehouseError) as e:
            fail(str(e))


app = typer.Typer(
    cls=_Group,
    name="tidegauge",
    help="Data observability: learn normal from history, group what breaks, tell the owner once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    config: Path = typer.Option(
        Path("tidegauge.yml"), "--config", "-c", help="project file", envvar="TIDEGAUGE_CONFIG"
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
    except ConfigError as e:
        fail(str(e))
    except WarehouseError as e:
        fail(str(e))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
