"""A generic JSON webhook, signed so that the receiver can trust and de-duplicate it.

Headers sent:

- ``X-Tidegauge-Timestamp``: Unix seconds when the request was signed.
- ``X-Tidegauge-Signature``: ``sha256=<hex>``, the HMAC-SHA256 with the channel ``secret``
  of ``f"{timestamp}.".encode() + raw_body``. Signing the timestamp with the body lets the
  receiver reject replays older than a few minutes (see :func:`verify_signature`).
- ``Idempotency-Key``: the same for every retry of one delivery; receivers keep the keys they
  have processed and drop repeats.
- ``X-Tidegauge-Event``: ``incident.trigger`` or ``incident.resolve``.

Receiver side, in any language: recompute the HMAC over ``timestamp + "." + body`` exactly as
received, compare in constant time, and reject timestamps outside your tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Literal

from tidegauge.notifiers.base import DeliveryResult, HttpNotifier
from tidegauge.notifiers.messages import Message

__all__ = ["WebhookNotifier", "render_webhook", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Tidegauge-Signature"
TIMESTAMP_HEADER = "X-Tidegauge-Timestamp"
EVENT_HEADER = "X-Tidegauge-Event"
DEFAULT_TOLERANCE_SECONDS = 300
SCHEMA_VERSION = 1


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp + "." + body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Check a received webhook: right signature and a timestamp within ``tolerance``.

    >>> ts = "1700000000"
    >>> verify_signature("s3cret", b"{}", ts, sign("s3cret", ts, b"{}"), now=1700000010)
    True
    >>> verify_signature("s3cret", b"{}", ts, sign("s3cret", ts, b"{}"), now=1700009999)
    False
    """
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def render_webhook(
    message: Message, *, dedup_key: str, action: Literal["trigger", "resolve"], idempotency_key: str
) -> dict[str, Any]:
    """The JSON body: the event, its keys and the full neutral message."""
    return {
        "version": SCHEMA_VERSION,
        "event": f"incident.{action}",
        "action": action,
        "dedup_key": dedup_key,
        "idempotency_key": idempotency_key,
        "message": message.to_dict(),
    }


def _header_safe(key: str) -> str:
    """Header values must be printable ASCII; other keys travel as a stable hash."""
    if key.isascii() and key.isprintable() and len(key) <= 255:
        return key
    return "tidegauge-" + hashlib.sha256(key.encode()).hexdigest()


class WebhookNotifier(HttpNotifier):
    """POSTs the message as JSON with a signature, a timestamp and an idempotency key."""

    type = "webhook"

    def send(
        self,
        message: Message,
        *,
        dedup_key: str,
        action: Literal["trigger", "resolve"],
        idempotency_key: str | None = None,
    ) -> DeliveryResult:
        self._check_action(action, dedup_key)
        key = _header_safe(self.delivery_key(dedup_key, action, idempotency_key))
        payload = render_webhook(message, dedup_key=dedup_key, action=action, idempotency_key=key)
        body = json.dumps(
            payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
        ).encode()
        timestamp = str(int(time.time()))
        headers = {h: v.get_secret_value() for h, v in self.config.headers.items()}
        headers.update(
            {
                "Idempotency-Key": key,
                EVENT_HEADER: f"incident.{action}",
                TIMESTAMP_HEADER: timestamp,
            }
        )
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.config.secret.get_secret_value(), timestamp, body)
        response = self._post(self.config.url.get_secret_value(), content=body, headers=headers)
        return DeliveryResult(
            channel=self.name,
            action=action,
            dedup_key=dedup_key,
            status_code=response.status_code,
            remote_id=key,
        )
