"""Email over SMTP (``smtplib``): one ``multipart/alternative`` message, text and HTML.

Everything from the incident is HTML-escaped in the HTML part; headers are single-line (no
header injection through a table name). The ``Message-ID`` is derived from the delivery key,
so a retried send carries the same id, and a resolve replies to its trigger
(``In-Reply-To``), so mail clients thread them.

Classification: 4xx SMTP replies, timeouts and connection failures are retryable; 5xx replies
(unknown mailbox, authentication failure, STARTTLS missing) are permanent.
"""

from __future__ import annotations

import hashlib
import html
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

from tidegauge.core.model import Severity
from tidegauge.notifiers.base import (
    DeliveryResult,
    Notifier,
    PermanentDeliveryError,
    RetryableDeliveryError,
    redact,
)
from tidegauge.notifiers.messages import (
    BulletList,
    Divider,
    Fields,
    Heading,
    Link,
    Message,
    Text,
)

__all__ = ["EmailNotifier", "message_id", "render_email", "render_html"]

log = logging.getLogger("tidegauge.notifiers")

MAX_SUBJECT = 200
_COLOR = {
    Severity.CRITICAL: "#b42318",
    Severity.HIGH: "#c4320a",
    Severity.MEDIUM: "#b54708",
    Severity.LOW: "#175cd3",
    Severity.INFO: "#475467",
}


def message_id(key: str) -> str:
    """A stable ``Message-ID`` for one delivery key."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@tidegauge>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _safe_href(url: str) -> str | None:
    return url if url.lower().startswith(("http://", "https://")) else None


def render_html(message: Message) -> str:
    """A small, inline-styled HTML document (mail clients ignore stylesheets)."""
    color = "#027a48" if message.action == "resolve" else _COLOR[message.severity]
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head>',
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#101828">',
    ]
    first_heading = True
    for block in message.blocks:
        if isinstance(block, Heading):
            if first_heading:
                parts.append(f'<h2 style="color:{color};margin:0 0 8px">{_e(block.text)}</h2>')
                first_heading = False
            else:
                parts.append(f'<h3 style="margin:16px 0 4px">{_e(block.text)}</h3>')
        elif isinstance(block, Text):
            parts.append(f"<p>{_e(block.text)}</p>")
        elif isinstance(block, Fields):
            rows = "".join(
                f'<tr><th align="left" style="padding:2px 12px 2px 0">{_e(label)}</th>'
                f"<td>{_e(value)}</td></tr>"
                for label, value in block.items
            )
            parts.append(f'<table cellpadding="0" cellspacing="0">{rows}</table>')
        elif isinstance(block, Link):
            href = _safe_href(block.url)
            if href:
                parts.append(f'<p><a href="{_e(href)}">{_e(block.label)}</a></p>')
            else:
                parts.append(f"<p>{_e(block.label)}: {_e(block.url)}</p>")
        elif isinstance(block, BulletList):
            if block.title:
                parts.append(f"<p><strong>{_e(block.title)}</strong></p>")
            items = "".join(f"<li>{_e(item)}</li>" for item in block.items)
            if block.more:
                items += f"<li><em>…and {block.more} more</em></li>"
            parts.append(f"<ul>{items}</ul>")
        elif isinstance(block, Divider):
            parts.append("<hr>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def render_email(
    message: Message,
    *,
    sender: str,
    to: list[str],
    dedup_key: str,
    action: Literal["trigger", "resolve"],
    idempotency_key: str | None = None,
) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = _one_line(message.title, MAX_SUBJECT)
    email["From"] = sender
    email["To"] = ", ".join(to)
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = message_id(idempotency_key or f"{dedup_key}:{action}")
    if action == "resolve":
        opened = message_id(f"{dedup_key}:trigger")
        email["In-Reply-To"] = opened
        email["References"] = opened
    email["X-Tidegauge-Severity"] = message.severity.value
    email.set_content(message.plain_text())
    email.add_alternative(render_html(message), subtype="html")
    return email


class EmailNotifier(Notifier):
    """Sends through the configured SMTP server, with the channel's timeout."""

    type = "email"

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
        email = render_email(
            message,
            sender=cfg.sender,
            to=list(cfg.to),
            dedup_key=dedup_key,
            action=action,
            idempotency_key=idempotency_key,
        )
        try:
            refused = self._deliver(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if any(400 <= c < 500 for c in codes):
                raise self._retryable(f"recipients refused temporarily ({codes})") from None
            raise self._permanent(f"all recipients refused ({codes})") from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            reason = f"SMTP {exc.smtp_code}: {' '.join(text.split())[:200]}"
            if 400 <= exc.smtp_code < 500:
                raise self._retryable(reason) from None
            raise self._permanent(reason) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise self._permanent(f"server does not support it: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise self._permanent(f"TLS certificate rejected ({exc.verify_message})") from None
        except TimeoutError:
            raise self._retryable("timed out") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._retryable(f"connection failed ({type(exc).__name__}: {exc})") from None
        detail = f"refused {len(refused)} of {len(cfg.to)} recipient(s)" if refused else ""
        if refused:
            log.warning("email channel %s: %s", self.name, detail)
        return DeliveryResult(
            channel=self.name,
            action=action,
            dedup_key=dedup_key,
            status_code=250,
            remote_id=str(email["Message-ID"]),
            detail=detail,
        )

    def _deliver(self, email: EmailMessage) -> dict[str, tuple[int, bytes]]:
        cfg = self.config
        timeout = float(cfg.timeout_seconds)
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if cfg.ssl:
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.effective_port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.effective_port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if cfg.starttls and not cfg.ssl:
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.username:
                password = cfg.password.get_secret_value() if cfg.password else ""
                smtp.login(cfg.username, password)
            return smtp.send_message(email)

    def _retryable(self, reason: str) -> RetryableDeliveryError:
        reason = redact(f"email channel {self.name!r}: {reason}", self.secrets())
        log.warning("delivery to %s failed, will retry: %s", self.name, reason)
        return RetryableDeliveryError(reason)

    def _permanent(self, reason: str) -> PermanentDeliveryError:
        reason = redact(f"email channel {self.name!r}: {reason}", self.secrets())
        log.error("delivery to %s failed permanently: %s", self.name, reason)
        return PermanentDeliveryError(reason)
