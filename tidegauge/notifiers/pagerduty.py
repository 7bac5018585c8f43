"""PagerDuty through the Events API v2 (``POST /v2/enqueue``).

A trigger carries ``routing_key``, ``event_action``, ``dedup_key`` and a ``payload`` with the
required ``summary`` (at most 1,024 characters), ``source`` and ``severity`` (``critical``,
``error``, ``warning`` or ``info``) plus ``timestamp``, ``component``, ``group``, ``class``
and ``custom_details``; ``links`` point to the incident page. A resolve needs only the
routing key, the action and the same ``dedup_key``. Re-sending a trigger with the same key
updates the open alert instead of opening a second one, which makes retries safe.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from tidegauge.core.model import Severity
from tidegauge.notifiers.base import DeliveryResult, HttpNotifier
from tidegauge.notifiers.messages import Message

__all__ = ["PagerDutyNotifier", "fit_dedup_key", "render_pagerduty"]

MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
PD_SEVERITY = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "warning",
    Severity.INFO: "info",
}


def fit_dedup_key(key: str, limit: int = MAX_DEDUP_KEY) -> str:
    """Keys over the limit become a stable hash, so trigger and resolve still pair."""
    if len(key) <= limit:
        return key
    return "tidegauge-" + hashlib.sha256(key.encode()).hexdigest()


def render_pagerduty(
    message: Message, *, routing_key: str, dedup_key: str, action: Literal["trigger", "resolve"]
) -> dict[str, Any]:
    """The Events API v2 body for a trigger or a resolve."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": fit_dedup_key(dedup_key),
    }
    if action == "resolve":
        return event
    summary = message.title
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1] + "…"
    payload: dict[str, Any] = {
        "summary": summary,
        "source": message.source or "tidegauge",
        "severity": PD_SEVERITY[message.severity],
        "custom_details": {"summary": message.summary, **message.details},
    }
    if message.timestamp is not None:
        payload["timestamp"] = message.timestamp.isoformat()
    if message.component:
        payload["component"] = message.component
    if message.group:
        payload["group"] = message.group
    if message.kind:
        payload["class"] = message.kind
    event["payload"] = payload
    event["client"] = "tidegauge"
    if message.url:
        event["client_url"] = message.url
        event["links"] = [{"href": message.url, "text": "Open incident in tidegauge"}]
    return event


class PagerDutyNotifier(HttpNotifier):
    """Triggers and resolves PagerDuty alerts keyed by the incident's dedup key."""

    type = "pagerduty"

    def send(
        self,
        message: Message,
        *,
        dedup_key: str,
        action: Literal["trigger", "resolve"],
        idempotency_key: str | None = None,
    ) -> DeliveryResult:
        self._check_action(action, dedup_key)
        event = render_pagerduty(
            message,
            routing_key=self.config.routing_key.get_secret_value(),
            dedup_key=dedup_key,
            action=action,
        )
        body = json.dumps(event, ensure_ascii=False, default=str).encode()
        response = self._post(self.config.events_url, content=body)
        remote = None
        try:
            data = response.json()
            remote = data.get("dedup_key") if isinstance(data, dict) else None
        except ValueError:
            pass  # 202 with a non-JSON body still means accepted
        return DeliveryResult(
            channel=self.name,
            action=action,
            dedup_key=dedup_key,
            status_code=response.status_code,
            remote_id=remote,
        )
