"""``init``, ``discover`` and ``status``: set a project up and look at what it sees."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.table import Table

from tidegauge.cli.common import CliState, console, fail, print_json
from tidegauge.core.clock import Clock
from tidegauge.steps.discover import discover


def warehouse_from_url(url: str) -> dict[str, object]:
    """A ``warehouses:`` entry from a URL (the adapter that claims the scheme writes it).

    >>> warehouse_from_url("mysql://root@127.0.0.1:3306/test")["type"]
    'mysql'
    """
    from tidegauge.warehouses.registry import entry_from_url

    return entry_from_url(url)


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        ctx: typer.Context,
        warehouse: str = typer.Option(..., "--warehouse", "-w", help="warehouse URL"),
        force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
    ) -> None:
        """Write a starter tidegauge.yml for a warehouse URL in the current folder."""
        state: CliState = ctx.obj
        target = state.config_path
        if target.exists() and not force:
            fail(f"{target} already exists (use --force to overwrite)")
        try:
            entry = warehouse_from_url(warehouse)
        except ValueError as e:
            fail(str(e))
        doc = {
            "name": Path.cwd().name or "tidegauge",
            "warehouses": [entry],
            "store": {"url": "sqlite:///.tidegauge/state.db"},
            "defaults": {"bucket": "hour", "history_days": 30},
        }
        text = "# tidegauge project file: see `tidegauge schema` for every key.\n" + yaml.safe_dump(
            doc, sort_keys=False
        )
        target.write_text(text, encoding="utf-8")
        console.print(f"wrote [bold]{target}[/] for a {entry['type']} warehouse")

    @app.command("discover")
    def discover_cmd(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """List the tables and columns of every warehouse (and record them in the store)."""
        state: CliState = ctx.obj
        project = state.project
        result = discover(project, state.store, Clock().now())
        if as_json:
            print_json(
                {
                    "warehouses": [
                        {
                            "name": name,
                            "error": result.errors.get(name),
                            "tables": [
                                {
                                    "schema": t.ref.schema,
                                    "name": t.ref.name,
                                    "fqn": t.ref.fqn,
                                    "kind": t.kind.value,
                                    "row_count": t.row_count,
                                    "bytes": t.bytes,
                                    "last_modified": t.last_modified,
                                    "columns": [
                                        {
                                            "name": c.name,
                                            "type": c.data_type,
                                            "family": c.family.value,
                                            "nullable": c.nullable,
                                        }
                                        for c in t.columns
                                    ],
                                }
                                for t in result.tables.get(name, [])
                            ],
                        }
                        for name in [w.name for w in project.warehouses]
                    ]
                }
            )
        else:
            table = Table("warehouse", "table", "kind", "rows", "columns")
            for name, infos in result.tables.items():
                for t in infos:
                    rows = "" if t.row_count is None else f"{t.row_count:,}"
                    table.add_row(name, t.ref.fqn, t.kind.value, rows, str(len(t.columns)))
            console.print(table)
            for name, err in result.errors.items():
                console.print(f"[red]warehouse {name}: {err}[/]")
        if result.errors and not any(result.tables.values()):
            raise typer.Exit(1)

    @app.command()
    def status(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """The last runs, table counts and open incidents."""
        state: CliState = ctx.obj
        store = state.store
        tables = store.tables()
        runs = store.runs(limit=5)
        open_incidents = [
            i
            for i in store.incidents.list()
            if i["status"] in ("open", "acknowledged", "investigating")
        ]
        from tidegauge.store.outbox import FAILED, OutboxRepo

        undelivered = OutboxRepo(store).count(FAILED)
        data = {
            "tables": len(tables),
            "runs": runs,
            "open_incidents": len(open_incidents),
            "alerts_last_24h": len(store.alerts.list(limit=10_000)),
            "undelivered_notifications": undelivered,
        }
        if as_json:
            print_json(data)
            return
        console.print(
            f"[bold]{len(tables)}[/] tables monitored, "
            f"[bold]{len(open_incidents)}[/] open incidents"
        )
        if undelivered:
            console.print(
                f"[bold red]{undelivered}[/] notification(s) could not be delivered: "
                "tidegauge outbox --failed"
            )
        t = Table("run", "as of", "status", "tables", "points", "alerts")
        for r in runs:
            st = r["stats"] or {}
            t.add_row(
                str(r["id"]),
                str(r["as_of"]),
                r["status"],
                str(st.get("tables", "")),
                str(st.get("points", "")),
                str(st.get("alerts", "")),
            )
        console.print(t)
