"""``alerts`` and ``feedback``: what the detectors flagged, and what users say about it."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from tidegauge.cli.common import CliState, console, fail, print_json
from tidegauge.core.clock import Clock, parse_instant
from tidegauge.core.model import Feedback


def alert_json(a: dict[str, Any]) -> dict[str, Any]:
    """The public shape of an alert (CLI ``--json`` and the REST API)."""
    return {
        "id": a["id"],
        "kind": a["kind"],
        "table": a["table"],
        "warehouse": a["warehouse"],
        "column": a["column"],
        "segment": a["segment"],
        "metric": a["metric"],
        "observed": a["observed"],
        "expected": a["expected"],
        "lower": a["lower"],
        "upper": a["upper"],
        "data_time": a["data_time"],
        "detected_at": a["detected_at"],
        "severity": a["severity"],
        "title": a["title"],
        "explanation": a["explanation"],
        "feedback": a["feedback"],
        "incident_id": a["incident_id"],
    }


def register(app: typer.Typer) -> None:
    @app.command()
    def alerts(
        ctx: typer.Context,
        since: str | None = typer.Option(None, "--since", help="ISO timestamp (detected at)"),
        kind: str | None = typer.Option(None, "--kind", help="only this alert kind"),
        limit: int = typer.Option(200, "--limit", min=1, max=100_000),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """List alerts, newest data first."""
        state: CliState = ctx.obj
        try:
            since_at = parse_instant(since) if since else None
        except ValueError as e:
            fail(str(e))
        rows = [
            alert_json(a) for a in state.store.alerts.list(since=since_at, kind=kind, limit=limit)
        ]
        if as_json:
            print_json(rows)
            return
        if not rows:
            console.print("no alerts — run `tidegauge run` to collect and detect")
            return
        t = Table("id", "data time", "kind", "table", "column", "observed", "expected", "sev")
        for a in rows:
            t.add_row(
                str(a["id"]),
                f"{a['data_time']:%Y-%m-%d %H:%M}",
                a["kind"],
                a["table"] or "",
                a["column"] or "",
                _num(a["observed"]),
                _num(a["expected"]),
                a["severity"],
            )
        console.print(t)

    @app.command()
    def feedback(
        ctx: typer.Context,
        alert_id: int = typer.Argument(..., help="alert id"),
        value: Feedback = typer.Argument(..., help="expected | false_positive | fixed"),
    ) -> None:
        """Tell the detector an alert was expected, a false positive, or a real issue now fixed."""
        state: CliState = ctx.obj
        try:
            state.store.alerts.set_feedback(alert_id, value, Clock().now(), actor="cli")
        except KeyError as e:
            fail(str(e.args[0]))
        console.print(f"alert {alert_id} marked {value.value}")


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
