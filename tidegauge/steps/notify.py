"""Notify: route new incidents to channels through the persisted outbox, then deliver.

Writing to the outbox happens before any network call, so a crash loses nothing; the
delivery loop is safe to run from several processes and to re-run after a crash.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.core.model import AlertKind, Impact, Incident, IncidentStatus, Severity, TableRef
from tidegauge.notifiers.base import (
    PermanentDeliveryError,
    RetryableDeliveryError,
    load_notifier,
)
from tidegauge.notifiers.messages import Message, build_digest, build_message
from tidegauge.notifiers.routing import route, should_renotify
from tidegauge.store.engine import utc
from tidegauge.store.outbox import OutboxRepo
from tidegauge.store.store import Store

if TYPE_CHECKING:
    from tidegauge.steps.context import RunContext

log = logging.getLogger("tidegauge.notify")

BASE_BACKOFF = 2.0
MAX_BACKOFF = 3600.0
CLAIM_LEASE = timedelta(minutes=5)


def incident_from_row(row: dict[str, Any]) -> Incident:
    impact = row.get("impact") or {}
    return Incident(
        id=row["id"],
        kind=AlertKind(row["kind"]),
        table=TableRef(row.get("warehouse") or "main", *str(row["table"]).split(".", 1)),
        column=row.get("column"),
        title=row["title"],
        summary=row.get("summary") or "",
        data_time=row["data_time"],
        detected_at=row["detected_at"],
        status=IncidentStatus(row["status"]),
        severity=Severity(row["severity"]),
        severity_reason=list(row.get("severity_reason") or []),
        owner=row.get("owner"),
        alert_ids=list(row.get("alerts") or []),
        impact=Impact(
            tables=tuple(impact.get("tables", [])),
            columns=tuple(impact.get("columns", [])),
            exposures=tuple(impact.get("exposures", [])),
            owners=tuple(impact.get("owners", [])),
        ),
        root_cause=list(row.get("root_cause") or []),
    )


def _with_evidence(store: Store, inc: Incident) -> Incident:
    if inc.alert_ids:
        root = store.alerts.get(inc.alert_ids[0])
        if root is not None:
            inc.observed, inc.expected = root["observed"], root["expected"]
            inc.lower, inc.upper = root["lower"], root["upper"]
    return inc


def incident_url(project: Project, incident_id: int) -> str:
    return f"{project.web.base_url.rstrip('/')}/incidents/{incident_id}"


def enqueue_incident(
    project: Project,
    store: Store,
    outbox: OutboxRepo,
    incident_id: int,
    now: datetime,
    action: str = "trigger",
    digests: dict[str, list[Incident]] | None = None,
    clock: Clock | None = None,
) -> int:
    """Route one incident and write its messages to the outbox (idempotent).

    Incidents a channel's hourly budget cannot take are added to ``digests`` (per channel)
    for one summary message instead of a flood.
    """
    row = store.incidents.get(incident_id)
    if row is None or not project.channels:
        return 0
    inc = _with_evidence(store, incident_from_row(row))
    wall = (clock or Clock()).now()
    # the budget counts what was queued in this run too (created_at is the run's now)
    since = min(wall, now) - timedelta(hours=1)
    decisions = route(
        inc,
        project.routes,
        project.channels,
        now=wall,
        default_channel=project.default_channel,
        sent_last_hour={ch.name: outbox.sent_since(ch.name, since) for ch in project.channels},
    )
    message = build_message(inc, url=incident_url(project, incident_id), action=action)  # type: ignore[arg-type]
    queued = 0
    for d in decisions:
        if d.disposition.value == "digest" and digests is not None:
            digests.setdefault(d.channel, []).append(inc)
            store.incidents.add_event(
                incident_id,
                "notification",
                f"held for a digest on {d.channel}: {d.reason}",
                now,
                details={"channel": d.channel, "action": "digest"},
            )
            continue
        if d.disposition.value not in ("send", "hold"):
            if d.fallback or d.disposition.value != "skip":
                log.info("incident %s → %s: %s", incident_id, d.channel, d.reason)
            continue
        key = f"incident-{incident_id}:{d.channel}:{action}"
        if outbox.enqueue(
            dedup_key=key,
            channel=d.channel,
            incident_id=incident_id,
            action=action,
            payload=message.to_dict(),
            now=wall,  # the retry budget counts from here, in real time, even in a replay
            not_before=d.hold_until,
        ):
            queued += 1
            store.incidents.add_event(
                incident_id,
                "notification",
                f"queued for {d.channel}: {d.reason}",
                now,
                details={"channel": d.channel, "action": action},
            )
    return queued


def deliver(
    project: Project,
    store: Store,
    *,
    holder: str,
    max_inline_wait: float = 5.0,
    rounds: int = 3,
    lease: timedelta = CLAIM_LEASE,
    clock: Clock | None = None,
) -> dict[str, int]:
    """Send due outbox rows; retry with exponential backoff, honouring Retry-After, until
    the channel's ``retry_for`` has passed since the row was first tried (not queued: a
    message held through quiet hours keeps its whole budget); then give up loudly.

    ``clock`` is the wall clock (injectable so tests can move time instead of sleeping; an
    injected clock does not move while we sleep, so no inline waits happen with one).
    """
    wall_clock = clock or Clock()
    if clock is not None:
        max_inline_wait = 0.0
    outbox = OutboxRepo(store)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    notifiers: dict[str, Any] = {}
    try:
        for _ in range(rounds):
            rows = outbox.claim(holder, wall_clock.now(), lease)
            if not rows:
                break
            soonest: float | None = None
            handed_over = False  # a fallback row was queued: due now, take it next round
            for row in rows:
                name = row["channel"]
                cfg = next((c for c in project.channels if c.name == name), None)
                if cfg is None:
                    _give_up(
                        store, outbox, row, None, "the channel is not configured", wall_clock.now()
                    )
                    counts["failed"] += 1
                    continue
                notifier = notifiers.get(name) or notifiers.setdefault(name, load_notifier(cfg))
                try:
                    # one key per incident and channel pairs a trigger with its resolve;
                    # the outbox key (per delivery) is the receiver's idempotency key
                    pair = (
                        f"tidegauge-incident-{row['incident_id']}:{name}"
                        if row["incident_id"]
                        else row["dedup_key"]
                    )
                    notifier.send(
                        Message.from_dict(row["payload"]),
                        dedup_key=pair,
                        action=row["action"],
                        idempotency_key=row["dedup_key"],
                    )
                except RetryableDeliveryError as e:
                    now = wall_clock.now()
                    deadline = _first_try(row, now) + cfg.retry_for
                    if now >= deadline:
                        handed_over |= _give_up(
                            store,
                            outbox,
                            row,
                            cfg,
                            f"still failing after {_span(cfg.retry_for)}: {e}",
                            now,
                        )
                        counts["failed"] += 1
                        continue
                    attempts = row["attempts"] + 1
                    wait = (
                        e.retry_after
                        if e.retry_after is not None
                        else min(MAX_BACKOFF, BASE_BACKOFF ** min(attempts, 32))
                    )
                    # the last try falls on the deadline, so giving up is never later than it
                    next_at = min(now + timedelta(seconds=wait), deadline)
                    outbox.mark_retry(row["id"], str(e), next_at, first_try=now)
                    counts["retry"] += 1
                    wait = (next_at - now).total_seconds()
                    soonest = wait if soonest is None else min(soonest, wait)
                    continue
                except PermanentDeliveryError as e:
                    handed_over |= _give_up(store, outbox, row, cfg, str(e), wall_clock.now())
                    counts["failed"] += 1
                    continue
                outbox.mark_sent(row["id"], wall_clock.now())
                counts["sent"] += 1
                if row["incident_id"]:
                    store.incidents.add_event(
                        row["incident_id"],
                        "notification",
                        f"sent to {name}",
                        wall_clock.now(),
                        details={"channel": name, "action": row["action"]},
                    )
            if handed_over:
                continue
            if soonest is None or soonest > max_inline_wait:
                break
            time.sleep(soonest)
    finally:
        for n in notifiers.values():
            n.close()
    return counts


#: timeline event of a delivery tidegauge gave up on (shown on the incident page and counted
#: by ``tidegauge status``)
UNDELIVERED = "notification_failed"
_FALLBACK_MARK = ":fallback:"


def _give_up(
    store: Store,
    outbox: OutboxRepo,
    row: dict[str, Any],
    cfg: Any,
    reason: str,
    now: datetime,
) -> bool:
    """Mark ``row`` failed, say so on its incident, and hand it to the fallback channel
    (True when a fallback message was queued)."""
    outbox.mark_failed(row["id"], reason)
    name = row["channel"]
    log.error(
        "gave up delivering outbox row %s to %s: %s (requeue: tidegauge outbox --retry %s)",
        row["id"],
        name,
        reason,
        row["id"],
    )
    fallback = getattr(cfg, "fallback", None)
    # a fallback's own failure is not passed on again: no ping-pong between two channels
    if fallback and _FALLBACK_MARK in row["dedup_key"]:
        fallback = None
    if row["incident_id"]:
        store.incidents.add_event(
            row["incident_id"],
            UNDELIVERED,
            f"could not deliver to {name}: {reason}"
            + (f"; passed to {fallback}" if fallback else "")
            + f" (requeue with `tidegauge outbox --retry {row['id']}`)",
            now,
            details={"channel": name, "action": row["action"], "outbox_id": row["id"]},
        )
    if not fallback:
        return False
    payload = dict(row["payload"])
    payload["title"] = f"Undelivered to {name}: {payload.get('title', '')}"
    payload["summary"] = f"tidegauge could not deliver this to channel {name} ({reason}). " + str(
        payload.get("summary") or ""
    )
    return outbox.enqueue(
        dedup_key=f"{row['dedup_key']}{_FALLBACK_MARK}{fallback}",
        channel=fallback,
        incident_id=row["incident_id"],
        action=row["action"],
        payload=payload,
        now=now,
    )


def _first_try(row: dict[str, Any], now: datetime) -> datetime:
    """When delivery of ``row`` was first tried: recorded at its first failure; ``now`` for a
    row never tried; ``created_at`` for rows retried before the store recorded it."""
    recorded = utc(row.get("first_try_at"))
    if recorded is not None:
        return recorded
    if row["attempts"] == 0:
        return now
    return utc(row["created_at"]) or now


def _span(d: timedelta) -> str:
    secs = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size and secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def notify_incidents(ctx: RunContext) -> None:
    """Route the incidents this run opened (digests included), re-notify those due, and
    deliver the outbox; delivery retry budgets run on ``ctx.wall``."""
    from tidegauge.steps.leases import holder_name

    project, store, now, report, clock = ctx.project, ctx.store, ctx.now, ctx.report, ctx.wall
    if not project.channels:
        return
    outbox = OutboxRepo(store)
    digests: dict[str, list[Incident]] = {}
    for iid in report.incidents_opened:
        if _already_routed(store, outbox, iid):
            continue  # a re-run of the same moment: it was routed (sent or digested) before
        enqueue_incident(project, store, outbox, iid, now, digests=digests, clock=clock)
    for channel, incs in digests.items():
        ids = sorted(i.id for i in incs if i.id is not None)
        message = build_digest(incs, f"{project.web.base_url.rstrip('/')}/incidents")
        outbox.enqueue(
            dedup_key=f"digest-{channel}-{'-'.join(map(str, ids))}",
            channel=channel,
            incident_id=None,
            action="trigger",
            payload=message.to_dict(),
            now=(clock or Clock()).now(),
        )
    renotify(project, store, outbox, now)
    report.notifications = deliver(project, store, holder=holder_name(), clock=clock)


def _already_routed(store: Store, outbox: OutboxRepo, incident_id: int) -> bool:
    if any(r["action"] == "trigger" for r in outbox.rows(incident_id=incident_id)):
        return True
    inc = store.incidents.get(incident_id) or {}
    return any(
        e["type"] == "notification" and (e.get("details") or {}).get("action") == "digest"
        for e in inc.get("timeline", [])
    )


def renotify(project: Project, store: Store, outbox: OutboxRepo, now: datetime) -> int:
    """Remind channels with a ``renotify_after`` policy about incidents still open."""
    policies = {ch.name: ch.renotify_after for ch in project.channels if ch.renotify_after}
    if not policies:
        return 0
    wall = datetime.now(UTC)
    queued = 0
    for row in store.incidents.open():
        sent = [
            r
            for r in outbox.rows(incident_id=row["id"])
            if r["action"] == "trigger" and r["status"] == "sent"
        ]
        for channel, policy in policies.items():
            mine = [r for r in sent if r["channel"] == channel]
            if not mine:
                continue  # never routed here: routing decides, not the reminder
            last = max(r["sent_at"] for r in mine if r["sent_at"] is not None)
            if not should_renotify(last, wall, policy):
                continue
            inc = _with_evidence(store, incident_from_row(row))
            message = build_message(inc, url=incident_url(project, row["id"]), action="trigger")
            key = f"incident-{row['id']}:{channel}:trigger:reminder-{len(mine)}"
            if outbox.enqueue(
                dedup_key=key,
                channel=channel,
                incident_id=row["id"],
                action="trigger",
                payload=message.to_dict(),
                now=now,
            ):
                queued += 1
    return queued


def resolve_incident(project: Project, store: Store, incident_id: int, now: datetime) -> int:
    """A closed incident resolves its page/alert on every channel its trigger reached."""
    from tidegauge.steps.leases import holder_name

    if not project.channels:
        return 0
    outbox = OutboxRepo(store)
    row = store.incidents.get(incident_id)
    if row is None:
        return 0
    inc = _with_evidence(store, incident_from_row(row))
    message = build_message(inc, url=incident_url(project, incident_id), action="resolve")
    queued = 0
    for sent in outbox.rows(incident_id=incident_id):
        if sent["action"] != "trigger" or sent["status"] != "sent":
            continue
        key = f"incident-{incident_id}:{sent['channel']}:resolve"
        if outbox.enqueue(
            dedup_key=key,
            channel=sent["channel"],
            incident_id=incident_id,
            action="resolve",
            payload=message.to_dict(),
            now=now,
        ):
            queued += 1
    if queued:
        deliver(project, store, holder=holder_name())
    return queued


def set_incident_status(
    project: Project,
    store: Store,
    incident_id: int,
    status: IncidentStatus,
    now: datetime,
    *,
    note: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Change an incident's status; closing it resolves it on the channels it reached.

    The one entry for the CLI, the REST API and the UI, so all three behave alike.
    """
    result = store.incidents.set_status(incident_id, status, now, note=note, actor=actor)
    if not status.is_open:
        try:
            resolve_incident(project, store, incident_id, now)
        except Exception:  # a channel failing must not undo the status change
            log.exception("resolve notifications for incident %s", incident_id)
    return result
