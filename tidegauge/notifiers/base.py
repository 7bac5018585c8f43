"""The notifier contract, delivery errors, the registry and the shared HTTP plumbing.

Delivery is at-least-once from the outbox's point of view; each notifier makes a repeat
harmless where the service allows it (PagerDuty ``dedup_key``, Opsgenie ``alias``, the
webhook's ``Idempotency-Key``). A notifier never retries by itself: it raises
:class:`RetryableDeliveryError` (with the server's ``Retry-After`` when given) or
:class:`PermanentDeliveryError`, and the outbox decides.

Secrets never appear in logs or exception messages: every error text goes through
:func:`redact` with the channel's secret values, and URLs are never included.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from tidegauge.notifiers.messages import Action, Message

if TYPE_CHECKING:
    # imported where a notifier sends: a run that delivers nothing does not load it (0.1-0.2 s)
    import httpx

__all__ = [
    "ENTRY_POINT_GROUP",
    "NOTIFIERS",
    "DeliveryError",
    "DeliveryResult",
    "HttpNotifier",
    "Notifier",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
    "load_notifier",
    "notifier_class",
    "parse_retry_after",
    "redact",
]

log = logging.getLogger("tidegauge.notifiers")

ENTRY_POINT_GROUP = "tidegauge.notifiers"

# type -> "module:Class". One line per notifier; modules are imported on first use.
NOTIFIERS: dict[str, str] = {
    "email": "tidegauge.notifiers.email:EmailNotifier",
    "opsgenie": "tidegauge.notifiers.opsgenie:OpsgenieNotifier",
    "pagerduty": "tidegauge.notifiers.pagerduty:PagerDutyNotifier",
    "slack": "tidegauge.notifiers.slack:SlackNotifier",
    "teams": "tidegauge.notifiers.teams:TeamsNotifier",
    "webhook": "tidegauge.notifiers.webhook:WebhookNotifier",
}

USER_AGENT = "tidegauge-notifier/0.1"
# Server-suggested waits beyond this are clamped: a bogus header must not park a message
# for days. The outbox may apply its own ceiling too.
MAX_RETRY_AFTER_SECONDS = 6 * 3600.0
_RESPONSE_EXCERPT = 200


class _RedactSecrets(logging.Filter):
    """Scrubs known secrets from records of loggers we do not own (httpx logs full URLs)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        clean = redact(text, list(self.secrets))
        if clean != text:
            record.msg, record.args = clean, ()
        return True


_LOG_FILTER = _RedactSecrets()
logging.getLogger("httpx").addFilter(_LOG_FILTER)
logging.getLogger("httpcore").addFilter(_LOG_FILTER)


