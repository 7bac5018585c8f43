"""``outbox``: list notification deliveries and requeue the ones tidegauge gave up on.

A delivery that still fails when its channel's ``retry_for`` has run out is ``failed``;
``--retry ID`` (repeatable) or ``--all`` puts it back with a fresh budget and tries it at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from tidegauge.cli.common import CliState, console, fail, print_json

if TYPE_CHECKING:
    from tidegauge.store.outbox import OutboxRepo


def outbox_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "channel": row["channel"],
        "incident_id": row["incident_id"],
        "action": row["action"],
        "status": row["status"],
        "attempts": row["attempts"],
        "queued_at": row["created_at"],
        "next_attempt_at": row["next_attempt_at"] if row["status"] == "pending" else None,
        "sent_at": row["sent_at"],
        "last_error": row["last_error"],
    }


def register(app: typer.Typer) -> None:
    @app.command()
    def outbox(
        ctx: typer.Context,
        failed: bool = typer.Option(False, "--failed", help="only deliveries that gave up"),
        retry: list[int] = typer.Option(
            [], "--retry", help="requeue this failed delivery (repeatable)"
        ),
        retry_all: bool = typer.Option(False, "--all", help="requeue every failed delivery"),
        no_send: bool = typer.Option(
            False, "--no-send", help="requeue only; the next run or `serve` delivers"
        ),
        limit: int = typer.Option(50, "--limit", min=1, max=10_000),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """List notification deliveries; requeue failed ones (--retry ID | --all)."""
        from rich.table import Table

        from tidegauge.store.outbox import FAILED, OutboxRepo

        state: CliState = ctx.obj
        repo = OutboxRepo(state.store)
        if retry and retry_all:
            fail("give either --retry ID or --all, not both")
        if retry or retry_all:
            _requeue(state, repo, None if retry_all else retry, no_send, as_json)
            return
        rows = repo.rows(status=FAILED if failed else None)[-limit:]
        if as_json:
            print_json([outbox_json(r) for r in rows])
            return
        if not rows:
            console.print("no failed deliveries" if failed else "the outbox is empty")
            return
        t = Table("id", "channel", "incident", "action", "status", "tries", "queued", "last error")
        for r in rows:
            t.add_row(
                str(r["id"]),
                r["channel"],
                str(r["incident_id"] or ""),
                r["action"],
                r["status"],
                str(r["attempts"]),
                f"{r['created_at']:%Y-%m-%d %H:%M}",
                (r["last_error"] or "")[:120],
            )
        console.print(t)
        if any(r["status"] == FAILED for r in rows):
            console.print("requeue with: tidegauge outbox --retry ID (or --all)")


def _requeue(
    state: CliState, repo: OutboxRepo, ids: list[int] | None, no_send: bool, as_json: bool
) -> None:
    from tidegauge.core.clock import Clock
    from tidegauge.runner import holder_name
    from tidegauge.steps.notify import deliver
    from tidegauge.store.outbox import FAILED

    if ids is not None:
        known = {r["id"]: r["status"] for r in repo.rows(ids=ids)}
        missing = [i for i in ids if i not in known]
        if missing:
            fail(f"no outbox row with id {', '.join(map(str, missing))}")
        not_failed = [f"{i} ({s})" for i, s in known.items() if s != FAILED]
        if not_failed:
            fail(f"only failed deliveries can be requeued: {', '.join(not_failed)}")
    requeued = repo.requeue(ids, Clock().now())
    counts = (
        {} if no_send or not requeued else deliver(state.project, state.store, holder=holder_name())
    )
    result = {"requeued": requeued, "delivery": counts}
    if as_json:
        print_json(result)
    else:
        console.print(f"requeued {len(requeued)} deliver{'y' if len(requeued) == 1 else 'ies'}")
        if counts:
            console.print(
                f"sent {counts['sent']}, retrying {counts['retry']}, failed {counts['failed']}"
            )
    if counts.get("failed"):
        raise typer.Exit(3)
