"""``incidents``, ``incident``, ``ack`` and ``resolve``."""

from __future__ import annotations

import typer

from tidegauge.cli.common import CliState, console, fail, minute, page, print_json
from tidegauge.core.model import IncidentStatus
from tidegauge.services.serialise import incident_json


def register(app: typer.Typer) -> None:
    @app.command()
    def incidents(
        ctx: typer.Context,
        status: list[IncidentStatus] = typer.Option([], "--status", help="filter (repeatable)"),
        as_json: bool = typer.Option(
            False, "--json", help="machine-readable: {items, total, limit, offset}"
        ),
    ) -> None:
        """List incidents, newest first."""
        from rich.table import Table

        state: CliState = ctx.obj
        rows = state.store.incidents.list(status=[s.value for s in status] or None)
        data = [incident_json(i) for i in rows]
        if as_json:
            print_json(page(data, limit=len(data), offset=0))
            return
        if not data:
            console.print("no incidents")
            return
        t = Table("id", "status", "sev", "kind", "table", "title", "alerts", "since")
        for i in data:
            t.add_row(
                str(i["id"]),
                i["status"],
                i["severity"],
                i["kind"],
                i["table"] or "",
                i["title"],
                str(len(i["alerts"])),
                minute(i["data_time"]),
            )
        console.print(t)

    @app.command()
    def incident(
        ctx: typer.Context,
        incident_id: int = typer.Argument(..., help="incident id"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """One incident with its alerts, impact, root cause and timeline."""
        state: CliState = ctx.obj
        inc = state.store.incidents.get(incident_id)
        if inc is None:
            fail(f"no incident with id {incident_id}")
        data = incident_json(inc)
        if as_json:
            print_json(data)
            return
        console.print(
            f"[bold]#{data['id']} {data['title']}[/]  ({data['status']}, {data['severity']})",
            highlight=False,
        )
        console.print(data["summary"], highlight=False)
        impact = data["impact"] or {}
        for key in ("tables", "exposures", "owners"):
            if impact.get(key):
                console.print(f"  {key}: {', '.join(impact[key])}", highlight=False)
        for hint in data["root_cause"] or []:
            console.print(f"  cause: {hint.get('text', hint)}", highlight=False)
        for e in data.get("timeline", []):
            console.print(f"  {e['at']:%Y-%m-%d %H:%M} {e['type']}: {e['text']}", highlight=False)

    def _set(
        ctx: typer.Context, incident_id: int, status: IncidentStatus, note: str | None
    ) -> None:
        from tidegauge.core.clock import Clock

        state: CliState = ctx.obj
        now = Clock().now()
        from tidegauge.steps.notify import set_incident_status

        try:
            set_incident_status(
                state.project, state.store, incident_id, status, now, note=note, actor="cli"
            )
        except KeyError as e:
            fail(str(e.args[0]))
        console.print(f"incident {incident_id} is now {status.value}")

    @app.command()
    def ack(ctx: typer.Context, incident_id: int = typer.Argument(...)) -> None:
        """Acknowledge an incident."""
        _set(ctx, incident_id, IncidentStatus.ACKNOWLEDGED, None)

    @app.command()
    def resolve(
        ctx: typer.Context,
        incident_id: int = typer.Argument(...),
        status: IncidentStatus = typer.Option(IncidentStatus.FIXED, "--status"),
        note: str | None = typer.Option(None, "--note"),
    ) -> None:
        """Close an incident as fixed, expected, false_positive or no_action_needed."""
        if status.is_open:
            fail(f"--status {status.value} does not resolve an incident")
        _set(ctx, incident_id, status, note)