class DeliveryError(Exception):
    """A message could not be delivered. ``reason`` is safe to log and store."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryableDeliveryError(DeliveryError):
    """Try again later: timeout, connection error, 5xx, 429 or a temporary SMTP failure.

    ``retry_after`` is the server's requested wait in seconds, if it gave one.
    """

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"RetryableDeliveryError({self.reason!r}, retry_after={self.retry_after!r})"


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help (bad request, bad credentials, unknown channel): give up."""

    def __repr__(self) -> str:
        return f"PermanentDeliveryError({self.reason!r})"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What the service said when it accepted a message."""

    channel: str
    action: Action
    dedup_key: str
    status_code: int | None = None
    remote_id: str | None = None  # PagerDuty dedup_key, Opsgenie requestId, SMTP message id
    detail: str = ""


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret (longest first) in ``text`` with ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    >>> parse_retry_after("120")
    120.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 28, tzinfo=UTC))
    30.0
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    seconds: float
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


class Notifier(ABC):
    """Delivers messages to one configured channel.

    Subclasses set ``type`` and implement :meth:`send`. They are built by
    :func:`load_notifier` from the channel's config.
    """

    type: ClassVar[str]

    def __init__(self, config: Any) -> None:
        self.config = config
        self.name: str = config.name

    @abstractmethod
    def send(
        self,
        message: Message,
        *,
        dedup_key: str,
        action: Literal["trigger", "resolve"],
        idempotency_key: str | None = None,
    ) -> DeliveryResult:
        """Deliver ``message``; raise ``RetryableDeliveryError`` or ``PermanentDeliveryError``.

        Args:
            message: the neutral message to render.
            dedup_key: stable per incident and channel; the same key is used for the trigger
                and the resolve of one incident so that services can pair them (PagerDuty
                ``dedup_key``, Opsgenie ``alias``).
            action: ``"trigger"`` opens or re-notifies, ``"resolve"`` closes.
            idempotency_key: unique per delivery (the outbox row), so that a retried send is
                recognisably the same message while a deliberate re-notification is not.
                Defaults to ``f"{dedup_key}:{action}"``. Used by the webhook's
                ``Idempotency-Key`` header and the email ``Message-ID``.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most notifiers hold nothing
        """Release connections. Safe to call twice."""

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def secrets(self) -> list[str]:
        values = getattr(self.config, "secret_values", None)
        return list(values()) if callable(values) else []

    @staticmethod
    def _check_action(action: str, dedup_key: str) -> None:
        if action not in ("trigger", "resolve"):
            raise PermanentDeliveryError(f"unknown action {action!r}")
        if not dedup_key:
            raise PermanentDeliveryError("dedup_key must not be empty")

    @staticmethod
    def delivery_key(dedup_key: str, action: str, idempotency_key: str | None) -> str:
        return idempotency_key or f"{dedup_key}:{action}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class HttpNotifier(Notifier):
    """A notifier that POSTs JSON over HTTP, with a timeout on every call.

    ``client`` may be injected (connection reuse, tests); otherwise one is created with the
    channel's ``timeout_seconds``, no redirects followed (a redirect would re-send a secret
    payload somewhere unexpected) and the environment's proxy settings.
    """

    def __init__(self, config: Any, *, client: httpx.Client | None = None) -> None:
        import httpx

        super().__init__(config)
        _LOG_FILTER.secrets.update(self.secrets())
        self._own_client = client is None
        timeout = float(getattr(config, "timeout_seconds", 10.0))
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def _post(
        self,
        url: str,
        *,
        content: bytes,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST and classify: return a 2xx response or raise a delivery error."""
        import httpx

        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        try:
            response = self._client.post(url, content=content, headers=all_headers, params=params)
        except httpx.TimeoutException as exc:
            raise self._retryable(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise self._retryable(f"connection failed ({type(exc).__name__}: {exc})") from None
        return self._classify(response)

    def _retryable(self, reason: str, retry_after: float | None = None) -> RetryableDeliveryError:
        reason = redact(f"{self.type} channel {self.name!r}: {reason}", self.secrets())
        log.warning("delivery to %s failed, will retry: %s", self.name, reason)
        return RetryableDeliveryError(reason, retry_after)

    def _permanent(self, reason: str) -> PermanentDeliveryError:
        reason = redact(f"{self.type} channel {self.name!r}: {reason}", self.secrets())
        log.error("delivery to %s failed permanently: %s", self.name, reason)
        return PermanentDeliveryError(reason)

    def _classify(self, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if 200 <= status < 300:
            return response
        excerpt = " ".join(response.text[:_RESPONSE_EXCERPT].split())
        reason = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in (408, 425, 429) or status >= 500:
            raise self._retryable(reason, retry_after)
        if 300 <= status < 400:
            raise self._permanent(f"HTTP {status}: unexpected redirect (not followed)")
        raise self._permanent(reason)


def notifier_class(type_: str) -> type[Notifier]:
    """The notifier class for a channel type, from the registry or an entry point."""
    target = NOTIFIERS.get(type_)
    cls: Any
    if target is not None:
        module_name, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module_name), attr)
    else:
        found = entry_points(group=ENTRY_POINT_GROUP, name=type_)
        if not found:
            known = ", ".join(sorted(NOTIFIERS))
            raise ValueError(
                f"unknown notifier type {type_!r}: built in are {known}; others need a package "
                f"registering the entry point group {ENTRY_POINT_GROUP!r}"
            )
        cls = next(iter(found)).load()
    if not (isinstance(cls, type) and issubclass(cls, Notifier)):
        raise TypeError(f"notifier for type {type_!r} is not a Notifier subclass: {cls!r}")
    return cls


def load_notifier(config: Any, **kwargs: Any) -> Notifier:
    """Build the notifier for one channel config (``config.type`` picks the class).

    Extra keyword arguments go to the class (for example ``client=`` for HTTP notifiers).
    """
    return notifier_class(config.type)(config, **kwargs)
