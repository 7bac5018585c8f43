"""``init``, ``discover`` and ``status``: set a project up and look at what it sees."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

import typer

from tidegauge.cli.common import CliState, console, fail, minute, print_json


def status_counts(store: Any, now: datetime | None = None) -> dict[str, int]:
    """What ``status`` counts, each one query: tables monitored (not dropped), incidents
    still open, alerts detected in the 24 hours before ``now`` (default: the wall clock),
    deliveries tidegauge gave up on."""
    from tidegauge.core.clock import Clock
    from tidegauge.store.summary import status_counts as counts

    return counts(store.engine, now or Clock().now())


def warehouse_from_url(url: str) -> dict[str, object]:
    """A ``warehouses:`` entry from a URL (the adapter that claims the scheme writes it).

    >>> warehouse_from_url("mysql://root@127.0.0.1:3306/test")["type"]
    'mysql'
    """
    from tidegauge.warehouses.registry import entry_from_url

    return entry_from_url(url)


_PASSWORD_VARS = {
    "postgres": "PGPASSWORD",
    "mysql": "MYSQL_PASSWORD",
    "snowflake": "SNOWFLAKE_PASSWORD",
}


def password_in(url: str, kind: str) -> tuple[str, str] | None:
    """The environment variable a URL's password moves to, and the password itself.

    >>> password_in("postgresql://u:s3cret@h/db", "postgres")
    ('PGPASSWORD', 's3cret')
    >>> password_in("postgresql://u@h/db", "postgres") is None
    True
    """
    password = urlparse(url).password
    if not password or kind not in _PASSWORD_VARS:
        return None
    return _PASSWORD_VARS[kind], unquote(password)


def probe(
    entry: dict[str, object], secret: tuple[str, str] | None, root: Path
) -> tuple[list[tuple[str, str]], str | None]:
    """Connect with the real password and list the tables: (schema, table) pairs, or why not."""
    from tidegauge.config import Project
    from tidegauge.warehouses.base import WarehouseError
    from tidegauge.warehouses.registry import connect  # not the runner's: no store to load
    from tidegauge.yamlsource import ConfigError

    resolved = dict(entry)
    if secret is not None:  # the file says ${VAR}; this one connection uses the password
        var, value = secret
        resolved = {
            k: v.replace(f"${{{var}}}", quote(value, safe="") if k == "url" else value)
            if isinstance(v, str)
            else v
            for k, v in entry.items()
        }
    try:
        project = Project.model_validate({"warehouses": [resolved], "root": root.resolve()})
        wh = connect(project.warehouses[0])
        try:
            tables = [(t.ref.schema, t.ref.name) for t in wh.list_tables()]
        finally:
            wh.close()
        return tables, None
    except (WarehouseError, ConfigError, ValueError) as e:
        return [], str(e).splitlines()[0]


def dbt_manifest_near(folder: Path) -> Path | None:
    """A dbt ``manifest.json`` in ``folder`` or a project folder just below it."""
    for candidate in (folder / "target", *sorted(folder.glob("*/target"))):
        manifest = candidate / "manifest.json"
        if manifest.is_file():
            return manifest.relative_to(folder) if manifest.is_relative_to(folder) else manifest
    return None


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        ctx: typer.Context,
        warehouse: str = typer.Option(..., "--warehouse", "-w", help="warehouse URL"),
        force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
        include: list[str] = typer.Option(
            [], "--include", help="only these schema.table globs or schemas (repeatable)"
        ),
    ) -> None:
        """Write a starter tidegauge.yml for a warehouse URL: tests the connection, says what
        it found, keeps passwords out of the file, and prints the next command."""
        import yaml

        from tidegauge.cli.common import warn

        state: CliState = ctx.obj
        target = state.config_path
        if target.exists() and not force:
            fail(f"{target} already exists (use --force to overwrite)")
        try:
            entry = warehouse_from_url(warehouse)
        except ValueError as e:
            fail(str(e))
        if include:
            entry["include"] = list(include)
        secret = password_in(warehouse, str(entry["type"]))
        found, error = probe(entry, secret, target.parent)
        doc: dict[str, object] = {
            "name": target.parent.resolve().name or "tidegauge",
            "warehouses": [entry],
            "store": {"url": "sqlite:///.tidegauge/state.db"},
            "defaults": {"bucket": "hour", "history_days": 30},
        }
        manifest = dbt_manifest_near(target.parent)
        if manifest is not None:
            doc["dbt"] = {"manifest": str(manifest)}
        text = "# tidegauge project file: see `tidegauge schema` for every key.\n" + yaml.safe_dump(
            doc, sort_keys=False
        )
        target.write_text(text, encoding="utf-8")
        say = console.print
        say(f"wrote {target} for a {entry['type']} warehouse", highlight=False)
        if secret is not None:
            var, _ = secret
            say(
                f"the password is not in the file: it reads ${{{var}}} from the environment "
                f"instead. Before running: export {var}='...'",
                highlight=False,
            )
        if error is not None:
            warn(f"could not connect: {error}")
            say("fix the URL (or the network) and check with: tidegauge discover", highlight=False)
            raise typer.Exit(1)
        schemas = sorted({s for s, _ in found})
        say(
            f"connected: {len(found)} tables in {len(schemas)} schemas"
            + (
                f" ({', '.join(schemas[:8])}{', …' if len(schemas) > 8 else ''})" if schemas else ""
            ),
            highlight=False,
        )
        if manifest is not None:
            say(
                f"found dbt artefacts at {manifest}: lineage and dbt tests will be read",
                highlight=False,
            )
        else:
            say(
                "no dbt artefacts nearby (target/manifest.json): add dbt.manifest for lineage",
                highlight=False,
            )
        say("next: tidegauge run    (then `tidegauge serve` for the web UI)", highlight=False)

    @app.command("discover")
    def discover_cmd(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """List the tables and columns of every warehouse (and record them in the store)."""
        from rich.table import Table

        from tidegauge.core.clock import Clock
        from tidegauge.runner import discover

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
        from tidegauge.cli.common import warn
        from tidegauge.cli.matches import Known, unmatched_patterns

        found = [
            Known(t.ref.warehouse, t.ref.schema, t.ref.name)
            for infos in result.tables.values()
            for t in infos
        ]
        if not result.errors:  # an unreachable warehouse would make every pattern look wrong
            for message in unmatched_patterns(project, found):
                warn(message)
        if result.errors and not any(result.tables.values()):
            raise typer.Exit(1)

    @app.command()
    def status(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """The last runs, table counts and open incidents."""
        from rich.table import Table

        state: CliState = ctx.obj
        store = state.store
        counts = status_counts(store)
        runs = store.runs(limit=5)
        data = {**counts, "runs": runs}
        if as_json:
            print_json(data)
            return
        console.print(
            f"[bold]{counts['tables']}[/] tables monitored, "
            f"[bold]{counts['open_incidents']}[/] open incidents"
        )
        if undelivered := counts["undelivered_notifications"]:
            console.print(
                f"[bold red]{undelivered}[/] notification(s) could not be delivered: "
                "tidegauge outbox --failed"
            )
        t = Table("run", "as of", "status", "tables", "points", "alerts")
        for r in runs:
            st = r["stats"] or {}
            t.add_row(
                str(r["id"]),
                minute(r["as_of"]),
                r["status"],
                str(st.get("tables", "")),
                str(st.get("points", "")),
                str(st.get("alerts", "")),
            )
        console.print(t)
