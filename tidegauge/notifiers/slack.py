"""Slack through an incoming webhook, rendered as Block Kit.

Limits kept (Slack's Block Kit reference): at most 50 blocks per message, 150 characters in a
header, 3,000 in a section's text, 10 fields of at most 2,000 characters per section. User
content is escaped for Slack's three control characters (``&``, ``<``, ``>``), so a table
named ``<!channel>`` cannot ping a channel or forge a link.
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

__all__ = ["SlackNotifier", "render_slack", "slack_escape"]

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_FALLBACK_TEXT = 3000

_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":large_blue_circle:",
    Severity.INFO: ":white_circle:",
}
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,4}$")


def slack_escape(text: str) -> str:
    """Escape Slack's control characters; nothing else may be HTML-encoded."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(text: str, limit: int) -> str:
    """Cut escaped text to ``limit`` characters without splitting an entity."""
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY.sub("", text[: limit - 1])
    return cut + "…"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _fit(slack_escape(text), limit), "emoji": True}


def _mrkdwn(escaped: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _fit(escaped, limit)}


def _section(escaped: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(escaped)}


def _link_url(url: str) -> str:
    # Inside <url|label>, "|" and ">" would end the URL early.
    return slack_escape(url).replace("|", "%7C")


def render_slack(message: Message) -> dict[str, Any]:
    """The webhook body: ``text`` (notification fallback) plus ``blocks``."""
    blocks: list[dict[str, Any]] = []
    first_heading = True
    for block in message.blocks:
        if isinstance(block, Heading):
            if first_heading:
                blocks.append({"type": "header", "text": _plain(block.text, MAX_HEADER)})
                first_heading = False
            else:
                blocks.append(_section(f"*{slack_escape(block.text)}*"))
        elif isinstance(block, Text):
            blocks.append(_section(slack_escape(block.text)))
        elif isinstance(block, Fields):
            items = list(block.items)
            for start in range(0, len(items), MAX_FIELDS):
                fields = [
                    _mrkdwn(f"*{slack_escape(label)}*\n{slack_escape(value)}", MAX_FIELD_TEXT)
                    for label, value in items[start : start + MAX_FIELDS]
                ]
                blocks.append({"type": "section", "fields": fields})
        elif isinstance(block, Link):
            link = f"<{_link_url(block.url)}|{slack_escape(block.label)}>"
            blocks.append(_section(f":link: {link}"))
        elif isinstance(block, BulletList):
            lines = [f"*{slack_escape(block.title)}*"] if block.title else []
            lines += [f"• {slack_escape(item)}" for item in block.items]
            if block.more:
                lines.append(f"_…and {block.more} more_")
            blocks.append(_section("\n".join(lines)))
        elif isinstance(block, Divider):
            blocks.append({"type": "divider"})
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1]
        more = f"Message shortened. <{_link_url(message.url)}|See the full incident>."
        blocks.append({"type": "context", "elements": [_mrkdwn(more)]})
    emoji = ":white_check_mark:" if message.action == "resolve" else _EMOJI[message.severity]
    fallback = _fit(f"{emoji} {slack_escape(message.title)}", MAX_FALLBACK_TEXT)
    return {"text": fallback, "blocks": blocks}


class SlackNotifier(HttpNotifier):
    """Posts Block Kit messages to a Slack incoming webhook.

    Incoming webhooks cannot edit or thread, so a resolve is a new message marked resolved.
    """

    type = "slack"

    def send(
        self,
        message: Message,
        *,
        dedup_key: str,
        action: Literal["trigger", "resolve"],
        idempotency_key: str | None = None,
    ) -> DeliveryResult:
        self._check_action(action, dedup_key)
        body = json.dumps(render_slack(message), ensure_ascii=False).encode()
        response = self._post(self.config.url.get_secret_value(), content=body)
        return DeliveryResult(
            channel=self.name,
            action=action,
            dedup_key=dedup_key,
            status_code=response.status_code,
            detail=response.text[:100],
        )
