"""``demo``: build the livestream-marketplace warehouse, monitor it, show what was found."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tidegauge.cli.common import console, print_json

if TYPE_CHECKING:
    from tidegauge.store.store import Store

#: the demo's runs, as hours before the data's end: a first run 30 hours back (it backfills the
#: clean history; every injected problem is later), then every 6 hours; the schema change is
#: applied before the last run
REPLAY_HOURS = (30, 24, 18, 12, 6, 0)
#: a shorter replay for tests that need a real demo store but not its exact incidents: runs
#: 12 hours apart (the seasonal detector refits every 6 points within a run, so it refits
#: where the 6-hour replay does). It finds every injected problem, but the cadence changes
#: grouping: at the end tests/test_demo_e2e.py pins, the orders' status distribution shift
#: opens an incident of its own beside the new value, so the demo itself keeps REPLAY_HOURS
QUICK_REPLAY_HOURS = (30, 18, 6, 0)


def demo_project_file(folder: Path, *, port: int, webhook_url: str | None = None) -> Path:
    import yaml

    doc: dict[str, Any] = {
        "name": "livestream-marketplace",
        "warehouses": [{"name": "main", "type": "duckdb", "path": "warehouse.duckdb"}],
        "store": {"url": "sqlite:///state.db"},
        "defaults": {"bucket": "hour", "history_days": 30},
        "tables": [
            {"match": "raw.*", "owner": "data-platform@example.com", "tags": ["raw"]},
            {"match": "analytics.*", "owner": "analytics@example.com", "tags": ["marts"]},
        ],
        "web": {"base_url": f"http://127.0.0.1:{port}"},
    }
    if webhook_url:
        doc["channels"] = [{"name": "demo-webhook", "type": "webhook", "url": webhook_url}]
    path = folder / "tidegauge.yml"
    path.write_text(
        "# The demo's project file: a DuckDB warehouse and a SQLite store.\n"
        + yaml.safe_dump(doc, sort_keys=False),
        encoding="utf-8",
    )
    return path


def run_demo(
    folder: Path,
    *,
    port: int = 8765,
    quiet: bool = False,
    days: int = 60,
    webhook_url: str | None = None,
    end: datetime | None = None,
    replay_hours: tuple[int, ...] = REPLAY_HOURS,
) -> dict[str, Any]:
    """Build the warehouse in ``folder``, replay runs over its last 30 hours, report findings.

    ``end``: the data's end, a UTC hour (default: the last full hour before now).
    ``replay_hours``: when the runs are, in hours before ``end``, decreasing, ending at 0
    (the schema change is applied before the last run)."""
    if list(replay_hours) != sorted(set(replay_hours), reverse=True) or replay_hours[-1] != 0:
        raise ValueError(f"replay_hours must decrease to 0, got {replay_hours}")
    if replay_hours[0] < 30 or len(replay_hours) < 2:
        raise ValueError("the first run must be at least 30 hours back, and one more must follow")
    from tidegauge.config import load_project
    from tidegauge.core.clock import Clock
    from tidegauge.demo.warehouse import apply_schema_change, build_demo_warehouse, demo_end
    from tidegauge.runner import run as run_once
    from tidegauge.store.store import Store

    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("state.db", "state.db-wal", "state.db-shm"):
        (folder / stale).unlink(missing_ok=True)
    end = demo_end(end or Clock().now())
    started = time.perf_counter()
    scenario = build_demo_warehouse(folder / "warehouse.duckdb", end=end, days=days)
    if not quiet:
        rows = sum(scenario.row_counts.values())
        console.print(
            f"  warehouse built: {rows:,} rows over {days} days "
            f"({time.perf_counter() - started:.0f} s); now monitoring it as it fills, "
            f"{len(replay_hours)} runs over its last {replay_hours[0]} hours:",
            highlight=False,
        )
    project = load_project(demo_project_file(folder, port=port, webhook_url=webhook_url))
    store = Store.open(project.store_url())
    runs = []
    for hours_back in replay_hours:
        at = end - timedelta(hours=hours_back)
        if hours_back == 0:
            apply_schema_change(folder / "warehouse.duckdb")
        report = run_once(project, store, Clock.fixed(at), notify=True)
        runs.append(report.as_dict())
        if not quiet:
            console.print(
                f"  run as of {at:%Y-%m-%d %H:%M} UTC: {report.tables} tables, "
                f"{report.points:,} points, {len(report.alerts)} alerts, "
                f"{len(report.incidents_opened)} new incidents ({report.seconds:.0f} s)",
                highlight=False,
            )
    incidents = store.incidents.list()
    found = []
    for inj in scenario.incidents:
        match = [
            i
            for i in incidents
            if i["table"]
            and i["table"].lower() == inj.table.lower()
            and (
                inj.expected_alert_kind in (i["kind"],)
                or _has_alert_kind(store, i["id"], inj.expected_alert_kind)
            )
        ]
        found.append(
            {
                "injected": inj.description,
                "table": inj.table,
                "kind": inj.expected_alert_kind,
                "incident": match[0]["id"] if match else None,
            }
        )
    return {
        "folder": str(folder),
        "end": end,
        "runs": runs,
        "incidents": [
            {
                "id": i["id"],
                "title": i["title"],
                "severity": i["severity"],
                "alerts": len(i["alerts"]),
                "table": i["table"],
            }
            for i in incidents
        ],
        "injected": found,
        "clean_tables": list(scenario.clean_tables),
    }


def _has_alert_kind(store: Store, incident_id: int, kind: str) -> bool:

    return any(a["kind"] == kind for a in store.alerts.list(incident_id=incident_id))


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        folder: Path = typer.Option(Path("demo"), "--dir", help="where the demo lives"),
        port: int = typer.Option(8765, "--port", help="port of the web UI"),
        host: str = typer.Option("127.0.0.1", "--host"),
        serve: bool = typer.Option(True, "--serve/--no-serve", help="serve the UI at the end"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable summary"),
    ) -> None:
        """Build a demo warehouse with injected incidents, monitor it, and open the UI."""
        from rich.table import Table

        from tidegauge.config import load_project
        from tidegauge.store.store import Store

        if not as_json:
            console.print("[bold]Building the livestream-marketplace warehouse…[/]")
        summary = run_demo(folder.resolve(), port=port, quiet=as_json)
        if as_json:
            print_json(summary)
        else:
            t = Table("injected incident", "table", "found as")
            for f in summary["injected"]:
                t.add_row(
                    f["injected"],
                    f["table"],
                    f"incident #{f['incident']}" if f["incident"] else "[red]missed[/]",
                )
            console.print(t)
            it = Table("#", "severity", "incident", "alerts")
            for i in summary["incidents"]:
                it.add_row(str(i["id"]), i["severity"], i["title"], str(i["alerts"]))
            console.print(it)
        if serve:
            from tidegauge.web.server import serve_blocking

            project = load_project(folder.resolve() / "tidegauge.yml")
            store = Store.open(project.store_url())
            console.print(f"\n[bold green]tidegauge UI:[/] http://{host}:{port}/  (Ctrl-C stops)")
            serve_blocking(project, store, host, port, scheduler=False)
