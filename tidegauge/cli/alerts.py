"""``alerts`` and ``feedback``: what the detectors flagged, and what users say about it."""

from __future__ import annotations

import typer

from tidegauge.cli.common import CliState, console, fail, minute, page, print_json, since_instant
from tidegauge.core.model import Feedback
from tidegauge.services.serialise import alert_json


def register(app: typer.Typer) -> None:
    @app.command()
    def alerts(
        ctx: typer.Context,
        since: str | None = typer.Option(
            None, "--since", help="detected within this long ago (24h, 7d) or since an ISO time"
        ),
        kind: str | None = typer.Option(None, "--kind", help="only this alert kind"),
        limit: int = typer.Option(200, "--limit", min=1, max=100_000),
        offset: int = typer.Option(0, "--offset", min=0, help="alerts to skip"),
        as_json: bool = typer.Option(
            False, "--json", help="machine-readable: {items, total, limit, offset}"
        ),
    ) -> None:
        """List alerts, newest data first, each with a one-line explanation."""
        from rich.table import Table

        from tidegauge.cli.matches import did_you_mean
        from tidegauge.core.clock import Clock
        from tidegauge.core.explain import explain
        from tidegauge.core.model import AlertKind

        state: CliState = ctx.obj
        kinds = [k.value for k in AlertKind]
        if kind is not None and kind not in kinds:
            fail(
                f"--kind '{kind}' is not an alert kind{did_you_mean(kind, kinds)}; "
                f"one of: {', '.join(kinds)}"
            )
        try:
            since_at = since_instant(since, Clock().now()) if since else None
        except ValueError as e:
            fail(str(e))
        repo = state.store.alerts
        rows = [
            alert_json(a) for a in repo.list(since=since_at, kind=kind, limit=limit, offset=offset)
        ]
        total = None
        if len(rows) == limit:  # a full page: count what matches beyond it
            total = offset + len(
                repo.list(since=since_at, kind=kind, limit=10**9, offset=0)[offset:]
            )
        if as_json:
            print_json(page(rows, total=total, limit=limit, offset=offset))
            return
        if not rows:
            console.print("no alerts — run `tidegauge run` to collect and detect")
            return
        t = Table("id", "data time", "kind", "table", "explanation", "sev")
        for a in rows:
            t.add_row(
                str(a["id"]),
                minute(a["data_time"]),
                a["kind"],
                a["table"] or "",
                explain(a),
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
        from tidegauge.core.clock import Clock

        state: CliState = ctx.obj
        try:
            state.store.alerts.set_feedback(alert_id, value, Clock().now(), actor="cli")
        except KeyError as e:
            fail(str(e.args[0]))
        console.print(f"alert {alert_id} marked {value.value}")
