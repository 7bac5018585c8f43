"""Opsgenie through the Alert API v2.

A trigger creates an alert (``POST /v2/alerts``) whose ``alias`` is the dedup key: Opsgenie
keeps one open alert per alias, so a retried create only bumps its count. A resolve closes
it by alias (``POST /v2/alerts/{alias}/close?identifierType=alias``). Limits: ``message`` 130
characters, ``alias`` 512, ``description`` 15,000, ``details`` 8,000 in total, 20 tags of 50
characters. Requests carry ``Authorization: GenieKey <api key>``; Opsgenie answers 202.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal
from urllib.parse import quote

from tidegauge.core.model import Severity
from tidegauge.notifiers.base import DeliveryResult, HttpNotifier
from tidegauge.notifiers.messages import Message

__all__ = ["OpsgenieNotifier", "render_opsgenie_close", "render_opsgenie_create"]

MAX_MESSAGE = 130
MAX_ALIAS = 512
MAX_DESCRIPTION = 15_000
MAX_DETAILS_CHARS = 8_000
MAX_TAGS = 20
MAX_TAG = 50
PRIORITY = {
    Severity.CRITICAL: "P1",
    Severity.HIGH: "P2",
    Severity.MEDIUM: "P3",
    Severity.LOW: "P4",
    Severity.INFO: "P5",
}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_alias(key: str) -> str:
    if len(key) <= MAX_ALIAS:
        return key
    return "tidegauge-" + hashlib.sha256(key.encode()).hexdigest()


def _details(message: Message) -> dict[str, str]:
    """Opsgenie details are a flat string map; nested values become JSON, within 8,000."""
    out: dict[str, str] = {}
    used = 0
    for key, value in message.details.items():
        if value is None or value == [] or value == {}:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        text = _cut(text, 1000)
        if used + len(key) + len(text) > MAX_DETAILS_CHARS:
            break
        out[key] = text
        used += len(key) + len(text)
    return out


def render_opsgenie_create(
    message: Message, *, alias: str, responders: list[dict[str, str]], tags: list[str]
) -> dict[str, Any]:
    """The create-alert body."""
    all_tags: list[str] = []
    for tag in ["tidegauge", *tags, *message.tags]:
        tag = _cut(tag.strip(), MAX_TAG)
        if tag and tag not in all_tags:
            all_tags.append(tag)
    body: dict[str, Any] = {
        "message": _cut(message.title, MAX_MESSAGE),
        "alias": fit_alias(alias),
        "description": _cut(message.plain_text(), MAX_DESCRIPTION),
        "priority": PRIORITY[message.severity],
        "source": "tidegauge",
        "tags": all_tags[:MAX_TAGS],
        "details": _details(message),
    }
    if message.component:
        body["entity"] = message.component
    if responders:
        body["responders"] = responders
    return body


def render_opsgenie_close(message: Message) -> dict[str, Any]:
    return {"source": "tidegauge", "note": _cut(message.summary or message.title, 25_000)}


class OpsgenieNotifier(HttpNotifier):
    """Creates and closes Opsgenie alerts keyed by alias."""

    type = "opsgenie"

    def send(
        self,
        message: Message,
        *,
        dedup_key: str,
        action: Literal["trigger", "resolve"],
        idempotency_key: str | None = None,
    ) -> DeliveryResult:
        self._check_action(action, dedup_key)
        cfg = self.config
        headers = {"Authorization": f"GenieKey {cfg.api_key.get_secret_value()}"}
        base = cfg.api_url.rstrip("/") + "/v2/alerts"
        alias = fit_alias(dedup_key)
        params: dict[str, str] | None = None
        if action == "trigger":
            payload = render_opsgenie_create(
                message,
                alias=alias,
                responders=[r.as_payload() for r in cfg.responders],
                tags=list(cfg.tags),
            )
            url = base
        else:
            payload = render_opsgenie_close(message)
            url = f"{base}/{quote(alias, safe='')}/close"
            params = {"identifierType": "alias"}
        body = json.dumps(payload, ensure_ascii=False).encode()
        response = self._post(url, content=body, headers=headers, params=params)
        request_id = None
        try:
            data = response.json()
            request_id = data.get("requestId") if isinstance(data, dict) else None
        except ValueError:
            pass  # accepted even if the body is not JSON
        return DeliveryResult(
            channel=self.name,
            action=action,
            dedup_key=dedup_key,
            status_code=response.status_code,
            remote_id=request_id,
        )
