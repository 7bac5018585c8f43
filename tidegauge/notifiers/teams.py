"""Microsoft Teams through a webhook, rendered as an Adaptive Card.

The card travels in the envelope Teams webhooks (Workflows and the legacy connector) expect:
``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <card>}]}``. Adaptive Cards render a
Markdown subset and no HTML, so user content is Markdown-escaped (a table named
``*[x](http://evil)*`` shows as typed, not as a link). Teams rejects webhook payloads over
about 28 KB; lists are capped upstream and the body is checked here.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from tidegauge.core.model import Severity
from tidegauge.notifiers.base import DeliveryResult, HttpNotifier
from tidegauge.notifiers.messages import (
    BulletList,
    Divider,
    Fields,
    Heading,
    Link,
    Message,
    Text,
)

__all__ = ["TeamsNotifier", "markdown_escape", "render_teams"]

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
MAX_PAYLOAD_BYTES = 28_000
MAX_TEXT = 2000

_COLOR = {
    Severity.CRITICAL: "Attention",
    Severity.HIGH: "Attention",
    Severity.MEDIUM: "Warning",
    Severity.LOW: "Accent",
    Severity.INFO: "Default",
}
# Markdown syntax Adaptive Cards act on: emphasis, links, code. Underscores inside a word
# (stg_orders_daily) are not emphasis in CommonMark and are left alone for readability.
_MD_SPECIAL = re.compile(r"([\\*\[\]`~]|(?<!\w)_|_(?!\w))")
_BULLET_START = re.compile(r"^(\s*)([-+])(\s)", re.MULTILINE)
_NUMBER_START = re.compile(r"^(\s*\d+)\.(\s)", re.MULTILINE)


def markdown_escape(text: str) -> str:
    """Backslash-escape the Markdown that Adaptive Card text blocks interpret."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    escaped = _BULLET_START.sub(r"\1\\\2\3", escaped)
    return _NUMBER_START.sub(r"\1\\.\2", escaped)


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip("\\") + "…"


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": _cut(text), "wrap": True, **style}


def render_card(message: Message) -> dict[str, Any]:
    """The Adaptive Card itself."""
    body: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    first_heading = True
    color = "Good" if message.action == "resolve" else _COLOR[message.severity]
    for block in message.blocks:
        if isinstance(block, Heading):
            if first_heading:
                body.append(
                    _text_block(
                        markdown_escape(block.text),
                        size="Large",
                        weight="Bolder",
                        color=color,
                        style="heading",
                    )
                )
                first_heading = False
            else:
                body.append(
                    _text_block(markdown_escape(block.text), weight="Bolder", spacing="Medium")
                )
        elif isinstance(block, Text):
            body.append(_text_block(markdown_escape(block.text)))
        elif isinstance(block, Fields):
            facts = [
                {"title": markdown_escape(label), "value": _cut(markdown_escape(value), 500)}
                for label, value in block.items
            ]
            body.append({"type": "FactSet", "facts": facts})
        elif isinstance(block, Link):
            actions.append({"type": "Action.OpenUrl", "title": block.label, "url": block.url})
        elif isinstance(block, BulletList):
            if block.title:
                body.append(_text_block(f"**{markdown_escape(block.title)}**", spacing="Small"))
            lines = [f"- {markdown_escape(item)}" for item in block.items]
            if block.more:
                lines.append(f"- …and {block.more} more")
            if lines:
                body.append(_text_block("\r".join(lines), spacing="None"))
        elif isinstance(block, Divider) and body:
            body[-1] = {**body[-1], "separator": True}
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "fallbackText": message.title,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def render_teams(message: Message) -> dict[str, Any]:
    """The webhook body: a ``message`` activity with one Adaptive Card attachment."""
    return {
        "type": "message",
        "summary": message.title[:150],
        "attachments": [
            {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": render_card(message)}
        ],
    }


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


class TeamsNotifier(HttpNotifier):
    """Posts an Adaptive Card to a Teams webhook; a resolve is a new card marked resolved."""

    type = "teams"

    def send(
        self,
        message: Message,
        *,
        dedup_key: str,
        action: Literal["trigger", "resolve"],
        idempotency_key: str | None = None,
    ) -> DeliveryResult:
        self._check_action(action, dedup_key)
        body = _encode(render_teams(message))
        if len(body) > MAX_PAYLOAD_BYTES:
            # Keep the head (title, summary, facts, impact); the link carries the rest.
            card = render_card(message)
            while len(body) > MAX_PAYLOAD_BYTES and len(card["body"]) > 3:
                card["body"].pop(-1)
                payload = render_teams(message)
                payload["attachments"][0]["content"] = card
                body = _encode(payload)
        response = self._post(self.config.url.get_secret_value(), content=body)
        return DeliveryResult(
            channel=self.name,
            action=action,
            dedup_key=dedup_key,
            status_code=response.status_code,
            detail=response.text[:100],
        )
